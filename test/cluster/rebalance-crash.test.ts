// A rebalance survives a crash of the gateway running it (issue 11, "Rebalance": resumable after a crash
// of any process): kill -9 of the gateway part way through a slow move, a restart with its recorded argv,
// and the walk resumes from its stored cursor and settles; every shard lies in one place and reads exactly.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { CreateBucketCommand } from '@aws-sdk/client-s3';
import { startCluster } from '../helpers/cluster.js';
import { admin, assertEveryShardOnce, clusterStatus, countByNode, mapShards, startExtraNode, waitSettled, type ExtraNode } from './layout-ops.js';
import { assertReadsBack, eventually, MiB, putObject, type Acked } from './workload.js';

const bucket = 'crash';

test('rebalance after a gateway crash - kill -9 mid-move, restart, the walk resumes and settles with every shard once', { timeout: 180_000 }, async (t) => {
  const cluster = await startCluster({ nodes: 6, env: { TESSERA_REBALANCE_RATE: '2' } });
  let s3 = cluster.client();
  let node7: ExtraNode | undefined;
  t.after(async () => {
    s3.destroy();
    await node7?.stop();
    await cluster.stop();
  });
  try {
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    const objects: Acked[] = [];
    for (let i = 0; i < 30; i++) objects.push(await putObject(s3, bucket, `mid/${i}`, MiB));
    const before = await mapShards(cluster);

    node7 = await startExtraNode(cluster, 'node7');
    await admin(cluster, ['layout', 'assign', 'node7', '--address', node7.address, '--zone', 'zone-1']);
    await admin(cluster, ['layout', 'apply', '--epoch', '2']);
    // Part way: some blocks moved, the walk not over.
    let atKill = await clusterStatus(cluster);
    for (const deadline = Date.now() + 60_000; (atKill.rebalance?.blocksMoved ?? 0) < 3; await sleep(200)) {
      if (Date.now() > deadline) throw new Error(`The rebalance moved nothing in 60 s: ${JSON.stringify(atKill.rebalance)}`);
      atKill = await clusterStatus(cluster);
    }
    await cluster.kill9('gateway');
    t.diagnostic(`killed the gateway at ${JSON.stringify(atKill.rebalance)}`);
    assert.equal(atKill.rebalance!.state, 'running', 'the walk was still going');

    await cluster.restart('gateway');
    s3.destroy();
    s3 = cluster.client();
    const settled = await eventually(() => waitSettled(cluster, 2, 120_000), 10_000);
    t.diagnostic(`settled: ${JSON.stringify(settled.rebalance)}`);
    assert.ok(settled.rebalance!.blocksMoved >= atKill.rebalance!.blocksMoved, 'the progress was kept across the crash');
    const after = await mapShards(cluster);
    t.diagnostic(`shards before ${JSON.stringify(countByNode(before))}, after ${JSON.stringify(countByNode(after))}`);
    assert.ok((countByNode(after).node7 ?? 0) > 0);
    const moved = assertEveryShardOnce(before, after);
    // The step the crash cut short copied shards whose count was never saved: the walk's redo finds them
    // in place and only deletes their old copies. At 2 blocks/s a step moves at most two.
    const counted = settled.rebalance!.shardsMoved;
    assert.ok(moved >= counted && moved - counted <= 2, `${moved} shards changed node, the rebalance counted ${counted}`);
    for (const o of objects) await assertReadsBack(s3, bucket, o);
  } catch (err) {
    t.diagnostic(cluster.logs());
    throw err;
  }
});
