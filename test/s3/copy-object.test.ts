// CopyObject: the COPY and REPLACE metadata directives, x-amz-copy-source-if-* conditions and their
// precedence, copying an object onto itself, and copy sources with encoded keys.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import {
  CopyObjectCommand, CreateBucketCommand, GetObjectCommand, HeadObjectCommand, PutObjectCommand,
} from '@aws-sdk/client-s3';
import { startTesseraForFile } from '../helpers/tessera.js';
import { assertS3Error, raw, sdkError } from './raw-http.js';

const { server, s3 } = await startTesseraForFile();
const Bucket = 'copies';
const Other = 'copies-target';
before(async () => {
  await s3.send(new CreateBucketCommand({ Bucket }));
  await s3.send(new CreateBucketCommand({ Bucket: Other }));
});

async function source(key: string, body: Buffer | string = 'source body'): Promise<string> {
  const put = await s3.send(new PutObjectCommand({
    Bucket, Key: key, Body: body, ContentType: 'text/x-source', CacheControl: 'no-cache', Metadata: { origin: 'src', keep: 'yes' },
  }));
  return put.ETag!;
}

const past = new Date(Date.now() - 24 * 3600 * 1000);
const future = new Date(Date.now() + 24 * 3600 * 1000);

test('CopyObject - COPY keeps the source metadata and content, across buckets', async () => {
  const etag = await source('c1');
  const out = await s3.send(new CopyObjectCommand({ Bucket: Other, Key: 'c1-copy', CopySource: `${Bucket}/c1`, Metadata: { ignored: 'x' } }));
  assert.equal(out.CopyObjectResult?.ETag, etag);
  assert.ok(out.CopyObjectResult?.LastModified instanceof Date);
  const got = await s3.send(new GetObjectCommand({ Bucket: Other, Key: 'c1-copy' }));
  assert.equal(await got.Body!.transformToString(), 'source body');
  assert.equal(got.ContentType, 'text/x-source');
  assert.equal(got.CacheControl, 'no-cache');
  assert.deepEqual(got.Metadata, { origin: 'src', keep: 'yes' });
});

test('CopyObject - REPLACE takes the metadata of the request instead', async () => {
  await source('c2');
  await s3.send(new CopyObjectCommand({
    Bucket, Key: 'c2-copy', CopySource: `${Bucket}/c2`, MetadataDirective: 'REPLACE', ContentType: 'application/json', Metadata: { fresh: '1' },
  }));
  const head = await s3.send(new HeadObjectCommand({ Bucket, Key: 'c2-copy' }));
  assert.equal(head.ContentType, 'application/json');
  assert.equal(head.CacheControl, undefined);
  assert.deepEqual(head.Metadata, { fresh: '1' });
});

test('CopyObject - an unknown metadata directive gets InvalidArgument', async () => {
  await source('c3');
  const res = await raw(server, { method: 'PUT', path: `/${Bucket}/c3-copy`, headers: { 'x-amz-copy-source': `/${Bucket}/c3`, 'x-amz-metadata-directive': 'MERGE' } });
  assertS3Error(res, 400, 'InvalidArgument');
});

test('CopyObject - a large block-stored object copies byte for byte and stays independent of its source', async () => {
  const body = randomBytes(2 * 1024 * 1024 + 5);
  await source('big', body);
  await s3.send(new CopyObjectCommand({ Bucket, Key: 'big-copy', CopySource: `${Bucket}/big` }));
  await s3.send(new PutObjectCommand({ Bucket, Key: 'big', Body: 'overwritten' }));
  const got = await s3.send(new GetObjectCommand({ Bucket, Key: 'big-copy' }));
  const bytes = Buffer.from(await got.Body!.transformToByteArray());
  assert.equal(createHash('sha256').update(bytes).digest('hex'), createHash('sha256').update(body).digest('hex'));
});

test('CopyObject - copy-source-if-* conditions that fail get 412 and copy nothing', async () => {
  const etag = await source('cond');
  const failing: Record<string, string | Date>[] = [
    { CopySourceIfMatch: '"0123456789abcdef0123456789abcdef"' },
    { CopySourceIfNoneMatch: etag },
    { CopySourceIfModifiedSince: future },
    { CopySourceIfUnmodifiedSince: past },
    // If-None-Match false wins over If-Modified-Since true.
    { CopySourceIfNoneMatch: etag, CopySourceIfModifiedSince: past },
  ];
  for (const [i, conditions] of failing.entries()) {
    await assert.rejects(
      s3.send(new CopyObjectCommand({ Bucket, Key: `cond-copy-${i}`, CopySource: `${Bucket}/cond`, ...conditions })),
      sdkError('PreconditionFailed', 412),
      `conditions ${JSON.stringify(conditions)}`,
    );
    await assert.rejects(s3.send(new HeadObjectCommand({ Bucket, Key: `cond-copy-${i}` })), sdkError('NotFound', 404));
  }
});

test('CopyObject - copy-source-if-* conditions that hold copy, and If-Match true overrides If-Unmodified-Since false', async () => {
  const etag = await source('cond-ok');
  const holding: Record<string, string | Date>[] = [
    { CopySourceIfMatch: etag },
    { CopySourceIfMatch: '*' },
    { CopySourceIfNoneMatch: '"0123456789abcdef0123456789abcdef"' },
    { CopySourceIfModifiedSince: past },
    { CopySourceIfUnmodifiedSince: future },
    { CopySourceIfMatch: etag, CopySourceIfUnmodifiedSince: past },
  ];
  for (const [i, conditions] of holding.entries()) {
    const out = await s3.send(new CopyObjectCommand({ Bucket, Key: `cond-ok-copy-${i}`, CopySource: `${Bucket}/cond-ok`, ...conditions }));
    assert.equal(out.CopyObjectResult?.ETag, etag, `conditions ${JSON.stringify(conditions)}`);
  }
});

test('CopyObject - copying an object onto itself without REPLACE gets InvalidRequest', async () => {
  await source('self');
  await assert.rejects(s3.send(new CopyObjectCommand({ Bucket, Key: 'self', CopySource: `${Bucket}/self` })), sdkError('InvalidRequest', 400));
  const res = await raw(server, { method: 'PUT', path: `/${Bucket}/self`, headers: { 'x-amz-copy-source': `${Bucket}/self` } });
  assertS3Error(res, 400, 'InvalidRequest');
});

test('CopyObject - copying an object onto itself with REPLACE updates its metadata and keeps its body', async () => {
  const etag = await source('self-replace');
  const out = await s3.send(new CopyObjectCommand({
    Bucket, Key: 'self-replace', CopySource: `${Bucket}/self-replace`, MetadataDirective: 'REPLACE', ContentType: 'text/plain', Metadata: { updated: 'true' },
  }));
  assert.equal(out.CopyObjectResult?.ETag, etag);
  const got = await s3.send(new GetObjectCommand({ Bucket, Key: 'self-replace' }));
  assert.equal(await got.Body!.transformToString(), 'source body');
  assert.equal(got.ContentType, 'text/plain');
  assert.deepEqual(got.Metadata, { updated: 'true' });
});

test('CopyObject - a copy source with spaces, plus signs, percent and unicode in its key', async () => {
  const key = 'dir/a b+c%d \u00fc\u4e2d.txt';
  await source(key, 'tricky');
  const encoded = `${Bucket}/${key.split('/').map(encodeURIComponent).join('/')}`;
  await s3.send(new CopyObjectCommand({ Bucket, Key: 'tricky-copy', CopySource: encoded }));
  const got = await s3.send(new GetObjectCommand({ Bucket, Key: 'tricky-copy' }));
  assert.equal(await got.Body!.transformToString(), 'tricky');
});

test('CopyObject - a missing source key or bucket gets NoSuchKey or NoSuchBucket', async () => {
  await assert.rejects(s3.send(new CopyObjectCommand({ Bucket, Key: 'x', CopySource: `${Bucket}/not-there` })), sdkError('NoSuchKey', 404));
  await assert.rejects(s3.send(new CopyObjectCommand({ Bucket, Key: 'x', CopySource: 'no-such-source-bucket/k' })), sdkError('NoSuchBucket', 404));
  const res = await raw(server, { method: 'PUT', path: `/${Bucket}/x`, headers: { 'x-amz-copy-source': 'just-a-bucket' } });
  assertS3Error(res, 400, 'InvalidArgument');
});
