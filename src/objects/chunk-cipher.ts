// The chunk cipher of encrypted objects (records.ts ObjectEncryption): plaintext cut into chunks, each
// sealed with AES-256-GCM under the object's data key, so a range read opens only the chunks it touches.
// Streams with bounded memory: a few chunks gathered at most; util/gcm-chunks.ts does the AES-GCM.
import { StoreError } from '../util/errors.js';
import { assert } from '../util/assert.js';
import { gcmChunks, type GcmChunks } from '../util/gcm-chunks.js';

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
 * in any slicing. Every yielded buffer is fresh (consumers may keep it); see openChunkRuns.
 */
export async function* openChunks(
  stored: AsyncIterable<Buffer>,
  key: ChunkKey,
  plainBytes: number,
  start: number,
  end: number,
  options: ChunkCipherOptions = {},
): AsyncGenerator<Buffer> {
  for await (const run of openChunkRuns(stored, key, plainBytes, start, end, { ...options, take: (bytes) => Buffer.allocUnsafe(bytes) })) yield run.plain;
}

/**
 * openChunks with the output buffers from `take` (a pool, when the consumer says when it is done with
 * them). Whole chunks of a piece open straight from it, many per call (before the next piece is asked for,
 * so a leased piece may be released then); the rest gathers in a buffer of a few chunks. Every chunk's tag
 * is checked before any of it goes out: the chunks before a failing one are served, then ERR_SHARD_CORRUPT;
 * the failing chunk never is.
 */
export async function* openChunkRuns(
  stored: AsyncIterable<Buffer>,
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
  const gatherChunks = Math.max(1, Math.floor(gatherBytesTarget / chunkBytes));
  let gather: Buffer | undefined;
  let index = firstChunk;
  let offset = storedStart; // stored offset of the first byte not yet opened (gathered bytes included)
  let filled = 0;
  function* openRun(sealed: Buffer): Generator<OpenedRun> {
    const chunks = Math.ceil(sealed.length / sealedChunkBytes);
    const lastBytes = sealed.length - (chunks - 1) * sealedChunkBytes;
    const outBytes = (chunks - 1) * chunkBytes + Math.max(0, lastBytes - chunkTagBytes); // a tagless tail is corrupt
    const out = options.take(outBytes);
    assert(out.length >= outBytes, 'An output buffer holds the opened run');
    const opened = cipher.open({ dataKey: key.dataKey, partNumber: key.partNumber, firstIndex: index, chunkBytes, input: sealed, out: out.subarray(0, outBytes) });
    const good = opened >= 0 ? outBytes : (-1 - opened) * chunkBytes;
    const plainStart = index * chunkBytes;
    const served = out.subarray(Math.max(0, start - plainStart), Math.max(0, Math.min(good, end - plainStart)));
    if (served.length > 0) yield { plain: served, out };
    if (opened < 0) throw corrupt(key, index - 1 - opened);
    assert(opened === outBytes, 'An opened run fills its output');
    index += chunks;
    offset += sealed.length;
  }
  for await (const piece of stored) {
    let at = 0;
    while (at < piece.length) {
      const left = storedEnd - offset; // stored bytes still to come, gathered ones included
      if (left - filled <= 0) throw new StoreError('ERR_SHARD_CORRUPT', 'Cannot open an encrypted range: more stored bytes than it spans');
      const available = piece.length - at;
      if (filled === 0) {
        // Whole chunks, or the run's short last chunk, straight from the piece.
        const take = available >= left ? left : available - (available % sealedChunkBytes);
        if (take > 0) {
          yield* openRun(piece.subarray(at, at + take));
          at += take;
          continue;
        }
      }
      const runBytes = Math.min(gatherChunks * sealedChunkBytes, left);
      gather ??= Buffer.allocUnsafe(Math.min(gatherChunks * sealedChunkBytes, storedEnd - storedStart));
      const took = piece.copy(gather, filled, at, at + Math.min(available, runBytes - filled));
      at += took;
      filled += took;
      if (filled === runBytes) {
        filled = 0;
        yield* openRun(gather.subarray(0, runBytes));
      }
    }
  }
  if (offset + filled !== storedEnd) throw new StoreError('ERR_SHARD_CORRUPT', `Cannot open an encrypted range: its stored bytes ended at ${offset + filled}, not ${storedEnd}`);
}
