import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { computeLayout, diffLayouts, emptyLayout, partitionOf, partitionTargets, targetShares, targetsFor } from './index.js';
import { addNodeChange, clusterChanges } from './test-helpers.js';
import type { Layout, LayoutTarget } from './types.js';

const partitionCount = 2048;

function build(count: number, zones: number, drives: number, capacityOf?: (node: number) => number): Layout {
  return computeLayout(emptyLayout({ partitionCount }), clusterChanges({ count, zones, drives, capacityOf }));
}

/** Zone and node of every slot of partition p, in order. */
function domains(layout: Layout, p: number): { zone: string; node: string; target: string }[] {
  const nodes = new Map(layout.nodes.map((n) => [n.id, n]));
  return partitionTargets(layout, p).map((id) => {
    const target = layout.targets.find((t) => t.id === id) as LayoutTarget;
    return { zone: nodes.get(target.nodeId)?.zone as string, node: target.nodeId, target: id };
  });
}

function maxPerKey(values: string[]): number {
  const counts = new Map<string, number>();
  for (const v of values) counts.set(v, (counts.get(v) ?? 0) + 1);
  return Math.max(...counts.values());
}

function sharesOfNode(layout: Layout, nodeId: string, width = layout.width): { actual: number; feasible: number } {
  let actual = 0;
  let feasible = 0;
  for (const [id, s] of targetShares(layout, width)) {
    if (layout.targets.find((t) => t.id === id)?.nodeId !== nodeId) continue;
    actual += s.actual;
    feasible += s.feasible;
  }
  return { actual, feasible };
}

describe('cluster layout', () => {
  test('partitionOf - stable for an id and spread evenly over the partitions', () => {
    assert.equal(partitionOf('00000000000000000000000000000000', 65_536), partitionOf('00000000000000000000000000000000', 65_536));
    // Pinned: a change of the hash would move every block of every cluster.
    assert.equal(partitionOf('0123456789abcdef0123456789abcdef', 65_536), 29_020);
    const counts = new Array<number>(64).fill(0);
    for (let k = 0; k < 64_000; k++) counts[partitionOf(k.toString(16).padStart(32, '0'), 64)]++;
    for (const c of counts) assert.ok(c > 850 && c < 1150, `partition count ${c}`);
    assert.equal(partitionOf('abc', 1), 0);
  });

  test('targetsFor - the first width targets of the block’s partition, RangeError beyond the layout’s width', () => {
    const layout = build(6, 3, 2);
    assert.equal(layout.width, 12);
    const blockId = 'f00dfeedf00dfeedf00dfeedf00dfeed';
    const all = partitionTargets(layout, partitionOf(blockId, partitionCount));
    assert.deepEqual(targetsFor(layout, blockId, 6).map((t) => t.id), all.slice(0, 6));
    assert.throws(() => targetsFor(layout, blockId, 13), RangeError);
    assert.throws(() => targetsFor(layout, blockId, 0), RangeError);
  });

  test('computeLayout - the same input gives the same layout, whatever the order of the added nodes', () => {
    const changes = clusterChanges({ count: 9, zones: 3, drives: 3, capacityOf: (n) => 1 + (n % 4) });
    const a = computeLayout(emptyLayout({ partitionCount }), changes);
    const b = computeLayout(emptyLayout({ partitionCount }), [...changes].reverse());
    assert.equal(a.epoch, 1);
    assert.deepEqual(a.targets, b.targets);
    assert.deepEqual(a.assignment, b.assignment);
  });

  test('computeLayout - a 4+2 over 3 zones puts 2 shards per zone and 1 per node when there are 6 nodes', () => {
    const layout = build(6, 3, 2);
    for (let p = 0; p < partitionCount; p++) {
      const slots = domains(layout, p);
      assert.equal(new Set(slots.slice(0, 3).map((s) => s.zone)).size, 3, `partition ${p}: first 3 in distinct zones`);
      assert.equal(maxPerKey(slots.slice(0, 6).map((s) => s.zone)), 2);
      assert.equal(new Set(slots.slice(0, 6).map((s) => s.node)).size, 6, `partition ${p}: first 6 on distinct nodes`);
      assert.equal(new Set(slots.map((s) => s.target)).size, 12);
    }
  });

  test('computeLayout - every prefix spreads over zones as evenly as possible, then over nodes', () => {
    for (const [count, zones] of [[12, 6], [10, 3], [8, 2], [15, 5]] as const) {
      const layout = build(count, zones, 2);
      const nodesPerZone = count / zones;
      for (let p = 0; p < partitionCount; p += 7) {
        const slots = domains(layout, p);
        for (let w = 1; w <= layout.width; w++) {
          const prefix = slots.slice(0, w);
          assert.ok(maxPerKey(prefix.map((s) => s.zone)) <= Math.ceil(w / zones), `${count} nodes/${zones} zones, partition ${p}, first ${w}`);
          const perZone = Math.ceil(w / zones);
          assert.ok(maxPerKey(prefix.map((s) => s.node)) <= Math.ceil(perZone / nodesPerZone), `nodes of partition ${p}, first ${w}`);
        }
      }
    }
  });

  test('computeLayout - each drive’s share of the first 6 and of all 12 positions is within 5% of its capacity share', () => {
    // Three zones of equal capacity, nodes of different sizes inside each: the rules then allow the capacity share.
    const layout = build(30, 3, 4, (n) => [1, 2, 3][Math.floor(n / 3) % 3] as number);
    for (const width of [6, 12]) {
      for (const [id, s] of targetShares(layout, width)) {
        assert.ok(Math.abs(s.feasible / s.capacity - 1) < 1e-9, `${id}: the rules do not bind here`);
        assert.ok(Math.abs(s.actual / s.capacity - 1) <= 0.05, `${id}, first ${width}: ${s.actual} vs ${s.capacity}`);
      }
    }
  });

  test('computeLayout - recomputing without changes moves nothing', () => {
    const layout = build(12, 3, 3);
    const next = computeLayout(layout, []);
    assert.equal(next.epoch, 2);
    assert.equal(diffLayouts(layout, next).slotsMoved, 0);
  });

  test('computeLayout - adding one node to 30 moves at most 1.15 × the share it takes', () => {
    const before = build(30, 3, 4, (n) => 1 + (n % 3));
    const after = computeLayout(before, [addNodeChange({ index: 30, zone: 'z0', capacities: [2, 2, 2, 2] })]);
    const moved = diffLayouts(before, after).movedFraction;
    const share = sharesOfNode(after, 'n0030');
    assert.ok(Math.abs(share.actual / share.feasible - 1) < 0.05, `new node holds ${share.actual}, feasible ${share.feasible}`);
    assert.ok(moved <= 1.15 * share.feasible, `moved ${moved}, ideal ${share.feasible}`);
  });

  test('computeLayout - adding one node moves at most 1.15 × its share when drives hold few slots per position', () => {
    // About 5 slots per drive and position: a small change of shares must not make drives trade slots.
    const before = computeLayout(emptyLayout({ partitionCount: 512 }), clusterChanges({ count: 90, zones: 3, drives: 3, capacityOf: (n) => 1 + (n % 3) }));
    const after = computeLayout(before, [addNodeChange({ index: 90, zone: 'z1', capacities: [2, 2, 2] })]);
    const moved = diffLayouts(before, after).movedFraction;
    const share = sharesOfNode(after, 'n0090');
    assert.ok(moved <= 1.15 * share.feasible, `moved ${moved}, ideal ${share.feasible}`);
  });

  test('computeLayout - a zone growing from 3 to 4 nodes (of 4 positions each) moves at most 1.15 × the new node’s share', () => {
    // Every list held one node of that zone twice; the new node replaces one of the two, not a third slot.
    const before = build(10, 3, 2);
    const after = computeLayout(before, [addNodeChange({ index: 10, zone: 'z1', capacities: [1, 1] })]);
    const moved = diffLayouts(before, after).movedFraction;
    const share = sharesOfNode(after, 'n0010');
    assert.ok(moved <= 1.15 * share.feasible, `moved ${moved}, ideal ${share.feasible}`);
  });

  test('computeLayout - adding a fourth zone to 60 nodes moves at most 1.4 × the new zone’s share', () => {
    // Zone rounds grow from 3 positions to 4, so every list must change; the bound is what the
    // zone-level return sweep reaches (1.48 × without it), not the 1.15 of a node added to a zone.
    const before = computeLayout(emptyLayout({ partitionCount: 1024 }), clusterChanges({ count: 60, zones: 3, drives: 2 }));
    const zone = [0, 1, 2, 3].map((k) => addNodeChange({ index: 100 + k, zone: 'z9', capacities: [1, 1] }));
    const after = computeLayout(before, zone);
    const moved = diffLayouts(before, after).movedFraction;
    const share = [0, 1, 2, 3].reduce((sum, k) => sum + sharesOfNode(after, `n0${100 + k}`).feasible, 0);
    assert.ok(Math.abs(share - 0.25) < 1e-9);
    assert.ok(moved <= 1.4 * share, `moved ${moved}, new zone's share ${share}`);
  });

  test('computeLayout - removing or draining one node of 30 moves at most 1.15 × its own share', () => {
    const before = build(30, 3, 4, (n) => 1 + (n % 3));
    const own = sharesOfNode(before, 'n0007').actual;
    for (const kind of ['removeNode', 'drainNode'] as const) {
      const after = computeLayout(before, [{ kind, nodeId: 'n0007' }]);
      const moved = diffLayouts(before, after).movedFraction;
      assert.ok(moved >= own && moved <= 1.15 * own, `${kind}: moved ${moved}, own share ${own}`);
      assert.ok(!partitionTargetsAll(after).some((id) => id.startsWith('n0007')), `${kind}: the node holds no slot`);
    }
  });

  test('computeLayout - a drained node then removed moves nothing more and leaves the next epoch', () => {
    const drained = computeLayout(build(9, 3, 2), [{ kind: 'drainNode', nodeId: 'n0004' }]);
    assert.equal(drained.nodes.find((n) => n.id === 'n0004')?.state, 'draining');
    const removed = computeLayout(drained, [{ kind: 'removeNode', nodeId: 'n0004' }]);
    assert.equal(diffLayouts(drained, removed).slotsMoved, 0);
    assert.equal(removed.nodes.find((n) => n.id === 'n0004')?.state, 'removed');
    const later = computeLayout(removed, []);
    assert.equal(later.nodes.find((n) => n.id === 'n0004'), undefined);
    assert.equal(later.targets.filter((t) => t.nodeId === 'n0004').length, 0);
  });

  test('computeLayout - a replaced drive’s slots all go to its replacement and nothing else moves', () => {
    const before = build(9, 3, 2);
    const after = computeLayout(before, [{ kind: 'replaceDrive', oldTargetId: 'n0002d01', drive: { id: 'n0002d99', capacity: 1 } }]);
    const diff = diffLayouts(before, after);
    const old = diff.targets.find((t) => t.targetId === 'n0002d01');
    const fresh = diff.targets.find((t) => t.targetId === 'n0002d99');
    assert.ok(old && fresh && old.slotsBefore > 0);
    assert.equal(diff.slotsMoved, old.slotsBefore);
    assert.equal(fresh.slotsIn, old.slotsBefore);
  });

  test('computeLayout - a larger capacity takes a larger share', () => {
    const before = build(30, 3, 2);
    const after = computeLayout(before, [{ kind: 'setCapacity', targetId: 'n0000d00', capacity: 1.5 }]);
    const share = (l: Layout) => targetShares(l).get('n0000d00')?.actual as number;
    assert.ok(share(after) > share(before) * 1.4, `${share(after)} vs ${share(before)}`);
  });

  test('computeLayout - the width shrinks to the drives there are', () => {
    const one = computeLayout(emptyLayout({ partitionCount: 64 }), [addNodeChange({ index: 0, zone: 'a', capacities: [1, 1, 1, 1] })]);
    assert.equal(one.width, 4);
    for (let p = 0; p < 64; p++) assert.equal(new Set(partitionTargets(one, p)).size, 4);
    const grown = computeLayout(one, [addNodeChange({ index: 1, zone: 'a', capacities: new Array(10).fill(1) })]);
    assert.equal(grown.width, 12);
  });

  test('computeLayout - a zone with too few drives for its rounds still gets distinct targets, and draining all leaves no width', () => {
    const lopsided = computeLayout(emptyLayout({ partitionCount: 256 }), [
      addNodeChange({ index: 0, zone: 'a', capacities: new Array<number>(10).fill(1) }),
      addNodeChange({ index: 1, zone: 'b', capacities: [1] }),
    ]);
    assert.equal(lopsided.width, 11);
    for (let p = 0; p < 256; p++) assert.equal(new Set(partitionTargets(lopsided, p)).size, 11);
    const drained = computeLayout(lopsided, [{ kind: 'drainNode', nodeId: 'n0000' }, { kind: 'drainNode', nodeId: 'n0001' }]);
    assert.equal(drained.width, 0);
    assert.throws(() => targetsFor(drained, 'f00dfeedf00dfeedf00dfeedf00dfeed', 1), RangeError);
  });

  test('computeLayout - RangeError for a change that names an unknown node, a taken id or a bad capacity', () => {
    const layout = build(3, 3, 1);
    assert.throws(() => computeLayout(layout, [{ kind: 'removeNode', nodeId: 'nope' }]), RangeError);
    assert.throws(() => computeLayout(layout, [addNodeChange({ index: 0, zone: 'z0', capacities: [1] })]), RangeError);
    assert.throws(() => computeLayout(layout, [{ kind: 'setCapacity', targetId: 'n0000d00', capacity: -1 }]), RangeError);
    assert.throws(() => computeLayout(layout, [{ kind: 'addDrive', nodeId: 'n0000', drive: { id: 'n0001d00', capacity: 1 } }]), RangeError);
    assert.throws(() => emptyLayout({ partitionCount: 1000 }), RangeError);
  });

  test('diffLayouts - a shard index whose target moves to another position of the same list counts as moved', () => {
    const layout = build(6, 3, 1);
    const swapped = new Uint32Array(layout.assignment);
    [swapped[0], swapped[3]] = [swapped[3] as number, swapped[0] as number];
    const diff = diffLayouts(layout, { ...layout, epoch: 2, assignment: swapped }, { bytesPerSlot: 10 });
    assert.equal(diff.slotsMoved, 2);
    assert.equal(diff.partitionsMoved, 1);
    assert.deepEqual(diff.movedByPosition.slice(0, 4), [1, 0, 0, 1]);
    assert.equal(diff.targets.reduce((sum, t) => sum + t.bytesIn, 0), 20);
  });
});

function partitionTargetsAll(layout: Layout): string[] {
  return Array.from(layout.assignment, (t) => (layout.targets[t] as LayoutTarget).id);
}
