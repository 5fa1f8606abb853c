// Builders of layout changes for the cluster module's tests and the placement benchmark.
import type { LayoutChange } from './types.js';

/** An addNode change: node `n<index>` in `zone` with drives `n<index>d<k>` of the given capacities. */
export function addNodeChange(options: { index: number; zone: string; capacities: readonly number[] }): LayoutChange {
  const id = `n${String(options.index).padStart(4, '0')}`;
  return {
    kind: 'addNode',
    node: { id, address: `10.0.${options.index >> 8}.${options.index & 255}:3900`, zone: options.zone },
    drives: options.capacities.map((capacity, k) => ({ id: `${id}d${String(k).padStart(2, '0')}`, capacity })),
  };
}

/** Nodes 0..count-1 over `zones` zones round-robin, each with `drives` drives of `capacityOf(node)`. */
export function clusterChanges(options: { count: number; zones: number; drives: number; capacityOf?: (node: number) => number; first?: number }): LayoutChange[] {
  const { count, zones, drives, capacityOf = () => 1, first = 0 } = options;
  return Array.from({ length: count }, (_, k) =>
    addNodeChange({ index: first + k, zone: `z${(first + k) % zones}`, capacities: new Array<number>(drives).fill(capacityOf(first + k)) }),
  );
}
