// Cluster status from a layout, the block store's drive states and stored rebalance progress.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { computeLayout, emptyLayout, encodeLayout } from '../cluster/index.js';
import { SqliteMetaStore } from '../meta/sqlite/sqlite-store.js';
import { keys } from '../objects/keys.js';
import { stageChange } from '../objects/layout-admin.js';
import { clusterChanges } from '../cluster/test-helpers.js';
import type { DriveStatus } from '../blocks/types.js';
import { clusterStatus, readClusterStatus, rebalanceStatus } from './cluster-status.js';
import type { RebalanceProgress } from '../objects/rebalance.js';

// Six nodes in three zones, one drive each: a 4+2 block puts one shard on every node.
const layout = computeLayout(emptyLayout({ partitionCount: 64 }), clusterChanges({ count: 6, zones: 3, drives: 1 }));
const rs42 = { kind: 'rs', data: 4, parity: 2 } as const;

function drives(states: Record<string, DriveStatus['state']>): DriveStatus[] {
  return layout.targets.map((t) => ({ id: t.id, path: '', state: states[t.nodeId] ?? 'ok', shardFiles: 0, bytes: 0, corruptFound: 0 }));
}

test('clusterStatus - every partition is healthy when every drive is up', () => {
  const s = clusterStatus({ layout, drives: drives({}), redundancy: rs42, stagedChanges: 0, rebalance: undefined });
  assert.deepEqual(s.partitions, { total: 64, healthy: 64, degraded: 0, unreadable: 0, width: 6, readQuorum: 4 });
  assert.deepEqual(s.nodes.map((n) => n.state), ['up', 'up', 'up', 'up', 'up', 'up']);
  assert.equal(s.rebalance, null);
});

test('clusterStatus - a node whose drives are suspect or missing is down, and partitions count as degraded then unreadable', () => {
  const two = clusterStatus({ layout, drives: drives({ n0000: 'suspect', n0001: 'missing' }), redundancy: rs42, stagedChanges: 0, rebalance: undefined });
  assert.deepEqual(two.nodes.filter((n) => n.state === 'down').map((n) => n.id), ['n0000', 'n0001']);
  assert.deepEqual([two.partitions.healthy, two.partitions.degraded, two.partitions.unreadable], [0, 64, 0], 'every partition lists all six nodes: two down is degraded');
  const three = clusterStatus({ layout, drives: drives({ n0000: 'suspect', n0001: 'missing', n0002: 'missing' }), redundancy: rs42, stagedChanges: 0, rebalance: undefined });
  assert.equal(three.partitions.unreadable, 64);
  const unknown = clusterStatus({ layout, drives: [], redundancy: rs42, stagedChanges: 0, rebalance: undefined });
  assert.ok(unknown.nodes.every((n) => n.state === 'down' && n.drives.every((d) => d.state === 'missing')), 'a drive the block store does not know is missing');
});

test('clusterStatus - a draining node is draining while it answers and down when it does not', () => {
  const drained = computeLayout(layout, [{ kind: 'drainNode', nodeId: 'n0005' }]);
  const up = clusterStatus({ layout: drained, drives: drives({}), redundancy: { kind: 'replicate', copies: 2 }, stagedChanges: 1, rebalance: undefined });
  assert.equal(up.nodes.find((n) => n.id === 'n0005')?.state, 'draining');
  assert.equal(up.partitions.width, 2);
  assert.equal(up.stagedChanges, 1);
  const down = clusterStatus({ layout: drained, drives: drives({ n0005: 'missing' }), redundancy: rs42, stagedChanges: 0, rebalance: undefined });
  assert.equal(down.nodes.find((n) => n.id === 'n0005')?.state, 'down');
  assert.equal(down.partitions.width, 5, 'the layout lists only five targets once a node drains');
});

test('rebalanceStatus - rate over the pass so far and the ETA of what remains', () => {
  const progress: RebalanceProgress = { settledEpoch: 1, toEpoch: 2, state: 'running', blocksChecked: 100, blocksTotal: 400, blocksMoved: 20, shardsMoved: 30, bytesMoved: 50_000_000, shardsFailed: 0, shardsBlocked: 0, blocksBlocked: 0, startedAtMs: 1_000_000, updatedAtMs: 1_010_000 };
  const s = rebalanceStatus(progress);
  assert.equal(s.blocksRemaining, 300);
  assert.equal(s.blocksPerSec, 10);
  assert.equal(s.bytesPerSec, 5_000_000);
  assert.equal(s.etaSeconds, 30);
  assert.equal(rebalanceStatus({ ...progress, updatedAtMs: progress.startedAtMs }).etaSeconds, null, 'no rate yet');
  assert.equal(rebalanceStatus({ ...progress, state: 'idle', blocksChecked: 400, finishedAtMs: 1_020_000 }).etaSeconds, 0);
});

test('readClusterStatus - reads the newest epoch, the staged changes and the stored rebalance progress', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'tessera-cluster-status-'));
  const meta = await SqliteMetaStore.open(join(dir, 'meta.db'));
  try {
    const progress: RebalanceProgress = { settledEpoch: 0, toEpoch: 1, state: 'running', blocksChecked: 5, blocksTotal: 10, blocksMoved: 5, shardsMoved: 30, bytesMoved: 1000, shardsFailed: 1, shardsBlocked: 0, blocksBlocked: 0, startedAtMs: 0, updatedAtMs: 5000 };
    assert.ok(await meta.commit({ checks: [], writes: [{ key: keys.layout(1), value: encodeLayout(layout) }, { key: keys.setting('rebalance'), value: Buffer.from(JSON.stringify(progress)) }] }));
    await stageChange(meta, { kind: 'drainNode', nodeId: 'n0001' });
    const s = await readClusterStatus({ meta, defaultRedundancy: rs42 }, drives({ n0002: 'missing' }));
    assert.equal(s.epoch, 1);
    assert.equal(s.stagedChanges, 1);
    assert.equal(s.nodes.find((n) => n.id === 'n0002')?.state, 'down');
    assert.deepEqual([s.partitions.healthy, s.partitions.degraded], [0, 64]);
    assert.deepEqual([s.rebalance?.blocksRemaining, s.rebalance?.bytesPerSec, s.rebalance?.etaSeconds], [5, 200, 5]);
  } finally {
    await meta.close();
    await rm(dir, { recursive: true, force: true });
  }
});
