// Pack files shared by worker processes (issue 17): with `--workers 2` on six drives each process appends
// to its own packs and reads the other's through the drive's index, so a GET answered by one worker must
// see the PUT, overwrite or DELETE the other just acknowledged, and read through both workers while
// compaction moves records between packs. Every request is a new connection, so the workers take them in
// turn; the access log says which worker answered.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomInt } from 'node:crypto';
import { CreateBucketCommand, DeleteObjectCommand, GetObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import type { TesseraProcess } from '../helpers/tessera.js';
import {
  KiB, MiB, admin, forEachLimit, freshConnectionClient, getMd5, makeDrives, md5, packBytes, packSnapshot, packedBytesMax, packedBytesMin, pollUntil,
  randomBody, serverErrorLines, startPackServer,
} from './helpers.js';

const Bucket = 'across-workers';
const pairs = 64;

/** requestId → the worker that answered, from the access lines logged so far. */
function workersByRequest(server: TesseraProcess): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of server.logs().split('\n')) {
    if (!line.startsWith('{')) continue;
    const entry = JSON.parse(line) as { message?: string; requestId?: string; worker?: number };
    if (entry.message === 'request' && entry.requestId && entry.worker !== undefined) out.set(entry.requestId, entry.worker);
  }
  return out;
}

/** A random range of `key` reads back as that slice of `body`: a packed shard read from inside its record. */
async function assertRange(s3: S3Client, key: string, body: Buffer): Promise<void> {
  const start = randomInt(0, body.length);
  const end = randomInt(start, body.length);
  const got = await s3.send(new GetObjectCommand({ Bucket, Key: key, Range: `bytes=${start}-${end}` }));
  assert.ok(Buffer.from(await got.Body!.transformToByteArray()).equals(body.subarray(start, end + 1)), `bytes ${start}-${end} of "${key}"`);
}

test('packs across workers - every GET, overwrite and DELETE through one worker is seen at once through the other', { timeout: 120_000 }, async () => {
  const set = await makeDrives(6);
  const server = await startPackServer(set, { args: ['--workers', '2'] });
  const s3 = freshConnectionClient(server);
  try {
    await s3.send(new CreateBucketCommand({ Bucket }));
    const expected = new Map<string, string>();
    const crossings: { put: string; get: string }[] = [];
    const pairOf = async (key: string, body: Buffer): Promise<void> => {
      const put = await s3.send(new PutObjectCommand({ Bucket, Key: key, Body: body }));
      const got = await s3.send(new GetObjectCommand({ Bucket, Key: key }));
      assert.equal(md5(await got.Body!.transformToByteArray()), md5(body), `"${key}" reads back what was just written`);
      crossings.push({ put: put.$metadata.requestId!, get: got.$metadata.requestId! });
      await assertRange(s3, key, body);
      expected.set(key, md5(body));
    };
    // Four lanes at once, so the order in which connections reach the workers varies.
    await forEachLimit(Array.from({ length: pairs }, (_, i) => `o${i}`), 4, (key) => pairOf(key, randomBody(packedBytesMin, packedBytesMax)));
    await forEachLimit([...expected.keys()].filter((_, i) => i % 3 === 0), 4, (key) => pairOf(key, randomBody(packedBytesMin, packedBytesMax)));
    const deleted = [...expected.keys()].filter((_, i) => i % 3 === 1);
    await forEachLimit(deleted, 4, async (key) => {
      await s3.send(new DeleteObjectCommand({ Bucket, Key: key }));
      await assert.rejects(s3.send(new GetObjectCommand({ Bucket, Key: key })), (err: { name?: string; $metadata?: { httpStatusCode?: number } }) => err.name === 'NoSuchKey' && err.$metadata?.httpStatusCode === 404, `"${key}" is gone right after its DELETE`);
      expected.delete(key);
    });
    // With GC running, the replaced and deleted shards go while the rest must still read.
    await forEachLimit([...expected], 4, async ([key, sum]) => assert.equal(await getMd5(s3, Bucket, key), sum, `"${key}" still reads back`));

    // Both directions must have happened, else the test proved nothing about sharing packs.
    const directions = await pollUntil('the access lines of every pair', async () => {
      const byRequest = workersByRequest(server);
      if (!crossings.every((c) => byRequest.has(c.put) && byRequest.has(c.get))) return undefined;
      const seen = new Map<string, number>();
      for (const c of crossings) {
        const way = `${byRequest.get(c.put)}->${byRequest.get(c.get)}`;
        seen.set(way, (seen.get(way) ?? 0) + 1);
      }
      return seen;
    }, 10_000);
    assert.ok((directions.get('1->2') ?? 0) >= 5 && (directions.get('2->1') ?? 0) >= 5, `PUT then GET went across workers both ways: ${JSON.stringify([...directions])}`);
    assert.deepEqual(serverErrorLines(server), [], 'no request was answered 5xx (the SDK would have retried it)');
  } finally {
    s3.destroy();
    await server.stop();
    await set.remove();
  }
});

test('packs across workers - GETs and range GETs through both workers stay exact while compaction moves the records, and deletes during it stay deleted', { timeout: 120_000 }, async () => {
  const set = await makeDrives(1);
  const packBytesTarget = 4 * MiB;
  const server = await startPackServer(set, { args: ['--workers', '2'], env: { TESSERA_PACK_BYTES_TARGET: String(packBytesTarget) } });
  const s3 = freshConnectionClient(server);
  try {
    await s3.send(new CreateBucketCommand({ Bucket }));
    // Alternating large and small bodies, the large ones deleted: every sealed pack falls to about 30 % live.
    const bodies = new Map(Array.from({ length: 60 }, (_, i) => [`o${i}`, i % 2 === 0 ? randomBody(690 * KiB, 710 * KiB) : randomBody(290 * KiB, 310 * KiB)]));
    await forEachLimit([...bodies], 4, async ([Key, Body]) => void (await s3.send(new PutObjectCommand({ Bucket, Key, Body }))));
    let survivors = [...bodies].filter((_, i) => i % 2 === 1);
    const liveBytes = survivors.reduce((sum, [, body]) => sum + body.length, 0);
    const before = await packBytes(set.drives[0]!);
    assert.ok(before > liveBytes * 2, `the packs hold what was written (${before} bytes)`);
    const packsBefore = await packSnapshot(set.drives[0]!);
    await forEachLimit([...bodies.keys()].filter((_, i) => i % 2 === 0), 8, async (Key) => void (await s3.send(new DeleteObjectCommand({ Bucket, Key }))));
    // Deletes touch only the index: the first change to the pack files is compaction at work. Delete a third of
    // the survivors then, through both workers, so GC removes rows while their records are being copied: a
    // copy must not bring a deleted row back.
    await pollUntil('compaction to begin', async () => ((await packSnapshot(set.drives[0]!)) !== packsBefore ? true : undefined), 20_000);
    const doomed = survivors.filter((_, i) => i % 3 === 0).map(([key]) => key);
    await forEachLimit(doomed, 8, async (Key) => void (await s3.send(new DeleteObjectCommand({ Bucket, Key }))));
    survivors = survivors.filter(([key]) => !doomed.includes(key));

    // Read every survivor, whole and a range, round after round until compaction has given the space back.
    const boundBytes = Math.ceil(liveBytes * 1.05) + packBytesTarget + MiB + 64 * KiB;
    let rounds = 0;
    let last = before;
    await pollUntil('compaction under reads', async () => {
      await forEachLimit(survivors, 4, async ([key, body]) => {
        assert.equal(await getMd5(s3, Bucket, key), md5(body), `"${key}" reads back during compaction`);
        await assertRange(s3, key, body);
      });
      rounds++;
      last = await packBytes(set.drives[0]!);
      return last < boundBytes ? true : undefined;
    }, 30_000, () => `pack bytes ${last}, bound ${boundBytes}, after ${rounds} rounds of reads`);
    await forEachLimit(survivors, 4, async ([key, body]) => assert.equal(await getMd5(s3, Bucket, key), md5(body), `"${key}" reads back after compaction`));
    // One shard per surviving object in the drive's inventory: nothing deleted came back, nothing is listed twice.
    let counted: number | undefined;
    await pollUntil('one shard per survivor in the inventory', async () => {
      counted = (JSON.parse(await admin(server, 'status', '--json')) as { drives: { shardFiles: number }[] }).drives[0]?.shardFiles;
      return counted === survivors.length ? true : undefined;
    }, 20_000, () => `${counted} shards, ${survivors.length} objects`);
    assert.deepEqual(serverErrorLines(server), [], 'no request was answered 5xx (the SDK would have retried it)');
  } finally {
    s3.destroy();
    await server.stop();
    await set.remove();
  }
});
