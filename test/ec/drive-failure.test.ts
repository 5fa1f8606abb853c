// The drive-failure story of issue #3 under a real server with six drives at RS 4+2: lose any two drives
// (deleted, replaced by something unreadable, or rotted) and every GET, ranged too, returns the exact
// bytes; heal restores full redundancy and a second heal finds nothing to do.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { rm, writeFile, mkdir } from 'node:fs/promises';
import { CreateBucketCommand, GetObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { startEcServer, rotDrive, shardCount } from './helpers.js';
import { waitFor } from '../multi-gateway/helpers.js';

const ec = await startEcServer(6);
after(() => ec.cleanup());
const s3: S3Client = ec.server.client();
after(() => s3.destroy());

const objects = new Map<string, Buffer>([
  ['tiny', randomBytes(100)], // inline in metadata
  ['medium', randomBytes(300_000)],
  ['odd', randomBytes(1_048_576 * 3 + 12_345)],
  ['large', randomBytes(9 * 1_048_576)],
]);

async function getBytes(key: string, range?: string): Promise<Buffer> {
  const res = await s3.send(new GetObjectCommand({ Bucket: 'ec-bucket', Key: key, Range: range }));
  return Buffer.from(await res.Body!.transformToByteArray());
}

async function assertAllReadable(label: string): Promise<void> {
  for (const [key, body] of objects) {
    assert.ok((await getBytes(key)).equals(body), `${label}: "${key}" reads back exactly`);
    const start = Math.floor(body.length / 3);
    const end = Math.min(body.length - 1, start + 1_500_000);
    assert.ok((await getBytes(key, `bytes=${start}-${end}`)).equals(body.subarray(start, end + 1)), `${label}: a range of "${key}" reads back exactly`);
    assert.ok((await getBytes(key, 'bytes=-777')).equals(body.subarray(body.length - 777)), `${label}: the tail of "${key}" reads back exactly`);
  }
}

test('drive failure - objects are spread over all six drives at 4+2', async () => {
  await s3.send(new CreateBucketCommand({ Bucket: 'ec-bucket' }));
  for (const [key, body] of objects) await s3.send(new PutObjectCommand({ Bucket: 'ec-bucket', Key: key, Body: body }));
  for (const drive of ec.drives) assert.equal((await shardCount(drive)), objects.size - 1, `drive ${drive} holds one shard of each block`);
});

test('drive failure - reads return exact bytes with two drives deleted', async () => {
  await rm(ec.drives[1]!, { recursive: true, force: true });
  await rm(ec.drives[4]!, { recursive: true, force: true });
  await assertAllReadable('two drives deleted');
});

test('drive failure - heal refills wiped drives and a second heal finds nothing', async () => {
  // The reads above queued their damage; the server heals that queue in the background. Let it run dry
  // while the drives are still gone (it skips their shards), or it would rebuild them itself once they
  // are back, racing the pass whose count is checked below.
  await waitFor('the damage queue to drain', 30_000, async () => (/ 0 damaged blocks queued for repair/.test(await ec.admin('status')) ? true : undefined));
  await mkdir(ec.drives[1]!);
  await mkdir(ec.drives[4]!);
  const first = await ec.admin('heal');
  assert.match(first, /full redundancy restored/);
  assert.match(first, /6 shards rebuilt/);
  for (const drive of ec.drives) assert.equal((await shardCount(drive)), objects.size - 1);
  const second = await ec.admin('heal');
  assert.match(second, /0 shards rebuilt, 0 damaged blocks/);
  const status = await ec.admin('status');
  assert.match(status, /6 ok, 0 missing/);
});

test('drive failure - reads return exact bytes with two drives rotted, and status shows corruption', async () => {
  await rotDrive(ec.drives[0]!);
  await rotDrive(ec.drives[3]!);
  await assertAllReadable('two drives rotted');
  const status = await ec.admin('status');
  assert.match(status, /corrupt/);
  await ec.admin('heal');
  const again = await ec.admin('heal');
  assert.match(again, /0 shards rebuilt, 0 damaged blocks/);
  await assertAllReadable('after healing bitrot');
});

test('drive failure - a drive replaced by an unreadable file still reads; one more loss is survived', async () => {
  await rm(ec.drives[2]!, { recursive: true, force: true });
  await writeFile(ec.drives[2]!, 'not a directory');
  await rotDrive(ec.drives[5]!);
  await assertAllReadable('one drive unreadable, one rotted');
  await rm(ec.drives[2]!);
  await mkdir(ec.drives[2]!);
  await ec.admin('heal');
});

test('drive failure - PUT goes on with one drive lost and fails with 503 below quorum, with nothing visible', async () => {
  await rm(ec.drives[0]!, { recursive: true, force: true });
  const body = randomBytes(2_000_000);
  await s3.send(new PutObjectCommand({ Bucket: 'ec-bucket', Key: 'degraded-write', Body: body }));
  assert.ok((await getBytes('degraded-write')).equals(body));
  await mkdir(ec.drives[0]!);
  assert.match(await ec.admin('heal'), /full redundancy restored/);
  for (const drive of ec.drives) assert.equal((await shardCount(drive)), objects.size, `drive ${drive} holds every block after heal`);
  // Two drives lost: 4 of 6 shards writable, the 4+2 write quorum is 5.
  await rm(ec.drives[1]!, { recursive: true, force: true });
  await rm(ec.drives[2]!, { recursive: true, force: true });
  await assert.rejects(
    s3.send(new PutObjectCommand({ Bucket: 'ec-bucket', Key: 'below-quorum', Body: randomBytes(2_000_000) })),
    (err: { $metadata?: { httpStatusCode?: number } }) => err.$metadata?.httpStatusCode === 503,
  );
  await assert.rejects(getBytes('below-quorum'), /NoSuchKey|does not exist/);
  assert.ok((await getBytes('degraded-write')).equals(body), 'acknowledged data still reads with two drives lost');
  for (const d of [1, 2]) await mkdir(ec.drives[d]!);
  await ec.admin('heal');
  for (const drive of ec.drives) assert.equal((await shardCount(drive)), objects.size, `drive ${drive} whole again after heal`);
});
