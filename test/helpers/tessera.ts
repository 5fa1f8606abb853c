// Starts a real `tessera server` process on a free port with a temporary data directory, for
// integration tests. Needs a build (npm test builds first). Stop every server you start.
import { spawn, type ChildProcess } from 'node:child_process';
import { after, afterEach, before } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { CreateBucketCommand, GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';

export const repoRoot = resolve(import.meta.dirname, '..', '..');

export interface TesseraProcess {
  url: string;
  port: number;
  accessKeyId: string;
  secretAccessKey: string;
  region: string;
  dataDir: string;
  process: ChildProcess;
  /** stderr so far (JSON log lines). */
  logs(): string;
  /**
   * stderr once it matches `pattern`: log lines are written off the event loop, so the line about a request
   * may arrive just after its answer. Fails after `timeoutMs`.
   */
  logged(pattern: RegExp, timeoutMs?: number): Promise<string>;
  /** stdout so far (the banner). */
  stdout(): string;
  /** An SDK v3 client with default settings (it sends CRC32 checksums in aws-chunked trailers). */
  client(): S3Client;
  /** SIGTERM and wait. */
  stop(): Promise<void>;
  /** SIGKILL and wait: a crash. */
  kill9(): Promise<void>;
  /** Stops, then removes the data directory. */
  cleanup(): Promise<void>;
}

/**
 * Resolves with the endpoint a starting `tessera server` prints on stdout; rejects if the process exits
 * first or does not print it within `timeoutMs`. `stderr` gives what it logged, for the error message.
 */
export function waitForEndpoint(child: ChildProcess, timeoutMs: number, stderr: () => string): Promise<string> {
  let stdout = '';
  return new Promise<string>((resolvePromise, reject) => {
    const timer = setTimeout(() => reject(new Error(`Tessera did not start within ${timeoutMs / 1000} s: ${stderr()}`)), timeoutMs);
    child.stdout!.on('data', (d: Buffer) => {
      stdout += d.toString();
      const m = /endpoint:\s+(\S+)/.exec(stdout);
      if (m) {
        clearTimeout(timer);
        resolvePromise(m[1]!);
      }
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`Tessera exited with ${signal ?? code} before starting: ${stderr()}`));
    });
  });
}

export interface StartOptions {
  dataDir?: string;
  args?: string[];
  /** Added to this process's environment; a name set to undefined is left out (the server's default). */
  env?: Record<string, string | undefined>;
  /**
   * Runs the server as the leader of a process group of its own, so that kill9() kills its workers
   * (`--workers N`) in the same instant, as a machine losing power would, and waits until all are gone.
   */
  processGroup?: boolean;
}

/** `logs()` once it matches `pattern`, polled every 20 ms; fails after `timeoutMs` with what was logged. */
export async function waitForLog(logs: () => string, pattern: RegExp, timeoutMs = 10_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const text = logs();
    if (pattern.test(text)) return text;
    if (Date.now() > deadline) assert.fail(`Nothing matching ${pattern} was logged within ${timeoutMs / 1000} s:\n${text.slice(-4000)}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/**
 * Servers still running when the test file's process exits: a test that failed before its cleanup ran
 * must not leave them behind (the runner's --test-force-exit ends the file's process, not its children).
 */
const running = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

export async function startTessera(options: StartOptions = {}): Promise<TesseraProcess> {
  const dataDir = options.dataDir ?? (await mkdtemp(join(tmpdir(), 'tessera-test-')));
  const accessKeyId = 'TESTACCESSKEY0000001';
  const secretAccessKey = 'test/secret/key/0000000000000000000000001';
  const child = spawn(process.execPath, [join(repoRoot, 'bin', 'tessera.js'), 'server', '--address', '127.0.0.1:0', '--data', dataDir, ...(options.args ?? [])], {
    env: Object.fromEntries(
      Object.entries({ ...process.env, TESSERA_ROOT_ACCESS_KEY: accessKeyId, TESSERA_ROOT_SECRET_KEY: secretAccessKey, ...options.env }).filter(([, v]) => v !== undefined),
    ),
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: options.processGroup ?? false,
  });
  running.add(child);
  child.once('exit', () => running.delete(child));
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  let stdout = '';
  child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  let url: string;
  try {
    url = await waitForEndpoint(child, 20_000, () => stderr);
  } catch (err) {
    // A server that did not start (a test of a bad flag expects that) leaves no process and no temp directory behind.
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await exited;
    if (options.dataDir === undefined) await rm(dataDir, { recursive: true, force: true });
    throw err;
  }
  const stopWith = async (signal: NodeJS.Signals) => {
    if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    await exited;
  };
  const killGroup = async () => {
    try {
      process.kill(-child.pid!, 'SIGKILL');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
    }
    await exited;
    await waitForGroupExit(child.pid!);
  };
  return {
    url,
    port: Number(new URL(url).port),
    accessKeyId,
    secretAccessKey,
    region: 'us-east-1',
    dataDir,
    process: child,
    logs: () => stderr,
    logged: (pattern, timeoutMs) => waitForLog(() => stderr, pattern, timeoutMs),
    stdout: () => stdout,
    client: () => new S3Client({ endpoint: url, region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId, secretAccessKey } }),
    stop: () => stopWith('SIGTERM'),
    kill9: () => (options.processGroup ? killGroup() : stopWith('SIGKILL')),
    cleanup: async () => {
      await stopWith('SIGTERM');
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

/**
 * Waits until no live process is left in process group `pgid` (zombies hold no files or locks, and a
 * container's init may be slow to reap them). Fails after `timeoutMs`.
 */
async function waitForGroupExit(pgid: number, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const alive = readdirSync('/proc').filter((entry) => {
      if (!/^\d+$/.test(entry)) return false;
      try {
        const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
        const [state, , pgrp] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
        return Number(pgrp) === pgid && state !== 'Z';
      } catch {
        return false; // exited while we looked
      }
    });
    if (alive.length === 0) return;
    if (Date.now() > deadline) assert.fail(`Processes ${alive.join(', ')} of group ${pgid} outlived SIGKILL by ${timeoutMs / 1000} s`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** A server and an SDK client for the tests of one file; both are let go after them (node:test's after()). */
export async function startTesseraForFile(options: StartOptions = {}): Promise<{ server: TesseraProcess; s3: S3Client }> {
  const server = await startTessera(options);
  const s3 = server.client();
  after(async () => {
    s3.destroy();
    await server.cleanup();
  });
  return { server, s3 };
}

/** Runs `fn` with a fresh SDK client of `server` and destroys the client afterwards. */
export async function withClient<T>(server: TesseraProcess, fn: (s3: S3Client) => Promise<T>): Promise<T> {
  const s3 = server.client();
  try {
    return await fn(s3);
  } finally {
    s3.destroy();
  }
}

/**
 * For files that throw hostile or broken requests at one server: creates `bucket` with a canary object
 * before the tests, and after every test checks that the server is alive, still serves the canary, and
 * has logged nothing matching `forbiddenLog`.
 */
export function guardWithCanary(options: { server: TesseraProcess; s3: S3Client; bucket: string; forbiddenLog: RegExp }): void {
  const { server, s3, bucket: Bucket, forbiddenLog } = options;
  before(async () => {
    await s3.send(new CreateBucketCommand({ Bucket }));
    await s3.send(new PutObjectCommand({ Bucket, Key: 'canary', Body: 'still here' }));
  });
  afterEach(async () => {
    assert.equal(server.process.exitCode, null, 'the server exited');
    const got = await s3.send(new GetObjectCommand({ Bucket, Key: 'canary' }));
    assert.equal(await got.Body!.transformToString(), 'still here');
    assert.doesNotMatch(server.logs(), forbiddenLog);
  });
}
