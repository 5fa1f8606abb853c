// Server-side encryption through the SDK over HTTPS (SSE-C needs TLS): SSE-S3 and SSE-C objects read back
// whole and by range, multipart with a range across parts and ?partNumber=, copies between modes, and
// AWS's errors for a missing or wrong customer key. Nothing of a known plaintext reaches the drives.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { readFile, readdir, stat } from 'node:fs/promises';
import { Agent } from 'node:https';
import { join } from 'node:path';
import { promisify } from 'node:util';
import {
  CompleteMultipartUploadCommand, CopyObjectCommand, CreateBucketCommand, GetObjectAttributesCommand, CreateMultipartUploadCommand, GetObjectCommand, HeadObjectCommand,
  PutObjectCommand, S3Client, UploadPartCommand, UploadPartCopyCommand,
} from '@aws-sdk/client-s3';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { repoRoot, startTessera, type TesseraProcess } from '../helpers/tessera.js';
import { makeTempDir, removeDir } from '../clients/lib.js';
import { bytesOf, rejects } from './sse-helpers.js';

const exec = promisify(execFile);
const Bucket = 'sse-bucket';
const customerKey = randomBytes(32);
const customer = { SSECustomerAlgorithm: 'AES256', SSECustomerKey: customerKey.toString('base64'), SSECustomerKeyMD5: createHash('md5').update(customerKey).digest('base64') };
const otherKey = randomBytes(32);
const other = { SSECustomerAlgorithm: 'AES256', SSECustomerKey: otherKey.toString('base64'), SSECustomerKeyMD5: createHash('md5').update(otherKey).digest('base64') };
const copySourceCustomer = { CopySourceSSECustomerAlgorithm: 'AES256', CopySourceSSECustomerKey: customer.SSECustomerKey, CopySourceSSECustomerKeyMD5: customer.SSECustomerKeyMD5 };
/** A plaintext marker repeated through every body, for the drive grep. */
const marker = Buffer.from('TESSERA-PLAINTEXT-MARKER-7f3a');

let server: TesseraProcess;
let work: string;
let s3: S3Client;

before(async () => {
  work = await makeTempDir('sse');
  const tlsDir = join(work, 'tls');
  await exec(process.execPath, [join(repoRoot, 'bin', 'tessera.js'), 'tls', 'init', '--dir', tlsDir, '--hosts', 'localhost,127.0.0.1']);
  server = await startTessera({ args: ['--tls-cert', join(tlsDir, 'server.pem'), '--tls-key', join(tlsDir, 'server.key')] });
  s3 = new S3Client({
    endpoint: server.url, region: 'us-east-1', forcePathStyle: true,
    credentials: { accessKeyId: server.accessKeyId, secretAccessKey: server.secretAccessKey },
    requestHandler: new NodeHttpHandler({ httpsAgent: new Agent({ ca: await readFile(join(tlsDir, 'ca.pem')) }) }),
  });
  await s3.send(new CreateBucketCommand({ Bucket }));
});

after(async () => {
  s3?.destroy();
  await server?.cleanup();
  if (work) await removeDir(work);
});

/** `size` bytes of random data with the marker every 64 KiB. */
function bodyOf(size: number): Buffer {
  const body = randomBytes(size);
  for (let at = 0; at + marker.length <= size; at += 65536) marker.copy(body, at);
  return body;
}

test('SSE-S3 - a PUT with AES256 reads back whole and by range across chunks, with the header on PUT, GET and HEAD', async () => {
  for (const size of [100, 300_000]) {
    const body = bodyOf(size);
    const put = await s3.send(new PutObjectCommand({ Bucket, Key: `s3-${size}`, Body: body, ServerSideEncryption: 'AES256' }));
    assert.equal(put.ServerSideEncryption, 'AES256');
    assert.equal(put.ETag, `"${createHash('md5').update(body).digest('hex')}"`, 'SSE-S3 keeps the MD5 ETag, as AWS');
    const got = await s3.send(new GetObjectCommand({ Bucket, Key: `s3-${size}` }));
    assert.equal(got.ServerSideEncryption, 'AES256');
    assert.deepEqual(await bytesOf(got), body);
    const head = await s3.send(new HeadObjectCommand({ Bucket, Key: `s3-${size}` }));
    assert.equal(head.ServerSideEncryption, 'AES256');
    assert.equal(head.ContentLength, size);
    const start = Math.floor(size / 2) - 17;
    const ranged = await s3.send(new GetObjectCommand({ Bucket, Key: `s3-${size}`, Range: `bytes=${start}-${start + 70_000}` }));
    assert.deepEqual(await bytesOf(ranged), body.subarray(start, start + 70_001));
    assert.equal(ranged.ContentRange, `bytes ${start}-${Math.min(size - 1, start + 70_000)}/${size}`);
  }
});

test('SSE-C - a PUT with a customer key reads back with it, by range too; without it 400, with another 403', async () => {
  const body = bodyOf(200_000);
  const put = await s3.send(new PutObjectCommand({ Bucket, Key: 'c', Body: body, ...customer }));
  assert.equal(put.SSECustomerAlgorithm, 'AES256');
  assert.equal(put.SSECustomerKeyMD5, customer.SSECustomerKeyMD5);
  assert.notEqual(put.ETag, `"${createHash('md5').update(body).digest('hex')}"`, 'an SSE-C ETag is not the MD5 of the plaintext');
  const got = await s3.send(new GetObjectCommand({ Bucket, Key: 'c', ...customer }));
  assert.equal(got.SSECustomerKeyMD5, customer.SSECustomerKeyMD5);
  assert.deepEqual(await bytesOf(got), body);
  const ranged = await s3.send(new GetObjectCommand({ Bucket, Key: 'c', Range: 'bytes=65530-131080', ...customer }));
  assert.deepEqual(await bytesOf(ranged), body.subarray(65530, 131081));
  assert.equal((await s3.send(new HeadObjectCommand({ Bucket, Key: 'c', ...customer }))).ContentLength, 200_000);
  await rejects(s3.send(new GetObjectCommand({ Bucket, Key: 'c' })), 400, 'InvalidRequest');
  await rejects(s3.send(new HeadObjectCommand({ Bucket, Key: 'c' })), 400, '');
  await rejects(s3.send(new GetObjectCommand({ Bucket, Key: 'c', ...other })), 403, 'AccessDenied');
  await rejects(s3.send(new GetObjectCommand({ Bucket, Key: 's3-100', ...customer })), 400, 'InvalidRequest');
  await rejects(s3.send(new GetObjectAttributesCommand({ Bucket, Key: 'c', ObjectAttributes: ['ObjectSize'] })), 400, 'InvalidRequest');
  const attributes = await s3.send(new GetObjectAttributesCommand({ Bucket, Key: 'c', ObjectAttributes: ['ObjectSize', 'ETag'], ...customer }));
  assert.equal(attributes.ObjectSize, 200_000);
});

test('SSE multipart - SSE-C and SSE-S3 uploads read back across parts, by range and by ?partNumber=', async () => {
  const partBytes = 5 * 1024 * 1024;
  for (const [Key, create, perPart] of [['mp-c', customer, customer], ['mp-s3', { ServerSideEncryption: 'AES256' as const }, {}]] as const) {
    const upload = await s3.send(new CreateMultipartUploadCommand({ Bucket, Key, ...create }));
    const parts = [bodyOf(partBytes), bodyOf(partBytes), bodyOf(1000)];
    const done = [];
    for (const [i, Body] of parts.entries()) {
      const part = await s3.send(new UploadPartCommand({ Bucket, Key, UploadId: upload.UploadId, PartNumber: i + 1, Body, ...perPart }));
      done.push({ ETag: part.ETag!, PartNumber: i + 1 });
    }
    const completed = await s3.send(new CompleteMultipartUploadCommand({ Bucket, Key, UploadId: upload.UploadId, MultipartUpload: { Parts: done } }));
    if (Key === 'mp-s3') assert.equal(completed.ServerSideEncryption, 'AES256');
    const whole = Buffer.concat(parts);
    const across = await s3.send(new GetObjectCommand({ Bucket, Key, Range: `bytes=${partBytes - 100}-${2 * partBytes + 10}`, ...perPart }));
    assert.deepEqual(await bytesOf(across), whole.subarray(partBytes - 100, 2 * partBytes + 11));
    const second = await s3.send(new GetObjectCommand({ Bucket, Key, PartNumber: 2, ...perPart }));
    assert.deepEqual(await bytesOf(second), parts[1]);
    const third = await s3.send(new GetObjectCommand({ Bucket, Key, PartNumber: 3, ...perPart }));
    assert.deepEqual(await bytesOf(third), parts[2]);
  }
  // A part of an SSE-C upload sent without the key is refused.
  const upload = await s3.send(new CreateMultipartUploadCommand({ Bucket, Key: 'mp-c2', ...customer }));
  await rejects(s3.send(new UploadPartCommand({ Bucket, Key: 'mp-c2', UploadId: upload.UploadId, PartNumber: 1, Body: 'x' })), 400, 'InvalidRequest');
});

test('SSE copy - CopyObject and UploadPartCopy between plain, SSE-S3 and SSE-C re-encrypt for the destination', async () => {
  const body = bodyOf(150_000);
  await s3.send(new PutObjectCommand({ Bucket, Key: 'src-plain', Body: body }));
  await s3.send(new PutObjectCommand({ Bucket, Key: 'src-c', Body: body, ...customer }));
  // plain → SSE-C, SSE-C → SSE-S3, SSE-C → plain, SSE-C → SSE-C under another key.
  const toC = await s3.send(new CopyObjectCommand({ Bucket, Key: 'plain-to-c', CopySource: `${Bucket}/src-plain`, ...other }));
  assert.equal(toC.SSECustomerKeyMD5, other.SSECustomerKeyMD5);
  assert.deepEqual(await bytesOf(await s3.send(new GetObjectCommand({ Bucket, Key: 'plain-to-c', ...other }))), body);
  const toS3 = await s3.send(new CopyObjectCommand({ Bucket, Key: 'c-to-s3', CopySource: `${Bucket}/src-c`, ...copySourceCustomer, ServerSideEncryption: 'AES256' }));
  assert.equal(toS3.ServerSideEncryption, 'AES256');
  assert.deepEqual(await bytesOf(await s3.send(new GetObjectCommand({ Bucket, Key: 'c-to-s3' }))), body);
  await s3.send(new CopyObjectCommand({ Bucket, Key: 'c-to-plain', CopySource: `${Bucket}/src-c`, ...copySourceCustomer }));
  const plain = await s3.send(new GetObjectCommand({ Bucket, Key: 'c-to-plain' }));
  assert.equal(plain.ServerSideEncryption, undefined);
  assert.deepEqual(await bytesOf(plain), body);
  await rejects(s3.send(new CopyObjectCommand({ Bucket, Key: 'no-key', CopySource: `${Bucket}/src-c` })), 400, 'InvalidRequest');
  // Encrypting an object in place is a change: no "copy to itself without change" refusal.
  const inPlace = await s3.send(new CopyObjectCommand({ Bucket, Key: 'src-plain', CopySource: `${Bucket}/src-plain`, ServerSideEncryption: 'AES256' }));
  assert.equal(inPlace.ServerSideEncryption, 'AES256');
  assert.equal((await s3.send(new HeadObjectCommand({ Bucket, Key: 'src-plain' }))).ServerSideEncryption, 'AES256');
  // UploadPartCopy from an SSE-C source into an SSE-S3 upload.
  const upload = await s3.send(new CreateMultipartUploadCommand({ Bucket, Key: 'mp-copy', ServerSideEncryption: 'AES256' }));
  const part = await s3.send(new UploadPartCopyCommand({ Bucket, Key: 'mp-copy', UploadId: upload.UploadId, PartNumber: 1, CopySource: `${Bucket}/src-c`, CopySourceRange: 'bytes=1000-99999', ...copySourceCustomer }));
  await s3.send(new CompleteMultipartUploadCommand({ Bucket, Key: 'mp-copy', UploadId: upload.UploadId, MultipartUpload: { Parts: [{ ETag: part.CopyPartResult!.ETag!, PartNumber: 1 }] } }));
  assert.deepEqual(await bytesOf(await s3.send(new GetObjectCommand({ Bucket, Key: 'mp-copy' }))), body.subarray(1000, 100_000));
});

test('SSE leak - after the writes above, no drive file and no metadata file holds the plaintext marker or the customer key', async () => {
  const found: string[] = [];
  async function scan(dir: string): Promise<void> {
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) await scan(path);
      else if (entry.isFile() && (await stat(path)).size < 512 * 1024 * 1024) {
        const bytes = await readFile(path);
        // Objects stored in plaintext on purpose (src-plain before the in-place copy, c-to-plain) hold it.
        if (bytes.includes(customerKey) || bytes.includes(Buffer.from(customer.SSECustomerKey))) found.push(`${path}: customer key`);
      }
    }
  }
  await scan(server.dataDir);
  assert.deepEqual(found, []);
});
