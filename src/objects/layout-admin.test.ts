// The staged layout over a real SQLite MetaStore: stage (validated first), revert, preview, apply with the
// expected epoch as one conditional commit.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { computeLayout, emptyLayout, encodeLayout, type Layout } from '../cluster/index.js';
import { addNodeChange, clusterChanges } from '../cluster/test-helpers.js';
import { SqliteMetaStore } from '../meta/sqlite/sqlite-store.js';
import type { MetaStore } from '../meta/types.js';
import { isStoreError } from '../util/errors.js';
import { keys } from './keys.js';
import { encodeRecord } from './records.js';
import { applyStaged, currentLayout, parseLayoutChange, readLayoutState, readStaged, revertStaged, stageChange, stagedSettingName } from './layout-admin.js';

/** A MetaStore holding epoch 1 over three nodes in three zones (256 partitions, to keep tests fast). */
async function withCluster(fn: (meta: MetaStore, first: Layout) => Promise<void>, shape = { count: 3, zones: 3, drives: 2 }): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'tessera-layout-admin-'));
  const meta = await SqliteMetaStore.open(join(dir, 'meta.db'));
  try {
    const first = computeLayout(emptyLayout({ partitionCount: 256 }), clusterChanges(shape));
    assert.ok(await meta.commit({ checks: [], writes: [{ key: keys.layout(1), value: encodeLayout(first) }] }));
    await fn(meta, first);
  } finally {
    await meta.close();
    await rm(dir, { recursive: true, force: true });
  }
}

const fourth = addNodeChange({ index: 3, zone: 'z0', capacities: [1, 1] });

test('stageChange - stores a valid change and previews the slots it moves', async () => {
  await withCluster(async (meta) => {
    const state = await stageChange(meta, fourth);
    assert.equal(state.current.epoch, 1);
    assert.deepEqual(state.staged, { baseEpoch: 1, changes: [fourth] });
    assert.equal(state.preview?.next.epoch, 2);
    assert.ok(state.preview.diff.slotsMoved > 0);
    assert.ok(state.preview.diff.movedFraction > 0 && state.preview.diff.movedFraction < 0.5);
    const gained = state.preview.diff.targets.filter((t) => t.targetId.startsWith('n0003')).reduce((s, t) => s + t.slotsIn, 0);
    assert.ok(gained >= 0.9 * state.preview.diff.slotsMoved, `most moved slots go to the new node (${gained} of ${state.preview.diff.slotsMoved})`);
    assert.deepEqual((await readStaged(meta)).staged?.changes, [fourth]);
    assert.equal((await currentLayout(meta)).epoch, 1, 'staging stores no epoch');
  });
});

test('stageChange - refuses a change that cannot apply with a clear message and stages nothing', async () => {
  await withCluster(async (meta) => {
    await stageChange(meta, fourth);
    await assert.rejects(stageChange(meta, { kind: 'removeNode', nodeId: 'nope' }), { name: 'RangeError', message: 'Cannot remove node "nope": not in the layout' });
    await assert.rejects(stageChange(meta, fourth), { name: 'RangeError', message: 'Cannot add node "n0003": the id is taken' });
    await assert.rejects(stageChange(meta, { kind: 'setCapacity', targetId: 'n0000d00', capacity: -1 }), /capacity "-1"/);
    assert.equal((await readStaged(meta)).staged?.changes.length, 1, 'only the good change is staged');
  });
});

test('stageChange - refuses to leave no drive taking shards', async () => {
  await withCluster(async (meta) => {
    for (const id of ['n0000', 'n0001']) await stageChange(meta, { kind: 'drainNode', nodeId: id });
    await assert.rejects(stageChange(meta, { kind: 'drainNode', nodeId: 'n0002' }), /no drive would take shards/);
  });
});

test('stageChange - stages the first node of an empty MetaStore against epoch 0', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'tessera-layout-admin-'));
  const meta = await SqliteMetaStore.open(join(dir, 'meta.db'));
  try {
    const state = await stageChange(meta, fourth);
    assert.equal(state.current.epoch, 0);
    assert.equal(state.preview?.next.epoch, 1);
    assert.equal((await applyStaged(meta, 1)).layout.nodes[0]?.id, 'n0003');
  } finally {
    await meta.close();
    await rm(dir, { recursive: true, force: true });
  }
});

test('revertStaged - drops every staged change', async () => {
  await withCluster(async (meta) => {
    await stageChange(meta, fourth);
    await stageChange(meta, { kind: 'setCapacity', targetId: 'n0000d00', capacity: 3 });
    assert.equal(await revertStaged(meta), 2);
    assert.equal((await readStaged(meta)).stored, null);
    assert.equal(await revertStaged(meta), 0);
  });
});

test('applyStaged - refuses any epoch but current + 1 and changes nothing', async () => {
  await withCluster(async (meta) => {
    await stageChange(meta, fourth);
    for (const epoch of [1, 3]) {
      await assert.rejects(applyStaged(meta, epoch), (err) => isStoreError(err, 'ERR_META_CONFLICT') && /the current epoch is 1, so the next is 2/.test(err.message));
    }
    await assert.rejects(applyStaged(meta, 0), RangeError);
    assert.equal((await currentLayout(meta)).epoch, 1);
    assert.equal((await readStaged(meta)).staged?.changes.length, 1);
  });
});

test('applyStaged - stores the previewed layout as the next epoch and clears the staged changes', async () => {
  await withCluster(async (meta) => {
    const { preview } = await stageChange(meta, fourth);
    const { layout, diff } = await applyStaged(meta, 2);
    assert.equal(layout.epoch, 2);
    assert.deepEqual(Buffer.from(layout.assignment.buffer), Buffer.from(preview!.next.assignment.buffer), 'what was previewed is what is applied');
    assert.equal(diff.slotsMoved, preview!.diff.slotsMoved);
    assert.equal((await currentLayout(meta)).nodes.length, 4);
    assert.equal(await meta.get(keys.setting(stagedSettingName)), null);
    await assert.rejects(applyStaged(meta, 3), /no layout changes are staged/);
  });
});

test('applyStaged - of two concurrent applies one stores the epoch and the other fails with nothing written', async () => {
  await withCluster(async (meta) => {
    await stageChange(meta, fourth);
    const results = await Promise.allSettled([applyStaged(meta, 2), applyStaged(meta, 2)]);
    assert.equal(results.filter((r) => r.status === 'fulfilled').length, 1);
    const lost = results.find((r) => r.status === 'rejected');
    assert.ok(lost && isStoreError(lost.reason, 'ERR_META_CONFLICT'), String(lost?.status === 'rejected' ? lost.reason : 'no loser'));
    assert.equal((await currentLayout(meta)).epoch, 2);
  });
});

test('readLayoutState - says why staged changes no longer apply once the epoch changed under them', async () => {
  await withCluster(async (meta, first) => {
    await stageChange(meta, { kind: 'drainNode', nodeId: 'n0002' });
    const removed = computeLayout(first, [{ kind: 'removeNode', nodeId: 'n0002' }, addNodeChange({ index: 4, zone: 'z2', capacities: [1] })]);
    assert.ok(await meta.commit({ checks: [], writes: [{ key: keys.layout(2), value: encodeLayout(removed) }] }));
    const state = await readLayoutState(meta);
    assert.equal(state.current.epoch, 2);
    assert.equal(state.preview, undefined);
    assert.match(state.previewError ?? '', /Cannot drain node "n0002"/);
    await assert.rejects(applyStaged(meta, 3), /Cannot drain node "n0002"/);
  });
});

test('readLayoutState - warns when a node is removed without being drained', async () => {
  await withCluster(async (meta) => {
    await stageChange(meta, fourth);
    await stageChange(meta, { kind: 'removeNode', nodeId: 'n0001' });
    const state = await readLayoutState(meta);
    assert.match(state.preview?.warnings.join('\n') ?? '', /"n0001" is removed without being drained/);
  });
});

test('applyStaged - refuses a drain that leaves fewer nodes than RS 4+2 needs, saying why and what to do, and stores nothing', async () => {
  await withCluster(async (meta) => {
    const { preview } = await stageChange(meta, { kind: 'drainNode', nodeId: 'n0005' });
    assert.equal(preview?.next.width, 5);
    assert.equal(preview?.problems.length, 1, 'the preview (layout show, diff) reports it');
    assert.match(preview!.problems[0]!, /Epoch 2 would list 5 targets per partition, but blocks of RS 4\+2 need 6: the rebalance could not move them off the nodes leaving the layout .* Add a node \(or drive\) first .* or lower the redundancy/);
    await assert.rejects(applyStaged(meta, 2), (err) => isStoreError(err, 'ERR_LAYOUT_UNSAFE') && /^Cannot apply epoch 2: Epoch 2 would list 5 targets .* To apply it anyway, pass --force$/.test(err.message));
    assert.equal((await currentLayout(meta)).epoch, 1);
    assert.equal((await readStaged(meta)).staged?.changes.length, 1, 'the staged changes stay');
    const forced = await applyStaged(meta, 2, { force: true });
    assert.equal(forced.layout.epoch, 2);
    assert.match(forced.warnings.join('\n'), /^Applied with --force although: Epoch 2 would list 5 targets/);
  }, { count: 6, zones: 3, drives: 1 });
});

test('applyStaged - refuses a drain that leaves fewer failure domains than shards even when drives are enough', async () => {
  await withCluster(async (meta) => {
    const { preview } = await stageChange(meta, { kind: 'removeNode', nodeId: 'n0000' });
    assert.equal(preview?.next.width, 10, 'five nodes of two drives still list ten targets');
    assert.match(preview?.problems[0] ?? '', /Epoch 2 would have 5 failure domains \(nodes\) for blocks of RS 4\+2, which spread over 6: a node would hold two shards of some blocks, so losing 2 nodes could lose data/);
    await assert.rejects(applyStaged(meta, 2), (err) => isStoreError(err, 'ERR_LAYOUT_UNSAFE'));
  }, { count: 6, zones: 3, drives: 2 });
});

test('applyStaged - a drain that leaves as many nodes as the widest redundancy is applied without a problem', async () => {
  await withCluster(async (meta) => {
    // A storage class wider than the default counts too: RS 5+2 needs 7 nodes, and 6 would be left.
    const { preview: wider } = await stageChange(meta, { kind: 'drainNode', nodeId: 'n0006' }, { redundancies: [{ kind: 'rs', data: 5, parity: 2 }] });
    assert.match(wider?.problems[0] ?? '', /blocks of RS 5\+2 need 7: .* \(--storage-classes\)$/);
    // With the default alone (RS 4+2), six nodes are enough.
    assert.deepEqual((await readLayoutState(meta)).preview?.problems, []);
    assert.deepEqual((await applyStaged(meta, 2)).warnings, []);
  }, { count: 7, zones: 3, drives: 1 });
});

test('applyStaged - a change that keeps the width and nodes (a drained node removed) is applied without a problem', async () => {
  await withCluster(async (meta) => {
    await stageChange(meta, { kind: 'drainNode', nodeId: 'n0005' });
    await applyStaged(meta, 2, { force: true });
    const { preview } = await stageChange(meta, { kind: 'removeNode', nodeId: 'n0005' });
    assert.deepEqual(preview?.problems, [], 'no worse than the epoch the operator forced');
    assert.equal((await applyStaged(meta, 3)).layout.epoch, 3);
  }, { count: 6, zones: 3, drives: 1 });
});

test('applyStaged - refuses to remove a draining node while the rebalance reports shards it could not move off it', async () => {
  await withCluster(async (meta) => {
    await stageChange(meta, { kind: 'drainNode', nodeId: 'n0005' });
    await applyStaged(meta, 2, { force: true });
    // What the rebalance stores once its walk towards epoch 2 found the drained node's shards blocked.
    const progress = { settledEpoch: 2, toEpoch: 2, state: 'idle', blocksChecked: 3, blocksTotal: 3, blocksMoved: 0, shardsMoved: 0, bytesMoved: 0, shardsFailed: 0, shardsBlocked: 3, blocksBlocked: 3, startedAtMs: 0, updatedAtMs: 0, cursor: '', epochSinceMs: 0 };
    assert.ok(await meta.commit({ checks: [], writes: [{ key: keys.setting('rebalance'), value: encodeRecord(progress) }] }));
    const { preview } = await stageChange(meta, { kind: 'removeNode', nodeId: 'n0005' });
    assert.match(preview?.problems[0] ?? '', /^Node "n0005" still holds shards the rebalance could not move \(3 blocked: epoch 2 is narrower than their blocks\); removing it gives those shards up/);
    await assert.rejects(applyStaged(meta, 3), (err) => isStoreError(err, 'ERR_LAYOUT_UNSAFE'));
  }, { count: 6, zones: 3, drives: 1 });
});

test('parseLayoutChange - refuses malformed changes with RangeError naming the field', () => {
  assert.deepEqual(parseLayoutChange({ kind: 'drainNode', nodeId: 'a', extra: 1 }), { kind: 'drainNode', nodeId: 'a' });
  assert.throws(() => parseLayoutChange(null), /the change must be an object/);
  assert.throws(() => parseLayoutChange({ kind: 'explode' }), /kind "explode"/);
  assert.throws(() => parseLayoutChange({ kind: 'addNode', node: 'x', drives: [] }), /node must be an object/);
  assert.throws(() => parseLayoutChange({ kind: 'addNode', node: { id: 'a', address: 'h:1', zone: 'z' }, drives: [{ id: 'd' }] }), /drives\[0\]\.capacity must be a finite number/);
  assert.throws(() => parseLayoutChange({ kind: 'setCapacity', targetId: 'd', capacity: 'big' }), /capacity must be a finite number/);
  assert.throws(() => parseLayoutChange({ kind: 'removeNode' }), /nodeId must be a string/);
});
