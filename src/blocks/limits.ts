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

/**
 * Shards of at most this many data bytes, written in one append, go into a pack file rather than a file of
 * their own (pack-store.ts): a whole stripe of an object up to ~1 MiB per shard. Above it the per-file
 * cost (inode, two fsyncs, rename) is small beside the data's own write (issue 17).
 */
export const packShardBytesMax = 1 * MiB;
/**
 * An open pack is sealed at this size. 64 MiB: a compaction then copies at most ~32 MiB of live records
 * per pack, a drive of 1 TiB holds ~16,000 packs (one descriptor each only while read), and one pack's
 * worth of deletes is reclaimed long before a drive fills. TESSERA_PACK_BYTES_TARGET overrides it (tests).
 */
export const packBytesTarget = 64 * MiB;
/** Records start at multiples of this: a record never shares a page with the next one's first write. */
export const packRecordAlignBytes = 4 * KiB;
/** An open pack untouched this long belongs to a process that died: anyone seals it. Claims of compaction likewise expire. */
export const packStaleMs = 10 * 60_000;
/** How often a drive's pack maintenance (retire dead packs, compaction) takes one bounded step. */
export const packStepIntervalMs = 500;
/** Live record bytes one compaction step copies at most: the throttle, about 16 MiB/s per drive at the interval above. */
export const packCompactBytesPerStep = 8 * MiB;
/** Dead packs retired per step at most. */
export const packRetiresPerStep = 16;

/**
 * A whole-number override of a pack limit from the environment (tests use them to reach a limit quickly):
 * `fallback` when unset or empty, else at least `min` or a RangeError naming the variable.
 */
export function wholeNumberFromEnv(name: string, fallback: number, min: number, unit: string): number {
  const text = process.env[name];
  if (text === undefined || text === '') return fallback;
  const value = Number(text);
  if (!Number.isSafeInteger(value) || value < min) throw new RangeError(`Cannot use ${name} "${text}": expected a whole number of ${unit}, at least ${min}`);
  return value;
}
