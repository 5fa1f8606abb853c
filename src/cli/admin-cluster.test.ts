import { test } from 'node:test';
import assert from 'node:assert/strict';
import { clusterStatusText, describeChange, formatBytes, formatDuration } from './admin-cluster.js';

test('describeChange - one sentence per staged change kind', () => {
  assert.equal(describeChange({ kind: 'addNode', node: { id: 'n4', address: '10.0.0.4:3900', zone: 'z1' }, drives: [{ id: 'd1', capacity: 8 }] }), 'assign node n4 in zone z1 at 10.0.0.4:3900 with 1 drive: d1 (capacity 8)');
  assert.equal(describeChange({ kind: 'replaceDrive', oldTargetId: 'd1', drive: { id: 'd9', capacity: 8 } }), 'replace drive d1 with d9 (capacity 8)');
  assert.equal(describeChange({ kind: 'drainNode', nodeId: 'n2' }), 'drain node n2 (decommission: its data moves away)');
});

test('formatBytes and formatDuration - readable units', () => {
  assert.equal(formatBytes(512), '512 B');
  assert.equal(formatBytes(3 * 1024 * 1024 + 512 * 1024), '3.5 MiB');
  assert.equal(formatDuration(7), '7s');
  assert.equal(formatDuration(245), '4m 05s');
  assert.equal(formatDuration(3 * 3600 + 120), '3h 02m');
});

test('clusterStatusText - a running rebalance shows progress, rate and ETA', () => {
  const text = clusterStatusText({
    epoch: 3,
    stagedChanges: 0,
    nodes: [{ id: 'n1', zone: 'z1', address: '10.0.0.1:3900', state: 'down', drives: [{ id: 'd1', capacity: 1, state: 'suspect' }] }],
    partitions: { total: 8, healthy: 2, degraded: 6, unreadable: 0, width: 6, readQuorum: 4 },
    rebalance: { settledEpoch: 2, toEpoch: 3, state: 'running', blocksChecked: 10, blocksTotal: 40, blocksMoved: 5, shardsMoved: 6, bytesMoved: 2 * 1024 * 1024, shardsFailed: 0, shardsBlocked: 0, blocksBlocked: 0, startedAtMs: 0, updatedAtMs: 10_000, blocksRemaining: 30, bytesPerSec: 209_715.2, blocksPerSec: 1, etaSeconds: 30 },
  });
  assert.match(text, /^n1 +z1 +10\.0\.0\.1:3900 +down +0\/1 ok$/m);
  assert.match(text, /^0 up, 1 down, 0 draining$/m);
  assert.match(text, /^partitions: 8 \(first 6 targets, 4 needed to read\): 2 healthy, 6 degraded, 0 unreadable$/m);
  assert.match(text, /^rebalance: epoch 2 → 3, 10\/40 blocks checked \(30 remaining\), 5 blocks, 6 shards, 2\.0 MiB moved, 204\.8 KiB\/s, ETA 30s$/m);
});

test('clusterStatusText - an idle rebalance that has not settled the newest epoch says it will walk again, not that blocks are placed', () => {
  const base = { epoch: 2, stagedChanges: 0, nodes: [], partitions: { total: 8, healthy: 8, degraded: 0, unreadable: 0, width: 6, readQuorum: 4 } };
  const progress = { toEpoch: 2, state: 'idle' as const, blocksChecked: 40, blocksTotal: 40, blocksMoved: 5, shardsMoved: 5, bytesMoved: 1024, shardsFailed: 0, shardsBlocked: 0, blocksBlocked: 0, startedAtMs: 0, updatedAtMs: 10_000, finishedAtMs: 10_000, blocksRemaining: 0, bytesPerSec: 0, blocksPerSec: 0, etaSeconds: 0 };
  const waiting = clusterStatusText({ ...base, rebalance: { ...progress, settledEpoch: 1 } });
  assert.match(waiting, /^rebalance: epoch 1 → 2, walked once, walks again before epoch 2 is settled; 5 blocks, 5 shards, 1\.0 KiB moved$/m);
  const settled = clusterStatusText({ ...base, rebalance: { ...progress, settledEpoch: 2 } });
  assert.match(settled, /^rebalance: idle, every block is placed by epoch 2; last pass 5 blocks, 5 shards, 1\.0 KiB moved$/m);
});

test('clusterStatusText - a rebalance that left shards on a draining node it cannot move says blocked, not that blocks are placed', () => {
  const nodes = [{ id: 'node6', zone: 'z3', address: '10.0.0.6:3900', state: 'draining' as const, drives: [{ id: 'd6', capacity: 1, state: 'ok' as const }] }];
  const text = clusterStatusText({
    epoch: 2,
    stagedChanges: 0,
    nodes,
    partitions: { total: 8, healthy: 8, degraded: 0, unreadable: 0, width: 5, readQuorum: 3 },
    rebalance: { settledEpoch: 2, toEpoch: 2, state: 'idle', blocksChecked: 40, blocksTotal: 40, blocksMoved: 0, shardsMoved: 0, bytesMoved: 0, shardsFailed: 0, shardsBlocked: 40, blocksBlocked: 40, startedAtMs: 0, updatedAtMs: 10_000, finishedAtMs: 10_000, blocksRemaining: 0, bytesPerSec: 0, blocksPerSec: 0, etaSeconds: 0 },
  });
  assert.match(text, /^rebalance: blocked: 40 shards of 40 blocks cannot leave draining node node6: epoch 2 lists fewer targets per partition than those blocks have shards\. Assign a node/m);
  assert.doesNotMatch(text, /every block is placed/);
});
