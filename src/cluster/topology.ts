// The shape one layout epoch must fill: which targets take shards, their failure domains by index,
// the round structure of positions, and each target's expected share of every position.
import { assert } from '../util/assert.js';
import { widthMax, type LayoutNode, type LayoutTarget } from './types.js';

/**
 * Positions of a partition's list form zone rounds of `zoneCount` positions (the last may be
 * shorter): within a round every zone appears at most once. Zone z's r-th occurrence is in round r;
 * its occurrences form node rounds of `nodesInZone[z]` zone rounds, within which every node of the
 * zone appears at most once. Targets never repeat in a list.
 */
export interface Topology {
  readonly width: number;
  readonly zoneCount: number;
  /** Per target index (into layout.targets): may it take slots this epoch. */
  readonly assignable: Uint8Array;
  readonly zoneOf: Int32Array;
  readonly nodeOf: Int32Array;
  readonly nodesInZone: Int32Array;
  /** Targets of each zone, assignable only, in target order. */
  readonly zoneTargets: readonly (readonly number[])[];
  /** False when some zone or node has too few drives for the rules: their unavoidable breaks are then tolerated. */
  readonly zonesStrict: boolean;
  readonly nodesStrict: boolean;
  /** zoneShare[z × width + i]: zone z's expected share of position i. */
  readonly zoneShare: Float64Array;
  /** inZoneShare[t × width + i]: target t's expected share of its zone's slots at position i. */
  readonly inZoneShare: Float64Array;
}

export function roundOf(topology: Topology, position: number): number {
  return Math.floor(position / topology.zoneCount);
}

export function nodeRoundOf(topology: Topology, zone: number, position: number): number {
  return Math.floor(roundOf(topology, position) / (topology.nodesInZone[zone] as number));
}

export function buildTopology(nodes: readonly LayoutNode[], targets: readonly LayoutTarget[]): Topology {
  const nodeIndex = new Map(nodes.map((n, i) => [n.id, i]));
  const zoneNames = [...new Set(nodes.filter((n) => n.state === 'active').map((n) => n.zone))].sort();
  const zoneIndex = new Map(zoneNames.map((z, i) => [z, i]));
  const assignable = new Uint8Array(targets.length);
  const zoneOf = new Int32Array(targets.length).fill(-1);
  const nodeOf = new Int32Array(targets.length).fill(-1);
  targets.forEach((t, i) => {
    const n = nodeIndex.get(t.nodeId);
    assert(n !== undefined, `Target "${t.id}" names unknown node "${t.nodeId}"`);
    const node = nodes[n] as LayoutNode;
    nodeOf[i] = n;
    zoneOf[i] = zoneIndex.get(node.zone) ?? -1;
    assignable[i] = node.state === 'active' && t.state === 'active' && t.capacity > 0 ? 1 : 0;
  });
  const zoneTargets: number[][] = zoneNames.map(() => []);
  for (let t = 0; t < targets.length; t++) if (assignable[t]) zoneTargets[zoneOf[t] as number]?.push(t);
  // A zone whose every drive is out (zero capacity, draining) takes no part in the rounds.
  const liveZones = zoneTargets.map((list, z) => (list.length > 0 ? z : -1)).filter((z) => z >= 0);
  if (liveZones.length !== zoneNames.length) {
    const kept = liveZones.map((z) => zoneNames[z] as string);
    const liveNodes = nodes.map((n) => (kept.includes(n.zone) ? n : { ...n, state: 'removed' as const }));
    return buildTopology(liveNodes, targets);
  }
  const assignableCount = zoneTargets.reduce((sum, list) => sum + list.length, 0);
  const width = Math.min(widthMax, assignableCount);
  const zoneCount = zoneNames.length;
  const nodeDrives = new Map<number, number[]>();
  for (const list of zoneTargets) for (const t of list) nodeDrives.set(nodeOf[t] as number, [...(nodeDrives.get(nodeOf[t] as number) ?? []), t]);
  const nodesInZone = new Int32Array(zoneCount);
  for (const n of nodeDrives.keys()) nodesInZone[zoneIndex.get((nodes[n] as LayoutNode).zone) as number]++;
  const occurrences = Math.ceil(width / Math.max(1, zoneCount));
  const base = { width, zoneCount, assignable, zoneOf, nodeOf, nodesInZone, zoneTargets };
  const strict = strictness(base, nodeDrives, occurrences);
  const topology = { ...base, ...strict, zoneShare: new Float64Array(zoneCount * width), inZoneShare: new Float64Array(targets.length * width) };
  fillShares(topology, targets, nodeDrives, occurrences);
  return topology;
}

function strictness(
  topology: Pick<Topology, 'zoneTargets' | 'nodesInZone' | 'nodeOf'>,
  nodeDrives: Map<number, number[]>,
  occurrences: number,
): { zonesStrict: boolean; nodesStrict: boolean } {
  const zonesStrict = topology.zoneTargets.every((list) => list.length >= occurrences);
  let nodesStrict = true;
  topology.zoneTargets.forEach((list, z) => {
    const nodeRounds = Math.ceil(occurrences / (topology.nodesInZone[z] as number));
    for (const t of list) if ((nodeDrives.get(topology.nodeOf[t] as number)?.length ?? 0) < nodeRounds) nodesStrict = false;
  });
  return { zonesStrict, nodesStrict };
}

/**
 * Expected shares, level by level: zones, then nodes within a zone, then drives within a node, each
 * in proportion to capacity but capped where the rules bound it. A full zone round gives every zone
 * exactly 1/zoneCount; a node appears once per node round, so it holds at most 1/m of a node round of
 * m zone slots; a drive appears once per list.
 */
function fillShares(topology: Topology, targets: readonly LayoutTarget[], nodeDrives: Map<number, number[]>, occurrences: number): void {
  const { width, zoneCount, zoneTargets, nodesInZone, nodeOf } = topology;
  const capacity = (t: number) => (targets[t] as LayoutTarget).capacity;
  const zoneWeights = zoneTargets.map((list) => list.reduce((sum, t) => sum + capacity(t), 0));
  for (let i = 0; i < width; i++) {
    const round = Math.floor(i / zoneCount);
    const roundSize = Math.min(zoneCount, width - round * zoneCount);
    const shares = waterFill(zoneWeights, 1 / roundSize);
    for (let z = 0; z < zoneCount; z++) topology.zoneShare[z * width + i] = shares[z] as number;
  }
  zoneTargets.forEach((list, z) => {
    const zoneNodes = [...new Set(list.map((t) => nodeOf[t] as number))];
    const perNode = zoneNodes.map((n) => (nodeDrives.get(n) ?? []).reduce((sum, t) => sum + capacity(t), 0));
    const nodeCount = nodesInZone[z] as number;
    const nodeRounds = Math.ceil(occurrences / nodeCount);
    const driveShare = new Map<number, number>();
    for (const n of zoneNodes) {
      const drives = nodeDrives.get(n) ?? [];
      waterFill(drives.map(capacity), 1 / Math.min(drives.length, nodeRounds)).forEach((s, k) => driveShare.set(drives[k] as number, s));
    }
    for (let i = 0; i < width; i++) {
      const nodeRound = Math.floor(Math.floor(i / zoneCount) / nodeCount);
      const roundSlots = Math.max(1, Math.min(nodeCount, occurrences - nodeRound * nodeCount));
      const nodeShares = waterFill(perNode, 1 / roundSlots);
      zoneNodes.forEach((n, k) => {
        for (const t of nodeDrives.get(n) ?? []) {
          topology.inZoneShare[t * width + i] = (nodeShares[k] as number) * (driveShare.get(t) as number);
        }
      });
    }
  });
}

/**
 * Shares in proportion to `weights`, none above `cap`: capped items are fixed and the rest of the
 * mass is spread again over the others. If the cap cannot be met (cap × n < 1), shares are equal.
 */
export function waterFill(weights: readonly number[], cap: number): number[] {
  const n = weights.length;
  if (n === 0) return [];
  if (cap * n <= 1 + 1e-12) return weights.map(() => 1 / n);
  const shares = new Array<number>(n).fill(0);
  const capped = new Array<boolean>(n).fill(false);
  for (;;) {
    const cappedCount = capped.filter(Boolean).length;
    const mass = 1 - cappedCount * cap;
    const free = weights.reduce((sum, w, k) => (capped[k] ? sum : sum + w), 0);
    let changed = false;
    for (let k = 0; k < n; k++) {
      if (capped[k]) continue;
      shares[k] = (mass * (weights[k] as number)) / free;
      if ((shares[k] as number) > cap + 1e-12) {
        capped[k] = true;
        changed = true;
      }
    }
    if (!changed) break;
    for (let k = 0; k < n; k++) if (capped[k]) shares[k] = cap;
  }
  return shares;
}
