// Adding a node to a running cluster (issue 11, "Rebalance"): a 6-node dev-cluster with objects of every
// size, a 7th `tessera node` assigned and applied as epoch 2; while the throttled rebalance moves shards, a
// client reads every object exactly and writes new ones. Once `admin status` shows epoch 2 settled, the
// new node holds shards, every shard lies in exactly one place, and everything reads back exactly.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CreateBucketCommand } from '@aws-sdk/client-s3';
import { startCluster } from '../helpers/cluster.js';
import { admin, assertEveryShardOnce, countByNode, mapShards, startExtraNode, waitSettled, type ExtraNode } from './layout-ops.js';
import { assertReadsBack, ClientLoop, describe, KiB, MiB, putObject, type Acked } from './workload.js';

const bucket = 'grow';

/** ~30 objects: inline, 1 MiB, 8 MiB (several blocks) and one multipart upload. */
export async function fill(s3: Parameters<typeof putObject>[0], bucketName: string): Promise<Acked[]> {
  const acked: Acked[] = [];
  for (let i = 0; i < 12; i++) acked.push(await putObject(s3, bucketName, `small/${i}`, 4 * KiB));
  for (let i = 0; i < 12; i++) acked.push(await putObject(s3, bucketName, `mid/${i}`, MiB));
  for (let i = 0; i < 5; i++) acked.push(await putObject(s3, bucketName, `big/${i}`, 8 * MiB));
  acked.push(await putObject(s3, bucketName, 'multi/0', 12 * MiB, true));
  return acked;
}

test('add a node - the rebalance moves shards to it once each while reads stay exact and writes go on', { timeout: 180_000 }, async (t) => {
  // Slow enough that the client reads run while shards move and a status poll sees the walk running: the
  // ~10-15 blocks that move to node7 take 10-15 s at 1 block/s, where one `admin status` can take a few
  // seconds on a loaded machine (at 3 blocks/s, once moves got faster, a walk of 11 ended between polls).
  const cluster = await startCluster({ nodes: 6, env: { TESSERA_REBALANCE_RATE: '1' } });
  const s3 = cluster.client();
  let node7: ExtraNode | undefined;
  t.after(async () => {
    s3.destroy();
    await node7?.stop();
    await cluster.stop();
  });
  try {
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    const objects = await fill(s3, bucket);
    const before = await mapShards(cluster);
    t.diagnostic(`shards before: ${JSON.stringify(countByNode(before))}`);

    node7 = await startExtraNode(cluster, 'node7');
    await admin(cluster, ['layout', 'assign', 'node7', '--address', node7.address, '--zone', 'zone-1']);
    const diff = await admin(cluster, ['layout', 'diff']);
    t.diagnostic(diff);
    assert.match(diff, /node7/);
    await admin(cluster, ['layout', 'apply', '--epoch', '2']);

    // Readers of every object, and a writer, while the rebalance runs.
    const writer = new ClientLoop(s3, bucket, 1);
    const readErrors: string[] = [];
    let reads = 0;
    let readsWhileRunning = 0;
    let running = false;
    let stopReading = false;
    const reader = (async () => {
      while (!stopReading) {
        for (const o of objects) {
          if (stopReading) break;
          const wasRunning = running;
          try {
            await assertReadsBack(s3, bucket, o);
            reads++;
            if (wasRunning && running) readsWhileRunning++;
          } catch (err) {
            readErrors.push(`${o.key}: ${describe(err)}`);
          }
        }
      }
    })();
    let lastSeen = '';
    const settled = await waitSettled(cluster, 2, 150_000, (s) => {
      running = s.rebalance?.state === 'running' && s.rebalance.toEpoch === 2;
      const r = s.rebalance;
      const seen = r ? `${r.state} ${r.settledEpoch}->${r.toEpoch} checked ${r.blocksChecked}/${r.blocksTotal} moved ${r.blocksMoved}/${r.shardsMoved} failed ${r.shardsFailed}` : 'none';
      if (seen !== lastSeen) t.diagnostic(`status: ${(lastSeen = seen)}`);
    });
    stopReading = true;
    await reader;
    await writer.stop();
    t.diagnostic(`rebalance: ${JSON.stringify(settled.rebalance)}; ${reads} reads (${readsWhileRunning} while it ran), ${writer.acked.size} writes`);
    assert.deepEqual(readErrors, [], 'reads during the rebalance failed');
    assert.deepEqual(writer.errors, [], 'writes during the rebalance failed');
    assert.ok(readsWhileRunning > 0, 'some reads ran while the rebalance moved shards');
    assert.ok(settled.rebalance!.shardsMoved > 0, 'the rebalance moved shards');

    const after = await mapShards(cluster);
    t.diagnostic(`shards after: ${JSON.stringify(countByNode(after))}`);
    const moved = assertEveryShardOnce(before, after);
    assert.ok((countByNode(after).node7 ?? 0) > 0, 'node7 holds shards');
    assert.ok(moved > 0 && moved <= settled.rebalance!.shardsMoved, `${moved} of the old shards changed node; the rebalance says ${settled.rebalance!.shardsMoved}`);
    for (const o of [...objects, ...writer.acked.values()]) await assertReadsBack(s3, bucket, o);
  } catch (err) {
    t.diagnostic(cluster.logs());
    throw err;
  }
});
