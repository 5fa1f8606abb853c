// Conditional writes: If-None-Match (* or ETags) and If-Match on PutObject and CompleteMultipartUpload (412 when the
// condition fails), and races between conditional writers to one new key (one wins, the rest 412 or 409).
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import {
  CompleteMultipartUploadCommand, CreateBucketCommand, CreateMultipartUploadCommand, DeleteObjectCommand, GetObjectCommand, PutBucketVersioningCommand, PutObjectCommand,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { startTesseraForFile } from '../helpers/tessera.js';
import { assertS3Error, objectPath, raw, sdkError } from './raw-http.js';

const { server, s3 } = await startTesseraForFile();
const Bucket = 'conditional';
before(() => s3.send(new CreateBucketCommand({ Bucket })));

async function body(key: string): Promise<string> {
  return (await s3.send(new GetObjectCommand({ Bucket, Key: key }))).Body!.transformToString();
}

/** A one-part upload of `content` to `key`, ready to complete. */
async function onePartUpload(key: string, content: string): Promise<{ UploadId: string; ETag: string }> {
  const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket, Key: key }));
  const { ETag } = await s3.send(new UploadPartCommand({ Bucket, Key: key, UploadId, PartNumber: 1, Body: content }));
  return { UploadId: UploadId!, ETag: ETag! };
}

function complete(key: string, upload: { UploadId: string; ETag: string }, conditions: { IfNoneMatch?: string; IfMatch?: string } = {}) {
  return s3.send(new CompleteMultipartUploadCommand({
    Bucket, Key: key, UploadId: upload.UploadId, MultipartUpload: { Parts: [{ PartNumber: 1, ETag: upload.ETag }] }, ...conditions,
  }));
}

test('PutObject If-None-Match: * - creates a new key and refuses an existing one with 412', async () => {
  await s3.send(new PutObjectCommand({ Bucket, Key: 'inm', Body: 'first', IfNoneMatch: '*' }));
  await assert.rejects(s3.send(new PutObjectCommand({ Bucket, Key: 'inm', Body: 'second', IfNoneMatch: '*' })), sdkError('PreconditionFailed', 412));
  assert.equal(await body('inm'), 'first');
  const res = await raw(server, { method: 'PUT', path: objectPath(Bucket, 'inm'), body: 'third', headers: { 'if-none-match': '*' } });
  assertS3Error(res, 412, 'PreconditionFailed');
  assert.equal(await body('inm'), 'first');
});

test('PutObject If-Match - replaces the object when the ETag matches and gets 412 when it does not', async () => {
  const { ETag } = await s3.send(new PutObjectCommand({ Bucket, Key: 'im', Body: 'v1' }));
  const v2 = await s3.send(new PutObjectCommand({ Bucket, Key: 'im', Body: 'v2', IfMatch: ETag }));
  assert.equal(await body('im'), 'v2');
  await assert.rejects(s3.send(new PutObjectCommand({ Bucket, Key: 'im', Body: 'v3', IfMatch: ETag })), sdkError('PreconditionFailed', 412));
  assert.equal(await body('im'), 'v2');
  await s3.send(new PutObjectCommand({ Bucket, Key: 'im', Body: 'v3', IfMatch: v2.ETag }));
  assert.equal(await body('im'), 'v3');
});

test('PutObject If-Match - a key that does not exist gets 404 NoSuchKey', async () => {
  await assert.rejects(s3.send(new PutObjectCommand({ Bucket, Key: 'im-missing', Body: 'x', IfMatch: '"abc"' })), sdkError('NoSuchKey', 404));
});

test('PutObject If-None-Match - an ETag list refuses the write with 412 only when it names the current ETag', async () => {
  const first = await s3.send(new PutObjectCommand({ Bucket, Key: 'inm-etag', Body: 'v1', IfNoneMatch: '"0123456789abcdef0123456789abcdef"' }));
  await assert.rejects(s3.send(new PutObjectCommand({ Bucket, Key: 'inm-etag', Body: 'v2', IfNoneMatch: first.ETag })), sdkError('PreconditionFailed', 412));
  const unquoted = first.ETag!.replaceAll('"', '');
  const res = await raw(server, { method: 'PUT', path: objectPath(Bucket, 'inm-etag'), body: 'v2', headers: { 'if-none-match': `"other", ${unquoted}` } });
  assertS3Error(res, 412, 'PreconditionFailed');
  assert.equal(await body('inm-etag'), 'v1');
  await s3.send(new PutObjectCommand({ Bucket, Key: 'inm-etag', Body: 'v2', IfNoneMatch: '"badetag"' }));
  assert.equal(await body('inm-etag'), 'v2');
});

test('PutObject If-None-Match - an ETag list is checked against the current version only, a delete marker being none', async () => {
  const versioned = 'conditional-versioned';
  await s3.send(new CreateBucketCommand({ Bucket: versioned }));
  await s3.send(new PutBucketVersioningCommand({ Bucket: versioned, VersioningConfiguration: { Status: 'Enabled' } }));
  const v1 = await s3.send(new PutObjectCommand({ Bucket: versioned, Key: 'k', Body: 'v1' }));
  const v2 = await s3.send(new PutObjectCommand({ Bucket: versioned, Key: 'k', Body: 'v2' }));
  await assert.rejects(s3.send(new PutObjectCommand({ Bucket: versioned, Key: 'k', Body: 'x', IfNoneMatch: v2.ETag })), sdkError('PreconditionFailed', 412));
  await s3.send(new PutObjectCommand({ Bucket: versioned, Key: 'k', Body: 'v3', IfNoneMatch: v1.ETag }));
  await s3.send(new DeleteObjectCommand({ Bucket: versioned, Key: 'k' }));
  await s3.send(new PutObjectCommand({ Bucket: versioned, Key: 'k', Body: 'v3', IfNoneMatch: '*' }));
});

test('PutObject If-None-Match: * - of many concurrent writers to one new key exactly one wins', async () => {
  // Bodies of 256 KiB keep several writers between their early condition check and their commit, so
  // some lose at the commit (409) rather than at the early check (412).
  const writers = 24;
  const bodyOf = (i: number) => `writer-${i}:`.padEnd(256 * 1024, '.');
  const results = await Promise.allSettled(
    Array.from({ length: writers }, (_, i) => raw(server, { method: 'PUT', path: objectPath(Bucket, 'race'), body: bodyOf(i), headers: { 'if-none-match': '*' } })),
  );
  const statuses = results.map((r) => (r.status === 'fulfilled' ? r.value.status : 0));
  const winners = statuses.flatMap((s, i) => (s === 200 ? [i] : []));
  assert.equal(winners.length, 1, `statuses: ${statuses.join(',')}`);
  for (const r of results) {
    assert.equal(r.status, 'fulfilled');
    if (r.value.status === 200) continue;
    const code = r.value.status === 412 ? 'PreconditionFailed' : 'ConditionalRequestConflict';
    assertS3Error(r.value, r.value.status === 412 ? 412 : 409, code);
  }
  assert.equal(await body('race'), bodyOf(winners[0]!));
});

test('CompleteMultipartUpload If-None-Match: * - completes onto a new key and gets 412 onto an existing one', async () => {
  const first = await onePartUpload('mp-inm', 'multipart one');
  await complete('mp-inm', first, { IfNoneMatch: '*' });
  assert.equal(await body('mp-inm'), 'multipart one');
  const second = await onePartUpload('mp-inm', 'multipart two');
  await assert.rejects(complete('mp-inm', second, { IfNoneMatch: '*' }), sdkError('PreconditionFailed', 412));
  assert.equal(await body('mp-inm'), 'multipart one');
});

test('CompleteMultipartUpload If-None-Match - an ETag list gets 412 when it names the current ETag and completes otherwise', async () => {
  const { ETag } = await s3.send(new PutObjectCommand({ Bucket, Key: 'mp-inm-etag', Body: 'old' }));
  const upload = await onePartUpload('mp-inm-etag', 'new');
  await assert.rejects(complete('mp-inm-etag', upload, { IfNoneMatch: ETag }), sdkError('PreconditionFailed', 412));
  assert.equal(await body('mp-inm-etag'), 'old');
  await complete('mp-inm-etag', upload, { IfNoneMatch: '"badetag"' });
  assert.equal(await body('mp-inm-etag'), 'new');
});

test('CompleteMultipartUpload If-Match - completes when the ETag matches and gets 412 when it does not', async () => {
  const { ETag } = await s3.send(new PutObjectCommand({ Bucket, Key: 'mp-im', Body: 'plain' }));
  const wrong = await onePartUpload('mp-im', 'wrong etag');
  await assert.rejects(complete('mp-im', wrong, { IfMatch: '"00000000000000000000000000000000"' }), sdkError('PreconditionFailed', 412));
  assert.equal(await body('mp-im'), 'plain');
  const right = await onePartUpload('mp-im', 'right etag');
  await complete('mp-im', right, { IfMatch: ETag! });
  assert.equal(await body('mp-im'), 'right etag');
});

test('CompleteMultipartUpload If-None-Match: * - of concurrent completions to one new key exactly one wins', async () => {
  const uploads = await Promise.all(Array.from({ length: 8 }, (_, i) => onePartUpload('mp-race', `upload-${i}`)));
  const results = await Promise.allSettled(uploads.map((u) => complete('mp-race', u, { IfNoneMatch: '*' })));
  const winners = results.flatMap((r, i) => (r.status === 'fulfilled' ? [i] : []));
  assert.equal(winners.length, 1, JSON.stringify(results.map((r) => r.status === 'fulfilled' ? 200 : (r.reason as { name: string }).name)));
  for (const r of results) {
    if (r.status === 'rejected') {
      const e = r.reason as { name: string; $metadata: { httpStatusCode: number } };
      assert.ok(
        (e.name === 'PreconditionFailed' && e.$metadata.httpStatusCode === 412) || (e.name === 'ConditionalRequestConflict' && e.$metadata.httpStatusCode === 409),
        `unexpected ${e.name}`,
      );
    }
  }
  assert.equal(await body('mp-race'), `upload-${winners[0]}`);
});
