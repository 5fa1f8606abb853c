// The on-disk format of one shard file: a self-describing header, then the shard's bytes cut into
// blocks that each carry a CRC32. Pure functions only; no I/O happens here.
import { crc32 } from 'node:zlib';
import { assert } from '../util/assert.js';
import { StoreError } from '../util/errors.js';
import { blockIdChars, shardBytesMax } from './limits.js';

export const shardMagic = 0x44485354; // "TSHD" read as little-endian u32
export const shardFormatVersion = 1;
export const shardHeaderBytes = 48;
export const blockChecksumBytes = 4;

/** What a shard file says about itself. */
export interface ShardHeader {
  blockBytes: number;
  shardIndex: number;
  /** Logical shard bytes, excluding header and checksums. */
  shardBytes: number;
  blockId: string;
}

// Layout: magic u32 | version u16 | headerBytes u16 | blockBytes u32 | shardIndex u16 | reserved u16 |
//         shardBytes u64 | blockId 16 bytes | crc32 of bytes 0..40 u32 | reserved u32.
export function encodeShardHeader(header: ShardHeader): Buffer {
  assert(header.shardBytes >= 0 && header.shardBytes <= shardBytesMax, 'Shard length out of range');
  assert(header.blockId.length === blockIdChars, 'Block id has the wrong length');
  const out = Buffer.alloc(shardHeaderBytes);
  out.writeUInt32LE(shardMagic, 0);
  out.writeUInt16LE(shardFormatVersion, 4);
  out.writeUInt16LE(shardHeaderBytes, 6);
  out.writeUInt32LE(header.blockBytes, 8);
  out.writeUInt16LE(header.shardIndex, 12);
  out.writeBigUInt64LE(BigInt(header.shardBytes), 16);
  out.write(header.blockId, 24, 'hex');
  out.writeUInt32LE(crc32(out.subarray(0, 40)), 40);
  return out;
}

/** Parses and checks a header; any mismatch means the file cannot be trusted, so it is corrupt. */
export function decodeShardHeader(bytes: Buffer, where: string): ShardHeader {
  const corrupt = (why: string) => new StoreError('ERR_SHARD_CORRUPT', `Cannot read shard header of "${where}": ${why}`);
  if (bytes.length < shardHeaderBytes) throw corrupt('file is shorter than a header');
  if (bytes.readUInt32LE(0) !== shardMagic) throw corrupt('bad magic');
  if (bytes.readUInt32LE(40) !== crc32(bytes.subarray(0, 40))) throw corrupt('header checksum mismatch');
  if (bytes.readUInt16LE(4) !== shardFormatVersion) throw corrupt(`unknown version "${bytes.readUInt16LE(4)}"`);
  if (bytes.readUInt16LE(6) !== shardHeaderBytes) throw corrupt('unexpected header length');
  const blockBytes = bytes.readUInt32LE(8);
  if (blockBytes === 0) throw corrupt('zero block size');
  return {
    blockBytes,
    shardIndex: bytes.readUInt16LE(12),
    shardBytes: Number(bytes.readBigUInt64LE(16)),
    blockId: bytes.toString('hex', 24, 40),
  };
}

/** File bytes a shard of `shardBytes` occupies. */
export function shardFileBytes(shardBytes: number, blockBytes: number): number {
  return shardHeaderBytes + shardBytes + Math.ceil(shardBytes / blockBytes) * blockChecksumBytes;
}

/** File offset where checksum block `block` begins. */
export function blockFileOffset(block: number, blockBytes: number): number {
  return shardHeaderBytes + block * (blockBytes + blockChecksumBytes);
}
