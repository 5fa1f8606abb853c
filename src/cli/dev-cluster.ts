// `tessera dev-cluster`: a local cluster in one command, for trying Tessera and for tests. Starts N
// `tessera node` processes and one or more `tessera gateway`s as children on loopback (with --postgres its
// own PostgreSQL, with two or more gateways HAProxy in front), keeps what restarts each of them in
// DIR/cluster.json (docs/architecture.md, "Gateway and dev cluster"), and stops them all on SIGINT/SIGTERM.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, openSync, writeSync } from 'node:fs';
import { chmod, mkdir, readFile, rename, stat, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command, Option } from 'commander';
import { Agent, fetch as undiciFetch } from 'undici';
import { signRequest } from '../s3/sigv4/sign.js';
import { readCaBundle } from '../util/tls.js';
import { makeCertificate } from './tls.js';
import { parseAddress } from '../roles/endpoint.js';
import { parseMetaUrl } from '../roles/stores.js';
import { ensureDatabase, initLocalPostgres, localPostgresArgv, localPostgresUrl, postgresReadyLine } from './local-postgres.js';
import { haproxyArgv, haproxyConfig, waitForListener } from './local-haproxy.js';

/** One child as cluster.json records it; `argv` is exactly what restarts it. */
export interface ClusterProcess {
  role: 'node' | 'gateway' | 'haproxy' | 'postgres';
  name: string;
  zone?: string;
  address: string;
  pid: number | null;
  argv: string[];
  drives?: string[];
  dataDir?: string;
  /** False once the child exited while dev-cluster kept running (tests kill nodes on purpose). */
  running?: boolean;
  /** How it ended: "code 1" or "signal SIGKILL". */
  exit?: string;
}

export interface ClusterFile {
  endpoint: string;
  region: string;
  accessKeyId: string;
  secretAccessKey: string;
  clusterSecretFile: string;
  /** The bearer token every gateway takes for /_tessera/metrics (Authorization: Bearer TOKEN). */
  metricsToken?: string;
  /** With --tls: the CA every certificate of the cluster is signed by, for clients to trust. */
  caBundle?: string;
  processes: ClusterProcess[];
}

interface DevClusterOptions {
  nodes: string;
  dir: string;
  address: string;
  drivesPerNode: string;
  zones: string;
  gateways: string;
  meta: string;
  postgres?: boolean;
  tls?: boolean;
}

/** The database dev-cluster's own PostgreSQL keeps the metadata in. */
const localDatabase = 'tessera';

/** How long a child may take to print its endpoint (the gateway's first start computes epoch 1). */
const childStartTimeoutMs = 60_000;
/** How long a stopping child may take before it is killed. */
const childStopTimeoutMs = 15_000;

const dirOf = (path: string) => resolve(path, '..');

const binPath = resolve(import.meta.dirname, '..', '..', 'bin', 'tessera.js');

function count(flag: string, value: string, max: number): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > max) throw new Error(`Cannot use ${flag} "${value}": expected an integer from 1 to ${max}`);
  return n;
}

/** The value after `flag` in `argv` replaced (an address learned after listening on port 0). */
function withFlag(argv: string[], flag: string, value: string): string[] {
  const at = argv.indexOf(flag);
  return at < 0 ? [...argv, flag, value] : [...argv.slice(0, at + 1), value, ...argv.slice(at + 2)];
}

async function readClusterFile(path: string): Promise<ClusterFile | undefined> {
  try {
    return JSON.parse(await readFile(path, 'utf8')) as ClusterFile;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new Error(`Cannot read "${path}": ${(err as Error).message}`);
  }
}

/** Written to a temporary name and renamed, so a reader never sees half a file. */
async function writeClusterFile(path: string, file: ClusterFile): Promise<void> {
  await writeFile(`${path}.tmp`, `${JSON.stringify(file, null, 2)}\n`, { mode: 0o600 });
  await rename(`${path}.tmp`, path);
}

async function ensureSecret(path: string): Promise<void> {
  try {
    await writeFile(path, `${randomBytes(32).toString('hex')}\n`, { mode: 0o600, flag: 'wx' });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
  await chmod(path, 0o600);
}

/**
 * The orphan guard (orphan-guard.ts): a process of its own, told the pid of every child as it starts, that
 * stops them if dev-cluster dies without stopping them itself (kill -9), which would otherwise leave
 * nodes, gateways, PostgreSQL and HAProxy running with nobody to stop them.
 */
class OrphanGuard {
  private process: ChildProcess | undefined;

  watch(child: ChildProcess, stopSignal: NodeJS.Signals): void {
    if (child.pid === undefined) return;
    this.process ??= this.startGuard();
    this.tell(`+${child.pid} ${stopSignal}`);
    child.once('exit', () => this.tell(`-${child.pid}`));
  }

  /** Every child was stopped here: the guard leaves without touching them. Resolves once it was told. */
  done(): Promise<void> {
    const stdin = this.process?.stdin;
    if (!stdin?.writable) return Promise.resolve();
    return new Promise((resolvePromise) => stdin.end('done\n', () => resolvePromise()));
  }

  private startGuard(): ChildProcess {
    const guardPath = fileURLToPath(new URL('./orphan-guard.js', import.meta.url));
    // Detached: a process group of its own, so it outlives a kill of dev-cluster's group and a Ctrl-C.
    const started = spawn(process.execPath, [guardPath], { stdio: ['pipe', 'ignore', 'ignore'], detached: true });
    started.unref();
    started.stdin!.on('error', () => undefined); // the guard gone: nothing left to tell
    return started;
  }

  private tell(line: string): void {
    if (this.process?.stdin?.writable) this.process.stdin.write(`${line}\n`);
  }
}

const guard = new OrphanGuard();

/** A started child: its process, the endpoint it printed and what it printed up to then. */
interface Started {
  child: ChildProcess;
  url: string;
  stdout: string;
}

/**
 * Spawns `argv` with stdout read by us (for the endpoint line, then copied to the log) and stderr going
 * straight to DIR/logs/NAME.log; resolves once the child's stdout matches `ready` (its endpoint line by
 * default; a gateway's whole banner, for the credentials it prints).
 */
async function startChild(argv: string[], logPath: string, name: string, ready = /endpoint:\s+(\S+)/): Promise<Started> {
  const logFd = openSync(logPath, 'a');
  let child: ChildProcess;
  try {
    child = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'pipe', logFd] });
    guard.watch(child, 'SIGTERM');
  } finally {
    closeSync(logFd);
  }
  const logCopy = openSync(logPath, 'a');
  let stdout = '';
  const url = await new Promise<string>((resolvePromise, reject) => {
    const timer = setTimeout(() => reject(new Error(`Cannot start ${name}: no endpoint within ${childStartTimeoutMs / 1000} s (see ${logPath})`)), childStartTimeoutMs);
    child.stdout!.on('data', (d: Buffer) => {
      writeSyncQuiet(logCopy, d);
      if (stdout.length < 64 * 1024) stdout += d.toString();
      const m = /endpoint:\s+(\S+)/.exec(stdout);
      if (m && ready.test(stdout)) {
        clearTimeout(timer);
        resolvePromise(m[1]!);
      }
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`Cannot start ${name}: it exited with ${signal ?? `code ${code}`} (see ${logPath})`));
    });
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(new Error(`Cannot start ${name}: ${err.message}`));
    });
  }).catch((err: unknown) => {
    child.kill('SIGKILL');
    throw err;
  });
  child.stdout!.once('close', () => closeSync(logCopy));
  return { child, url, stdout };
}

/**
 * Spawns a program that logs to its stderr (PostgreSQL, HAProxy) with both outputs going to the log
 * file, so it never writes into a pipe of ours; resolves once `isReady` resolves true, rejects if the
 * child exits first or within childStartTimeoutMs.
 */
async function startLogged(argv: string[], logPath: string, name: string, isReady: (logFrom: number) => Promise<boolean>): Promise<ChildProcess> {
  const logFrom = await stat(logPath).then((s) => s.size, () => 0);
  const logFd = openSync(logPath, 'a');
  let child: ChildProcess;
  try {
    child = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', logFd, logFd] });
    // PostgreSQL's fast shutdown is SIGINT (SIGTERM waits for its sessions to end).
    guard.watch(child, name === 'postgres' ? 'SIGINT' : 'SIGTERM');
  } finally {
    closeSync(logFd);
  }
  let exited: string | undefined;
  child.once('exit', (code, signal) => (exited = signal ?? `code ${code}`));
  child.once('error', (err) => (exited = err.message));
  const deadlineMs = Date.now() + childStartTimeoutMs;
  while (!(await isReady(logFrom).catch(() => false))) {
    const failure = exited ? `it exited with ${exited}` : Date.now() > deadlineMs ? `not ready within ${childStartTimeoutMs / 1000} s` : undefined;
    if (failure) {
      child.kill('SIGKILL');
      throw new Error(`Cannot start ${name}: ${failure} (see ${logPath})`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return child;
}

/** Whether the log at `path` says, past byte `from`, that PostgreSQL accepts connections. */
async function postgresReady(path: string, from: number): Promise<boolean> {
  return (await readFile(path)).subarray(from).toString('utf8').includes(postgresReadyLine);
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  await new Promise((r) => server.close(r));
  return port;
}

/** host:port with port 0 replaced by a free port: HAProxy and PostgreSQL take no port 0. */
async function concreteAddress(address: string): Promise<string> {
  const { host, port } = parseAddress(address);
  return `${host}:${port === 0 ? await freePort() : port}`;
}

function writeSyncQuiet(fd: number, data: Buffer): void {
  try {
    writeSync(fd, data);
  } catch {
    // Log copies are best effort: a full disk must not stop the cluster.
  }
}

/** Waits until a signed ListBuckets answers 200: the gateway serves S3 with the root key. */
async function waitForS3(file: ClusterFile, timeoutMs: number): Promise<void> {
  const deadlineMs = Date.now() + timeoutMs;
  const trusted = file.caBundle ? new Agent({ connect: { ca: readCaBundle(file.caBundle) } }) : undefined;
  let last = '';
  while (Date.now() < deadlineMs) {
    try {
      const url = new URL('/', file.endpoint);
      const headers = signRequest({ method: 'GET', url, region: file.region, accessKeyId: file.accessKeyId, secretAccessKey: file.secretAccessKey });
      const res = trusted ? await undiciFetch(url, { headers, dispatcher: trusted }) : await fetch(url, { headers });
      await res.arrayBuffer();
      if (res.status === 200) return;
      last = `HTTP ${res.status}`;
    } catch (err) {
      last = String(err);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`Cannot reach the gateway's S3 endpoint ${file.endpoint}: ${last}`);
}

/**
 * --tls on the first run: a CA and a loopback certificate in DIR/tls (HAProxy takes certificate and key in
 * one file), served by every node and gateway; the gateways check the nodes' against the CA.
 */
async function enableTls(dir: string, file: ClusterFile): Promise<void> {
  const tlsDir = join(dir, 'tls');
  const made = await makeCertificate(tlsDir, 'cluster', ['localhost', '127.0.0.1', '::1']);
  const combined = join(tlsDir, 'haproxy.pem');
  await writeFile(combined, Buffer.concat([await readFile(made.cert), await readFile(made.key)]), { mode: 0o600 });
  file.caBundle = made.ca;
  for (const p of file.processes) {
    if (p.role === 'node' || p.role === 'gateway') p.argv.push('--tls-cert', made.cert, '--tls-key', made.key);
    if (p.role === 'gateway') p.argv.push('--node-ca', made.ca);
  }
}

/** The first run's node processes: nodeI with drives DIR/nodeI/driveJ in zone-((I-1) mod Z + 1), on port 0 until started. */
function plannedNodes(dir: string, secretPath: string, nodes: number, drivesPerNode: number, zones: number): ClusterProcess[] {
  return Array.from({ length: nodes }, (_, k) => {
    const name = `node${k + 1}`;
    const drives = Array.from({ length: drivesPerNode }, (_, j) => join(dir, name, `drive${j + 1}`));
    const address = '127.0.0.1:0';
    const argv = [process.execPath, binPath, 'node', '--address', address, '--drives', drives.join(','), '--cluster-secret-file', secretPath, '--node-id', name];
    return { role: 'node', name, zone: `zone-${(k % zones) + 1}`, address, pid: null, argv, drives };
  });
}

/** A gateway named `name` with its data directory DIR/NAME; `metaUrl`: the MetaStore every gateway shares. */
function plannedGateway(dir: string, secretPath: string, address: string, name = 'gateway', metaUrl?: string): ClusterProcess {
  const dataDir = join(dir, name);
  const argv = [process.execPath, binPath, 'gateway', '--address', address, '--data-dir', dataDir, '--cluster-secret-file', secretPath, '--initial-layout', join(dir, 'initial-layout.json')];
  if (metaUrl) argv.push('--meta', metaUrl);
  return { role: 'gateway', name, address, pid: null, argv, dataDir };
}

/** PostgreSQL in DIR/postgres (initdb'd when first started) on a loopback port of its own. */
function plannedPostgres(dir: string, port: number): ClusterProcess {
  const home = join(dir, 'postgres');
  return { role: 'postgres', name: 'postgres', address: `127.0.0.1:${port}`, pid: null, argv: localPostgresArgv(home, port), dataDir: home };
}

function plannedHaproxy(dir: string, address: string): ClusterProcess {
  return { role: 'haproxy', name: 'haproxy', address, pid: null, argv: haproxyArgv(join(dir, 'haproxy.cfg')) };
}

/** The root credentials a gateway on a shared MetaStore printed (they live in the database, not its data directory). */
function printedCredentials(stdout: string): { accessKeyId: string; secretAccessKey: string } | undefined {
  const accessKeyId = /access key:\s+(\S+)/.exec(stdout)?.[1];
  const secretAccessKey = /secret key:\s+(\S+)/.exec(stdout)?.[1];
  if (!accessKeyId || !secretAccessKey || secretAccessKey.startsWith('(')) return undefined;
  return { accessKeyId, secretAccessKey };
}

async function credentialsOf(dataDir: string, printed?: string): Promise<{ accessKeyId: string; secretAccessKey: string }> {
  const { TESSERA_ROOT_ACCESS_KEY: accessKeyId, TESSERA_ROOT_SECRET_KEY: secretAccessKey } = process.env;
  if (accessKeyId && secretAccessKey) return { accessKeyId, secretAccessKey };
  const fromBanner = printed === undefined ? undefined : printedCredentials(printed);
  if (fromBanner) return fromBanner;
  return JSON.parse(await readFile(join(dataDir, 'root-credentials.json'), 'utf8')) as { accessKeyId: string; secretAccessKey: string };
}

/** The children and their bookkeeping; stop() ends them all. */
export class Cluster {
  readonly children = new Map<string, ChildProcess>();
  /** What each gateway printed when it started (its banner names the root credentials). */
  readonly banners = new Map<string, string>();
  stopping = false;
  private saving: Promise<void> = Promise.resolve();

  constructor(
    readonly path: string,
    readonly file: ClusterFile,
  ) {}

  entry(name: string): ClusterProcess {
    return this.file.processes.find((p) => p.name === name)!;
  }

  /**
   * Starts `entry`'s process; a node's or gateway's port-0 address becomes the port it listens on, in
   * argv too. PostgreSQL is ready when it logs so, HAProxy when its port accepts connections.
   */
  async start(entry: ClusterProcess, logDir: string): Promise<void> {
    const logPath = join(logDir, `${entry.name}.log`);
    let child: ChildProcess;
    if (entry.role === 'postgres') {
      await initLocalPostgres(entry.dataDir!);
      child = await startLogged(entry.argv, logPath, entry.name, (from) => postgresReady(logPath, from));
      await ensureDatabase(parseAddress(entry.address).port, localDatabase);
    } else if (entry.role === 'haproxy') {
      const gateways = this.file.processes.filter((p) => p.role === 'gateway');
      const tls = this.file.caBundle ? { pem: join(dirOf(this.path), 'tls', 'haproxy.pem'), ca: this.file.caBundle } : undefined;
      await writeFile(join(dirOf(this.path), 'haproxy.cfg'), haproxyConfig(entry.address, gateways, tls));
      const { host, port } = parseAddress(entry.address);
      child = await startLogged(entry.argv, logPath, entry.name, async () => {
        await waitForListener(host, port, 200);
        return true;
      });
    } else {
      const started = await startChild(entry.argv, logPath, entry.name, entry.role === 'gateway' ? /secret key:\s+\S+\n/ : undefined);
      child = started.child;
      this.banners.set(entry.name, started.stdout);
      const address = new URL(started.url).host;
      Object.assign(entry, { address, argv: withFlag(entry.argv, '--address', address) });
    }
    if (this.stopping) {
      child.kill('SIGTERM'); // a signal arrived while it started
      return;
    }
    this.children.set(entry.name, child);
    Object.assign(entry, { pid: child.pid ?? null, running: true });
    delete entry.exit;
    child.once('exit', (code, signal) => {
      this.children.delete(entry.name);
      if (this.stopping) return;
      const how = signal ? `signal ${signal}` : `code ${code}`;
      process.stderr.write(`dev-cluster: ${entry.name} (pid ${child.pid}) exited with ${how}; left down (restart it with the argv in ${this.path})\n`);
      Object.assign(entry, { running: false, exit: how });
      void this.save();
    });
  }

  /**
   * Writes cluster.json as it is now. One write at a time: two children exiting together used to save at
   * once, both writing the one .tmp file, and the rename could publish the longer write's tail after the
   * shorter one's JSON.
   */
  save(): Promise<void> {
    const write = () =>
      writeClusterFile(this.path, this.file).catch((err: unknown) => {
        process.stderr.write(`dev-cluster: cannot write ${this.path}: ${String(err)}\n`);
      });
    this.saving = this.saving.then(write);
    return this.saving;
  }

  /**
   * SIGTERM to every child, SIGKILL to those still there after childStopTimeoutMs; resolves when all are
   * gone. PostgreSQL goes last (the gateways close their sessions first), with SIGINT: a fast shutdown.
   */
  async stop(): Promise<void> {
    this.stopping = true;
    const end = async (child: ChildProcess, signal: NodeJS.Signals) => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise<void>((r) => child.once('exit', () => r()));
      child.kill(signal);
      const timer = setTimeout(() => child.kill('SIGKILL'), childStopTimeoutMs);
      await exited;
      clearTimeout(timer);
    };
    const postgres = this.children.get('postgres');
    await Promise.all([...this.children].filter(([name]) => name !== 'postgres').map(([, child]) => end(child, 'SIGTERM')));
    if (postgres) await end(postgres, 'SIGINT');
    await guard.done();
  }
}

/**
 * The first run's processes besides the nodes: PostgreSQL when asked for, the gateways (on the shared
 * MetaStore when there is one), and HAProxy in front when there are two or more. Several gateways need a
 * MetaStore they share, so they are refused without --meta or --postgres.
 */
async function plannedFrontTier(dir: string, secretPath: string, opts: DevClusterOptions): Promise<ClusterProcess[]> {
  const gateways = count('--gateways', opts.gateways, 32);
  const external = parseMetaUrl(opts.meta);
  if (external && opts.postgres) throw new Error('Cannot use both --meta and --postgres: pick the PostgreSQL to keep the metadata in');
  if (gateways > 1 && !external && !opts.postgres) throw new Error(`Cannot run ${gateways} gateways on SQLite: they need one MetaStore (give --meta postgres://... or --postgres)`);
  const planned: ClusterProcess[] = [];
  let metaUrl = external;
  if (opts.postgres) {
    const postgres = plannedPostgres(dir, await freePort());
    planned.push(postgres);
    metaUrl = localPostgresUrl(parseAddress(postgres.address).port, localDatabase);
  }
  if (gateways === 1) return [...planned, plannedGateway(dir, secretPath, opts.address, 'gateway', metaUrl)];
  for (let i = 1; i <= gateways; i++) {
    const gateway = plannedGateway(dir, secretPath, '127.0.0.1:0', `gateway${i}`, metaUrl);
    // HAProxy connects from the loopback and forwards each client's address (option forwardfor): the
    // gateways believe it for aws:SourceIp, per-IP limits and the access log. Any other local process can
    // send X-Forwarded-For to a gateway directly too; a dev cluster has only loopback clients anyway.
    gateway.argv.push('--trusted-proxies', '127.0.0.1,::1');
    planned.push(gateway);
  }
  planned.push(plannedHaproxy(dir, await concreteAddress(opts.address)));
  return planned;
}

async function runDevCluster(opts: DevClusterOptions): Promise<void> {
  const nodes = count('--nodes', opts.nodes, 100);
  const drivesPerNode = count('--drives-per-node', opts.drivesPerNode, 32);
  const zones = count('--zones', opts.zones, 100);
  const dir = resolve(opts.dir);
  const logDir = join(dir, 'logs');
  await mkdir(logDir, { recursive: true });
  const secretPath = join(dir, 'cluster-secret');
  await ensureSecret(secretPath);
  const path = join(dir, 'cluster.json');
  const stored = await readClusterFile(path);
  const file: ClusterFile = stored ?? {
    endpoint: '',
    region: 'us-east-1',
    accessKeyId: '',
    secretAccessKey: '',
    clusterSecretFile: secretPath,
    processes: [...plannedNodes(dir, secretPath, nodes, drivesPerNode, zones), ...(await plannedFrontTier(dir, secretPath, opts))],
  };
  if (!stored && opts.tls) await enableTls(dir, file);
  const storedNodes = file.processes.filter((p) => p.role === 'node');
  const gateways = file.processes.filter((p) => p.role === 'gateway');
  // Made once and kept in cluster.json (a file only its owner reads, like the cluster secret); a cluster
  // recorded before there were tokens gets one on its next start.
  file.metricsToken ??= randomBytes(24).toString('base64url');
  for (const gateway of gateways) gateway.argv = withFlag(gateway.argv, '--metrics-token', file.metricsToken);
  // Every gateway seals and opens access key secrets with the same IAM key (same format as the cluster secret).
  const iamKeyPath = join(dir, 'iam.key');
  await ensureSecret(iamKeyPath);
  for (const gateway of gateways) gateway.argv = withFlag(gateway.argv, '--iam-key-file', iamKeyPath);
  // And every gateway opens the built-in key service's master keys with the same KMS root key.
  const kmsRootKeyPath = join(dir, 'kms.key');
  await ensureSecret(kmsRootKeyPath);
  for (const gateway of gateways) gateway.argv = withFlag(gateway.argv, '--kms-root-key-file', kmsRootKeyPath);
  const haproxy = file.processes.find((p) => p.role === 'haproxy');
  const postgres = file.processes.find((p) => p.role === 'postgres');
  if (stored && (storedNodes.length !== nodes || gateways.length !== Number(opts.gateways) || (!haproxy && gateways.some((p) => p.address !== opts.address && !opts.address.endsWith(':0'))))) {
    process.stderr.write(`dev-cluster: ${dir} holds a cluster of ${storedNodes.length} nodes and ${gateways.length} gateways; starting it as recorded in ${path}\n`);
  }
  const cluster = new Cluster(path, file);
  let failed: unknown;
  const stop = () => {
    cluster.stop().then(() => process.exit(failed === undefined ? 0 : 1), () => process.exit(1));
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  try {
    await Promise.all([...storedNodes, ...(postgres ? [postgres] : [])].map((entry) => cluster.start(entry, logDir)));
    if (!stored) {
      const initial = { nodes: storedNodes.map((n) => ({ id: n.name, address: n.address, zone: n.zone })) };
      await writeFile(join(dir, 'initial-layout.json'), `${JSON.stringify(initial, null, 2)}\n`);
    }
    // Recorded before the gateways start, so a run that fails from here on still finds the nodes' ports.
    await cluster.save();
    // The first gateway stores the initial layout (and, on a shared MetaStore, the root credentials); the others find them.
    const [first, ...others] = gateways;
    if (!first) throw new Error(`Cannot start the cluster in ${dir}: ${path} names no gateway`);
    await cluster.start(first, logDir);
    await Promise.all(others.map((entry) => cluster.start(entry, logDir)));
    if (haproxy) await cluster.start(haproxy, logDir);
    const banner = postgres || first.argv.includes('--meta') ? cluster.banners.get(first.name) : undefined;
    Object.assign(file, { endpoint: `${file.caBundle ? 'https' : 'http'}://${(haproxy ?? first).address}`, ...(await credentialsOf(first.dataDir!, banner)) });
    await cluster.save();
    await waitForS3(file, 30_000);
  } catch (err) {
    failed = err;
    process.stderr.write(`dev-cluster: ${(err as Error).message}\n`);
    stop();
    return;
  }
  const nodeList = storedNodes.map((n) => `${n.name} ${n.address} (${n.zone})`).join(', ');
  const gatewayList = gateways.map((g) => `${g.name} ${g.address}`).join(', ');
  const front = haproxy ? `${gateways.length} gateways behind HAProxy` : 'a gateway';
  process.stdout.write(
    `Tessera dev cluster in ${dir}\n  endpoint:   ${file.endpoint}${haproxy ? ' (HAProxy)' : ''}\n  region:     ${file.region}\n  access key: ${file.accessKeyId}\n  secret key: ${file.secretAccessKey}\n  metrics:    ${file.endpoint}/_tessera/metrics with "Authorization: Bearer ${file.metricsToken}"\n  nodes:      ${nodeList}\n` +
      `  gateways:   ${gatewayList}\n${postgres ? `  postgres:   ${postgres.address} (data in ${postgres.dataDir})\n` : ''}${file.caBundle ? `  CA bundle:  ${file.caBundle} (aws --ca-bundle, AWS_CA_BUNDLE)\n` : ''}  state:      ${path}\n  logs:       ${logDir}\n` +
      `Cluster ready: ${storedNodes.length} nodes and ${front}; Ctrl-C stops them all\n`,
  );
}

export function devClusterCommand(): Command {
  return new Command('dev-cluster')
    .description('Run a local cluster for trying Tessera and for tests: N storage nodes and one or more gateways on loopback, state in DIR/cluster.json')
    .addOption(new Option('--nodes <n>', 'storage nodes to start on the first run').default('6'))
    .addOption(new Option('--dir <dir>', 'where the drives, the gateways\' data, PostgreSQL (--postgres), logs and cluster.json live; run again on it to restart the same cluster').makeOptionMandatory())
    .addOption(new Option('--address <host:port>', 'the S3 address on the first run: the gateway\'s, or HAProxy\'s with two or more gateways (port 0: any free port)').default('127.0.0.1:9000'))
    .addOption(new Option('--drives-per-node <d>', 'drives of each node on the first run').default('1'))
    .addOption(new Option('--zones <z>', 'zones the nodes are spread over, round-robin, on the first run').default('3'))
    .addOption(new Option('--gateways <n>', 'gateways on the first run; two or more need --meta or --postgres and get HAProxy in front').default('1'))
    .addOption(new Option('--meta <url>', 'keep the metadata in the PostgreSQL at postgres://USER@HOST:PORT/DB (first run)').default(''))
    .addOption(new Option('--postgres', 'start a PostgreSQL of its own in DIR/postgres (Debian\'s postgresql package) for the metadata (first run)'))
    .addOption(new Option('--tls', 'TLS everywhere (first run): a private CA in DIR/tls signs one certificate for loopback that the gateways (S3), the nodes (RPC) and HAProxy serve'))
    .action((opts: DevClusterOptions) => runDevCluster(opts));
}
