// Crash consistency (design.md §3): kill -9 while PUTs are in flight, restart on the same data, and
// every acknowledged object must read back intact while no listed object is ever partial.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { CreateBucketCommand, GetObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { startTessera } from './helpers/tessera.js';

/** Deterministic body for a key, so any object found can be checked without remembering it. */
function bodyFor(key: string): Buffer {
  const size = Number(key.split('-')[1]);
  const seed = createHash('sha256').update(key).digest();
  const out = Buffer.alloc(size);
  for (let i = 0; i < size; i += seed.length) seed.copy(out, i);
  return out;
}

const sizes = [10, 4096, 40_000, 300_000, 2_500_000];

async function putLoop(s3: S3Client, round: number, acked: Set<string>, stop: { now: boolean }): Promise<void> {
  let i = 0;
  const worker = async (w: number) => {
    while (!stop.now) {
      const key = `r${round}w${w}n${i++}-${sizes[i % sizes.length]}`;
      try {
        await s3.send(new PutObjectCommand({ Bucket: 'crash', Key: key, Body: bodyFor(key) }));
        acked.add(key);
      } catch {
        return; // the server died under us
      }
    }
  };
  await Promise.all([0, 1, 2, 3, 4, 5].map(worker));
}

async function readAll(s3: S3Client, key: string): Promise<Buffer> {
  const got = await s3.send(new GetObjectCommand({ Bucket: 'crash', Key: key }));
  return Buffer.from(await got.Body!.transformToByteArray());
}

test('crash - acknowledged objects survive kill -9 and no partial object is ever listed', async () => {
  let server = await startTessera();
  const dataDir = server.dataDir;
  const acked = new Set<string>();
  try {
    let s3 = server.client();
    await s3.send(new CreateBucketCommand({ Bucket: 'crash' }));
    for (let round = 0; round < 3; round++) {
      const stop = { now: false };
      const load = putLoop(s3, round, acked, stop);
      await new Promise((r) => setTimeout(r, 700 + round * 300));
      await server.kill9();
      stop.now = true;
      await load;
      s3.destroy();
      server = await startTessera({ dataDir });
      s3 = server.client();
      for (const key of acked) assert.ok(bodyFor(key).equals(await readAll(s3, key)), `acknowledged object "${key}" is intact`);
      let token: string | undefined;
      let listed = 0;
      do {
        const page = await s3.send(new ListObjectsV2Command({ Bucket: 'crash', ContinuationToken: token }));
        for (const o of page.Contents ?? []) {
          listed++;
          assert.equal(o.Size, bodyFor(o.Key!).length, `listed object "${o.Key}" has its full size`);
          assert.ok(bodyFor(o.Key!).equals(await readAll(s3, o.Key!)), `listed object "${o.Key}" is complete`);
        }
        token = page.NextContinuationToken;
      } while (token);
      assert.ok(listed >= acked.size);
    }
    assert.ok(acked.size > 20, `enough PUTs were acknowledged to mean something (${acked.size})`);
    s3.destroy();
  } finally {
    await server.stop();
    await rm(dataDir, { recursive: true, force: true });
  }
});
