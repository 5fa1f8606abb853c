// A real cluster for integration tests and benchmarks: `tessera dev-cluster` in a temporary directory
// (or its processes rebuilt with a fault proxy in front of every node), an SDK client of its gateway, and
// kill -9 / SIGSTOP / SIGCONT / restart of single processes. Every process it learns of is stopped by pid
// when the cluster stops, and killed when the test process exits, even after a failed test.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { connect, createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { S3Client, type S3ClientConfig } from '@aws-sdk/client-s3';
import { startFaultProxy, type FaultProxy } from './fault-proxy.js';
import { repoRoot, waitForEndpoint } from './tessera.js';

/** One process in DIR/cluster.json (cluster-spec.md). */
export interface ClusterProcessInfo {
  role: 'node' | 'gateway';
  name: string;
  zone?: string;
  address: string;
  /** null while dev-cluster knows the process as exited. */
  pid: number | null;
  /** Exactly what restarts the process: argv[0] is the node binary. */
  argv: string[];
  drives?: string[];
  dataDir?: string;
}

/** DIR/cluster.json as `tessera dev-cluster` writes it. */
export interface ClusterInfo {
  endpoint: string;
  region: string;
  accessKeyId: string;
  secretAccessKey: string;
  clusterSecretFile: string;
  processes: ClusterProcessInfo[];
}

export interface ClusterOptions {
  nodes: number;
  drivesPerNode?: number;
  zones?: number;
  /** Environment of dev-cluster, and so of every process it starts (e.g. TESSERA_NODE_TIMEOUT). */
  env?: Record<string, string>;
  /** Extra dev-cluster flags. */
  args?: string[];
  /** Parent of the temporary cluster directory (default: os.tmpdir()). */
  under?: string;
  /** How long `Cluster ready` may take. */
  readyTimeoutMs?: number;
}

export interface Cluster {
  dir: string;
  endpoint: string;
  /** The dev-cluster process (undefined for a proxied cluster, whose processes this harness started). */
  supervisorPid: number | undefined;
  /** The newest cluster.json read, with the pids of processes this harness restarted. */
  info(): ClusterInfo;
  /** The node processes, in name order (node1, node2, ...). */
  nodes(): ClusterProcessInfo[];
  process(name: string): ClusterProcessInfo;
  /** An SDK v3 client with default settings (path-style, as for any loopback endpoint). */
  client(config?: Partial<S3ClientConfig>): S3Client;
  /** SIGKILL, then waits until the process is gone. */
  kill9(name: string): Promise<void>;
  /** SIGSTOP: the process holds its sockets open and answers nothing (a hung node). */
  pause(name: string): void;
  /** SIGCONT after pause(). */
  resume(name: string): void;
  /** Starts a dead process again with its recorded argv (plus `extraArgs`), waits until it listens. */
  restart(name: string, extraArgs?: string[]): Promise<void>;
  /** The fault proxy in front of a node (proxied clusters only). */
  proxy(name: string): FaultProxy;
  /** Runs `tessera admin ARGS` against the gateway with the root credentials; resolves with its exit code and output. */
  admin(args: string[], timeoutMs?: number): Promise<{ code: number | null; stdout: string; stderr: string }>;
  /** dev-cluster's output and that of processes this harness started, the last 256 KiB of each. */
  logs(): string;
  /** Stops every process by pid (SIGCONT first, SIGTERM, SIGKILL after a grace) and removes the directory. */
  stop(): Promise<void>;
}

// ---- process bookkeeping ---------------------------------------------------------------------------

/** Every pid a harness may have to stop; killed when the test process exits, whatever happened. */
const livePids = new Set<number>();
process.once('exit', () => {
  for (const pid of livePids) {
    signal(pid, 'SIGCONT');
    signal(pid, 'SIGKILL');
  }
});

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Also true for a zombie, which kill(0) still finds: /proc says whether it has exited. Its main thread
 * turns zombie first; the others (one in an fsync, say) may still be ending, and the process's sockets and
 * files stay open until the last has: only a zombie with no other thread has let go of its port.
 */
async function exited(pid: number | null): Promise<boolean> {
  if (pid === null || !alive(pid)) return true;
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
  if (!stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z')) return false; // "pid (comm) STATE ..."
  const threads = await readdir(`/proc/${pid}/task`).catch(() => []);
  return threads.length <= 1;
}

async function waitExited(pid: number | null, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await exited(pid)) return true;
    await sleep(20);
  }
  return exited(pid);
}

/** Guards against a recycled pid: only a process running bin/tessera.js is signalled. */
function isTessera(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('tessera');
  } catch {
    return false;
  }
}

function signal(pid: number | null, sig: NodeJS.Signals): void {
  if (pid === null || !isTessera(pid)) return;
  try {
    process.kill(pid, sig);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
  }
}

export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** Resolves once something accepts TCP connections at `address`; rejects after the timeout or when `failed()` says so. */
async function waitListening(address: string, timeoutMs: number, failed: () => string | undefined): Promise<void> {
  const { hostname, port } = new URL(`tcp://${address}`);
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const socket = connect(Number(port), hostname, () => {
        socket.destroy();
        resolve(true);
      });
      socket.on('error', () => resolve(false));
    });
    if (ok) return;
    const why = failed();
    if (why) throw new Error(`Cannot reach ${address}: ${why}`);
    if (Date.now() > deadline) throw new Error(`Nothing listens at ${address} after ${timeoutMs} ms`);
    await sleep(50);
  }
}

const tail = (text: string) => (text.length > 256 * 1024 ? text.slice(-256 * 1024) : text);

/** A process this harness started itself (a restart, or a proxied cluster's member). */
interface OwnChild {
  child: ChildProcess;
  output: string;
  exit: Promise<void>;
}

function spawnOwn(argv: string[], env: Record<string, string> | undefined): OwnChild {
  const child = spawn(argv[0]!, argv.slice(1), { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  livePids.add(child.pid!);
  const own: OwnChild = { child, output: '', exit: new Promise((r) => child.once('exit', () => r())) };
  child.stdout!.on('data', (d: Buffer) => (own.output = tail(own.output + d.toString())));
  child.stderr!.on('data', (d: Buffer) => (own.output = tail(own.output + d.toString())));
  void own.exit.then(() => livePids.delete(child.pid!));
  return own;
}

// ---- dev-cluster -----------------------------------------------------------------------------------

export async function readClusterInfo(dir: string): Promise<ClusterInfo> {
  return JSON.parse(await readFile(join(dir, 'cluster.json'), 'utf8')) as ClusterInfo;
}

interface DevCluster {
  child: ChildProcess;
  output(): string;
  exit: Promise<void>;
}

async function launchDevCluster(dir: string, options: ClusterOptions): Promise<DevCluster> {
  const port = await freePort();
  const args = ['--nodes', String(options.nodes), '--dir', dir, '--address', `127.0.0.1:${port}`];
  if (options.drivesPerNode !== undefined) args.push('--drives-per-node', String(options.drivesPerNode));
  if (options.zones !== undefined) args.push('--zones', String(options.zones));
  const child = spawn(process.execPath, [join(repoRoot, 'bin', 'tessera.js'), 'dev-cluster', ...args, ...(options.args ?? [])], {
    env: { ...process.env, ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  livePids.add(child.pid!);
  let output = '';
  const exit = new Promise<void>((r) => child.once('exit', () => r()));
  void exit.then(() => livePids.delete(child.pid!));
  child.stderr!.on('data', (d: Buffer) => (output = tail(output + d.toString())));
  const timeoutMs = options.readyTimeoutMs ?? 60_000;
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`dev-cluster was not ready within ${timeoutMs / 1000} s: ${output}`)), timeoutMs);
    child.stdout!.on('data', (d: Buffer) => {
      output = tail(output + d.toString());
      if (/^Cluster ready/m.test(output)) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.once('exit', (code, sig) => {
      clearTimeout(timer);
      reject(new Error(`dev-cluster exited with ${sig ?? code} before it was ready: ${output}`));
    });
  }).catch(async (err: unknown) => {
    // Children it started must not outlive a failed start.
    const info = await readClusterInfo(dir).catch(() => undefined);
    signal(child.pid!, 'SIGKILL');
    for (const p of info?.processes ?? []) signal(p.pid, 'SIGKILL');
    throw err;
  });
  return { child, output: () => output, exit };
}

/** Stops dev-cluster (SIGTERM: it stops its children) and waits; SIGKILL for whatever is left after the grace. */
async function stopDevCluster(dev: DevCluster, pids: (number | null)[], graceMs: number): Promise<void> {
  for (const pid of pids) signal(pid, 'SIGCONT'); // a stopped child would never act on SIGTERM
  if (dev.child.exitCode === null && dev.child.signalCode === null) dev.child.kill('SIGTERM');
  const timer = setTimeout(() => dev.child.kill('SIGKILL'), graceMs);
  await dev.exit;
  clearTimeout(timer);
  for (const pid of pids) if (!(await waitExited(pid, 2000))) signal(pid, 'SIGKILL');
}

/**
 * Starts `tessera dev-cluster` on a free port in a fresh temporary directory and waits for `Cluster
 * ready`. Needs a build (dist/). Stop it with `stop()` in a finally or after() hook.
 */
export async function startCluster(options: ClusterOptions): Promise<Cluster> {
  const dir = await mkdtemp(join(options.under ?? tmpdir(), 'tessera-cluster-'));
  let dev: DevCluster;
  try {
    dev = await launchDevCluster(dir, options);
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
  const info = await readClusterInfo(dir);
  for (const p of info.processes) if (p.pid !== null) livePids.add(p.pid);
  return makeCluster({ dir, info, dev, env: options.env });
}

export interface ProxiedClusterOptions {
  nodes: number;
  drivesPerNode?: number;
  zones?: number;
  /** Environment of every process. */
  env?: Record<string, string>;
  /** Extra `tessera gateway` flags (e.g. a node timeout). */
  gatewayArgs?: string[];
  under?: string;
}

/**
 * A cluster built by hand whose gateway reaches every node through a fault proxy: N `tessera node`
 * processes (ids node1…, zones as dev-cluster gives them), a proxy in front of each, and a gateway whose
 * first layout (`--initial-layout`) names the proxies' addresses. Every process is this harness's child.
 */
export async function startProxiedCluster(options: ProxiedClusterOptions): Promise<Cluster> {
  const dir = await mkdtemp(join(options.under ?? tmpdir(), 'tessera-cluster-'));
  const own = new Map<string, OwnChild>();
  const proxies = new Map<string, FaultProxy>();
  const bin = join(repoRoot, 'bin', 'tessera.js');
  try {
    const clusterSecretFile = join(dir, 'cluster-secret');
    await writeFile(clusterSecretFile, `${randomBytes(32).toString('hex')}\n`, { mode: 0o600 });
    const processes: ClusterProcessInfo[] = [];
    const layoutNodes: { id: string; address: string; zone: string }[] = [];
    for (let i = 1; i <= options.nodes; i++) {
      const name = `node${i}`;
      const zone = `zone-${((i - 1) % (options.zones ?? 3)) + 1}`;
      const drives = Array.from({ length: options.drivesPerNode ?? 1 }, (_, j) => join(dir, name, `drive${j + 1}`));
      for (const d of drives) await mkdir(d, { recursive: true });
      const address = `127.0.0.1:${await freePort()}`;
      const argv = [process.execPath, bin, 'node', '--address', address, '--drives', drives.join(','), '--cluster-secret-file', clusterSecretFile, '--node-id', name];
      const child = spawnOwn(argv, options.env);
      own.set(name, child);
      await waitBanner(child, address, 30_000);
      await waitListening(address, 30_000, () => exitText(child));
      const proxy = await startFaultProxy(address);
      proxies.set(name, proxy);
      layoutNodes.push({ id: name, address: proxy.address, zone });
      processes.push({ role: 'node', name, zone, address: proxy.address, pid: child.child.pid!, argv, drives });
    }
    const initialLayout = join(dir, 'initial-layout.json');
    await writeFile(initialLayout, JSON.stringify({ nodes: layoutNodes }, null, 2));
    const credentials = { accessKeyId: 'TESTACCESSKEY0000001', secretAccessKey: 'test/secret/key/0000000000000000000000001' };
    const env = { ...options.env, TESSERA_ROOT_ACCESS_KEY: credentials.accessKeyId, TESSERA_ROOT_SECRET_KEY: credentials.secretAccessKey };
    const address = `127.0.0.1:${await freePort()}`;
    const dataDir = join(dir, 'gateway');
    const argv = [process.execPath, bin, 'gateway', '--address', address, '--data-dir', dataDir, '--cluster-secret-file', clusterSecretFile, '--initial-layout', initialLayout, ...(options.gatewayArgs ?? [])];
    const gateway = spawnOwn(argv, env);
    own.set('gateway', gateway);
    const url = await waitForEndpoint(gateway.child, 60_000, () => gateway.output);
    processes.push({ role: 'gateway', name: 'gateway', address, pid: gateway.child.pid!, argv, dataDir });
    const info: ClusterInfo = { endpoint: url, region: 'us-east-1', ...credentials, clusterSecretFile, processes };
    await writeFile(join(dir, 'cluster.json'), `${JSON.stringify(info, null, 2)}\n`);
    return makeCluster({ dir, info, own, proxies, env });
  } catch (err) {
    for (const p of proxies.values()) await p.close();
    for (const c of own.values()) c.child.kill('SIGKILL');
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
}

/**
 * Waits for a child this harness started to print its banner's endpoint line, which every role prints only
 * once its drives are open and it listens. A connect to its port alone is not proof: the process it
 * replaces may still hold the listening socket a moment, its threads ending (seen in CI: a restarted node
 * "listened" before it had written its drive.json).
 */
async function waitBanner(own: OwnChild, address: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!/\n {2}endpoint: +\S/.test(own.output)) {
    const why = exitText(own);
    if (why) throw new Error(`Cannot reach ${address}: ${why}`);
    if (Date.now() > deadline) throw new Error(`${address} printed no endpoint after ${timeoutMs} ms: ${own.output.slice(-4000)}`);
    await sleep(20);
  }
}

function exitText(own: OwnChild): string | undefined {
  const { exitCode, signalCode } = own.child;
  return exitCode === null && signalCode === null ? undefined : `it exited with ${signalCode ?? exitCode}: ${own.output.slice(-4000)}`;
}

function makeCluster(init: { dir: string; info: ClusterInfo; dev?: DevCluster; own?: Map<string, OwnChild>; proxies?: Map<string, FaultProxy>; env?: Record<string, string> }): Cluster {
  const { dir, dev } = init;
  let info = init.info;
  const own = init.own ?? new Map<string, OwnChild>();
  const proxies = init.proxies ?? new Map<string, FaultProxy>();
  /** Names whose pid this harness owns now; dev-cluster's later rewrites of cluster.json do not apply to them. */
  const find = (name: string) => {
    const p = info.processes.find((x) => x.name === name);
    if (!p) throw new RangeError(`Cannot find process "${name}" in the cluster: it has ${info.processes.map((x) => x.name).join(', ')}`);
    return p;
  };
  const setPid = (name: string, pid: number | null) => {
    info = { ...info, processes: info.processes.map((p) => (p.name === name ? { ...p, pid } : p)) };
  };
  const allPids = () => [...new Set([...info.processes.map((p) => p.pid), ...[...own.values()].map((c) => c.child.pid!)])].filter((pid): pid is number => pid !== null);
  const running = (name: string) => {
    const { pid } = find(name);
    if (pid === null) throw new Error(`Process "${name}" is not running`);
    return pid;
  };
  let stopped = false;

  return {
    dir,
    endpoint: info.endpoint,
    supervisorPid: dev?.child.pid,
    info: () => info,
    nodes: () => info.processes.filter((p) => p.role === 'node').sort((a, b) => a.name.localeCompare(b.name, 'en', { numeric: true })),
    process: find,
    client: (config = {}) =>
      new S3Client({
        endpoint: info.endpoint,
        region: info.region,
        forcePathStyle: true,
        credentials: { accessKeyId: info.accessKeyId, secretAccessKey: info.secretAccessKey },
        ...config,
      }),
    async kill9(name) {
      const pid = running(name);
      signal(pid, 'SIGKILL');
      if (!(await waitExited(pid, 10_000))) throw new Error(`Process "${name}" (pid ${pid}) is still there 10 s after SIGKILL`);
      setPid(name, null);
    },
    pause(name) {
      const pid = running(name);
      signal(pid, 'SIGSTOP');
    },
    resume(name) {
      const pid = running(name);
      signal(pid, 'SIGCONT');
    },
    async restart(name, extraArgs = []) {
      const p = find(name);
      if (!(await exited(p.pid))) throw new Error(`Cannot restart "${name}": pid ${p.pid} is still running`);
      const child = spawnOwn([...p.argv, ...extraArgs], init.env);
      own.set(name, child);
      setPid(name, child.child.pid!);
      await waitBanner(child, addressOf(p.argv), 30_000);
      await waitListening(addressOf(p.argv), 30_000, () => exitText(child));
    },
    proxy(name) {
      const proxy = proxies.get(name);
      if (!proxy) throw new RangeError(`No fault proxy stands in front of "${name}"`);
      return proxy;
    },
    admin: (args, timeoutMs = 60_000) => runAdmin(info, args, timeoutMs),
    logs: () => [dev ? `--- dev-cluster\n${dev.output()}` : '', ...childLogs(dir), ...[...own].map(([name, c]) => `--- ${name} (pid ${c.child.pid})\n${c.output}`)].join('\n'),
    async stop() {
      if (stopped) return;
      stopped = true;
      const pids = allPids();
      for (const pid of pids) signal(pid, 'SIGCONT');
      for (const c of own.values()) signal(c.child.pid!, 'SIGTERM');
      if (dev) await stopDevCluster(dev, info.processes.map((p) => p.pid), 15_000);
      for (const pid of pids) if (!(await waitExited(pid, 10_000))) signal(pid, 'SIGKILL');
      for (const c of own.values()) await c.exit;
      for (const p of proxies.values()) await p.close();
      for (const pid of pids) livePids.delete(pid);
      if (!process.env.TESSERA_KEEP_CLUSTER) await rm(dir, { recursive: true, force: true });
    },
  };
}

/** The end of each log dev-cluster keeps for its children (DIR/logs/NAME.log). */
function childLogs(dir: string): string[] {
  let names: string[];
  try {
    names = readdirSync(join(dir, 'logs')).sort();
  } catch {
    return [];
  }
  return names.map((name) => {
    const text = readFileSync(join(dir, 'logs', name), 'utf8');
    return `--- ${name}\n${text.slice(-4000)}`;
  });
}

function addressOf(argv: string[]): string {
  const i = argv.indexOf('--address');
  if (i >= 0) return argv[i + 1]!;
  const arg = argv.find((a) => a.startsWith('--address='));
  if (!arg) throw new Error(`Cannot find --address in ${argv.join(' ')}`);
  return arg.slice('--address='.length);
}

async function runAdmin(info: ClusterInfo, args: string[], timeoutMs: number): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [join(repoRoot, 'bin', 'tessera.js'), 'admin', ...args, '--endpoint', info.endpoint, '--region', info.region], {
    env: { ...process.env, TESSERA_ROOT_ACCESS_KEY: info.accessKeyId, TESSERA_ROOT_SECRET_KEY: info.secretAccessKey },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  livePids.add(child.pid!);
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => (stdout = tail(stdout + d.toString())));
  child.stderr!.on('data', (d: Buffer) => (stderr = tail(stderr + d.toString())));
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
  clearTimeout(timer);
  livePids.delete(child.pid!);
  return { code, stdout, stderr };
}
