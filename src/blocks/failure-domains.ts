// Failure domains of a layout as the block store counts them: the nodes taking shards, or in a cluster
// of one node (the single-node server) that node's drives. Sets the default redundancy and the
// node-aware write quorum (docs/architecture.md, "Quorum across nodes").
import type { Layout } from '../cluster/index.js';

export interface FailureDomains {
  /** Distinct domains that take shards in the layout. */
  count: number;
  /** The domain of target (drive) `id`: its node, or the drive itself when one node holds every drive. */
  of(id: string): string;
}

/** The drives `layout` gives shards to: active, with capacity, on an active (not draining) node. */
export function takingTargets(layout: Layout): Set<string> {
  const active = new Set(layout.nodes.filter((n) => n.state === 'active').map((n) => n.id));
  return new Set(layout.targets.filter((t) => t.state === 'active' && t.capacity > 0 && active.has(t.nodeId)).map((t) => t.id));
}

export function failureDomainsOf(layout: Layout): FailureDomains {
  const takingIds = takingTargets(layout);
  const taking = layout.targets.filter((t) => takingIds.has(t.id));
  const nodes = new Set(taking.map((t) => t.nodeId));
  const nodeOf = new Map(layout.targets.map((t) => [t.id, t.nodeId]));
  if (nodes.size <= 1) return { count: taking.length, of: (id) => id };
  return { count: nodes.size, of: (id) => nodeOf.get(id) ?? id };
}

/**
 * How many whole domains may be lost while at least `needed` of the shards in `domains` (one entry per
 * shard: its domain) remain: the worst case takes the domains holding the most shards first. -1 when
 * fewer than `needed` shards are there at all.
 */
export function domainLossesSurvived(domains: readonly string[], needed: number): number {
  const counts = new Map<string, number>();
  for (const d of domains) counts.set(d, (counts.get(d) ?? 0) + 1);
  const largestFirst = [...counts.values()].sort((a, b) => b - a);
  let left = domains.length;
  if (left < needed) return -1;
  let lost = 0;
  for (const count of largestFirst) {
    if (left - count < needed) break;
    left -= count;
    lost++;
  }
  return lost;
}
