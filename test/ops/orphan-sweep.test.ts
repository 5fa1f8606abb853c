// Crash leftovers (issue #10): with the default settings, unreferenced shards older than the grace are
// swept right after a restart; those too young for that first sweep go once the grace has passed, not
// an interval later; and a live write whose client stalls past the grace is never swept.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm, utimes, writeFile } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { CreateBucketCommand, GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { readStoredShard, shardCount, storedShards, startEcProcess } from '../ec/helpers.js';
import type { TesseraProcess } from '../helpers/tessera.js';

async function withDrives(fn: (root: string, drives: string[]) => Promise<void>): Promise<void> {
  const root = await mkdtemp(join(tmpdir(), 'tessera-sweep-'));
  try {
    await fn(root, Array.from({ length: 3 }, (_, i) => join(root, `drive${i + 1}`)));
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}

/** Puts one object, stops the server, and plants a durable orphan (the object's shards under a new id) with the given age. */
async function plantOrphan(root: string, drives: string[], ageMs: number): Promise<void> {
  const server = await startEcProcess(root, drives);
  const s3 = server.client();
  try {
    await s3.send(new CreateBucketCommand({ Bucket: 'sweep' }));
    await s3.send(new PutObjectCommand({ Bucket: 'sweep', Key: 'keep', Body: randomBytes(500_000) }));
  } finally {
    s3.destroy();
    await server.kill9();
  }
  const orphanId = randomBytes(16).toString('hex');
  const at = new Date(Date.now() - ageMs);
  for (const drive of drives) {
    for (const shard of await storedShards(drive)) {
      const target = join(drive, 'shards', orphanId.slice(0, 2), orphanId.slice(2, 4), `${orphanId}.${shard.index}`);
      await mkdir(dirname(target), { recursive: true });
      await writeFile(target, await readStoredShard(shard)); // packed or not, a shard file's bytes
      await utimes(target, at, at);
    }
  }
}

async function shardCountsWithin(drives: string[], want: number, waitMs: number): Promise<number[]> {
  let counts: number[] = [];
  for (const until = Date.now() + waitMs; Date.now() < until;) {
    counts = await Promise.all(drives.map(async (d) => (await shardCount(d, { withTemporaries: true }))));
    if (counts.every((c) => c === want)) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  return counts;
}

test('orphan sweep - with the defaults a crash leftover older than the grace goes right after the restart', async () => {
  await withDrives(async (root, drives) => {
    await plantOrphan(root, drives, 20 * 60 * 1000);
    const server = await startEcProcess(root, drives);
    try {
      assert.deepEqual(await shardCountsWithin(drives, 1, 5000), [1, 1, 1], 'only the live block is left');
    } finally {
      await server.stop();
    }
  });
});

test('orphan sweep - a leftover too young for the first sweep goes once the grace has passed, not an interval later', async () => {
  await withDrives(async (root, drives) => {
    await plantOrphan(root, drives, 0);
    // A grace well above how long a start takes on a loaded machine: the leftover must still be young when
    // the first sweep (at start) looks at it.
    const server = await startEcProcess(root, drives, ['--orphan-grace', '8', '--orphan-sweep-interval', '3600']);
    try {
      assert.deepEqual(await shardCountsWithin(drives, 2, 500), [2, 2, 2], 'the first sweep leaves the young leftover');
      assert.deepEqual(await shardCountsWithin(drives, 1, 20_000), [1, 1, 1], 'the second sweep takes it');
    } finally {
      await server.stop();
    }
  });
});

test('orphan sweep - a write whose client stalls longer than the grace is not swept', async () => {
  await withDrives(async (root, drives) => {
    const server: TesseraProcess = await startEcProcess(root, drives, ['--orphan-grace', '1', '--orphan-sweep-interval', '1']);
    const s3 = server.client();
    try {
      await s3.send(new CreateBucketCommand({ Bucket: 'sweep' }));
      const body = randomBytes(4 * 1024 * 1024);
      let sent = 0;
      const slow = new Readable({
        read() {
          if (sent >= body.length) return this.push(null);
          const chunk = body.subarray(sent, sent + 1024 * 1024);
          const pauseMs = sent === 2 * 1024 * 1024 ? 3500 : 0; // half-way, stall past the grace and a sweep or two
          sent += chunk.length;
          setTimeout(() => this.push(chunk), pauseMs);
        },
      });
      await s3.send(new PutObjectCommand({ Bucket: 'sweep', Key: 'slow', Body: slow, ContentLength: body.length }));
      const got = await s3.send(new GetObjectCommand({ Bucket: 'sweep', Key: 'slow' }));
      assert.ok(Buffer.from(await got.Body!.transformToByteArray()).equals(body));
    } finally {
      s3.destroy();
      await server.stop();
    }
  });
});
