// PutObject, GetObject, HeadObject and DeleteObject: bodies of every size class, system and user metadata
// round trips, the MD5 ETag, and Content-MD5 verification.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import {
  CreateBucketCommand, DeleteObjectCommand, GetObjectCommand, HeadObjectCommand, PutObjectCommand,
} from '@aws-sdk/client-s3';
import { startTesseraForFile } from '../helpers/tessera.js';
import { assertS3Error, md5Base64, raw, sdkError } from './raw-http.js';

const { server, s3 } = await startTesseraForFile();
const Bucket = 'objects';
before(() => s3.send(new CreateBucketCommand({ Bucket })));

function md5Hex(data: Buffer | string): string {
  return createHash('md5').update(data).digest('hex');
}

test('PutObject - ETag is the quoted MD5 for empty, inline and block-sized bodies', async () => {
  for (const [key, body] of [['empty', Buffer.alloc(0)], ['small', Buffer.from('hello')], ['large', randomBytes(3 * 1024 * 1024 + 17)]] as const) {
    const put = await s3.send(new PutObjectCommand({ Bucket, Key: key, Body: body }));
    assert.equal(put.ETag, `"${md5Hex(body)}"`);
    const got = await s3.send(new GetObjectCommand({ Bucket, Key: key }));
    assert.equal(got.ETag, put.ETag);
    assert.equal(got.ContentLength, body.length);
    const bytes = Buffer.from(await got.Body!.transformToByteArray());
    assert.ok(bytes.equals(body), `body of "${key}" differs`);
    const head = await s3.send(new HeadObjectCommand({ Bucket, Key: key }));
    assert.equal(head.ContentLength, body.length);
    assert.equal(head.ETag, put.ETag);
    assert.ok(head.LastModified instanceof Date);
  }
});

test('PutObject - overwriting a key replaces its body and metadata', async () => {
  await s3.send(new PutObjectCommand({ Bucket, Key: 'over', Body: 'first', Metadata: { a: '1' } }));
  await s3.send(new PutObjectCommand({ Bucket, Key: 'over', Body: 'second!', ContentType: 'text/plain' }));
  const got = await s3.send(new GetObjectCommand({ Bucket, Key: 'over' }));
  assert.equal(await got.Body!.transformToString(), 'second!');
  assert.deepEqual(got.Metadata, {});
  assert.equal(got.ContentType, 'text/plain');
});

test('Object metadata - system headers and x-amz-meta-* round trip on GET and HEAD', async () => {
  const expires = new Date('2031-02-03T04:05:06Z');
  await s3.send(new PutObjectCommand({
    Bucket, Key: 'meta', Body: 'payload',
    ContentType: 'text/markdown; charset=utf-8',
    ContentEncoding: 'identity',
    ContentDisposition: 'attachment; filename="resume.md"',
    ContentLanguage: 'de-CH',
    CacheControl: 'max-age=600, private',
    Expires: expires,
    Metadata: { 'Camel-Case': 'Value With Spaces', empty: '', n: '42' },
  }));
  for (const out of [await s3.send(new HeadObjectCommand({ Bucket, Key: 'meta' })), await s3.send(new GetObjectCommand({ Bucket, Key: 'meta' }))]) {
    assert.equal(out.ContentType, 'text/markdown; charset=utf-8');
    assert.equal(out.ContentEncoding, 'identity');
    assert.equal(out.ContentDisposition, 'attachment; filename="resume.md"');
    assert.equal(out.ContentLanguage, 'de-CH');
    assert.equal(out.CacheControl, 'max-age=600, private');
    assert.equal(out.ExpiresString, expires.toUTCString());
    assert.deepEqual(out.Metadata, { 'camel-case': 'Value With Spaces', empty: '', n: '42' });
  }
});

test('Object metadata - Content-Encoding is kept as sent, only aws-chunked is removed (issue 10)', async () => {
  const cases: [string, string | undefined][] = [
    ['gzip', 'gzip'], ['deflate, gzip', 'deflate, gzip'], ['deflate,gzip', 'deflate,gzip'],
    ['gzip, aws-chunked', 'gzip'], ['aws-chunked, gzip', 'gzip'], ['aws-chunked', undefined], ['aws-chunked, aws-chunked', undefined],
  ];
  for (const [sent, stored] of cases) {
    await s3.send(new PutObjectCommand({ Bucket, Key: 'encoded', Body: 'x', ContentEncoding: sent }));
    const head = await s3.send(new HeadObjectCommand({ Bucket, Key: 'encoded' }));
    assert.equal(head.ContentEncoding, stored, `sent ${JSON.stringify(sent)}`);
  }
});

test('Object metadata - the default Content-Type is binary/octet-stream when none is given', async () => {
  const res = await raw(server, { method: 'PUT', path: `/${Bucket}/no-type`, body: 'abc' });
  assert.equal(res.status, 200);
  const head = await s3.send(new HeadObjectCommand({ Bucket, Key: 'no-type' }));
  assert.equal(head.ContentType, 'binary/octet-stream');
});

test('Object metadata - more than 2 KiB of user metadata gets MetadataTooLarge', async () => {
  await assert.rejects(
    s3.send(new PutObjectCommand({ Bucket, Key: 'too-much-meta', Body: 'x', Metadata: { big: 'v'.repeat(2100) } })),
    sdkError('MetadataTooLarge', 400),
  );
  await assert.rejects(s3.send(new HeadObjectCommand({ Bucket, Key: 'too-much-meta' })), sdkError('NotFound', 404));
});

test('PutObject - a correct Content-MD5 is accepted', async () => {
  const put = await s3.send(new PutObjectCommand({ Bucket, Key: 'md5-ok', Body: 'checked', ContentMD5: md5Base64('checked') }));
  assert.equal(put.ETag, `"${md5Hex('checked')}"`);
});

test('PutObject - a Content-MD5 of other bytes gets BadDigest and stores nothing', async () => {
  await assert.rejects(
    s3.send(new PutObjectCommand({ Bucket, Key: 'md5-bad', Body: 'checked', ContentMD5: md5Base64('something else') })),
    sdkError('BadDigest', 400),
  );
  const res = await raw(server, { method: 'PUT', path: `/${Bucket}/md5-bad`, body: 'x'.repeat(100_000), headers: { 'content-md5': md5Base64('y') } });
  assertS3Error(res, 400, 'BadDigest');
  await assert.rejects(s3.send(new HeadObjectCommand({ Bucket, Key: 'md5-bad' })), sdkError('NotFound', 404));
});

test('PutObject - a malformed Content-MD5 gets InvalidDigest', async () => {
  for (const value of ['not base64!', 'AAAA', Buffer.alloc(20).toString('base64')]) {
    const res = await raw(server, { method: 'PUT', path: `/${Bucket}/md5-malformed`, body: 'abc', headers: { 'content-md5': value } });
    assertS3Error(res, 400, 'InvalidDigest');
  }
  await assert.rejects(s3.send(new HeadObjectCommand({ Bucket, Key: 'md5-malformed' })), sdkError('NotFound', 404));
});

test('GetObject - a missing key gets NoSuchKey naming the key; HEAD gets a bare 404', async () => {
  await assert.rejects(s3.send(new GetObjectCommand({ Bucket, Key: 'absent/key' })), sdkError('NoSuchKey', 404));
  const res = await raw(server, { path: `/${Bucket}/absent/key` });
  const body = assertS3Error(res, 404, 'NoSuchKey');
  assert.equal(body.Key, 'absent/key');
  assert.equal(body.Resource, `/${Bucket}/absent/key`);
  const head = await raw(server, { method: 'HEAD', path: `/${Bucket}/absent/key` });
  assert.equal(head.status, 404);
  assert.equal(head.body.length, 0);
  assert.ok(head.headers['x-amz-request-id']);
});

test('DeleteObject - removes an object and answers 204 for a key that does not exist', async () => {
  await s3.send(new PutObjectCommand({ Bucket, Key: 'doomed', Body: 'bye' }));
  const del = await s3.send(new DeleteObjectCommand({ Bucket, Key: 'doomed' }));
  assert.equal(del.$metadata.httpStatusCode, 204);
  await assert.rejects(s3.send(new GetObjectCommand({ Bucket, Key: 'doomed' })), sdkError('NoSuchKey', 404));
  const again = await s3.send(new DeleteObjectCommand({ Bucket, Key: 'doomed' }));
  assert.equal(again.$metadata.httpStatusCode, 204);
  await assert.rejects(s3.send(new DeleteObjectCommand({ Bucket: 'no-such-bucket-x', Key: 'k' })), sdkError('NoSuchBucket', 404));
});

test('Object keys - a key of exactly 1,024 bytes works, including multi-byte characters', async () => {
  const key = `${'\u00e9'.repeat(500)}${'k'.repeat(24)}`; // 1,000 + 24 bytes
  assert.equal(Buffer.byteLength(key), 1024);
  await s3.send(new PutObjectCommand({ Bucket, Key: key, Body: 'long' }));
  const got = await s3.send(new GetObjectCommand({ Bucket, Key: key }));
  assert.equal(await got.Body!.transformToString(), 'long');
  await s3.send(new DeleteObjectCommand({ Bucket, Key: key }));
});

test('Object keys - keys with slashes, dots and reserved characters round trip', async () => {
  for (const key of ['a//b', 'dir/./x', 'dir/../y', '?q=1&r', '#hash', 'tab\there', ' leading space', 'semi;colon', '~tilde', '\u4e2d\u6587/\ud83d\ude00']) {
    await s3.send(new PutObjectCommand({ Bucket, Key: key, Body: key }));
    const got = await s3.send(new GetObjectCommand({ Bucket, Key: key }));
    assert.equal(await got.Body!.transformToString(), key, `key ${JSON.stringify(key)}`);
  }
});
