// Limits of the block layer, named with their units. They live here rather than in src/constants.ts
// because they describe the on-disk shard format and stripe geometry, which only this layer may know.
import { KiB, MiB } from '../constants.js';

/**
 * Bytes of shard data covered by one CRC32. 64 KiB: CRC32 speed was flat for 16–256 KiB
 * blocks alike (measured), the 4-byte checksum costs 0.006 % of space, and a small range GET reads
 * at most 2 × 64 KiB per shard. 64 KiB also divides every full RS chunk for k = 2, 4, 8, 16.
 */
export const shardBlockBytes = 64 * KiB;
/** Logical bytes per stripe we aim for; the exact stripe is k × a chunk rounded to the codec's alignment. */
export const stripeTargetBytes = 1 * MiB;
/**
 * Stripes read ahead of the consumer on GET. Two keeps the drives busy while the client drains one,
 * and bounds read memory to about 3 stripes per request.
 */
export const readAheadStripes = 2;
/** Shard files above this are refused: the header stores the length in 48 bits. */
export const shardBytesMax = 2 ** 48 - 1;
/** Characters in a block id: 16 random bytes as lowercase hex. */
export const blockIdChars = 32;
/** Characters in a drive id: 8 random bytes as lowercase hex. */
export const driveIdChars = 16;
/** Most shards a block may have; the shard index is stored in the header as a u16 and ronomon stops at 24+6. */
export const shardsMax = 30;
