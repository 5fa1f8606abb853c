// Nothing leaks (issue 16): objects written with SSE-S3, SSE-KMS and SSE-C (inline-small, large single PUT,
// multipart with an inline-sized last part, and copies into SSE-C and out of it) carry a known plaintext
// marker, and the SSE-C ones a known key;
// afterwards no file under the data directory or the drives (SQLite database, WAL and all, as raw bytes) nor
// the server's log holds the marker or the key, raw, in base64 at any alignment, or in hex. Plain objects
// with a second marker are written beside them and must be found, so the search itself is shown to work.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import {
  CompleteMultipartUploadCommand, CopyObjectCommand, CreateBucketCommand, CreateMultipartUploadCommand, GetObjectCommand, HeadObjectCommand,
  PutObjectCommand, UploadPartCommand, type S3Client,
} from '@aws-sdk/client-s3';
import { createKmsKey, customerKey, expectedSseHeader, sseModes, sseParams, startSseServer, type SseMode, type SseServer } from './lib.js';

const bucket = 'leak-bucket';
const kmsKeyId = 'leak-test-key';
const MiB = 1024 * 1024;
/** Object shapes: [name, part sizes]; one size is a single PUT. 10 KiB stays inline in the metadata. */
const shapes: [string, number[]][] = [
  ['inline', [10 * 1024]],
  ['large', [1.5 * MiB]],
  ['multipart', [5 * MiB, 10 * 1024]],
];

const secretMarker = Buffer.from(`tessera-secret-plaintext-${randomBytes(12).toString('hex')}|`);
const controlMarker = Buffer.from(`tessera-control-plaintext-${randomBytes(12).toString('hex')}|`);
const customer = customerKey();

let sse: SseServer;
let s3: S3Client;

/** `size` bytes of `marker` repeated: any stored run of plaintext longer than the marker contains it whole. */
function markedBody(marker: Buffer, size: number): Buffer {
  const body = Buffer.alloc(size);
  for (let at = 0; at < size; at += marker.length) marker.copy(body, at);
  return body;
}

/**
 * Byte strings that show `secret` stored: itself, its hex, and its base64 as it appears inside a longer base64
 * text at each of the three alignments (only the characters that depend on the secret's bytes alone).
 */
function needles(secret: Buffer): Buffer[] {
  const out = [secret, Buffer.from(secret.toString('hex')), Buffer.from(secret.toString('hex').toUpperCase())];
  for (let shift = 0; shift < 3; shift++) {
    const text = Buffer.concat([Buffer.alloc(shift), secret]).toString('base64');
    const first = shift === 0 ? 0 : 4;
    const end = 4 * Math.floor((shift + secret.length) / 3);
    const inner = text.slice(first, end);
    out.push(Buffer.from(inner), Buffer.from(inner.replace(/\+/g, '-').replace(/\//g, '_')));
  }
  return out;
}

async function filesUnder(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) out.push(join(entry.parentPath ?? entry.path, entry.name));
  }
  return out;
}

/** Where any needle of `secret` occurs: "file (needle n)" per hit, over every file of the data dir and the drives. */
async function occurrences(secret: Buffer, extraTexts: Record<string, string> = {}): Promise<string[]> {
  const hits: string[] = [];
  const patterns = needles(secret);
  const files = [...(await filesUnder(join(sse.root, 'data'))), ...(await Promise.all(sse.drives.map(filesUnder))).flat()];
  for (const file of files) {
    let bytes: Buffer;
    try {
      bytes = await readFile(file);
    } catch {
      continue; // removed while listing (GC, temporaries)
    }
    patterns.forEach((p, i) => {
      if (bytes.includes(p)) hits.push(`${relative(sse.root, file)} (needle ${i})`);
    });
  }
  for (const [name, text] of Object.entries(extraTexts)) {
    const bytes = Buffer.from(text);
    patterns.forEach((p, i) => {
      if (bytes.includes(p)) hits.push(`${name} (needle ${i})`);
    });
  }
  return hits;
}

async function write(key: string, sizes: number[], marker: Buffer, params: Record<string, string>, partParams: Record<string, string>): Promise<Buffer> {
  const body = markedBody(marker, sizes.reduce((a, b) => a + b, 0));
  if (sizes.length === 1) {
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body, ...params }));
    return body;
  }
  const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: key, ...params }));
  const parts: { PartNumber: number; ETag: string }[] = [];
  let offset = 0;
  for (const [i, size] of sizes.entries()) {
    const got = await s3.send(new UploadPartCommand({ Bucket: bucket, Key: key, UploadId, PartNumber: i + 1, Body: body.subarray(offset, offset + size), ...partParams }));
    parts.push({ PartNumber: i + 1, ETag: got.ETag! });
    offset += size;
  }
  await s3.send(new CompleteMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId, MultipartUpload: { Parts: parts } }));
  return body;
}

before(async () => {
  // debug: the most the server ever logs about a request.
  sse = await startSseServer({ driveCount: 6, args: ['--log-level', 'debug'] });
  s3 = sse.client();
  await s3.send(new CreateBucketCommand({ Bucket: bucket }));
});

after(async () => {
  s3?.destroy();
  await sse?.cleanup();
});

test('leak - objects of every SSE mode and shape read back whole and say how they are encrypted', { timeout: 180_000 }, async () => {
  for (const [shape, sizes] of shapes) await write(`plain/${shape}`, sizes, controlMarker, {}, {});
  await createKmsKey(sse, kmsKeyId);
  for (const mode of sseModes) {
    const { write: params, read } = sseParams(mode, { kmsKeyId, customerKeyBase64: customer.base64 });
    for (const [shape, sizes] of shapes) {
      const key = `${mode}/${shape}`;
      const body = await write(key, sizes, secretMarker, params, read);
      const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key, ...read }));
      assertEncryptedAs(mode, head, key);
      const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key, ...read }));
      assertEncryptedAs(mode, got, key);
      assert.ok(Buffer.from(await got.Body!.transformToByteArray()).equals(body), `${key} reads back whole`);
    }
  }
  // Copies re-encrypt: SSE-S3 into SSE-C, and SSE-C (the key as the copy source's) into SSE-KMS.
  const customerHeaders = { SSECustomerAlgorithm: 'AES256', SSECustomerKey: customer.base64 };
  await s3.send(new CopyObjectCommand({ Bucket: bucket, Key: 'copy/into-c', CopySource: `${bucket}/SSE-S3/large`, ...customerHeaders }));
  await s3.send(new CopyObjectCommand({
    Bucket: bucket, Key: 'copy/out-of-c', CopySource: `${bucket}/SSE-C/inline`, ServerSideEncryption: 'aws:kms', SSEKMSKeyId: kmsKeyId,
    CopySourceSSECustomerAlgorithm: 'AES256', CopySourceSSECustomerKey: customer.base64,
  }));
  const intoC = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'copy/into-c', ...customerHeaders }));
  assert.equal(intoC.SSECustomerAlgorithm, 'AES256');
  assert.ok(Buffer.from(await intoC.Body!.transformToByteArray()).equals(markedBody(secretMarker, 1.5 * MiB)));
  const outOfC = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'copy/out-of-c' }));
  assert.equal(outOfC.ServerSideEncryption, 'aws:kms');
  assert.ok(Buffer.from(await outOfC.Body!.transformToByteArray()).equals(markedBody(secretMarker, 10 * 1024)));
});

function assertEncryptedAs(mode: SseMode, answer: { ServerSideEncryption?: string; SSECustomerAlgorithm?: string; SSEKMSKeyId?: string }, key: string): void {
  assert.equal(answer.ServerSideEncryption, expectedSseHeader(mode), `${key}: x-amz-server-side-encryption`);
  if (mode === 'SSE-C') assert.equal(answer.SSECustomerAlgorithm, 'AES256', `${key}: x-amz-server-side-encryption-customer-algorithm`);
  if (mode === 'SSE-KMS') assert.match(answer.SSEKMSKeyId ?? '', new RegExp(`${kmsKeyId}$`), `${key}: x-amz-server-side-encryption-aws-kms-key-id`);
}

test('leak - the search finds the plain objects\' marker in the metadata (inline, base64) and on the drives (blocks)', async () => {
  const hits = await occurrences(controlMarker);
  assert.ok(hits.some((h) => h.startsWith('data/')), `the inline plain object is found in the data directory: ${hits.join(', ')}`);
  assert.ok(hits.some((h) => h.startsWith('drive')), `the plain blocks are found on the drives: ${hits.join(', ')}`);
});

test('leak - neither the encrypted objects\' plaintext nor the customer key is in any file or the log while the server runs', async () => {
  const logs = { 'server stderr': sse.server.logs(), 'server stdout': sse.server.stdout() };
  assert.deepEqual(await occurrences(secretMarker, logs), [], 'plaintext of encrypted objects found');
  assert.deepEqual(await occurrences(customer.key, logs), [], 'the SSE-C customer key found');
});

test('leak - nor after a clean stop, once SQLite has checkpointed its WAL into the database', async () => {
  await sse.server.stop();
  const logs = { 'server stderr': sse.server.logs(), 'server stdout': sse.server.stdout() };
  assert.deepEqual(await occurrences(secretMarker, logs), [], 'plaintext of encrypted objects found');
  assert.deepEqual(await occurrences(customer.key, logs), [], 'the SSE-C customer key found');
  assert.ok((await occurrences(controlMarker)).length > 0, 'the plain objects are still found');
});
