// The disk's raw durable-write rate on the filesystem the benchmarks use: append 4 KiB, then fsync (or
// fdatasync), in a loop. One loop is the ceiling for a store that syncs once per request; several loops
// on separate files show whether the device overlaps syncs. Beside it, the SQLite MetaStore's durable
// commit rate with 1 and 16 concurrent committers (group commit: more commits than fsyncs per second).
// Run: npx tsx bench/fsync.ts [--dir DIR] [--seconds N]
import { closeSync, fdatasyncSync, fsyncSync, openSync, writeSync } from 'node:fs';
import { mkdtemp, open, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { SqliteMetaStore } from '../src/meta/sqlite/sqlite-store.js';
import { commitBatches, countCommitBatches } from './lib/commit-batches.js';

export interface FsyncResult {
  fsyncPerSecond: number;
  fdatasyncPerSecond: number;
  /** fdatasync after rewriting 4 KiB inside a preallocated file, as SQLite's WAL mostly does. */
  fdatasyncInPlacePerSecond: number;
  /** Four files synced concurrently through libuv's threadpool (what Node's async fs does). */
  fsyncParallel4PerSecond: number;
  dir: string;
}

const writeBytes = 4096;

function syncLoop(path: string, durationMs: number, sync: (fd: number) => void, inPlace = false): number {
  const fd = openSync(path, 'w');
  const block = Buffer.alloc(writeBytes, 7);
  const slots = 256;
  if (inPlace) {
    for (let i = 0; i < slots; i++) writeSync(fd, block, 0, writeBytes, i * writeBytes);
    fsyncSync(fd);
  }
  let n = 0;
  const start = performance.now();
  try {
    while (performance.now() - start < durationMs) {
      writeSync(fd, block, 0, writeBytes, (inPlace ? n % slots : n) * writeBytes);
      sync(fd);
      n++;
    }
  } finally {
    closeSync(fd);
  }
  return n / ((performance.now() - start) / 1000);
}

async function parallelLoops(dir: string, files: number, durationMs: number): Promise<number> {
  let total = 0;
  const start = performance.now();
  await Promise.all(
    Array.from({ length: files }, async (_, i) => {
      const handle = await open(join(dir, `parallel-${i}`), 'w');
      const block = Buffer.alloc(writeBytes, 7);
      try {
        for (let n = 0; performance.now() - start < durationMs; n++) {
          await handle.write(block, 0, writeBytes, n * writeBytes);
          await handle.sync();
          total++;
        }
      } finally {
        await handle.close();
      }
    }),
  );
  return total / ((performance.now() - start) / 1000);
}

/** Measures in a fresh directory under `under` (default: the OS temp dir, where the benches keep data). */
export async function measureFsync(options: { under?: string; durationMs?: number } = {}): Promise<FsyncResult> {
  const under = options.under ?? tmpdir();
  const durationMs = options.durationMs ?? 2000;
  const dir = await mkdtemp(join(under, 'tessera-fsync-'));
  try {
    const fsyncPerSecond = syncLoop(join(dir, 'fsync'), durationMs, fsyncSync);
    const fdatasyncPerSecond = syncLoop(join(dir, 'fdatasync'), durationMs, fdatasyncSync);
    const fdatasyncInPlacePerSecond = syncLoop(join(dir, 'in-place'), durationMs, fdatasyncSync, true);
    const fsyncParallel4PerSecond = await parallelLoops(dir, 4, durationMs);
    return { fsyncPerSecond, fdatasyncPerSecond, fdatasyncInPlacePerSecond, fsyncParallel4PerSecond, dir: under };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

export interface GroupCommitResult {
  committers: number;
  commitsPerSecond: number;
  /** Mean commits per SQLite transaction (one WAL sync each). */
  commitsPerSync: number;
}

/**
 * Durable MetaStore commits per second with `committers` concurrent writers, each committing a 4 KiB
 * value under its own key in a loop (what an inline 4 KiB PUT commits, without HTTP or hashing).
 */
export async function measureGroupCommit(options: { under?: string; durationMs?: number; committers: number }): Promise<GroupCommitResult> {
  countCommitBatches();
  const dir = await mkdtemp(join(options.under ?? tmpdir(), 'tessera-commit-'));
  const store = await SqliteMetaStore.open(join(dir, 'meta.db'));
  try {
    const durationMs = options.durationMs ?? 2000;
    const value = Buffer.alloc(4096, 9);
    let commits = 0;
    const batchesBefore = commitBatches.batches;
    const start = performance.now();
    await Promise.all(
      Array.from({ length: options.committers }, async (_, w) => {
        for (let i = 0; performance.now() - start < durationMs; i++) {
          const key = Buffer.from(`w${w}/k${i % 256}`);
          const ok = await store.commit({ checks: [], writes: [{ key, value }] });
          if (!ok) throw new Error('A commit without checks was refused');
          commits++;
        }
      }),
    );
    const seconds = (performance.now() - start) / 1000;
    return { committers: options.committers, commitsPerSecond: commits / seconds, commitsPerSync: commits / Math.max(1, commitBatches.batches - batchesBefore) };
  } finally {
    await store.close();
    await rm(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const arg = (name: string) => {
    const i = process.argv.indexOf(name);
    return i > 0 ? process.argv[i + 1] : undefined;
  };
  const seconds = Number(arg('--seconds') ?? '3');
  const dirArg = arg('--dir');
  const r = await measureFsync({ durationMs: seconds * 1000, ...(dirArg ? { under: dirArg } : {}) });
  const one = await measureGroupCommit({ durationMs: seconds * 1000, committers: 1, ...(dirArg ? { under: dirArg } : {}) });
  const sixteen = await measureGroupCommit({ durationMs: seconds * 1000, committers: 16, ...(dirArg ? { under: dirArg } : {}) });
  process.stdout.write(
    `Raw durable writes (4 KiB append + sync) in ${r.dir}, ${seconds} s each:\n` +
      `  fsync, one file:              ${Math.round(r.fsyncPerSecond)}/s\n` +
      `  fdatasync, one file:          ${Math.round(r.fdatasyncPerSecond)}/s\n` +
      `  fdatasync, rewrite in place:  ${Math.round(r.fdatasyncInPlacePerSecond)}/s (as a preallocated WAL)\n` +
      `  fsync, 4 files concurrently:  ${Math.round(r.fsyncParallel4PerSecond)}/s\n` +
      `SQLite MetaStore durable commits (4 KiB value each, synchronous=FULL, group commit):\n` +
      `  1 committer:                  ${Math.round(one.commitsPerSecond)}/s, ${one.commitsPerSync.toFixed(1)} commits per sync\n` +
      `  16 concurrent committers:     ${Math.round(sixteen.commitsPerSecond)}/s, ${sixteen.commitsPerSync.toFixed(1)} commits per sync ` +
      `(${(sixteen.commitsPerSecond / r.fdatasyncInPlacePerSecond).toFixed(1)}× the in-place fdatasync rate)\n`,
  );
}
