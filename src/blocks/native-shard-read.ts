// The verified shard read of native/shard_read.c: pread of a run of checksum blocks and their CRC32 check in
// one pass on the libuv threadpool, or at once on the event loop when the bytes are all in the page cache.
// Loaded once, used only if its CRC agrees with @node-rs/crc32 (the check shard-file.ts makes without it);
// absent, or TESSERA_NATIVE_SHARD_READ=off, shard-file.ts reads with fs and checks after. It owns no
// descriptor: its caller keeps the fd open until the promise settles.
import { randomBytes, randomInt } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { crc32 } from '@node-rs/crc32';
import { blockChecksumBytes } from './shard-format.js';

export interface ShardReadBinding {
  /**
   * Reads `length` bytes at `position` of `fd` into `buffer` (whole checksum blocks of `blockBytes`, the
   * last one shorter) and checks each block's CRC32. Resolves with `length` when all match, with fewer
   * bytes when the file ended first (nothing checked), or with -1 - k when block k of the run does not
   * match; rejects with Node's errno error shape (code "EIO", syscall "pread") when pread fails.
   */
  readVerified(fd: number, buffer: Uint8Array, position: number, length: number, blockBytes: number): Promise<number>;
  /**
   * The same read and check at once on this thread, from the page cache only (RWF_NOWAIT): `length` when all
   * of it was there and matched, -1 - k when block k does not match, null when the read would have waited
   * for the disk (or fell short, or failed): then readVerified reads it. Absent on a binding without it.
   */
  readCached?(fd: number, buffer: Uint8Array, position: number, length: number, blockBytes: number): number | null;
  /** The same check on bytes in memory: the first block whose CRC32 does not match, or -1. */
  firstBadBlock(bytes: Uint8Array, blockBytes: number): number;
}

export interface ShardReadLoad {
  /** The addon, when it loaded and agreed with @node-rs/crc32. */
  native?: ShardReadBinding;
  /** The addon's functions whether or not they agreed, for tests of its argument checks. */
  binding?: ShardReadBinding;
  reason?: string;
}

/** The path of the built addon, from src/blocks or dist/blocks alike. */
export const shardReadAddonPath = fileURLToPath(new URL('../../native/build/shard_read.node', import.meta.url));

/** Runs of random blocks, laid out as a read, with the CRC32s of @node-rs/crc32. */
function randomRun(blockBytes: number, dataBytes: number): Buffer {
  const pieces: Buffer[] = [];
  for (let at = 0; at < dataBytes; at += blockBytes) {
    const data = randomBytes(Math.min(blockBytes, dataBytes - at));
    const sum = Buffer.allocUnsafe(blockChecksumBytes);
    sum.writeUInt32LE(crc32(data), 0);
    pieces.push(data, sum);
  }
  return Buffer.concat(pieces);
}

/** The addon's check passes runs with JS CRCs and finds a flipped bit in a block's data and in its CRC. */
function agrees(binding: ShardReadBinding): boolean {
  for (const [blockBytes, dataBytes] of [[64, 64 * 5 + 17], [65536, 65536 * 3], [1000, 1]]) {
    const run = randomRun(blockBytes!, dataBytes!);
    if (binding.firstBadBlock(run, blockBytes!) !== -1) return false;
    const stride = blockBytes! + blockChecksumBytes;
    const blocks = Math.ceil(dataBytes! / blockBytes!);
    const bad = randomInt(blocks);
    const at = bad * stride + randomInt(Math.min(stride, run.length - bad * stride));
    run[at]! ^= 1 << randomInt(8);
    if (binding.firstBadBlock(run, blockBytes!) !== bad) return false;
  }
  return true;
}

let load: ShardReadLoad | undefined;

/** Loads the addon once, whatever TESSERA_NATIVE_SHARD_READ says. */
export function loadNativeShardRead(): ShardReadLoad {
  load ??= tryLoad();
  return load;
}

function tryLoad(): ShardReadLoad {
  let binding: ShardReadBinding;
  try {
    const module = { exports: {} as ShardReadBinding };
    process.dlopen(module, shardReadAddonPath);
    binding = module.exports;
  } catch (error) {
    const message = error instanceof Error ? error.message.split('\n')[0]! : String(error);
    return { reason: `the addon did not load (${message}); npm install builds it when cc and libisal-dev are there` };
  }
  if (!agrees(binding)) return { binding, reason: 'the addon and @node-rs/crc32 disagree on a test run' };
  return { binding, native: binding };
}

const loaded: ShardReadLoad = process.env.TESSERA_NATIVE_SHARD_READ === 'off' ? { reason: 'TESSERA_NATIVE_SHARD_READ=off' } : loadNativeShardRead();

/** The read shard-file.ts uses, or undefined: it then reads with fs and checks in JavaScript. */
export const nativeShardRead: ShardReadBinding | undefined = loaded.native;

/** Whether native reads first try the page cache on the event loop (shard-file.ts); TESSERA_CACHED_READ=off turns it off. */
export const cachedShardReads = process.env.TESSERA_CACHED_READ !== 'off';

/** What the start-up log says: which read is in use, whether it tries the page cache at once, and why not the native one. */
export function shardReadSummary(): { read: 'native' | 'fs'; cached: boolean; reason?: string } {
  const cached = cachedShardReads && typeof nativeShardRead?.readCached === 'function';
  return { read: nativeShardRead ? 'native' : 'fs', cached, ...(loaded.reason ? { reason: loaded.reason } : {}) };
}
