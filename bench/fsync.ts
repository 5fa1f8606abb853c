// The disk's raw durable-write rate on the filesystem the benchmarks use: append 4 KiB, then fsync (or
// fdatasync), in a loop. One loop is the ceiling for a store that syncs once per request; several loops
// on separate files show whether the device overlaps syncs.
// Run: npx tsx bench/fsync.ts [--dir DIR] [--seconds N]
import { closeSync, fdatasyncSync, fsyncSync, openSync, writeSync } from 'node:fs';
import { mkdtemp, open, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

export interface FsyncResult {
  fsyncPerSecond: number;
  fdatasyncPerSecond: number;
  /** Four files synced concurrently through libuv's threadpool (what Node's async fs does). */
  fsyncParallel4PerSecond: number;
  dir: string;
}

const writeBytes = 4096;

function syncLoop(path: string, durationMs: number, sync: (fd: number) => void): number {
  const fd = openSync(path, 'w');
  const block = Buffer.alloc(writeBytes, 7);
  let n = 0;
  const start = performance.now();
  try {
    while (performance.now() - start < durationMs) {
      writeSync(fd, block, 0, writeBytes, n * writeBytes);
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
    const fsyncParallel4PerSecond = await parallelLoops(dir, 4, durationMs);
    return { fsyncPerSecond, fdatasyncPerSecond, fsyncParallel4PerSecond, dir: under };
  } finally {
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
  process.stdout.write(
    `Raw durable writes (4 KiB append + sync) in ${r.dir}, ${seconds} s each:\n` +
      `  fsync, one file:              ${Math.round(r.fsyncPerSecond)}/s\n` +
      `  fdatasync, one file:          ${Math.round(r.fdatasyncPerSecond)}/s\n` +
      `  fsync, 4 files concurrently:  ${Math.round(r.fsyncParallel4PerSecond)}/s\n`,
  );
}
