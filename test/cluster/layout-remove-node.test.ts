// Nodes leaving a running cluster (issue 11, "Rebalance" and "Heal across nodes"). Decommission: a drained
// node holds no shard once the rebalance settles, and after it is removed and killed, every object reads
// exactly with two more nodes down. A node lost for good: removed, a new one assigned in its place, the
// rebalance rebuilds its shards there from the survivors, proved by reading everything with two others down.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { CreateBucketCommand, type S3Client } from '@aws-sdk/client-s3';
import { startCluster, type Cluster } from '../helpers/cluster.js';
import { admin, applyNext, assertEveryShardOnce, countByNode, mapShards, startExtraNode, waitSettled, type ExtraNode } from './layout-ops.js';
import { assertReadsBack, KiB, MiB, putObject, type Acked } from './workload.js';

const bucket = 'shrink';
/** Fast moves: these tests check where shards end up, not reads during the move. */
const fastRebalance = { TESSERA_REBALANCE_RATE: '1000', TESSERA_REBALANCE_BANDWIDTH: '0' };

async function fill(s3: S3Client): Promise<Acked[]> {
  await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  const acked: Acked[] = [];
  for (let i = 0; i < 6; i++) acked.push(await putObject(s3, bucket, `small/${i}`, 4 * KiB));
  for (let i = 0; i < 10; i++) acked.push(await putObject(s3, bucket, `mid/${i}`, MiB));
  for (let i = 0; i < 2; i++) acked.push(await putObject(s3, bucket, `big/${i}`, 8 * MiB));
  acked.push(await putObject(s3, bucket, 'multi/0', 11 * MiB, true));
  return acked;
}

async function readAll(s3: S3Client, objects: Acked[]): Promise<void> {
  for (const o of objects) await assertReadsBack(s3, bucket, o);
}

async function withCluster(t: import('node:test').TestContext, nodes: number, body: (cluster: Cluster, s3: S3Client) => Promise<void>): Promise<void> {
  const cluster = await startCluster({ nodes, env: fastRebalance });
  const s3 = cluster.client();
  t.after(async () => {
    s3.destroy();
    await cluster.stop();
  });
  try {
    await body(cluster, s3);
  } catch (err) {
    t.diagnostic(cluster.logs());
    throw err;
  }
}

test('decommission - a drained node ends with no shard, and once removed and killed everything reads with two more nodes down', { timeout: 180_000 }, async (t) => {
  // Seven nodes at RS 4+2: six remain, enough for the width of every block.
  await withCluster(t, 7, async (cluster, s3) => {
    const objects = await fill(s3);
    const before = await mapShards(cluster);
    assert.ok((countByNode(before).node7 ?? 0) > 0, 'node7 holds shards before the drain');

    await admin(cluster, ['layout', 'drain', 'node7']);
    const drained = await applyNext(cluster);
    const settled = await waitSettled(cluster, drained, 120_000);
    t.diagnostic(`drain: ${JSON.stringify(settled.rebalance)}`);
    const after = await mapShards(cluster);
    t.diagnostic(`shards before ${JSON.stringify(countByNode(before))}, after ${JSON.stringify(countByNode(after))}`);
    assert.equal(countByNode(after).node7 ?? 0, 0, 'the drained node still holds shards');
    assertEveryShardOnce(before, after);
    await readAll(s3, objects);

    await admin(cluster, ['layout', 'remove', 'node7']);
    const removed = await applyNext(cluster);
    await waitSettled(cluster, removed, 60_000);
    await cluster.kill9('node7');
    await cluster.kill9('node1');
    await cluster.kill9('node2');
    await readAll(s3, objects);
  });
});

test('lost node - removed, replaced by a new node, its shards rebuilt there: everything reads with two other nodes down', { timeout: 180_000 }, async (t) => {
  let node7: ExtraNode | undefined;
  t.after(() => node7?.stop());
  await withCluster(t, 6, async (cluster, s3) => {
    const objects = await fill(s3);
    const before = await mapShards(cluster);
    const lost = countByNode(before).node6 ?? 0;
    assert.ok(lost > 0, 'node6 holds shards');

    // Gone for good: the process and its drive.
    await cluster.kill9('node6');
    await rm(cluster.process('node6').drives![0]!, { recursive: true, force: true });
    node7 = await startExtraNode(cluster, 'node7');
    await admin(cluster, ['layout', 'remove', 'node6']);
    await admin(cluster, ['layout', 'assign', 'node7', '--address', node7.address, '--zone', 'zone-3']);
    const epoch = await applyNext(cluster);
    const settled = await waitSettled(cluster, epoch, 120_000);
    t.diagnostic(`replace: ${JSON.stringify(settled.rebalance)}`);
    const after = await mapShards(cluster);
    t.diagnostic(`shards before ${JSON.stringify(countByNode(before))}, after ${JSON.stringify(countByNode(after))}`);
    assert.equal(countByNode(after).node7, lost, 'node7 holds as many shards as node6 did');
    assert.equal(after.size, before.size, 'every shard exists once');
    assertEveryShardOnce(new Map([...before].filter(([, p]) => !p[0]!.startsWith('node6/'))), after);
    // Its drive is listed as removed from the layout, not as a missing drive awaiting repair.
    const status = await admin(cluster, ['status']);
    assert.match(status, /^\S+\s+removed\s.*node6/m, status);
    assert.match(status, /0 missing, .*1 removed from the layout/, status);

    await cluster.kill9('node1');
    await cluster.kill9('node2');
    await readAll(s3, objects);
  });
});
