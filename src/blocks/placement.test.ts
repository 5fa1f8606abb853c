import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { newBlockId } from './ids.js';
import { placeShards, rebalanceTargets, type PlacementLayout, type PlacementTarget } from './placement.js';

function targets(count: number, options: { nodes?: number; zones?: number } = {}): PlacementTarget[] {
  return Array.from({ length: count }, (_, i) => ({
    id: `t${i}`,
    weight: 1,
    zone: `z${i % (options.zones ?? 1)}`,
    node: `n${i % (options.nodes ?? count)}`,
  }));
}

const ids = Array.from({ length: 4000 }, () => newBlockId());

/** Fraction of shards a rebalance from layout a to layout b must move (targets no longer placed). */
function moved(a: PlacementLayout, b: PlacementLayout, count: number): number {
  let changed = 0;
  for (const blockId of ids) {
    const before = placeShards({ blockId, layout: a, count });
    const after = rebalanceTargets(before, placeShards({ blockId, layout: b, count }));
    for (let slot = 0; slot < count; slot++) if (before[slot] !== after[slot]) changed++;
  }
  return changed / (ids.length * count);
}

describe('placeShards', () => {
  test('placeShards - deterministic and distinct for a block id and layout', () => {
    const layout = { epoch: 1, targets: targets(10) };
    for (const blockId of ids.slice(0, 100)) {
      const a = placeShards({ blockId, layout, count: 6 });
      assert.deepEqual(placeShards({ blockId, layout, count: 6 }), a);
      assert.equal(new Set(a).size, 6);
    }
  });

  for (const [n, count] of [[12, 6], [6, 6], [20, 11]] as const) {
    test(`placeShards - adding one target to ${n} moves about 1/${n + 1} of the shards (${count} per block)`, () => {
      const fraction = moved({ epoch: 1, targets: targets(n) }, { epoch: 2, targets: targets(n + 1) }, count);
      const ideal = 1 / (n + 1);
      assert.ok(fraction > ideal * 0.85 && fraction < ideal * 1.15, `moved ${fraction.toFixed(4)}, ideal ${ideal.toFixed(4)}`);
    });
  }

  test('placeShards - removing one target of twelve moves only its own shards', () => {
    const before = { epoch: 1, targets: targets(12) };
    const after = { epoch: 2, targets: targets(12).filter((t) => t.id !== 't5') };
    const fraction = moved(before, after, 6);
    const ideal = 1 / 12;
    assert.ok(fraction > ideal * 0.85 && fraction < ideal * 1.15, `moved ${fraction.toFixed(4)}, ideal ${ideal.toFixed(4)}`);
  });

  test('rebalanceTargets - keeps the index of every target that stays', () => {
    assert.deepEqual(rebalanceTargets(['a', 'b', 'c', 'd'], ['d', 'x', 'a', 'c']), ['a', 'x', 'c', 'd']);
    assert.deepEqual(rebalanceTargets(['a', 'b'], ['a', 'b']), ['a', 'b']);
  });

  test('placeShards - spreads evenly, and by weight', () => {
    const layout = { epoch: 1, targets: targets(6).map((t, i) => ({ ...t, weight: i === 0 ? 2 : 1 })) };
    const counts = new Map<string, number>();
    for (const blockId of ids) {
      const [first] = placeShards({ blockId, layout, count: 1 });
      counts.set(first as string, (counts.get(first as string) ?? 0) + 1);
    }
    const share = (id: string) => (counts.get(id) ?? 0) / ids.length;
    assert.ok(Math.abs(share('t0') - 2 / 7) < 0.03, `t0 share ${share('t0')}`);
    for (const id of ['t1', 't2', 't3', 't4', 't5']) assert.ok(Math.abs(share(id) - 1 / 7) < 0.03, `${id} share ${share(id)}`);
  });

  test('placeShards - one shard per zone, then per node, while distinct domains remain', () => {
    // 3 zones × 2 nodes × 2 drives.
    const layout = {
      epoch: 1,
      targets: Array.from({ length: 12 }, (_, i) => ({ id: `t${i}`, weight: 1, zone: `z${i % 3}`, node: `n${i % 6}` })),
    };
    const byId = new Map(layout.targets.map((t) => [t.id, t]));
    for (const blockId of ids.slice(0, 300)) {
      const chosen = placeShards({ blockId, layout, count: 6 }).map((id) => byId.get(id) as PlacementTarget);
      assert.equal(new Set(chosen.slice(0, 3).map((t) => t.zone)).size, 3);
      assert.equal(new Set(chosen.map((t) => t.node)).size, 6);
    }
  });

  test('placeShards - usable targets first, so a down drive gets the last slot or none', () => {
    const layout = { epoch: 1, targets: targets(8) };
    for (const blockId of ids.slice(0, 200)) {
      const chosen = placeShards({ blockId, layout, count: 6, isUsable: (id) => id !== 't3' });
      assert.ok(!chosen.includes('t3'));
    }
    const full = placeShards({ blockId: ids[0] as string, layout: { epoch: 1, targets: targets(6) }, count: 6, isUsable: (id) => id !== 't3' });
    assert.equal(full[5], 't3');
  });

  test('placeShards - RangeError when asked for more shards than targets', () => {
    assert.throws(() => placeShards({ blockId: ids[0] as string, layout: { epoch: 1, targets: targets(3) }, count: 4 }), RangeError);
  });
});
