// Rebalance after drives join (issue 11): a server of 4 drives restarted with 6 stores a new layout epoch,
// and its rebalance worker spreads the existing shards onto the new drives, while every object reads
// exactly; killed with SIGKILL part-way, it resumes after the restart and finishes with nothing lost.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateBucketCommand, GetObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { startTessera, type TesseraProcess } from '../helpers/tessera.js';
import { shardCount } from '../ec/helpers.js';
import { signRequest } from '../../src/s3/sigv4/sign.js';
import type { RebalanceProgress } from '../../src/objects/rebalance.js';

const MiB = 1024 * 1024;
const Bucket = 'spread';

function start(root: string, drives: string[], args: string[]): Promise<TesseraProcess> {
  return startTessera({ dataDir: join(root, 'data'), args: ['--drives', drives.join(','), '--gc-delay', '0', '--gc-interval', '0.2', ...args] });
}

interface AdminStatus {
  maintenance: { queuedDamage: number; healedFromQueue: number };
  workers: { name: string; detail?: { rebalance?: RebalanceProgress } }[];
}

async function statusOf(server: TesseraProcess): Promise<AdminStatus> {
  const url = new URL('/_tessera/admin/status', server.url);
  const headers = signRequest({ method: 'GET', url, region: server.region, accessKeyId: server.accessKeyId, secretAccessKey: server.secretAccessKey });
  const res = await fetch(url, { headers });
  assert.equal(res.status, 200);
  return (await res.json()) as AdminStatus;
}

/** The rebalance worker's progress from the admin API, once its first step has run. */
async function progressOf(server: TesseraProcess): Promise<RebalanceProgress | undefined> {
  return (await statusOf(server)).workers.find((w) => w.name === 'rebalance')?.detail?.rebalance;
}

async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 120_000): Promise<T> {
  const endMs = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > endMs) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 150));
  }
}

const sha = (data: Buffer) => createHash('sha256').update(data).digest('hex');

async function readAll(s3: S3Client, objects: Map<string, string>): Promise<void> {
  for (const [Key, digest] of objects) {
    const got = await s3.send(new GetObjectCommand({ Bucket, Key }));
    assert.equal(sha(Buffer.from(await got.Body!.transformToByteArray())), digest, `object "${Key}" reads exactly`);
  }
}

async function committedShards(drives: string[]): Promise<number[]> {
  return Promise.all(drives.map(async (d) => (await shardCount(d))));
}

test('rebalance - drives added to a server get their share of the existing shards, read exactly during and after a kill -9', async () => {
  const root = await mkdtemp(join(tmpdir(), 'tessera-rebalance-'));
  const drives = Array.from({ length: 6 }, (_, i) => join(root, `drive${i + 1}`));
  const objects = new Map<string, string>();
  let server = await start(root, drives.slice(0, 4), []);
  try {
    let s3 = server.client();
    await s3.send(new CreateBucketCommand({ Bucket }));
    // Above the inline threshold, one block each; then several stripes; then a multipart upload of 3 parts.
    const sizes = [...Array.from({ length: 20 }, (_, i) => 40_000 + i * 9_001), 3 * MiB + 1, 9 * MiB - 7];
    for (const [i, size] of sizes.entries()) {
      const body = randomBytes(size);
      await s3.send(new PutObjectCommand({ Bucket, Key: `o${i}`, Body: body }));
      objects.set(`o${i}`, sha(body));
    }
    const multipart = randomBytes(11 * MiB + 3);
    await new Upload({ client: s3, params: { Bucket, Key: 'multi', Body: multipart }, partSize: 5 * MiB, queueSize: 1 }).done();
    objects.set('multi', sha(multipart));
    s3.destroy();
    await server.stop();
    const before = await committedShards(drives);
    const total = before.reduce((a, b) => a + b, 0);
    assert.deepEqual(before.slice(4), [0, 0]);

    // Two drives join: a new epoch, and a slow rebalance towards it (one block a second, 25 blocks), so
    // the reads below run while it moves and the kill lands part-way even on a loaded machine.
    server = await start(root, drives, ['--rebalance-rate', '1']);
    s3 = server.client();
    await waitFor('the rebalance to start moving', async () => {
      const p = await progressOf(server);
      return p?.state === 'running' && p.toEpoch === 2 && p.blocksChecked > 0 ? p : undefined;
    });
    await readAll(s3, objects); // while shards sit partly at their old places, partly at their new ones
    const during = randomBytes(2 * MiB + 5);
    await s3.send(new PutObjectCommand({ Bucket, Key: 'during', Body: during }));
    objects.set('during', sha(during));
    await new Promise((r) => setTimeout(r, 200)); // damage reports are written in batches 50 ms apart
    const { maintenance } = await statusOf(server);
    assert.deepEqual(maintenance, { ...maintenance, queuedDamage: 0, healedFromQueue: 0 }, 'a shard found at its old place is no damage');
    const beforeKill = (await progressOf(server))!;
    assert.equal(beforeKill.state, 'running', 'killed part-way');
    assert.equal(beforeKill.settledEpoch, 1, 'not settled part-way');
    s3.destroy();
    await server.kill9();

    server = await start(root, drives, ['--rebalance-rate', '1000']);
    s3 = server.client();
    // The pass killed part-way goes on from its cursor: same start, and it ends (settling epoch 2, or, inside
    // the 15 s write grace after the epoch was first seen, idle until one more walk settles it).
    const resumed = await waitFor('the resumed pass to end', async () => {
      const p = await progressOf(server);
      return p && p.startedAtMs === beforeKill.startedAtMs && p.state === 'idle' ? p : undefined;
    });
    assert.equal(resumed.shardsFailed, 0);
    assert.ok(resumed.blocksChecked >= resumed.blocksTotal, 'every block looked at (the total is counted at the start, before the write made during the pass)');
    const done = await waitFor('the rebalance to settle epoch 2', async () => {
      const p = await progressOf(server);
      return p?.settledEpoch === 2 ? p : undefined;
    });
    assert.equal(done.state, 'idle');
    assert.equal(done.toEpoch, 2);
    assert.equal(done.shardsFailed, 0);
    assert.ok(resumed.shardsMoved > 0 && resumed.bytesMoved > 0 && resumed.blocksMoved > 0);
    await readAll(s3, objects);
    s3.destroy();
    await server.stop();

    const after = await committedShards(drives);
    const duringShards = 6; // one 4+2 block, written in epoch 2
    assert.equal(after.reduce((a, b) => a + b, 0), total + duringShards, 'every shard once: the old places were emptied');
    assert.ok(after[4]! > 0 && after[5]! > 0, `the new drives hold shards (${after.join(',')})`);
    for (let i = 0; i < 4; i++) assert.ok(after[i]! < before[i]! + duringShards, `old drive ${i + 1} gave shards away (${before[i]} → ${after[i]})`);
  } finally {
    await server.stop();
    await rm(root, { recursive: true, force: true });
  }
});
