// The chunk cipher of encrypted objects (records.ts ObjectEncryption): plaintext cut into chunks, each
// sealed with AES-256-GCM under the object's data key, so a range read opens only the chunks it touches.
// Sealing streams (no chunk is buffered); opening holds one stored chunk at a time.
import { createCipheriv, createDecipheriv } from 'node:crypto';
import { StoreError } from '../util/errors.js';

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

function nonceOf(partNumber: number, chunkIndex: number): Buffer {
  const nonce = Buffer.allocUnsafe(12);
  nonce.writeUInt32BE(partNumber, 0);
  nonce.writeBigUInt64BE(BigInt(chunkIndex), 4);
  return nonce;
}

function checkKey(key: ChunkKey): void {
  if (key.dataKey.length !== dataKeyBytes) throw new RangeError(`A data key must be ${dataKeyBytes} bytes, not ${key.dataKey.length}`);
  if (!Number.isSafeInteger(key.chunkBytes) || key.chunkBytes <= 0) throw new RangeError(`Invalid chunk size "${key.chunkBytes}"`);
}

/** Stored (sealed) size of `plainBytes` of plaintext. */
export function sealedSizeOf(plainBytes: number, chunkBytes: number): number {
  return plainBytes + Math.ceil(plainBytes / chunkBytes) * chunkTagBytes;
}

/**
 * Seals a plaintext stream: each chunk's ciphertext goes out as its plaintext arrives (GCM's counter mode
 * keeps lengths), then its tag once the chunk is full or the stream ends.
 */
export async function* sealChunks(source: AsyncIterable<Buffer>, key: ChunkKey): AsyncGenerator<Buffer> {
  checkKey(key);
  let index = 0;
  let filled = 0;
  let cipher = createCipheriv('aes-256-gcm', key.dataKey, nonceOf(key.partNumber, index));
  for await (const piece of source) {
    let offset = 0;
    while (offset < piece.length) {
      const take = Math.min(piece.length - offset, key.chunkBytes - filled);
      yield cipher.update(offset === 0 && take === piece.length ? piece : piece.subarray(offset, offset + take));
      offset += take;
      filled += take;
      if (filled === key.chunkBytes) {
        cipher.final();
        yield cipher.getAuthTag();
        index++;
        filled = 0;
        cipher = createCipheriv('aes-256-gcm', key.dataKey, nonceOf(key.partNumber, index));
      }
    }
  }
  if (filled > 0) {
    cipher.final();
    yield cipher.getAuthTag();
  }
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

function openChunk(key: ChunkKey, index: number, sealed: Buffer): Buffer {
  if (sealed.length <= chunkTagBytes) throw corrupt(key, index);
  const decipher = createDecipheriv('aes-256-gcm', key.dataKey, nonceOf(key.partNumber, index));
  decipher.setAuthTag(sealed.subarray(sealed.length - chunkTagBytes));
  const plain = decipher.update(sealed.subarray(0, sealed.length - chunkTagBytes));
  try {
    decipher.final();
  } catch {
    throw corrupt(key, index);
  }
  return plain;
}

function corrupt(key: ChunkKey, index: number): StoreError {
  return new StoreError('ERR_SHARD_CORRUPT', `Cannot open chunk ${index} of part ${key.partNumber}: its authentication tag does not match`);
}

/**
 * Plaintext [start, end) of a run of `plainBytes`, from `stored`: the stored bytes sealedRangeOf() names,
 * in any slicing. Each chunk is opened and checked whole before any of it goes out: a chunk whose tag
 * fails is never served (ERR_SHARD_CORRUPT).
 */
export async function* openChunks(stored: AsyncIterable<Buffer>, key: ChunkKey, plainBytes: number, start: number, end: number): AsyncGenerator<Buffer> {
  checkKey(key);
  const { firstChunk, storedStart, storedEnd } = sealedRangeOf(plainBytes, key.chunkBytes, start, end);
  const sealedChunkBytes = key.chunkBytes + chunkTagBytes;
  const buffer = Buffer.allocUnsafe(Math.min(sealedChunkBytes, storedEnd - storedStart));
  let index = firstChunk;
  let offset = storedStart; // stored offset of the chunk being filled
  let filled = 0;
  const chunkLength = () => Math.min(sealedChunkBytes, storedEnd - offset);
  const emit = (plain: Buffer): Buffer => {
    const plainStart = (index - 1) * key.chunkBytes;
    return plain.subarray(Math.max(0, start - plainStart), Math.min(plain.length, end - plainStart));
  };
  for await (const piece of stored) {
    let at = 0;
    while (at < piece.length) {
      const want = chunkLength() - filled;
      if (want <= 0) throw new StoreError('ERR_SHARD_CORRUPT', 'Cannot open an encrypted range: more stored bytes than it spans');
      // A whole chunk within one piece (the usual case: stripes are larger than chunks) opens in place.
      if (filled === 0 && piece.length - at >= want) {
        const plain = openChunk(key, index, piece.subarray(at, at + want));
        at += want;
        offset += want;
        index++;
        yield emit(plain);
        continue;
      }
      const take = Math.min(want, piece.length - at);
      piece.copy(buffer, filled, at, at + take);
      at += take;
      filled += take;
      if (filled === chunkLength()) {
        const plain = openChunk(key, index, buffer.subarray(0, filled));
        offset += filled;
        index++;
        filled = 0;
        yield emit(plain);
      }
    }
  }
  if (offset !== storedEnd) throw new StoreError('ERR_SHARD_CORRUPT', `Cannot open an encrypted range: its stored bytes ended at ${offset}, not ${storedEnd}`);
}
