// The chunk cipher of encrypted objects (records.ts ObjectEncryption): plaintext cut into chunks, each
// sealed with AES-256-GCM under the object's data key, so a range read opens only the chunks it touches.
// Streams with bounded memory: sealing gathers a few chunks at most, opening holds a reader's pieces until the
// chunks in them are opened; util/gcm-chunks.ts does the AES-GCM.
import { StoreError } from '../util/errors.js';
import { assert } from '../util/assert.js';
import { gcmChunks, type GcmChunks } from '../util/gcm-chunks.js';
import type { LeasedBytes } from '../blocks/types.js';

export const chunkTagBytes = 16;
/** Plaintext bytes per sealed chunk of new objects. */
export const chunkBytesDefault = 64 * 1024;
const dataKeyBytes = 32;

/** What seals or opens one run of chunks: a single PUT's body (partNumber 0) or one multipart part. */
export interface ChunkKey {
  dataKey: Buffer;
  partNumber: number;
  chunkBytes: number;
}

function checkKey(key: ChunkKey): void {
  if (key.dataKey.length !== dataKeyBytes) throw new RangeError(`A data key must be ${dataKeyBytes} bytes, not ${key.dataKey.length}`);
  if (!Number.isSafeInteger(key.chunkBytes) || key.chunkBytes <= 0) throw new RangeError(`Invalid chunk size "${key.chunkBytes}"`);
}

/** Stored (sealed) size of `plainBytes` of plaintext. */
export function sealedSizeOf(plainBytes: number, chunkBytes: number): number {
  return plainBytes + Math.ceil(plainBytes / chunkBytes) * chunkTagBytes;
}

/** Bytes a partial run gathers before it is sealed or opened: a few chunks per call, and bounded memory. */
const gatherBytesTarget = 256 * 1024;

/** How a caller may pick the implementation (tests compare them); the data path takes the default. */
export interface ChunkCipherOptions {
  cipher?: GcmChunks;
}

/** One opened run: `plain` (the range's part of it) lies in `out`, which openChunkRuns' `take` gave. */
export interface OpenedRun {
  plain: Buffer;
  out: Buffer;
}

/**
 * Seals a plaintext stream. Whole chunks of a piece are sealed straight from it, many per call; the rest
 * gathers in one buffer of at most a few chunks, sealed when full or when the stream ends. Each yielded
 * buffer is fresh (consumers may keep it), ciphertext then tag per chunk.
 */
export async function* sealChunks(source: AsyncIterable<Buffer>, key: ChunkKey, options: ChunkCipherOptions = {}): AsyncGenerator<Buffer> {
  checkKey(key);
  const cipher = options.cipher ?? gcmChunks;
  const { chunkBytes } = key;
  const gatherBytesMax = Math.max(1, Math.floor(gatherBytesTarget / chunkBytes)) * chunkBytes;
  // Grown on demand up to gatherBytesMax, so a small body gathers only its own bytes.
  let gather = Buffer.alloc(0);
  let filled = 0;
  let index = 0;
  const makeRoom = (bytes: number): void => {
    const needed = Math.min(gatherBytesMax, filled + bytes);
    if (gather.length >= needed) return;
    const grown = Buffer.allocUnsafe(Math.min(gatherBytesMax, Math.max(needed, 2 * gather.length)));
    gather.copy(grown, 0, 0, filled);
    gather = grown;
  };
  const sealRun = (plain: Buffer): Buffer => {
    const out = Buffer.allocUnsafe(sealedSizeOf(plain.length, chunkBytes));
    const written = cipher.seal({ dataKey: key.dataKey, partNumber: key.partNumber, firstIndex: index, chunkBytes, input: plain, out });
    assert(written === out.length, 'A sealed run fills its output');
    index += Math.ceil(plain.length / chunkBytes);
    return out;
  };
  for await (const piece of source) {
    let at = 0;
    if (filled > 0 || piece.length < chunkBytes) {
      makeRoom(piece.length);
      at = piece.copy(gather, filled);
      filled += at;
      if (filled < gatherBytesMax) continue; // the whole piece fitted
      yield sealRun(gather);
      filled = 0;
    }
    const whole = piece.length - at - ((piece.length - at) % chunkBytes);
    if (whole > 0) {
      yield sealRun(piece.subarray(at, at + whole));
      at += whole;
    }
    if (at < piece.length) {
      makeRoom(piece.length - at);
      filled = piece.copy(gather, 0, at);
    }
  }
  if (filled > 0) yield sealRun(gather.subarray(0, filled));
}

/** The chunks plaintext [start, end) of a run of `plainBytes` touches, and the stored bytes they occupy. */
export function sealedRangeOf(plainBytes: number, chunkBytes: number, start: number, end: number): { firstChunk: number; storedStart: number; storedEnd: number } {
  if (!(start >= 0 && start < end && end <= plainBytes)) throw new RangeError(`Invalid range [${start}, ${end}) of ${plainBytes} bytes`);
  const firstChunk = Math.floor(start / chunkBytes);
  const lastChunk = Math.floor((end - 1) / chunkBytes);
  const sealedChunkBytes = chunkBytes + chunkTagBytes;
  return {
    firstChunk,
    storedStart: firstChunk * sealedChunkBytes,
    storedEnd: Math.min(sealedSizeOf(plainBytes, chunkBytes), (lastChunk + 1) * sealedChunkBytes),
  };
}

function corrupt(key: ChunkKey, index: number): StoreError {
  return new StoreError('ERR_SHARD_CORRUPT', `Cannot open chunk ${index} of part ${key.partNumber}: its authentication tag does not match`);
}

/**
 * Plaintext [start, end) of a run of `plainBytes`, from `stored`: the stored bytes sealedRangeOf() names,
 * in any slicing, in buffers this may hold past the next one (never reused by their producer). Every yielded
 * buffer is fresh (consumers may keep it); see openChunkRuns.
 */
export async function* openChunks(
  stored: AsyncIterable<Buffer>,
  key: ChunkKey,
  plainBytes: number,
  start: number,
  end: number,
  options: ChunkCipherOptions = {},
): AsyncGenerator<Buffer> {
  const leases = unleased(stored);
  for await (const run of openChunkRuns(leases, key, plainBytes, start, end, { ...options, take: (bytes) => Buffer.allocUnsafe(bytes) })) yield run.plain;
}

async function* unleased(stored: AsyncIterable<Buffer>): AsyncGenerator<LeasedBytes> {
  for await (const piece of stored) yield { pieces: [piece], release: () => undefined };
}

/** Plaintext bytes a single open may write: one output buffer per stripe read, not one per few chunks. */
const openRunBytesMax = 1024 * 1024;

/**
 * openChunks over leased stored bytes (a block reader's), with the output buffers from `take` (a pool, when
 * the consumer says when it is done with them). Stored pieces are held, not copied, until the chunks in them
 * are opened: a chunk straddling pieces, or leases, opens from them in place, and a lease is released as soon
 * as no unopened byte lies in it. A run opens once it has a few whole chunks (or the range's rest), at most
 * openRunBytesMax of plaintext per call. Every chunk's tag is checked before any of it goes out: the chunks
 * before a failing one are served, then ERR_SHARD_CORRUPT; the failing chunk never is.
 */
export async function* openChunkRuns(
  stored: AsyncIterable<LeasedBytes>,
  key: ChunkKey,
  plainBytes: number,
  start: number,
  end: number,
  options: ChunkCipherOptions & { take: (bytes: number) => Buffer },
): AsyncGenerator<OpenedRun> {
  checkKey(key);
  const cipher = options.cipher ?? gcmChunks;
  const { chunkBytes } = key;
  const { firstChunk, storedStart, storedEnd } = sealedRangeOf(plainBytes, chunkBytes, start, end);
  const sealedChunkBytes = chunkBytes + chunkTagBytes;
  const runChunksMin = Math.max(1, Math.floor(gatherBytesTarget / chunkBytes));
  const runChunksMax = Math.max(runChunksMin, Math.floor(openRunBytesMax / chunkBytes));
  const held = new HeldPieces();
  let index = firstChunk;
  let offset = storedStart; // stored offset of the first held byte
  function* openRun(runBytes: number): Generator<OpenedRun> {
    const sealed = held.take(runBytes);
    const chunks = Math.ceil(runBytes / sealedChunkBytes);
    const lastBytes = runBytes - (chunks - 1) * sealedChunkBytes;
    const outBytes = (chunks - 1) * chunkBytes + Math.max(0, lastBytes - chunkTagBytes); // a tagless tail is corrupt
    const out = options.take(outBytes);
    assert(out.length >= outBytes, 'An output buffer holds the opened run');
    const input = sealed.length === 1 ? sealed[0]! : sealed;
    const opened = cipher.open({ dataKey: key.dataKey, partNumber: key.partNumber, firstIndex: index, chunkBytes, input, out: out.subarray(0, outBytes) });
    held.releaseSpent(); // the output holds the plaintext: nothing refers to the opened stored bytes any more
    const good = opened >= 0 ? outBytes : (-1 - opened) * chunkBytes;
    const plainStart = index * chunkBytes;
    const served = out.subarray(Math.max(0, start - plainStart), Math.max(0, Math.min(good, end - plainStart)));
    if (served.length > 0) yield { plain: served, out };
    if (opened < 0) throw corrupt(key, index - 1 - opened);
    assert(opened === outBytes, 'An opened run fills its output');
    index += chunks;
    offset += runBytes;
  }
  try {
    for await (const lease of stored) {
      held.add(lease);
      if (offset + held.bytes > storedEnd) throw new StoreError('ERR_SHARD_CORRUPT', 'Cannot open an encrypted range: more stored bytes than it spans');
      for (;;) {
        const left = storedEnd - offset;
        // Whole chunks, or the range's rest with its short last chunk.
        const whole = held.bytes === left ? left : held.bytes - (held.bytes % sealedChunkBytes);
        if (whole === 0 || (whole < runChunksMin * sealedChunkBytes && whole < left)) break;
        yield* openRun(Math.min(whole, runChunksMax * sealedChunkBytes));
      }
    }
    if (offset + held.bytes !== storedEnd) throw new StoreError('ERR_SHARD_CORRUPT', `Cannot open an encrypted range: its stored bytes ended at ${offset + held.bytes}, not ${storedEnd}`);
  } finally {
    held.releaseAll();
  }
}

/**
 * Pieces below this are copied into a gather buffer rather than held as views: a run's pieces stay few (the
 * addon takes at most 4096), however finely a source slices its bytes. A block reader's are 64 KiB.
 */
const heldPieceBytesMin = 4096;
const gatherBytes = 64 * 1024;

/** Stored pieces not opened yet, in order, with the leases they came from. */
class HeldPieces {
  private readonly pieces: Buffer[] = [];
  /** Each lease with the number of its pieces still (partly) held; released when that reaches 0. */
  private readonly leases: { lease: LeasedBytes; piecesHeld: number }[] = [];
  /** Leases whose pieces are all taken, to release once the open that read them is done. */
  private spent: LeasedBytes[] = [];
  /** Where small pieces are copied; the last held piece is a view of it ending at `gatherFilled` while `gathering`. */
  private gather = Buffer.alloc(0);
  private gatherFilled = 0;
  private gathering = false;
  /** The memory of every gather buffer made: pieces in it are copies, with no lease behind them. */
  private readonly copies = new WeakSet<ArrayBufferLike>();
  bytes = 0;

  add(lease: LeasedBytes): void {
    let count = 0;
    for (const piece of lease.pieces) {
      if (piece.length === 0) continue;
      this.bytes += piece.length;
      if (piece.length < heldPieceBytesMin) {
        this.copy(piece);
        continue;
      }
      this.pieces.push(piece);
      this.gathering = false;
      count++;
    }
    if (count === 0) lease.release(); // nothing of it held (copied, or empty)
    else this.leases.push({ lease, piecesHeld: count });
  }

  /** Appends a small piece to the gather buffer, extending the last held piece when it is that buffer's tail. */
  private copy(piece: Buffer): void {
    if (!this.gathering || this.gatherFilled + piece.length > this.gather.length) {
      this.gather = Buffer.allocUnsafeSlow(Math.max(gatherBytes, piece.length)); // fresh: views of the last one may be held
      this.copies.add(this.gather.buffer);
      this.gatherFilled = 0;
      this.pieces.push(this.gather.subarray(0, 0));
      this.gathering = true;
    }
    piece.copy(this.gather, this.gatherFilled);
    this.gatherFilled += piece.length;
    const last = this.pieces.length - 1;
    this.pieces[last] = this.gather.subarray(this.pieces[last]!.byteOffset - this.gather.byteOffset, this.gatherFilled);
  }

  /** The first `bytes` held, as views; their leases become spent once no held byte lies in them. */
  take(bytes: number): Buffer[] {
    assert(bytes > 0 && bytes <= this.bytes, 'A run takes held bytes');
    const run: Buffer[] = [];
    this.bytes -= bytes;
    while (bytes > 0) {
      const piece = this.pieces[0]!;
      if (piece.length > bytes) {
        run.push(piece.subarray(0, bytes));
        this.pieces[0] = piece.subarray(bytes);
        break;
      }
      run.push(piece);
      this.pieces.shift();
      bytes -= piece.length;
      if (this.pieces.length === 0) this.gathering = false;
      if (this.copies.has(piece.buffer)) continue; // a copy: no lease behind it
      const first = this.leases[0]!;
      if (--first.piecesHeld === 0) this.spent.push(this.leases.shift()!.lease);
    }
    return run;
  }

  releaseSpent(): void {
    for (const lease of this.spent) lease.release();
    this.spent = [];
  }

  /** Every lease still held (an open failed, or the consumer stopped): nothing reads their pieces any more. */
  releaseAll(): void {
    this.releaseSpent();
    for (const { lease } of this.leases.splice(0)) lease.release();
    this.pieces.length = 0;
    this.bytes = 0;
  }
}
