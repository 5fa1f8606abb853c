// `tessera dev-cluster --nodes 6` end to end (issue 11): real node and gateway processes on loopback. Objects
// spread over every node, PUT and GET go on with one node killed (kill -9), SIGTERM stops every child, and
// a restart on the same directory serves the same objects.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CompleteMultipartUploadCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  PutObjectCommand,
  UploadPartCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { isAlive, shardFilesUnder, startDevCluster, type DevCluster } from './helpers.js';

const MiB = 1024 * 1024;
const Bucket = 'cluster';

async function getBytes(s3: S3Client, Key: string): Promise<Buffer> {
  const got = await s3.send(new GetObjectCommand({ Bucket, Key }));
  return Buffer.from(await got.Body!.transformToByteArray());
}

async function putMultipart(s3: S3Client, Key: string, data: Buffer, partBytes: number): Promise<void> {
  const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket, Key }));
  const Parts: { ETag: string; PartNumber: number }[] = [];
  for (let at = 0, PartNumber = 1; at < data.length; at += partBytes, PartNumber++) {
    const part = await s3.send(new UploadPartCommand({ Bucket, Key, UploadId, PartNumber, Body: data.subarray(at, at + partBytes) }));
    Parts.push({ ETag: part.ETag!, PartNumber });
  }
  await s3.send(new CompleteMultipartUploadCommand({ Bucket, Key, UploadId, MultipartUpload: { Parts } }));
}

const digest = (b: Buffer) => createHash('sha256').update(b).digest('hex');

test('tessera dev-cluster - 6 nodes spread the data, survive a node killed with kill -9, stop every child on SIGTERM and restart with the data', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'tessera-dev-cluster-'));
  let cluster: DevCluster | undefined;
  let s3: S3Client | undefined;
  const objects = new Map<string, Buffer>();
  try {
    cluster = await startDevCluster(dir, ['--nodes', '6', '--address', '127.0.0.1:0']);
    const file = await cluster.file();
    const nodes = file.processes.filter((p) => p.role === 'node');
    assert.deepEqual(nodes.map((n) => [n.name, n.zone]), [['node1', 'zone-1'], ['node2', 'zone-2'], ['node3', 'zone-3'], ['node4', 'zone-1'], ['node5', 'zone-2'], ['node6', 'zone-3']]);
    assert.equal(file.processes.filter((p) => p.role === 'gateway').length, 1);
    assert.ok(file.processes.every((p) => typeof p.pid === 'number' && isAlive(p.pid)));
    // The gateways take the metrics token cluster.json records; an anonymous scrape is refused.
    assert.match(file.metricsToken ?? '', /^[\w-]{16,}$/);
    const scrape = await fetch(`${file.endpoint}/_tessera/metrics`, { headers: { authorization: `Bearer ${file.metricsToken}` } });
    assert.equal(scrape.status, 200);
    assert.match(await scrape.text(), /^tessera_cluster_nodes\{state="up"\} \d+$/m);
    const anonymous = await fetch(`${file.endpoint}/_tessera/metrics`);
    assert.equal(anonymous.status, 403);
    await anonymous.text();

    s3 = await cluster.client();
    await s3.send(new CreateBucketCommand({ Bucket }));
    objects.set('inline-1k', randomBytes(1024));
    objects.set('one-mib', randomBytes(MiB));
    for (const [Key, Body] of objects) await s3.send(new PutObjectCommand({ Bucket, Key, Body }));
    objects.set('multipart-20mib', randomBytes(20 * MiB));
    await putMultipart(s3, 'multipart-20mib', objects.get('multipart-20mib')!, 5 * MiB);
    for (let i = 0; i < 18; i++) {
      const Body = randomBytes(100_000 + i);
      objects.set(`spread-${i}`, Body);
      await s3.send(new PutObjectCommand({ Bucket, Key: `spread-${i}`, Body }));
    }
    for (const [Key, data] of objects) assert.equal(digest(await getBytes(s3, Key)), digest(data), Key);
    // 4+2 over 6 nodes: every block has a shard on every node, so ~25 blocks leave files on each.
    for (const node of nodes) assert.ok((await shardFilesUnder(node.drives![0]!)) > 0, `${node.name} holds shard files`);

    const victim = nodes[2]!;
    process.kill(victim.pid!, 'SIGKILL');
    for (let i = 0; i < 50 && isAlive(victim.pid!); i++) await new Promise((r) => setTimeout(r, 100));
    const during = randomBytes(MiB + 3);
    await s3.send(new PutObjectCommand({ Bucket, Key: 'during-outage', Body: during }));
    objects.set('during-outage', during);
    for (const Key of ['during-outage', 'one-mib', 'multipart-20mib', 'spread-0']) assert.equal(digest(await getBytes(s3, Key)), digest(objects.get(Key)!), `${Key} with ${victim.name} down`);
    const recorded = (await cluster.file()).processes.find((p) => p.name === victim.name);
    assert.equal(recorded?.running, false, 'cluster.json says the killed node is down');

    const pids = (await cluster.file()).processes.map((p) => p.pid!);
    s3.destroy();
    s3 = undefined;
    assert.equal(await cluster.stop(), 0);
    assert.deepEqual(pids.filter((pid) => isAlive(pid)), [], 'every child is gone');

    cluster = await startDevCluster(dir, ['--nodes', '6', '--address', '127.0.0.1:0']);
    const again = await cluster.file();
    assert.equal(again.endpoint, file.endpoint, 'the restart reuses the gateway address');
    assert.deepEqual(again.processes.map((p) => p.address), file.processes.map((p) => p.address), 'and every node address');
    s3 = await cluster.client();
    for (const [Key, data] of objects) assert.equal(digest(await getBytes(s3, Key)), digest(data), `${Key} after the restart`);
  } finally {
    s3?.destroy();
    await cluster?.killAll();
    await rm(dir, { recursive: true, force: true });
  }
});

test('tessera dev-cluster - killed with kill -9, its nodes and gateway are stopped by the orphan guard', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'tessera-dev-cluster-orphans-'));
  let cluster: DevCluster | undefined;
  try {
    cluster = await startDevCluster(dir, ['--nodes', '3', '--address', '127.0.0.1:0']);
    const pids = (await cluster.file()).processes.map((p) => p.pid!);
    assert.equal(pids.length, 4);
    assert.ok(pids.every(isAlive));
    cluster.process.kill('SIGKILL');
    for (let i = 0; i < 150 && pids.some(isAlive); i++) await new Promise((r) => setTimeout(r, 100));
    assert.deepEqual(pids.filter(isAlive), [], 'no child outlives dev-cluster');
  } finally {
    await cluster?.killAll();
    await rm(dir, { recursive: true, force: true });
  }
});
