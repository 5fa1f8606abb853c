// Helpers for the server-level pack file tests (issue 17): servers over temporary drives with fast GC and
// the pack knobs, the pack files of a drive (`<drive>/packs/*.pack`, the only part of the format these
// tests know), random objects remembered by MD5, and bounded polls. They never read a pack's contents.
import { execFile } from 'node:child_process';
import { createHash, randomBytes, randomInt } from 'node:crypto';
import { mkdir, mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import type { Dirent } from 'node:fs';
import { Agent } from 'node:http';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { promisify } from 'node:util';
import assert from 'node:assert/strict';
import { GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { repoRoot, startTessera, type TesseraProcess } from '../helpers/tessera.js';

const exec = promisify(execFile);

export const KiB = 1024;
export const MiB = 1024 * KiB;
/** Bodies above the 32 KiB inline limit and within one 1 MiB stripe: the shards the pack engine takes. */
export const packedBytesMin = 33 * KiB;
export const packedBytesMax = 1 * MiB;

export interface DriveSet {
  root: string;
  drives: string[];
  /** Removes every drive and the data directory; stop the server first. */
  remove(): Promise<void>;
}

export async function makeDrives(count: number): Promise<DriveSet> {
  const root = await mkdtemp(join(tmpdir(), 'tessera-packs-'));
  return {
    root,
    drives: Array.from({ length: count }, (_, i) => join(root, `drive${i + 1}`)),
    remove: () => rm(root, { recursive: true, force: true }),
  };
}

export interface PackServerOptions {
  args?: string[];
  env?: Record<string, string | undefined>;
}

/**
 * Starts (or restarts on the same directories) a server over `set` with GC as fast as the EC tests run it,
 * in a process group of its own so kill9() takes its workers down too.
 */
export function startPackServer(set: DriveSet, options: PackServerOptions = {}): Promise<TesseraProcess> {
  return startTessera({
    dataDir: join(set.root, 'data'),
    args: ['--drives', set.drives.join(','), '--gc-delay', '0', '--gc-interval', '0.2', ...(options.args ?? [])],
    ...(options.env ? { env: options.env } : {}),
    processGroup: true,
  });
}

/** Most a `tessera admin` command may take here: a heal or scrub of these few objects takes seconds. */
const adminTimeoutMs = 60_000;

/**
 * Runs `tessera admin ...` against `server` as root and returns its stdout. A failure (a heal that never
 * ends included) carries what the command printed and the end of the server's log.
 */
export async function admin(server: TesseraProcess, ...args: string[]): Promise<string> {
  try {
    const { stdout } = await exec(process.execPath, [join(repoRoot, 'bin', 'tessera.js'), 'admin', ...args, '--endpoint', server.url], {
      env: { ...process.env, TESSERA_ROOT_ACCESS_KEY: server.accessKeyId, TESSERA_ROOT_SECRET_KEY: server.secretAccessKey },
      timeout: adminTimeoutMs,
    });
    return stdout;
  } catch (err) {
    const { stdout, stderr } = err as { stdout?: string; stderr?: string };
    throw new Error(`Cannot run "tessera admin ${args.join(' ')}": ${(err as Error).message}\n--- stdout\n${stdout ?? ''}\n--- stderr\n${stderr ?? ''}\n--- server log (end)\n${server.logs().slice(-6000)}`, { cause: err });
  }
}

/** An SDK client that opens a new connection for every request, so `--workers N` spreads them over the workers. */
export function freshConnectionClient(server: TesseraProcess): S3Client {
  return new S3Client({
    endpoint: server.url,
    region: server.region,
    forcePathStyle: true,
    credentials: { accessKeyId: server.accessKeyId, secretAccessKey: server.secretAccessKey },
    requestHandler: new NodeHttpHandler({ httpAgent: new Agent({ keepAlive: false }) }),
  });
}

/**
 * The access lines of requests the server answered with a 5xx. SDK clients retry those on their own, so a
 * test that only looks at its results would miss them (SQLITE_BUSY from a pack index surfaced this way).
 */
export function serverErrorLines(server: TesseraProcess): string[] {
  return server.logs().split('\n').filter((line) => {
    if (!line.startsWith('{')) return false;
    let entry: { message?: string; status?: number };
    try {
      entry = JSON.parse(line) as typeof entry;
    } catch {
      return false; // the last line, still being written
    }
    return entry.message === 'request' && (entry.status ?? 0) >= 500;
  });
}

/** Wipes a drive as a replaced disk looks: the directory removed and made again, empty. */
export async function wipeDrive(drive: string): Promise<void> {
  await rm(drive, { recursive: true, force: true });
  await mkdir(drive);
}

/** The `*.pack` files of a drive with their sizes; none when the drive has no packs directory. */
export async function packFiles(drive: string): Promise<{ path: string; sizeBytes: number }[]> {
  let names: string[];
  try {
    names = await readdir(join(drive, 'packs'));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  const out: { path: string; sizeBytes: number }[] = [];
  for (const name of names.filter((n) => n.endsWith('.pack')).sort()) {
    const path = join(drive, 'packs', name);
    // Compaction may delete a pack between the listing and the stat.
    const sizeBytes = await stat(path).then((s) => s.size, () => undefined);
    if (sizeBytes !== undefined) out.push({ path, sizeBytes });
  }
  return out;
}

/** Each pack of a drive as name:size, in one comparable string: changes when a pack is written, made or removed. */
export async function packSnapshot(drive: string): Promise<string> {
  return (await packFiles(drive)).map((p) => `${basename(p.path)}:${p.sizeBytes}`).join(' ');
}

export async function packBytes(drive: string): Promise<number> {
  return (await packFiles(drive)).reduce((sum, p) => sum + p.sizeBytes, 0);
}

/** Shard files (one file per shard, the format before packs) under a drive's `shards/`, temporaries left out. */
export async function shardFileCount(drive: string): Promise<number> {
  let count = 0;
  const walk = async (dir: string): Promise<void> => {
    let entries: Dirent[];
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch {
      return; // GC or heal removed it while we walked
    }
    for (const entry of entries) {
      if (entry.isDirectory()) await walk(join(dir, entry.name));
      else if (!entry.name.includes('.tmp')) count++;
    }
  };
  await walk(join(drive, 'shards'));
  return count;
}

export function md5(data: Uint8Array): string {
  return createHash('md5').update(data).digest('hex');
}

/** Random bytes of a random size in [minBytes, maxBytes]. */
export function randomBody(minBytes: number, maxBytes: number): Buffer {
  return randomBytes(randomInt(minBytes, maxBytes + 1));
}

export async function putBody(s3: S3Client, Bucket: string, Key: string, body: Buffer): Promise<void> {
  await s3.send(new PutObjectCommand({ Bucket, Key, Body: body }));
}

/**
 * PUTs `count` objects named `${prefix}0`, `${prefix}1` ... of random sizes in [minBytes, maxBytes], 8 at a
 * time; resolves with their MD5s by key, in the order the PUTs finished.
 */
export async function putRandomObjects(s3: S3Client, Bucket: string, prefix: string, count: number, minBytes: number, maxBytes: number): Promise<Map<string, string>> {
  const sums = new Map<string, string>();
  await forEachLimit(Array.from({ length: count }, (_, i) => `${prefix}${i}`), 8, async (key) => {
    const body = randomBody(minBytes, maxBytes);
    await putBody(s3, Bucket, key, body);
    sums.set(key, md5(body));
  });
  return sums;
}

/**
 * Stops `server` (and its client), wipes `drives` of `set` as replaced disks, and starts the server on the
 * set again with its default options: the new server and a client of it.
 */
export async function restartWithDrivesWiped(server: TesseraProcess, s3: S3Client, set: DriveSet, drives: readonly string[]): Promise<{ server: TesseraProcess; s3: S3Client }> {
  s3.destroy();
  await server.stop();
  for (const drive of drives) await wipeDrive(drive);
  const restarted = await startPackServer(set);
  return { server: restarted, s3: restarted.client() };
}

/** The MD5 of an object's bytes as GET returns them. */
export async function getMd5(s3: S3Client, Bucket: string, Key: string): Promise<string> {
  const got = await s3.send(new GetObjectCommand({ Bucket, Key }));
  return md5(await got.Body!.transformToByteArray());
}

/** Asserts that every object of `expected` (key → MD5) reads back with that MD5, `concurrency` GETs at a time. */
export async function assertObjects(s3: S3Client, Bucket: string, expected: ReadonlyMap<string, string>, label: string, concurrency = 8): Promise<void> {
  await forEachLimit([...expected], concurrency, async ([key, sum]) => {
    const got = await getMd5(s3, Bucket, key).catch((err: unknown) => {
      throw new Error(`${label}: Cannot GET "${key}": ${(err as Error).name}: ${(err as Error).message}`, { cause: err });
    });
    assert.equal(got, sum, `${label}: "${key}" reads back byte-identical`);
  });
}

/** Runs `fn` over `items` with at most `limit` at once; the first failure rejects once all started ones end. */
export async function forEachLimit<T>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<void>): Promise<void> {
  let next = 0;
  const lanes = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const i = next++;
      await fn(items[i]!, i);
    }
  });
  const results = await Promise.allSettled(lanes);
  const failed = results.find((r) => r.status === 'rejected');
  if (failed) throw (failed as PromiseRejectedResult).reason;
}

/** Polls `probe` every 100 ms until it returns a value other than undefined; fails after `timeoutMs` with `describe()`. */
export async function pollUntil<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs: number, describe: () => string = () => ''): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) assert.fail(`Timed out after ${timeoutMs / 1000} s waiting for ${what}${describe() ? `: ${describe()}` : ''}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
