// Redundancy policy: the default for a drive count, validation of what callers ask for, and the write
// quorum of each setting.
import type { Redundancy } from './types.js';
import { shardsMax } from './limits.js';

/**
 * Default by number of failure domains (drives here):
 * - 1 → 1 copy; 2 → 2 copies (RS 1+1 would just be replication with extra steps).
 * - 3 → RS 2+1: survives one loss like the design promises, at 1.5× space instead of 3×.
 * - 4 → RS 2+2: survives any two losses at 2×; 3+1 would save space but a second loss during a
 *   rebuild would lose data, and rebuilds of big drives take long.
 * - 5 → RS 3+2: two losses at 1.67×, strictly better than 2+2 once a fifth drive exists.
 * - ≥6 → RS 4+2, the design's default: two losses at 1.5×.
 */
export function defaultRedundancyFor(domains: number): Redundancy {
  if (domains <= 1) return { kind: 'replicate', copies: 1 };
  if (domains === 2) return { kind: 'replicate', copies: 2 };
  if (domains === 3) return { kind: 'rs', data: 2, parity: 1 };
  if (domains === 4) return { kind: 'rs', data: 2, parity: 2 };
  if (domains === 5) return { kind: 'rs', data: 3, parity: 2 };
  return { kind: 'rs', data: 4, parity: 2 };
}

export function shardCountOf(redundancy: Redundancy): number {
  return redundancy.kind === 'replicate' ? redundancy.copies : redundancy.data + redundancy.parity;
}

/** Shards a reader needs. */
export function readQuorumOf(redundancy: Redundancy): number {
  return redundancy.kind === 'replicate' ? 1 : redundancy.data;
}

/**
 * Shards that must be durable before a write is acknowledged: what a reader needs plus one spare,
 * except when the setting has a single spare (RS k+1, 2 copies), where demanding it would let one
 * lost drive stop all writes, against design.md ("a drive lost within the budget: reads and writes
 * go on"). So 4+2 → 5, 8+3 → 9, 2+1 → 2, 3 copies → 2, 2 copies → 1.
 * MinIO adds one more when k = m to avoid split-brain between halves that each hold metadata; our
 * metadata lives in the MetaStore, which linearizes commits, so that case cannot arise here.
 */
export function writeQuorumOf(redundancy: Redundancy): number {
  const needed = readQuorumOf(redundancy);
  const spare = shardCountOf(redundancy) - needed;
  return needed + (spare >= 2 ? 1 : 0);
}

/** Boundary check of a caller-supplied setting. */
export function checkRedundancy(redundancy: Redundancy, targets: number): Redundancy {
  const count = shardCountOf(redundancy);
  const valid =
    redundancy.kind === 'replicate'
      ? Number.isInteger(redundancy.copies) && redundancy.copies >= 1
      : Number.isInteger(redundancy.data) && Number.isInteger(redundancy.parity) && redundancy.data >= 1 && redundancy.data <= 24 && redundancy.parity >= 1 && redundancy.parity <= 6;
  if (!valid || count > shardsMax) throw new RangeError(`Cannot use redundancy "${JSON.stringify(redundancy)}"`);
  if (count > targets) {
    throw new RangeError(`Cannot use redundancy "${JSON.stringify(redundancy)}": it needs ${count} targets and ${targets} exist`);
  }
  return redundancy;
}
