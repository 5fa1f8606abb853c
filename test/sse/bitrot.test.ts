// Bitrot on ciphertext (issue 16): encryption sits above erasure coding, so a flipped byte in a shard of an
// encrypted object at RS 4+2 is found by the block layer's checksums and rebuilt from parity: GETs (whole and
// ranged) still return the exact plaintext, and heal rewrites the shard as it was. An inline encrypted object
// lives in the metadata with no parity: a flipped byte there fails the chunk's authentication tag, and the
// server refuses to serve it (503) rather than send wrong bytes.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { CreateBucketCommand, GetObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { flipBytes, shardFiles } from '../ec/helpers.js';
import { createKmsKey, customerKey, sseParams, startSseServer, type SseServer } from './lib.js';

const bucket = 'bitrot-bucket';
let sse: SseServer;
let s3: S3Client;

before(async () => {
  sse = await startSseServer({ driveCount: 6, args: ['--scrub-rate', '500', '--scrub-interval', '0'] });
  s3 = sse.client();
  await s3.send(new CreateBucketCommand({ Bucket: bucket }));
});

after(async () => {
  s3?.destroy();
  await sse?.cleanup();
});

async function getBytes(key: string, extra: Record<string, string> = {}): Promise<Buffer> {
  const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key, ...extra }));
  return Buffer.from(await got.Body!.transformToByteArray());
}

test('bitrot on ciphertext - a flipped byte in one shard of an SSE-S3 object is healed from parity and never reaches the reader', { timeout: 120_000 }, async () => {
  const body = randomBytes(3 * 1024 * 1024 + 12_345);
  await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'sealed', Body: body, ServerSideEncryption: 'AES256' }));
  const [shard, ...others] = await shardFiles(sse.drives[1]!);
  assert.ok(shard, 'drive 2 holds a shard of the object');
  assert.equal(others.length, 0, 'one block: one shard per drive');
  const original = await readFile(shard);
  await flipBytes(shard, [Math.floor(original.length / 2)]);
  assert.ok((await getBytes('sealed')).equals(body), 'a GET returns the plaintext');
  const range = await getBytes('sealed', { Range: 'bytes=1000000-2000099' });
  assert.ok(range.equals(body.subarray(1_000_000, 2_000_100)), 'a range GET returns the plaintext');
  await sse.cli('heal');
  assert.match(await sse.cli('heal'), /0 shards rebuilt, 0 damaged blocks/, 'a second heal finds nothing left to repair');
  assert.ok((await readFile(shard)).equals(original), 'heal rewrote the shard as it was written');
  assert.ok((await getBytes('sealed')).equals(body));
});

test('bitrot on ciphertext - two rotted shards of an SSE-C object (as many as parity covers) still read right, whole and ranged', { timeout: 120_000 }, async () => {
  const customer = customerKey();
  const { write, read } = sseParams('SSE-C', { kmsKeyId: '', customerKeyBase64: customer.base64 });
  const body = randomBytes(2 * 1024 * 1024 + 7);
  await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'customer', Body: body, ...write }));
  const before = new Map<string, Buffer>();
  for (const drive of [sse.drives[0]!, sse.drives[4]!]) {
    for (const file of await shardFiles(drive)) {
      const bytes = await readFile(file);
      before.set(file, bytes);
      await flipBytes(file, [bytes.length - 1]);
    }
  }
  assert.ok((await getBytes('customer', read)).equals(body));
  assert.ok((await getBytes('customer', { ...read, Range: 'bytes=-70000' })).equals(body.subarray(-70_000)));
  await sse.cli('heal');
  for (const [file, bytes] of before) assert.ok((await readFile(file)).equals(bytes), `heal restored ${file}`);
});

interface ScrubStatus {
  maintenance: { scrub: { running: boolean; damagedFound: number }; queuedDamage: number; healedFromQueue: number };
}

/** Starts a scrub pass and waits until it has ended and the damage it queued is repaired. */
async function scrubToEnd(): Promise<ScrubStatus> {
  await sse.cli('scrub');
  for (let i = 0; i < 600; i++) {
    const status = JSON.parse(await sse.cli('status', '--json')) as ScrubStatus;
    if (!status.maintenance.scrub.running && status.maintenance.queuedDamage === 0) return status;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.fail('the scrub did not finish');
}

test('bitrot on ciphertext - the scrubber finds a flipped byte in a shard of an SSE-KMS object without any read, and the healer rewrites it', { timeout: 120_000 }, async () => {
  await createKmsKey(sse, 'bitrot-key');
  await s3.send(new CreateBucketCommand({ Bucket: 'scrubbed' }));
  const body = randomBytes(1_500_000);
  const known = new Set(await shardFiles(sse.drives[3]!));
  await s3.send(new PutObjectCommand({ Bucket: 'scrubbed', Key: 'kms', Body: body, ServerSideEncryption: 'aws:kms', SSEKMSKeyId: 'bitrot-key' }));
  assert.equal((await scrubToEnd()).maintenance.scrub.damagedFound, 0, 'nothing damaged before the flip');
  const [shard] = (await shardFiles(sse.drives[3]!)).filter((f) => !known.has(f));
  assert.ok(shard, 'drive 4 holds a shard of the new object');
  const original = await readFile(shard);
  await flipBytes(shard, [100]);
  const found = await scrubToEnd();
  assert.ok(found.maintenance.scrub.damagedFound >= 1, 'the scrub found the rotted block');
  assert.ok((await readFile(shard)).equals(original), 'the healer rewrote the shard as it was written');
  const got = await s3.send(new GetObjectCommand({ Bucket: 'scrubbed', Key: 'kms' }));
  assert.ok(Buffer.from(await got.Body!.transformToByteArray()).equals(body));
});

test('bitrot on ciphertext - a flipped byte in an inline encrypted object\'s stored data fails its tag and is refused with 503, never served, and other objects still read', { timeout: 120_000 }, async () => {
  const body = randomBytes(5_000);
  await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'inline-sealed', Body: body, ServerSideEncryption: 'AES256' }));
  const neighbour = randomBytes(4_000);
  await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'inline-neighbour', Body: neighbour, ServerSideEncryption: 'AES256' }));
  assert.ok((await getBytes('inline-sealed')).equals(body));
  await sse.server.stop();
  assert.ok(flipInlineByte(join(sse.root, 'data', 'meta', 'tessera.db'), 'inline-sealed') > 0, 'the object\'s record holds inline data');
  await sse.restart();
  s3.destroy();
  s3 = sse.client();
  const failed = await getBytes('inline-sealed').then(
    (got) => assert.fail(`a GET of rotted inline ciphertext answered 200 with ${got.length} bytes (${got.equals(body) ? 'the plaintext' : 'wrong bytes'})`),
    (err: { name?: string; $metadata?: { httpStatusCode?: number } }) => err,
  );
  // A failed tag is ERR_SHARD_CORRUPT, which the S3 layer answers as unreadable data: 503 ServiceUnavailable.
  assert.equal(failed.$metadata?.httpStatusCode, 503, `answered ${failed.$metadata?.httpStatusCode} ${failed.name}`);
  await assert.rejects(getBytes('inline-sealed', { Range: 'bytes=0-9' }), 'a range inside the rotted chunk is refused too');
  assert.ok((await getBytes('inline-neighbour')).equals(neighbour), 'the neighbour still reads');
  assert.equal(sse.server.process.exitCode, null, 'the server is up');
});

/**
 * Flips a byte in the middle of the inline data of every metadata record of `key` in a stopped server's
 * SQLite database (records are JSON; inline data is base64). Returns how many records it changed.
 */
function flipInlineByte(dbFile: string, key: string): number {
  const db = new Database(dbFile, { fileMustExist: true });
  try {
    let changed = 0;
    const rows = db.prepare('SELECT k, v FROM kv').all() as { k: Buffer; v: Buffer }[];
    const update = db.prepare('UPDATE kv SET v = ? WHERE k = ?');
    for (const row of rows) {
      let record: { key?: string; inline?: string; data?: { inline?: string } };
      try {
        record = JSON.parse(row.v.toString('utf8')) as typeof record;
      } catch {
        continue; // not a JSON record
      }
      if (record?.key !== key) continue;
      const holder = record.data?.inline !== undefined ? record.data : record.inline !== undefined ? record : undefined;
      if (!holder?.inline) continue;
      const bytes = Buffer.from(holder.inline, 'base64');
      bytes[bytes.length >> 1] ^= 0x01;
      holder.inline = bytes.toString('base64');
      update.run(Buffer.from(JSON.stringify(record)), row.k);
      changed++;
    }
    return changed;
  } finally {
    db.close();
  }
}
