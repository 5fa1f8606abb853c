// Draining a node that would leave fewer nodes than the redundancy's width (6 nodes at RS 4+2, one
// drained: 5 targets per partition for blocks of 6 shards). `layout show` says so, `layout apply` refuses
// it with the reason and the way out, `--force` applies it with a loud warning, and the rebalance then
// reports the drained node's shards as blocked, not done; once a node is assigned they move.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CreateBucketCommand } from '@aws-sdk/client-s3';
import { startCluster } from '../helpers/cluster.js';
import type { LayoutView } from '../../src/admin/layout-api.js';
import { admin, clusterStatus, countByNode, mapShards, startExtraNode, waitSettled, type ExtraNode } from './layout-ops.js';
import { assertReadsBack, KiB, putObject, type Acked } from './workload.js';

const bucket = 'narrow';
const fastRebalance = { TESSERA_REBALANCE_RATE: '1000', TESSERA_REBALANCE_BANDWIDTH: '0' };

test('layout apply - refuses a drain that leaves fewer nodes than RS 4+2 needs unless forced, and the rebalance reports the shards left behind as blocked', { timeout: 240_000 }, async (t) => {
  const cluster = await startCluster({ nodes: 6, env: fastRebalance });
  const s3 = cluster.client();
  let node7: ExtraNode | undefined;
  t.after(async () => {
    s3.destroy();
    await node7?.stop();
    await cluster.stop();
  });
  try {
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    const objects: Acked[] = [];
    for (let i = 0; i < 6; i++) objects.push(await putObject(s3, bucket, `o/${i}`, 100 * KiB));
    const held = countByNode(await mapShards(cluster)).node6 ?? 0;
    assert.ok(held > 0, 'node6 holds shards');

    const staged = await admin(cluster, ['layout', 'drain', 'node6']);
    assert.match(staged, /^Apply refuses these changes: Epoch 2 would list 5 targets per partition, but blocks of RS 4\+2 need 6/m, staged);
    const shown = JSON.parse(await admin(cluster, ['layout', 'show', '--json'])) as LayoutView;
    assert.equal(shown.preview?.problems.length, 1, 'layout show reports the problem');
    assert.match(await admin(cluster, ['layout', 'diff']), /Apply refuses these changes: .* Add a node \(or drive\) first/);

    const refused = await cluster.admin(['layout', 'apply', '--epoch', '2']);
    assert.notEqual(refused.code, 0, 'apply refused');
    assert.match(refused.stderr, /HTTP 409: Cannot apply epoch 2: Epoch 2 would list 5 targets per partition.* To apply it anyway, pass --force/);
    assert.equal((await clusterStatus(cluster)).epoch, 1, 'nothing applied');

    const forced = await cluster.admin(['layout', 'apply', '--epoch', '2', '--force']);
    assert.equal(forced.code, 0, forced.stderr);
    assert.match(forced.stderr, /^WARNING: Applied with --force although: Epoch 2 would list 5 targets/m);
    const settled = await waitSettled(cluster, 2, 120_000);
    t.diagnostic(`after the forced drain: ${JSON.stringify(settled.rebalance)}`);
    assert.equal(settled.rebalance?.shardsBlocked, held, 'every shard of node6 is reported blocked');
    assert.equal(countByNode(await mapShards(cluster)).node6 ?? 0, held, 'node6 keeps its shards');
    assert.match(await admin(cluster, ['status']), /^rebalance: blocked: \d+ shards of \d+ blocks cannot leave draining node node6/m);
    for (const o of objects) await assertReadsBack(s3, bucket, o);

    // The way out the message names: a node assigned, and the shards leave node6.
    node7 = await startExtraNode(cluster, 'node7');
    await admin(cluster, ['layout', 'assign', 'node7', '--address', node7.address, '--zone', 'zone-3', '--capacity', '1']);
    await admin(cluster, ['layout', 'apply', '--epoch', '3']);
    const moved = await waitSettled(cluster, 3, 120_000);
    t.diagnostic(`after node7 joined: ${JSON.stringify(moved.rebalance)}`);
    assert.equal(moved.rebalance?.shardsBlocked, 0);
    assert.equal(countByNode(await mapShards(cluster)).node6 ?? 0, 0, 'node6 is empty once a node took its place');
    for (const o of objects) await assertReadsBack(s3, bucket, o);
  } catch (err) {
    t.diagnostic(cluster.logs());
    throw err;
  }
});
