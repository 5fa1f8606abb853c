import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { computeLayout, emptyLayout } from '../cluster/index.js';
import { RemoteShardTargets } from './remote-targets.js';
import type { RemoteShardStore } from './remote-shard-store.js';

const drive = (n: number) => n.toString(16).padStart(16, '0');
const addNode = (id: string, port: number, drives: number[]) => ({
  kind: 'addNode' as const,
  node: { id, address: `127.0.0.1:${port}`, zone: id },
  drives: drives.map((d) => ({ id: drive(d), capacity: 1 })),
});

test('RemoteShardTargets - a store per drive of every epoch, new nodes on update, a new client when a node moves', () => {
  const first = computeLayout(emptyLayout({ partitionCount: 16 }), [addNode('n1', 7001, [1, 2]), addNode('n2', 7002, [3])]);
  const targets = new RemoteShardTargets({ secret: randomBytes(32), layouts: [first] });
  try {
    assert.deepEqual(targets.slots.map((s) => [s.id, s.name.node, s.where]), [
      [drive(1), 'n1', 'n1 (127.0.0.1:7001)'],
      [drive(2), 'n1', 'n1 (127.0.0.1:7001)'],
      [drive(3), 'n2', 'n2 (127.0.0.1:7002)'],
    ]);
    const n1Store = targets.storeOf(drive(1)) as RemoteShardStore;
    assert.equal(n1Store.node.url.port, '7001');

    // Epoch 2 removes n2 and adds n3: n2's drive stays reachable for blocks of epoch 1.
    const second = computeLayout(first, [{ kind: 'removeNode', nodeId: 'n2' }, addNode('n3', 7003, [4])]);
    targets.update(second);
    assert.deepEqual(targets.slots.map((s) => s.id), [drive(1), drive(2), drive(3), drive(4)]);
    assert.ok(targets.storeOf(drive(3)));
    assert.equal(targets.storeOf(drive(1)), n1Store, 'an unchanged node keeps its client');

    // A node listed at a new address gets a new client for all its drives.
    const moved = { ...second, epoch: 3, nodes: second.nodes.map((n) => (n.id === 'n1' ? { ...n, address: '127.0.0.1:7101' } : n)) };
    targets.update(moved);
    assert.equal((targets.storeOf(drive(2)) as RemoteShardStore).node.url.port, '7101');
    assert.equal(targets.slots.find((s) => s.id === drive(1))?.where, 'n1 (127.0.0.1:7101)');
    assert.equal(targets.storeOf('unknown'), undefined);
  } finally {
    targets.close();
  }
});

test('RemoteShardTargets - a node address the client cannot use is reported and its drives stay unreachable', () => {
  const problems: string[] = [];
  const layout = computeLayout(emptyLayout({ partitionCount: 16 }), [{ ...addNode('n1', 7001, [1]), node: { id: 'n1', address: 'not an address', zone: 'z' } }]);
  const targets = new RemoteShardTargets({ secret: randomBytes(32), layouts: [layout], onProblem: (m) => problems.push(m) });
  try {
    assert.equal(targets.storeOf(drive(1)), undefined);
    assert.equal(problems.length, 1);
    assert.match(problems[0]!, /Cannot reach node "n1"/);
  } finally {
    targets.close();
  }
});
