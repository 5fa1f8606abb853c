// Crash orphans (issue #3): shards that became durable but never got their metadata commit, and
// unfinished temporaries of a write killed mid-stream, are reclaimed after the grace period.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { CreateBucketCommand, GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { readStoredShard, shardCount, storedShards, startEcProcess } from './helpers.js';

const orphanArgs = ['--orphan-grace', '2', '--orphan-sweep-interval', '1'];

test('orphans - shards with no metadata and half-written temporaries are deleted after the grace period', async () => {
  const root = await mkdtemp(join(tmpdir(), 'tessera-orphans-'));
  const drives = Array.from({ length: 6 }, (_, i) => join(root, `drive${i + 1}`));
  let server = await startEcProcess(root, drives, orphanArgs);
  try {
    let s3 = server.client();
    await s3.send(new CreateBucketCommand({ Bucket: 'orphans' }));
    const keep = randomBytes(1_000_000);
    await s3.send(new PutObjectCommand({ Bucket: 'orphans', Key: 'keep', Body: keep }));

    // A durable block whose metadata commit never happened: the live block's shards under a new id.
    const orphanId = randomBytes(16).toString('hex');
    for (const drive of drives) {
      for (const shard of await storedShards(drive)) {
        const target = join(drive, 'shards', orphanId.slice(0, 2), orphanId.slice(2, 4), `${orphanId}.${shard.index}`);
        await mkdir(dirname(target), { recursive: true });
        await writeFile(target, await readStoredShard(shard)); // packed or not, a shard file's bytes
      }
    }
    // A write killed mid-stream: the server dies while the body is still arriving.
    let sent = 0;
    const slow = new Readable({
      read() {
        if (sent >= 6) return; // stalls: the server is killed before the body ends
        sent++;
        setTimeout(() => this.push(randomBytes(1024 * 1024)), 50);
      },
    });
    const dying = s3.send(new PutObjectCommand({ Bucket: 'orphans', Key: 'never', Body: slow, ContentLength: 20 * 1024 * 1024 })).catch(() => 'failed');
    while (sent < 6) await new Promise((r) => setTimeout(r, 50));
    await new Promise((r) => setTimeout(r, 300));
    await server.kill9();
    assert.equal(await dying, 'failed');
    s3.destroy();
    const before = await Promise.all(drives.map(async (d) => (await shardCount(d, { withTemporaries: true }))));
    assert.ok(before.every((c) => c === 3), `each drive holds the live shard, the orphan and a half-written temporary (${before.join(', ')})`);

    server = await startEcProcess(root, drives, orphanArgs);
    s3 = server.client();
    let counts: number[] = [];
    for (let i = 0; i < 100; i++) {
      counts = await Promise.all(drives.map(async (d) => (await shardCount(d, { withTemporaries: true }))));
      if (counts.every((c) => c === 1)) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.deepEqual(counts, drives.map(() => 1), 'only the live block is left on every drive');
    const got = await s3.send(new GetObjectCommand({ Bucket: 'orphans', Key: 'keep' }));
    assert.ok(Buffer.from(await got.Body!.transformToByteArray()).equals(keep));
    s3.destroy();
  } finally {
    await server.stop();
    await rm(root, { recursive: true, force: true });
  }
});
