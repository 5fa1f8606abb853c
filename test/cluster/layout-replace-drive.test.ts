// A dead drive replaced (issue 11, "Heal across nodes"): a node of two drives is stopped, one drive's
// directory wiped, and the node started again, which gives the empty directory a new drive id. `layout
// replace-drive OLD NEW` puts it in the old one's place; the rebalance rebuilds its shards from the other
// nodes, proved by reading everything with two other nodes down.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { CreateBucketCommand } from '@aws-sdk/client-s3';
import { startCluster } from '../helpers/cluster.js';
import { admin, applyNext, assertEveryShardOnce, mapShards, waitSettled } from './layout-ops.js';
import { assertReadsBack, KiB, MiB, putObject, type Acked } from './workload.js';

const bucket = 'drives';
const driveId = async (path: string) => (JSON.parse(await readFile(join(path, 'drive.json'), 'utf8')) as { driveId: string }).driveId;

test('replace a dead drive - the wiped drive comes back under a new id, replace-drive and the rebalance refill it', { timeout: 180_000 }, async (t) => {
  const cluster = await startCluster({ nodes: 6, drivesPerNode: 2, env: { TESSERA_REBALANCE_RATE: '1000', TESSERA_REBALANCE_BANDWIDTH: '0' } });
  const s3 = cluster.client();
  t.after(async () => {
    s3.destroy();
    await cluster.stop();
  });
  try {
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    const objects: Acked[] = [];
    for (let i = 0; i < 4; i++) objects.push(await putObject(s3, bucket, `small/${i}`, 4 * KiB));
    for (let i = 0; i < 16; i++) objects.push(await putObject(s3, bucket, `mid/${i}`, MiB));
    objects.push(await putObject(s3, bucket, 'multi/0', 11 * MiB, true));
    const before = await mapShards(cluster);
    const dead = cluster.process('node3').drives![0]!;
    const held = [...before].filter(([, p]) => p[0] === 'node3/drive1').map(([id]) => id);
    assert.ok(held.length > 0, 'the drive to replace holds shards');
    const oldId = await driveId(dead);

    await cluster.kill9('node3');
    await rm(dead, { recursive: true, force: true });
    await cluster.restart('node3');
    const newId = await driveId(dead);
    assert.notEqual(newId, oldId, 'the wiped drive has a new id');

    await admin(cluster, ['layout', 'replace-drive', oldId, newId]);
    const epoch = await applyNext(cluster);
    const settled = await waitSettled(cluster, epoch, 120_000);
    t.diagnostic(`replace-drive: ${JSON.stringify(settled.rebalance)}`);
    const after = await mapShards(cluster);
    assert.deepEqual(held.filter((id) => after.get(id)?.[0] !== 'node3/drive1'), [], 'shards of the dead drive not rebuilt onto its replacement');
    assert.equal(after.size, before.size);
    assertEveryShardOnce(new Map([...before].filter(([id]) => !held.includes(id))), after);

    await cluster.kill9('node1');
    await cluster.kill9('node5');
    for (const o of objects) await assertReadsBack(s3, bucket, o);
  } catch (err) {
    t.diagnostic(cluster.logs());
    throw err;
  }
});
