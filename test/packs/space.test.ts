// Pack files and disk space (issue 17): small shards are appended to `<drive>/packs/*.pack` beside an index
// (bigger blocks stay one file per shard), and deleting objects gives the space back on its own: dead packs
// are removed and mostly dead ones compacted within seconds, with 4 MiB packs so a few dozen objects fill
// several, while every live object reads back, across a restart too.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { CreateBucketCommand, DeleteObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import {
  KiB, MiB, assertObjects, forEachLimit, makeDrives, md5, packBytes, packFiles, pollUntil, putBody, randomBody, shardFileCount,
  startPackServer, type DriveSet,
} from './helpers.js';

const Bucket = 'space';
const packBytesTarget = 4 * MiB;
const env = { TESSERA_PACK_BYTES_TARGET: String(packBytesTarget) };
/** What an open pack may hold beyond its target: the record that crossed it, and 4 KiB alignment. */
const packSlackBytes = 1 * MiB + 64 * KiB;
const spaceBackWithinMs = 20_000;

/** Bytes of shard data a drive holds for a body at the redundancy of `driveCount` drives (one drive: a copy; six: RS 4+2). */
function shardBytesPerDrive(bodyBytes: number, driveCount: number): number {
  assert.ok(driveCount === 1 || driveCount === 6, 'these tests use one drive or six');
  return driveCount === 1 ? bodyBytes : Math.ceil(bodyBytes / 4);
}

async function withServer(driveCount: number, fn: (set: DriveSet, s3: () => S3Client, restart: () => Promise<void>) => Promise<void>): Promise<void> {
  const set = await makeDrives(driveCount);
  let server = await startPackServer(set, { env });
  let s3 = server.client();
  try {
    await s3.send(new CreateBucketCommand({ Bucket }));
    await fn(set, () => s3, async () => {
      s3.destroy();
      await server.stop();
      server = await startPackServer(set, { env });
      s3 = server.client();
    });
  } finally {
    s3.destroy();
    await server.stop();
    await set.remove();
  }
}

async function putAll(s3: S3Client, bodies: ReadonlyMap<string, Buffer>): Promise<Map<string, string>> {
  await forEachLimit([...bodies], 4, ([key, body]) => putBody(s3, Bucket, key, body));
  return new Map([...bodies].map(([key, body]) => [key, md5(body)]));
}

async function packBytesByDrive(set: DriveSet): Promise<number[]> {
  return Promise.all(set.drives.map((d) => packBytes(d)));
}

/** Polls until every drive's `*.pack` bytes are below `boundBytes`. */
async function packBytesFallBelow(set: DriveSet, boundBytes: number, what: string): Promise<void> {
  let last: number[] = [];
  await pollUntil(what, async () => {
    last = await packBytesByDrive(set);
    return last.every((b) => b < boundBytes) ? true : undefined;
  }, spaceBackWithinMs, () => `pack bytes per drive ${last.join(', ')}, bound ${boundBytes}`);
}

test('packs layout - small shards go to packs with an index on every drive, multi-stripe blocks stay shard files', async () => {
  await withServer(6, async (set, s3) => {
    const small = new Map(Array.from({ length: 12 }, (_, i) => [`small${i}`, randomBody(33 * KiB, 1000 * KiB)]));
    const large = new Map(Array.from({ length: 2 }, (_, i) => [`large${i}`, randomBody(3 * MiB, 4 * MiB)]));
    const expected = new Map([...(await putAll(s3(), small)), ...(await putAll(s3(), large))]);
    const smallBytes = [...small.values()].reduce((sum, b) => sum + shardBytesPerDrive(b.length, 6), 0);
    for (const drive of set.drives) {
      assert.ok(existsSync(join(drive, 'packs', 'index.db')), `${drive}/packs/index.db exists`);
      const packs = await packFiles(drive);
      assert.ok(packs.length > 0, `${drive} holds pack files`);
      assert.ok(packs.reduce((sum, p) => sum + p.sizeBytes, 0) >= smallBytes, `${drive}'s packs hold the small objects' shards (${smallBytes} bytes)`);
      assert.equal(await shardFileCount(drive), large.size, `${drive} holds a shard file for each multi-stripe object only`);
    }
    await assertObjects(s3(), Bucket, expected, 'packed and filed');
  });
});

for (const driveCount of [1, 6]) {
  test(`packs space - deleting every object gives the pack space back on ${driveCount === 1 ? 'one drive' : 'six drives'}, and later objects read back across a restart`, { timeout: 120_000 }, async () => {
    await withServer(driveCount, async (set, s3, restart) => {
      const bodies = new Map(Array.from({ length: 60 }, (_, i) => [`o${i}`, randomBody(480 * KiB, 520 * KiB)]));
      await putAll(s3(), bodies);
      const written = [...bodies.values()].reduce((sum, b) => sum + shardBytesPerDrive(b.length, driveCount), 0);
      for (const drive of set.drives) {
        const packs = await packFiles(drive);
        assert.ok(packs.length >= 2, `${drive} filled several ${packBytesTarget}-byte packs (${packs.length})`);
        assert.ok(packs.reduce((sum, p) => sum + p.sizeBytes, 0) >= written, `${drive}'s packs hold the ${written} bytes of shards written`);
      }
      await forEachLimit([...bodies.keys()], 8, async (Key) => void (await s3().send(new DeleteObjectCommand({ Bucket, Key }))));
      await packBytesFallBelow(set, packBytesTarget + packSlackBytes, 'the dead packs to go');

      const later = await putAll(s3(), new Map(Array.from({ length: 12 }, (_, i) => [`later${i}`, randomBody(33 * KiB, 1 * MiB)])));
      await assertObjects(s3(), Bucket, later, 'written after the deletes');
      await restart();
      await assertObjects(s3(), Bucket, later, 'written after the deletes, after a restart');
    });
  });
}

test('packs space - deleting half the objects compacts the packs and the other half reads back, across a restart', { timeout: 120_000 }, async () => {
  await withServer(1, async (set, s3, restart) => {
    // Alternating large and small bodies, the large ones deleted: each pack keeps about 30 % live bytes.
    const bodies = new Map(Array.from({ length: 60 }, (_, i) => [`o${i}`, i % 2 === 0 ? randomBody(690 * KiB, 710 * KiB) : randomBody(290 * KiB, 310 * KiB)]));
    const expected = await putAll(s3(), bodies);
    const before = await packBytesByDrive(set);
    const written = [...bodies.values()].reduce((sum, b) => sum + b.length, 0);
    assert.ok(before[0]! >= written, `the packs hold the ${written} bytes written (${before[0]})`);
    const deleted = [...bodies.keys()].filter((_, i) => i % 2 === 0);
    await forEachLimit(deleted, 8, async (Key) => void (await s3().send(new DeleteObjectCommand({ Bucket, Key }))));
    for (const key of deleted) expected.delete(key);
    const liveBytes = [...expected.keys()].reduce((sum, key) => sum + bodies.get(key)!.length, 0);
    // Live records, their 4 KiB alignment and checksums, plus one pack of dead bytes not yet compacted.
    await packBytesFallBelow(set, Math.ceil(liveBytes * 1.05) + packBytesTarget + packSlackBytes, 'compaction');
    await assertObjects(s3(), Bucket, expected, 'after compaction');
    await restart();
    await assertObjects(s3(), Bucket, expected, 'after compaction, after a restart');
  });
});
