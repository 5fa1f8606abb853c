// GetObject and HeadObject answers shaped by the request: byte ranges (206, 416), the four conditional
// headers with AWS's precedence (304, 412), and response-* header overrides.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { CreateBucketCommand, GetObjectCommand, HeadObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { startTesseraForFile } from '../helpers/tessera.js';
import { assertS3Error, raw, sdkError } from './raw-http.js';

const { server, s3 } = await startTesseraForFile();
const Bucket = 'reads';
const text = 'abcdefghijklmnopqrstuvwxyz0123456789'; // 36 bytes, inline in the metadata
const large = randomBytes(3 * 1024 * 1024 + 333); // in the block store
let etag = '';
let lastModified = new Date(0);
before(async () => {
  await s3.send(new CreateBucketCommand({ Bucket }));
  etag = (await s3.send(new PutObjectCommand({ Bucket, Key: 'text', Body: text, ContentType: 'text/plain' }))).ETag!;
  await s3.send(new PutObjectCommand({ Bucket, Key: 'large', Body: large }));
  await s3.send(new PutObjectCommand({ Bucket, Key: 'empty', Body: '' }));
  lastModified = (await s3.send(new HeadObjectCommand({ Bucket, Key: 'text' }))).LastModified!;
});

async function rangeOf(key: string, range: string): Promise<{ status: number; body: Buffer; contentRange?: string; length?: number }> {
  const out = await s3.send(new GetObjectCommand({ Bucket, Key: key, Range: range }));
  const body = Buffer.from(await out.Body!.transformToByteArray());
  return { status: out.$metadata.httpStatusCode!, body, ...(out.ContentRange ? { contentRange: out.ContentRange } : {}), ...(out.ContentLength !== undefined ? { length: out.ContentLength } : {}) };
}

test('GetObject range - a-b, a- and -n answer 206 with Content-Range', async () => {
  const cases: [string, number, number][] = [['bytes=0-4', 0, 5], ['bytes=10-', 10, 36], ['bytes=-6', 30, 36], ['bytes=35-35', 35, 36], ['bytes=0-', 0, 36]];
  for (const [range, start, end] of cases) {
    const r = await rangeOf('text', range);
    assert.equal(r.status, 206, range);
    assert.equal(r.body.toString(), text.slice(start, end), range);
    assert.equal(r.contentRange, `bytes ${start}-${end - 1}/36`, range);
    assert.equal(r.length, end - start, range);
  }
});

test('GetObject range - an end past the object is clipped and a suffix longer than it returns it all', async () => {
  const r = await rangeOf('text', 'bytes=30-1000');
  assert.equal(r.status, 206);
  assert.equal(r.body.toString(), text.slice(30));
  assert.equal(r.contentRange, 'bytes 30-35/36');
  const s = await rangeOf('text', 'bytes=-100');
  assert.equal(s.body.toString(), text);
  assert.equal(s.contentRange, 'bytes 0-35/36');
});

test('GetObject range - ranges inside a block-stored object are byte exact', async () => {
  const size = large.length;
  for (const [range, start, end] of [
    ['bytes=1048570-2097160', 1048570, 2097161],
    [`bytes=-${1024 * 1024 + 7}`, size - 1024 * 1024 - 7, size],
    [`bytes=${size - 1}-`, size - 1, size],
  ] as [string, number, number][]) {
    const r = await rangeOf('large', range);
    assert.equal(r.contentRange, `bytes ${start}-${end - 1}/${size}`);
    assert.ok(r.body.equals(large.subarray(start, end)), range);
  }
});

test('GetObject range - an unsatisfiable range gets 416 InvalidRange with Content-Range */size', async () => {
  for (const range of ['bytes=36-', 'bytes=100-200', 'bytes=-0']) {
    const res = await raw(server, { path: `/${Bucket}/text`, headers: { range } });
    assertS3Error(res, 416, 'InvalidRange');
    assert.equal(res.headers['content-range'], 'bytes */36', range);
  }
  await assert.rejects(s3.send(new GetObjectCommand({ Bucket, Key: 'text', Range: 'bytes=50-' })), sdkError('InvalidRange', 416));
});

test('GetObject range - syntactically invalid or multiple ranges are ignored: 200 with the whole object', async () => {
  for (const range of ['bytes=5-2', 'bytes=a-b', 'items=0-4', 'bytes=0-1,4-5']) {
    const res = await raw(server, { path: `/${Bucket}/text`, headers: { range } });
    assert.equal(res.status, 200, range);
    assert.equal(res.text, text, range);
    assert.equal(res.headers['content-range'], undefined);
  }
});

test('GetObject conditions - If-Match and If-Unmodified-Since that fail get 412', async () => {
  const earlier = new Date(lastModified.getTime() - 3600_000);
  await assert.rejects(s3.send(new GetObjectCommand({ Bucket, Key: 'text', IfMatch: '"deadbeefdeadbeefdeadbeefdeadbeef"' })), sdkError('PreconditionFailed', 412));
  await assert.rejects(s3.send(new GetObjectCommand({ Bucket, Key: 'text', IfUnmodifiedSince: earlier })), sdkError('PreconditionFailed', 412));
  const res = await raw(server, { path: `/${Bucket}/text`, headers: { 'if-match': '"nope"' } });
  const body = assertS3Error(res, 412, 'PreconditionFailed');
  assert.equal(body.Condition, 'If-Match');
  const head = await raw(server, { method: 'HEAD', path: `/${Bucket}/text`, headers: { 'if-match': '"nope"' } });
  assert.equal(head.status, 412);
  assert.equal(head.body.length, 0);
});

test('GetObject conditions - If-None-Match and If-Modified-Since that fail get 304 with the ETag and no body', async () => {
  const later = new Date(lastModified.getTime() + 3600_000);
  const cases: Record<string, string>[] = [{ 'if-none-match': etag }, { 'if-none-match': '*' }, { 'if-modified-since': later.toUTCString() }, { 'if-modified-since': lastModified.toUTCString() }];
  for (const headers of cases) {
    for (const method of ['GET', 'HEAD']) {
      const res = await raw(server, { method, path: `/${Bucket}/text`, headers });
      assert.equal(res.status, 304, `${method} ${JSON.stringify(headers)}`);
      assert.equal(res.body.length, 0);
      assert.equal(res.headers.etag, etag);
      assert.equal(res.headers['last-modified'], lastModified.toUTCString());
      assert.ok(res.headers['x-amz-request-id']);
    }
  }
});

test('GetObject conditions - conditions that hold answer 200', async () => {
  const earlier = new Date(lastModified.getTime() - 3600_000);
  const later = new Date(lastModified.getTime() + 3600_000);
  for (const conditions of [
    { IfMatch: etag }, { IfMatch: '*' }, { IfNoneMatch: '"0000"' }, { IfModifiedSince: earlier }, { IfUnmodifiedSince: later },
    { IfUnmodifiedSince: lastModified }, { IfMatch: `"x", ${etag}` },
  ]) {
    const out = await s3.send(new GetObjectCommand({ Bucket, Key: 'text', ...conditions }));
    assert.equal(await out.Body!.transformToString(), text, JSON.stringify(conditions));
  }
});

test('GetObject conditions - AWS precedence: If-Match true beats If-Unmodified-Since false, If-None-Match false beats If-Modified-Since true', async () => {
  const earlier = new Date(lastModified.getTime() - 3600_000);
  const later = new Date(lastModified.getTime() + 3600_000);
  // If-Match holds, If-Unmodified-Since fails: 200.
  const ok = await s3.send(new GetObjectCommand({ Bucket, Key: 'text', IfMatch: etag, IfUnmodifiedSince: earlier }));
  assert.equal(ok.$metadata.httpStatusCode, 200);
  await ok.Body!.transformToString();
  // If-None-Match fails (the ETag matches), If-Modified-Since holds: 304.
  const notModified = await raw(server, { path: `/${Bucket}/text`, headers: { 'if-none-match': etag, 'if-modified-since': earlier.toUTCString() } });
  assert.equal(notModified.status, 304);
  // If-None-Match holds, If-Modified-Since would fail: If-Modified-Since is ignored, 200.
  const modified = await raw(server, { path: `/${Bucket}/text`, headers: { 'if-none-match': '"other"', 'if-modified-since': later.toUTCString() } });
  assert.equal(modified.status, 200);
  // If-Match fails and If-None-Match fails: 412 wins over 304.
  const failed = await raw(server, { path: `/${Bucket}/text`, headers: { 'if-match': '"other"', 'if-none-match': etag } });
  assertS3Error(failed, 412, 'PreconditionFailed');
});

test('GetObject conditions - an unparseable date is ignored', async () => {
  const res = await raw(server, { path: `/${Bucket}/text`, headers: { 'if-modified-since': 'yesterday-ish', 'if-unmodified-since': 'garbage' } });
  assert.equal(res.status, 200);
});

test('GetObject response-* overrides - set the answer headers of GET and HEAD', async () => {
  const overrides = {
    ResponseContentType: 'application/x-override',
    ResponseContentLanguage: 'fr',
    ResponseExpires: new Date('2030-01-01T00:00:00Z'),
    ResponseCacheControl: 'no-store',
    ResponseContentDisposition: 'attachment; filename="x y.txt"',
    ResponseContentEncoding: 'gzip',
  };
  const got = await s3.send(new GetObjectCommand({ Bucket, Key: 'text', ...overrides }));
  assert.equal(got.ContentType, 'application/x-override');
  assert.equal(got.ContentLanguage, 'fr');
  assert.equal(got.ExpiresString, 'Tue, 01 Jan 2030 00:00:00 GMT');
  assert.equal(got.CacheControl, 'no-store');
  assert.equal(got.ContentDisposition, 'attachment; filename="x y.txt"');
  assert.equal(got.ContentEncoding, 'gzip');
  const head = await s3.send(new HeadObjectCommand({ Bucket, Key: 'text', ResponseContentType: 'image/png' } as never));
  assert.equal(head.ContentType, 'image/png');
  // The stored metadata is unchanged.
  const plain = await s3.send(new HeadObjectCommand({ Bucket, Key: 'text' }));
  assert.equal(plain.ContentType, 'text/plain');
  assert.equal(plain.ContentLanguage, undefined);
});

test('GetObject response-* overrides - control characters get InvalidArgument, text beyond Latin-1 goes out as UTF-8', async () => {
  for (const value of ['a\r\nx-injected: yes', 'nul\u0000', 'bell\u0007']) {
    const res = await raw(server, { path: `/${Bucket}/text`, query: { 'response-content-disposition': value } });
    const body = assertS3Error(res, 400, 'InvalidArgument');
    assert.equal(body.ArgumentName, 'response-content-disposition');
    assert.equal(res.headers['x-injected'], undefined);
  }
  const name = 'attachment; filename="\u4e2d\u6587 \u00fc.txt"';
  const res = await raw(server, { path: `/${Bucket}/text`, query: { 'response-content-disposition': name } });
  assert.equal(res.status, 200);
  assert.equal(Buffer.from(res.headers['content-disposition']!, 'latin1').toString('utf8'), name);
  assert.equal(res.text, text);
});

test('GetObject - a zero-byte object answers 200 with an empty body', async () => {
  const out = await s3.send(new GetObjectCommand({ Bucket, Key: 'empty' }));
  assert.equal(out.ContentLength, 0);
  assert.equal((await out.Body!.transformToByteArray()).length, 0);
  assert.equal(out.ETag, '"d41d8cd98f00b204e9800998ecf8427e"');
});
