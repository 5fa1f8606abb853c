// Starting Tessera for a benchmark, in its own process and its own temporary data directory:
// - startBenchServer(): server-child.ts, which runs startServer() and reports event-loop delay and CPU;
// - startTesseraBinary(): `node bin/tessera.js server`, exactly what users run (for RSS).
// Both need `npm run build` unless fromSource is set (then src/ runs through tsx).
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, mkdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Credentials } from './presign.js';
import type { RateLimitConfig } from '../../src/util/rate-limits.js';
import { waitForEndpoint } from '../../test/helpers/tessera.js';
import { killOnBenchExit } from './exit-guard.js';

export const repoRoot = resolve(import.meta.dirname, '..', '..');

export interface ChildConfig {
  dataDir: string;
  drives: string[];
  accessKeyId: string;
  secretAccessKey: string;
  gcDelayMs: number;
  gcIntervalMs: number;
  inlineBytesMax?: number;
  fromSource: boolean;
  profileDir?: string;
  /** Rate limits at start, as --rate-limits takes them. */
  rateLimits?: RateLimitConfig;
  /** Give the server a logger whose level setLogLevel() changes between phases (bench/access-log.ts). */
  switchableLog?: boolean;
}

export type ChildRequest =
  | { type: 'mark'; id: number; label?: string }
  | { type: 'read'; id: number }
  | { type: 'log-level'; id: number; level: 'info' | 'warn' }
  | { type: 'stop' };

export interface LoopStats {
  eld: { p50Ms: number; p99Ms: number; maxMs: number; meanMs: number };
  /** CPU time of the server process per wall second since the last mark (1.0 = one core busy). */
  cpuCores: number;
  /** Metadata commits and the batches (one fsync each) they were grouped into. */
  metaCommits: number;
  metaBatches: number;
  /** With switchableLog: milliseconds spent in the logger's info() and in writes to stderr. */
  logMs?: number;
  /** The hashing thread's id (for its CPU time in /proc) and its MD5 calls since the mark, per lanes in a call. */
  hashing?: { threadId?: number; md5Lanes?: { lanes: number; calls: number; bytes: number }[] };
}

export type ChildReply =
  | { type: 'ready'; url: string }
  | { type: 'marked'; id: number }
  | ({ type: 'stats'; id: number } & LoopStats);

export interface BenchServerOptions {
  /** Number of drive directories to create under the data dir; 0: no --drives (one drive inside it). */
  drives?: number;
  inlineBytesMax?: number;
  fromSource?: boolean;
  /** Parent directory of the temporary data dir (default: os.tmpdir()). */
  under?: string;
  /** Extra node flags for the server process, e.g. ['--cpu-prof', '--cpu-prof-dir=/tmp/prof']. */
  nodeArgs?: string[];
  /** Write a CPU profile of the server's main thread for each labelled phase into this directory. */
  profileDir?: string;
  /** Another checkout to run the server from (A/B experiments); default: this repository. */
  root?: string;
  rateLimits?: RateLimitConfig;
  /** Extra environment for the server process, e.g. { TESSERA_LOG_LEVEL: 'warn' }. */
  env?: Record<string, string>;
  /** Lets setLogLevel() switch the access log on (info) and off (warn) between phases. */
  switchableLog?: boolean;
}

export interface BenchServer {
  url: string;
  pid: number;
  dataDir: string;
  credentials: Credentials;
  /** Starts a measurement phase: resets the event-loop histogram and the CPU counter (and profiles it, with profileDir). */
  mark(label?: string): Promise<void>;
  /** Event-loop delay and CPU since the last mark. */
  read(): Promise<LoopStats>;
  /** With switchableLog: info writes an access line per request, warn none. */
  setLogLevel?(level: 'info' | 'warn'): Promise<void>;
  stderr(): string;
  /** The last MiB of the server's stdout (diagnostic flags such as --trace-gc print there). */
  stdout(): string;
  /** Stops the server and removes its data. */
  stop(): Promise<void>;
}

export const benchCredentials: Credentials = {
  accessKeyId: 'BENCHACCESSKEY000001',
  secretAccessKey: 'bench/secret/key/00000000000000000000001',
  region: 'us-east-1',
};

function tail(text: string, bytes: number): string {
  return text.length > bytes ? text.slice(-bytes) : text;
}

/**
 * A contender named on a bench's command line: ROOT, or ROOT+--flag+NAME=value...: the checkout ("this" for
 * this one), node flags for its server, and environment variables for it (this+TESSERA_LOG_LEVEL=warn).
 */
export function parseRoot(spec: string): { root?: string; nodeArgs: string[]; env: Record<string, string> } {
  const [dir, ...extras] = spec.split('+');
  const isEnv = (x: string) => /^[A-Z][A-Z0-9_]*=/.test(x);
  const env = Object.fromEntries(extras.filter(isEnv).map((x) => [x.slice(0, x.indexOf('=')), x.slice(x.indexOf('=') + 1)]));
  return { ...(dir === 'this' ? {} : { root: dir! }), nodeArgs: extras.filter((x) => !isEnv(x)), env };
}

/** Checks dist/ exists and is not older than src/main.ts, so a stale build is not measured by mistake. */
export async function checkBuild(): Promise<void> {
  const built = await stat(join(repoRoot, 'dist', 'main.js')).catch(() => undefined);
  if (!built) throw new Error('dist/main.js is missing: run `npm run build` first (or pass --src)');
  const source = await stat(join(repoRoot, 'src', 'main.ts'));
  if (source.mtimeMs > built.mtimeMs) process.stderr.write('warning: src/main.ts is newer than dist/main.js; run `npm run build` (or pass --src)\n');
}

async function makeDataDir(options: BenchServerOptions): Promise<{ dataDir: string; drives: string[] }> {
  const dataDir = await mkdtemp(join(options.under ?? tmpdir(), 'tessera-bench-'));
  const drives: string[] = [];
  for (let i = 0; i < (options.drives ?? 0); i++) {
    const drive = join(dataDir, `drive${i}`);
    await mkdir(drive);
    drives.push(drive);
  }
  return { dataDir, drives };
}

export async function startBenchServer(options: BenchServerOptions = {}): Promise<BenchServer> {
  const fromSource = options.fromSource ?? false;
  if (!fromSource) await checkBuild();
  const { dataDir, drives } = await makeDataDir(options);
  const config: ChildConfig = {
    dataDir,
    drives,
    accessKeyId: benchCredentials.accessKeyId,
    secretAccessKey: benchCredentials.secretAccessKey,
    gcDelayMs: 2000,
    gcIntervalMs: 1000,
    fromSource,
    ...(options.inlineBytesMax !== undefined ? { inlineBytesMax: options.inlineBytesMax } : {}),
    ...(options.profileDir ? { profileDir: options.profileDir } : {}),
    ...(options.rateLimits ? { rateLimits: options.rateLimits } : {}),
    ...(options.switchableLog ? { switchableLog: true } : {}),
  };
  const child = spawn(process.execPath, [...(options.nodeArgs ?? []), '--import', 'tsx', join(options.root ?? repoRoot, 'bench', 'lib', 'server-child.ts')], {
    env: { ...process.env, ...options.env, TESSERA_BENCH_CONFIG: JSON.stringify(config) },
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  });
  const unhook = killOnBenchExit([child], dataDir);
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr = tail(stderr + d.toString(), 64 * 1024)));
  let stdout = ''; // only diagnostics (e.g. --trace-gc) print here
  child.stdout!.on('data', (d: Buffer) => (stdout = tail(stdout + d.toString(), 1024 * 1024)));
  const waiters = new Map<number, (reply: ChildReply) => void>();
  let nextId = 1;
  const url = await new Promise<string>((resolvePromise, reject) => {
    const timer = setTimeout(() => reject(new Error(`Tessera did not start within 30 s: ${stderr}`)), 30_000);
    child.on('message', (reply: ChildReply) => {
      if (reply.type === 'ready') {
        clearTimeout(timer);
        resolvePromise(reply.url);
      } else {
        waiters.get(reply.id)?.(reply);
        waiters.delete(reply.id);
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`Tessera exited with ${code} before starting: ${stderr}`));
    });
  });
  let exitText: string | undefined;
  child.once('exit', (code, signal) => {
    exitText = `Tessera (pid ${child.pid}, ${drives.length} drives, inline ≤ ${options.inlineBytesMax ?? "default"} bytes) exited with ${signal ?? code}: ${tail(stderr, 4000)}`;
    for (const fail of failers.values()) fail(new Error(exitText));
  });
  const failers = new Map<number, (err: Error) => void>();
  const ask = (type: 'mark' | 'read' | 'log-level', label?: string) =>
    new Promise<ChildReply>((resolvePromise, reject) => {
      if (exitText) return reject(new Error(exitText));
      const id = nextId++;
      waiters.set(id, (reply) => {
        failers.delete(id);
        resolvePromise(reply);
      });
      failers.set(id, reject);
      child.send((type === 'log-level' ? { type, id, level: label as 'info' | 'warn' } : { type, id, ...(label ? { label } : {}) }) satisfies ChildRequest);
    });
  return {
    url,
    pid: child.pid!,
    dataDir,
    credentials: benchCredentials,
    mark: async (label?: string) => {
      await ask('mark', label);
    },
    read: async () => {
      const reply = await ask('read');
      if (reply.type !== 'stats') throw new Error(`Unexpected reply "${reply.type}"`);
      return { eld: reply.eld, cpuCores: reply.cpuCores, metaCommits: reply.metaCommits, metaBatches: reply.metaBatches, ...(reply.logMs !== undefined ? { logMs: reply.logMs } : {}), ...(reply.hashing ? { hashing: reply.hashing } : {}) };
    },
    setLogLevel: async (level) => {
      if (!options.switchableLog) throw new Error('Cannot change the log level of a bench server started without switchableLog');
      await ask('log-level', level);
    },
    stderr: () => stderr,
    stdout: () => stdout,
    stop: async () => {
      await stopChild(child, () => child.send({ type: 'stop' } satisfies ChildRequest));
      unhook();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

export interface BinaryServer {
  url: string;
  pid: number;
  dataDir: string;
  credentials: Credentials;
  stderr(): string;
  stop(): Promise<void>;
}

/**
 * How soon a benchmarked server reclaims replaced data: Tessera's --gc-delay and --gc-interval here (its
 * defaults are 60 s and 5 s), and RGW's GC wait and period for Ceph (bench/lib/ceph-rgw.ts; its defaults are
 * two hours and one), so that both pay for their overwrites within the run and neither fills the disk.
 */
export const benchGc = { delaySeconds: 2, intervalSeconds: 1 };

/** Runs `node bin/tessera.js server` (the built CLI) of this checkout or options.root, as a user would, after nodeArgs if any; fromSource does not apply. */
export async function startTesseraBinary(options: BenchServerOptions = {}): Promise<BinaryServer> {
  await checkBuild();
  const { dataDir, drives } = await makeDataDir(options);
  const child = spawn(process.execPath, [...(options.nodeArgs ?? []), join(options.root ?? repoRoot, 'bin', 'tessera.js'), 'server', '--address', '127.0.0.1:0', '--data', dataDir, '--gc-delay', String(benchGc.delaySeconds), '--gc-interval', String(benchGc.intervalSeconds), ...(drives.length > 0 ? ['--drives', drives.join(',')] : [])], {
    // One process unless the bench asks for more (TESSERA_WORKERS in options.env): a bench that reads one
    // pid's CPU would otherwise read the primary's, which serves nothing.
    env: { ...process.env, TESSERA_WORKERS: '1', TESSERA_ROOT_ACCESS_KEY: benchCredentials.accessKeyId, TESSERA_ROOT_SECRET_KEY: benchCredentials.secretAccessKey, ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  // Its workers end with it (they exit when the primary's IPC channel closes).
  const unhook = killOnBenchExit([child], dataDir);
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr = tail(stderr + d.toString(), 64 * 1024)));
  const url = await waitForEndpoint(child, 60_000, () => stderr);
  child.stdout!.resume();
  return {
    url,
    pid: child.pid!,
    dataDir,
    credentials: benchCredentials,
    stderr: () => stderr,
    stop: async () => {
      await stopChild(child, () => child.kill('SIGTERM'));
      unhook();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

async function stopChild(child: ChildProcess, ask: () => void): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  ask();
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}
