// `tessera dev-cluster`: a local cluster in one command, for trying Tessera and for tests. Starts N
// `tessera node` processes and a `tessera gateway` as children on loopback, keeps what restarts each of
// them in DIR/cluster.json (docs/architecture.md, "Gateway and dev cluster"), and stops them all on SIGINT/SIGTERM.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, openSync, writeSync } from 'node:fs';
import { chmod, mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { Command, Option } from 'commander';
import { signRequest } from '../s3/sigv4/sign.js';

/** One child as cluster.json records it; `argv` is exactly what restarts it. */
export interface ClusterProcess {
  role: 'node' | 'gateway';
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
  processes: ClusterProcess[];
}

interface DevClusterOptions {
  nodes: string;
  dir: string;
  address: string;
  drivesPerNode: string;
  zones: string;
}

/** How long a child may take to print its endpoint (the gateway's first start computes epoch 1). */
const childStartTimeoutMs = 60_000;
/** How long a stopping child may take before it is killed. */
const childStopTimeoutMs = 15_000;

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

/** A started child: its process, and the endpoint it printed. */
interface Started {
  child: ChildProcess;
  url: string;
}

/**
 * Spawns `argv` with stdout read by us (for the endpoint line, then copied to the log) and stderr going
 * straight to DIR/logs/NAME.log; resolves once the child prints its endpoint.
 */
async function startChild(argv: string[], logPath: string, name: string): Promise<Started> {
  const logFd = openSync(logPath, 'a');
  let child: ChildProcess;
  try {
    child = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'pipe', logFd] });
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
      if (m) {
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
  return { child, url };
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
  let last = '';
  while (Date.now() < deadlineMs) {
    try {
      const url = new URL('/', file.endpoint);
      const res = await fetch(url, { headers: signRequest({ method: 'GET', url, region: file.region, accessKeyId: file.accessKeyId, secretAccessKey: file.secretAccessKey }) });
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

function plannedGateway(dir: string, secretPath: string, address: string): ClusterProcess {
  const dataDir = join(dir, 'gateway');
  const argv = [process.execPath, binPath, 'gateway', '--address', address, '--data-dir', dataDir, '--cluster-secret-file', secretPath, '--initial-layout', join(dir, 'initial-layout.json')];
  return { role: 'gateway', name: 'gateway', address, pid: null, argv, dataDir };
}

async function credentialsOf(dataDir: string): Promise<{ accessKeyId: string; secretAccessKey: string }> {
  const { TESSERA_ROOT_ACCESS_KEY: accessKeyId, TESSERA_ROOT_SECRET_KEY: secretAccessKey } = process.env;
  if (accessKeyId && secretAccessKey) return { accessKeyId, secretAccessKey };
  return JSON.parse(await readFile(join(dataDir, 'root-credentials.json'), 'utf8')) as { accessKeyId: string; secretAccessKey: string };
}

/** The children and their bookkeeping; stop() ends them all. */
class Cluster {
  readonly children = new Map<string, ChildProcess>();
  stopping = false;

  constructor(
    readonly path: string,
    readonly file: ClusterFile,
  ) {}

  entry(name: string): ClusterProcess {
    return this.file.processes.find((p) => p.name === name)!;
  }

  /** Starts `entry`'s process; a port-0 address becomes the port it listens on, in argv too. */
  async start(entry: ClusterProcess, logDir: string): Promise<void> {
    const { child, url } = await startChild(entry.argv, join(logDir, `${entry.name}.log`), entry.name);
    if (this.stopping) {
      child.kill('SIGTERM'); // a signal arrived while it started
      return;
    }
    this.children.set(entry.name, child);
    const address = new URL(url).host;
    Object.assign(entry, { address, pid: child.pid ?? null, argv: withFlag(entry.argv, '--address', address), running: true });
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

  save(): Promise<void> {
    return writeClusterFile(this.path, this.file).catch((err: unknown) => {
      process.stderr.write(`dev-cluster: cannot write ${this.path}: ${String(err)}\n`);
    });
  }

  /** SIGTERM to every child, SIGKILL to those still there after childStopTimeoutMs; resolves when all are gone. */
  async stop(): Promise<void> {
    this.stopping = true;
    await Promise.all(
      [...this.children.values()].map(async (child) => {
        if (child.exitCode !== null || child.signalCode !== null) return;
        const exited = new Promise<void>((r) => child.once('exit', () => r()));
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), childStopTimeoutMs);
        await exited;
        clearTimeout(timer);
      }),
    );
  }
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
  const file: ClusterFile = stored ?? { endpoint: '', region: 'us-east-1', accessKeyId: '', secretAccessKey: '', clusterSecretFile: secretPath, processes: plannedNodes(dir, secretPath, nodes, drivesPerNode, zones) };
  const storedNodes = file.processes.filter((p) => p.role === 'node');
  if (stored && (storedNodes.length !== nodes || stored.processes.some((p) => p.role === 'gateway' && p.address !== opts.address && !opts.address.endsWith(':0')))) {
    process.stderr.write(`dev-cluster: ${dir} holds a cluster of ${storedNodes.length} nodes; starting it as recorded in ${path}\n`);
  }
  const cluster = new Cluster(path, file);
  let failed: unknown;
  const stop = () => {
    cluster.stop().then(() => process.exit(failed === undefined ? 0 : 1), () => process.exit(1));
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  try {
    await Promise.all(storedNodes.map((entry) => cluster.start(entry, logDir)));
    if (!stored) {
      const initial = { nodes: storedNodes.map((n) => ({ id: n.name, address: n.address, zone: n.zone })) };
      await writeFile(join(dir, 'initial-layout.json'), `${JSON.stringify(initial, null, 2)}\n`);
    }
    // Recorded before the gateway starts, so a run that fails from here on still finds the nodes' ports.
    await cluster.save();
    let gateway = file.processes.find((p) => p.role === 'gateway');
    if (!gateway) {
      gateway = plannedGateway(dir, secretPath, opts.address);
      file.processes.push(gateway);
    }
    await cluster.start(gateway, logDir);
    Object.assign(file, { endpoint: `http://${gateway.address}`, ...(await credentialsOf(gateway.dataDir!)) });
    await cluster.save();
    await waitForS3(file, 30_000);
  } catch (err) {
    failed = err;
    process.stderr.write(`dev-cluster: ${(err as Error).message}\n`);
    stop();
    return;
  }
  const nodeList = storedNodes.map((n) => `${n.name} ${n.address} (${n.zone})`).join(', ');
  process.stdout.write(
    `Tessera dev cluster in ${dir}\n  endpoint:   ${file.endpoint}\n  region:     ${file.region}\n  access key: ${file.accessKeyId}\n  secret key: ${file.secretAccessKey}\n  nodes:      ${nodeList}\n  state:      ${path}\n  logs:       ${logDir}\n` +
      `Cluster ready: ${storedNodes.length} nodes and a gateway; Ctrl-C stops them all\n`,
  );
}

export function devClusterCommand(): Command {
  return new Command('dev-cluster')
    .description('Run a local cluster for trying Tessera and for tests: N storage nodes and a gateway on loopback, state in DIR/cluster.json')
    .addOption(new Option('--nodes <n>', 'storage nodes to start on the first run').default('6'))
    .addOption(new Option('--dir <dir>', 'where the drives, the gateway\'s metadata, logs and cluster.json live; run again on it to restart the same cluster').makeOptionMandatory())
    .addOption(new Option('--address <host:port>', 'the gateway\'s S3 address on the first run (port 0: any free port)').default('127.0.0.1:9000'))
    .addOption(new Option('--drives-per-node <d>', 'drives of each node on the first run').default('1'))
    .addOption(new Option('--zones <z>', 'zones the nodes are spread over, round-robin, on the first run').default('3'))
    .action((opts: DevClusterOptions) => runDevCluster(opts));
}
