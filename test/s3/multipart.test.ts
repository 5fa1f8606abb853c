// Multipart uploads: create, upload, complete (md5-of-md5s-N ETag), the InvalidPart, InvalidPartOrder and
// EntityTooSmall refusals, part replacement, UploadPartCopy with ranges, abort (storage freed, then
// NoSuchUpload), and ListParts / ListMultipartUploads pagination.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { join } from 'node:path';
import {
  AbortMultipartUploadCommand, CompleteMultipartUploadCommand, CreateBucketCommand, CreateMultipartUploadCommand, DeleteBucketCommand,
  GetObjectCommand, HeadBucketCommand, HeadObjectCommand, ListMultipartUploadsCommand, ListPartsCommand, PutObjectCommand, UploadPartCommand, UploadPartCopyCommand, type CompletedPart,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { startTesseraForFile } from '../helpers/tessera.js';
import { storedShardNames } from '../ec/helpers.js';
import { assertS3Error, objectPath, raw, sdkError } from './raw-http.js';

// GC runs at once, so a test can see aborted and replaced parts leave the drive.
const { server, s3 } = await startTesseraForFile({ args: ['--gc-delay', '0', '--gc-interval', '1'] });
const Bucket = 'multipart';
const MiB = 1024 * 1024;
const part1 = randomBytes(5 * MiB);
const part2 = randomBytes(5 * MiB + 3);
const part3 = randomBytes(1000);
before(() => s3.send(new CreateBucketCommand({ Bucket })));

function md5(data: Buffer): Buffer {
  return createHash('md5').update(data).digest();
}

function multipartEtag(parts: Buffer[]): string {
  return `"${createHash('md5').update(Buffer.concat(parts.map(md5))).digest('hex')}-${parts.length}"`;
}

async function create(key: string, extra: Record<string, unknown> = {}): Promise<string> {
  return (await s3.send(new CreateMultipartUploadCommand({ Bucket, Key: key, ...extra }))).UploadId!;
}

async function upload(key: string, uploadId: string, partNumber: number, body: Buffer | string): Promise<CompletedPart> {
  const out = await s3.send(new UploadPartCommand({ Bucket, Key: key, UploadId: uploadId, PartNumber: partNumber, Body: body }));
  return { PartNumber: partNumber, ETag: out.ETag! };
}

function complete(key: string, uploadId: string, parts: CompletedPart[]) {
  return s3.send(new CompleteMultipartUploadCommand({ Bucket, Key: key, UploadId: uploadId, MultipartUpload: { Parts: parts } }));
}

async function bytesOf(key: string, extra: Record<string, unknown> = {}): Promise<Buffer> {
  const out = await s3.send(new GetObjectCommand({ Bucket, Key: key, ...extra }));
  return Buffer.from(await out.Body!.transformToByteArray());
}

/** The shards on the drive now (files and packed records), by name. */
async function driveFiles(): Promise<Set<string>> {
  return storedShardNames(join(server.dataDir, 'drive'));
}

/** Runs `action` and returns the shard files it added. */
async function filesAddedBy(action: () => Promise<unknown>): Promise<string[]> {
  const before = await driveFiles();
  await action();
  const added = [...(await driveFiles())].filter((f) => !before.has(f));
  assert.ok(added.length > 0, 'the action stored nothing on the drive');
  return added;
}

/** Waits for the garbage collector to delete every one of `files`. */
async function waitUntilDeleted(files: string[], what: string): Promise<void> {
  let left: string[] = files;
  for (let i = 0; i < 100 && left.length > 0; i++) {
    await new Promise((r) => setTimeout(r, 200));
    const now = await driveFiles();
    left = files.filter((f) => now.has(f));
  }
  assert.deepEqual(left, [], `${what}: ${left.length} of ${files.length} files remain`);
}

test('Multipart - Location is an https URL behind a TLS proxy that sends X-Forwarded-Proto', async () => {
  const key = 'behind proxy';
  const uploadId = await create(key);
  const parts = [await upload(key, uploadId, 1, part3)];
  const proxied = server.client();
  proxied.middlewareStack.add((next) => (args) => {
    (args.request as { headers: Record<string, string> }).headers['x-forwarded-proto'] = 'https';
    return next(args);
  }, { step: 'build' });
  const out = await proxied.send(new CompleteMultipartUploadCommand({ Bucket, Key: key, UploadId: uploadId, MultipartUpload: { Parts: parts } }));
  proxied.destroy();
  assert.equal(out.Location, `${server.url.replace(/^http:/, 'https:')}/${Bucket}/behind%20proxy`);
});

test('Multipart - a three-part upload completes with the md5-of-md5s-N ETag and its metadata', async () => {
  const key = 'three parts';
  const uploadId = await create(key, { ContentType: 'video/mp4', Metadata: { origin: 'multipart' } });
  const parts = [await upload(key, uploadId, 1, part1), await upload(key, uploadId, 2, part2), await upload(key, uploadId, 3, part3)];
  assert.deepEqual(parts.map((p) => p.ETag), [part1, part2, part3].map((p) => `"${md5(p).toString('hex')}"`));
  const out = await complete(key, uploadId, parts);
  const etag = multipartEtag([part1, part2, part3]);
  assert.equal(out.ETag, etag);
  assert.equal(out.Bucket, Bucket);
  assert.equal(out.Key, key);
  // AWS's Location is the object's URL, as addressed: here path-style, the space URI-encoded.
  assert.equal(out.Location, `${server.url}/${Bucket}/three%20parts`);
  const head = await s3.send(new HeadObjectCommand({ Bucket, Key: key }));
  assert.equal(head.ETag, etag);
  assert.equal(head.ContentLength, part1.length + part2.length + part3.length);
  assert.equal(head.ContentType, 'video/mp4');
  assert.deepEqual(head.Metadata, { origin: 'multipart' });
  assert.ok((await bytesOf(key)).equals(Buffer.concat([part1, part2, part3])));
  // The upload is gone once completed.
  await assert.rejects(s3.send(new ListPartsCommand({ Bucket, Key: key, UploadId: uploadId })), sdkError('NoSuchUpload', 404));
});

test('Multipart - @aws-sdk/lib-storage Upload at its defaults round trips an 11 MiB body', async () => {
  const body = Buffer.concat([part1, part2, part3, part3]);
  const upload = new Upload({ client: s3, params: { Bucket, Key: 'lib-storage', Body: body } });
  const out = await upload.done();
  assert.equal(out.ETag, multipartEtag([body.subarray(0, 5 * MiB), body.subarray(5 * MiB, 10 * MiB), body.subarray(10 * MiB)]));
  assert.ok((await bytesOf('lib-storage')).equals(body));
});

test('Multipart - GET ?partNumber and ranges across part boundaries', async () => {
  const key = 'three parts';
  const second = await s3.send(new GetObjectCommand({ Bucket, Key: key, PartNumber: 2 }));
  assert.equal(second.$metadata.httpStatusCode, 206);
  assert.equal(second.PartsCount, 3);
  assert.equal(second.ContentRange, `bytes ${part1.length}-${part1.length + part2.length - 1}/${part1.length + part2.length + part3.length}`);
  assert.ok(Buffer.from(await second.Body!.transformToByteArray()).equals(part2));
  const whole = Buffer.concat([part1, part2, part3]);
  const start = part1.length - 10;
  const end = part1.length + part2.length + 10;
  assert.ok((await bytesOf(key, { Range: `bytes=${start}-${end}` })).equals(whole.subarray(start, end + 1)));
  await assert.rejects(s3.send(new GetObjectCommand({ Bucket, Key: key, PartNumber: 4 })), sdkError('InvalidPartNumber', 416));
  await assert.rejects(s3.send(new GetObjectCommand({ Bucket, Key: key, PartNumber: 1, Range: 'bytes=0-1' })), sdkError('InvalidRequest', 400));
  const head = await s3.send(new HeadObjectCommand({ Bucket, Key: key, PartNumber: 3 }));
  assert.deepEqual([head.$metadata.httpStatusCode, head.ContentLength, head.PartsCount], [206, part3.length, 3]);
});

test('Multipart - ?partNumber=1 of an object not uploaded in parts is the whole object, without a parts count', async () => {
  await s3.send(new PutObjectCommand({ Bucket, Key: 'single', Body: 'body' }));
  const one = await s3.send(new GetObjectCommand({ Bucket, Key: 'single', PartNumber: 1 }));
  assert.deepEqual([one.$metadata.httpStatusCode, one.ContentRange, one.PartsCount], [206, 'bytes 0-3/4', undefined]);
  assert.equal(await one.Body!.transformToString(), 'body');
  await assert.rejects(s3.send(new GetObjectCommand({ Bucket, Key: 'single', PartNumber: 2 })), sdkError('InvalidPartNumber', 416));
  // An empty object has no byte range to name: the whole (empty) object, 200.
  await s3.send(new PutObjectCommand({ Bucket, Key: 'empty', Body: '' }));
  const empty = await s3.send(new GetObjectCommand({ Bucket, Key: 'empty', PartNumber: 1 }));
  assert.deepEqual([empty.$metadata.httpStatusCode, empty.ContentRange, empty.ContentLength], [200, undefined, 0]);
});

test('Multipart - a wrong ETag or a part never uploaded gets InvalidPart', async () => {
  const key = 'invalid-part';
  const uploadId = await create(key);
  const p1 = await upload(key, uploadId, 1, 'only part');
  await assert.rejects(complete(key, uploadId, [{ PartNumber: 1, ETag: '"0123456789abcdef0123456789abcdef"' }]), sdkError('InvalidPart', 400));
  await assert.rejects(complete(key, uploadId, [p1, { PartNumber: 2, ETag: p1.ETag }]), sdkError('InvalidPart', 400));
  // The upload survives a refused completion.
  await complete(key, uploadId, [{ PartNumber: 1, ETag: p1.ETag!.replace(/"/g, '') }]);
  assert.equal((await bytesOf(key)).toString(), 'only part');
});

test('Multipart - parts out of order get InvalidPartOrder; a number listed twice in a row counts once', async () => {
  const key = 'part-order';
  const uploadId = await create(key);
  const p1 = await upload(key, uploadId, 1, part1);
  const p2 = await upload(key, uploadId, 2, 'tail');
  await assert.rejects(complete(key, uploadId, [p2, p1]), sdkError('InvalidPartOrder', 400));
  await assert.rejects(complete(key, uploadId, [p1, p2, p1]), sdkError('InvalidPartOrder', 400));
  // Repeats in a row are a client listing each upload of a part it resent (issue 10); the last one counts.
  await complete(key, uploadId, [p1, p1, p2]);
  assert.ok((await bytesOf(key)).equals(Buffer.concat([part1, Buffer.from('tail')])));
});

test('Multipart - a part under 5 MiB that is not the last gets EntityTooSmall', async () => {
  const key = 'too-small';
  const uploadId = await create(key);
  const small = await upload(key, uploadId, 1, part1.subarray(0, MiB));
  const last = await upload(key, uploadId, 2, 'end');
  await assert.rejects(complete(key, uploadId, [small, last]), sdkError('EntityTooSmall', 400));
  // Parts may skip numbers; the small one alone is the last part and is fine.
  await complete(key, uploadId, [small]);
  assert.equal((await s3.send(new HeadObjectCommand({ Bucket, Key: key }))).ContentLength, MiB);
});

test('Multipart - uploading a part number again replaces it and frees the old part', async () => {
  const key = 'replace-part';
  const uploadId = await create(key);
  let first: CompletedPart | undefined;
  const firstFiles = await filesAddedBy(async () => (first = await upload(key, uploadId, 1, 'first version')));
  const second = await upload(key, uploadId, 1, 'second version!');
  assert.notEqual(first!.ETag, second.ETag);
  const parts = await s3.send(new ListPartsCommand({ Bucket, Key: key, UploadId: uploadId }));
  assert.deepEqual(parts.Parts?.map((p) => [p.PartNumber, p.ETag, p.Size]), [[1, second.ETag, 15]]);
  await waitUntilDeleted(firstFiles, 'the replaced part was not freed');
  await assert.rejects(complete(key, uploadId, [first!]), sdkError('InvalidPart', 400));
  await complete(key, uploadId, [second]);
  assert.equal((await bytesOf(key)).toString(), 'second version!');
});

test('Multipart - UploadPartCopy copies whole objects and x-amz-copy-source-range slices', async () => {
  const source = 'three parts';
  const whole = Buffer.concat([part1, part2, part3]);
  const key = 'copied-parts';
  const uploadId = await create(key);
  const ranges: [number, number][] = [[0, 5 * MiB - 1], [5 * MiB, whole.length - 1]];
  const parts: CompletedPart[] = [];
  for (const [i, [start, end]] of ranges.entries()) {
    const out = await s3.send(new UploadPartCopyCommand({
      Bucket, Key: key, UploadId: uploadId, PartNumber: i + 1, CopySource: `${Bucket}/${encodeURIComponent(source)}`, CopySourceRange: `bytes=${start}-${end}`,
    }));
    assert.equal(out.CopyPartResult?.ETag, `"${md5(whole.subarray(start, end + 1)).toString('hex')}"`);
    parts.push({ PartNumber: i + 1, ETag: out.CopyPartResult!.ETag! });
  }
  const tail = await s3.send(new UploadPartCopyCommand({ Bucket, Key: key, UploadId: uploadId, PartNumber: 3, CopySource: `${Bucket}/${encodeURIComponent(source)}` }));
  parts.push({ PartNumber: 3, ETag: tail.CopyPartResult!.ETag! });
  await complete(key, uploadId, parts);
  assert.ok((await bytesOf(key)).equals(Buffer.concat([whole, whole])));
});

test('Multipart - UploadPartCopy refuses a range outside the source and a failed copy-source condition', async () => {
  const key = 'copy-bad-range';
  const uploadId = await create(key);
  const source = `${Bucket}/${encodeURIComponent('three parts')}`;
  // AWS answers 400 InvalidArgument to both, with these messages (ceph s3-tests expect InvalidRange for
  // a range past the end, test_multipart_copy_invalid_range; AWS does not send it).
  const form = 'The x-amz-copy-source-range value must be of the form bytes=first-last where first and last are the zero-based offsets of the first and last bytes to copy';
  const cases: [string, string][] = [
    ['bytes=0-99999999', `Range specified is not valid for source object of size: ${part1.length + part2.length + part3.length}`],
    ...['bytes=10-5', 'bytes=-5', 'items=0-1', '0-2', 'bytes=0', 'bytes=hello-world', 'bytes=0-bar', 'bytes=hello-', 'bytes=0-2,3-5'].map((r): [string, string] => [r, form]),
  ];
  for (const [range, message] of cases) {
    const res = await raw(server, {
      method: 'PUT', path: objectPath(Bucket, key), query: { partNumber: '1', uploadId }, headers: { 'x-amz-copy-source': source, 'x-amz-copy-source-range': range },
    });
    assert.equal(assertS3Error(res, 400, 'InvalidArgument').Message, message, range);
  }
  await assert.rejects(
    s3.send(new UploadPartCopyCommand({ Bucket, Key: key, UploadId: uploadId, PartNumber: 1, CopySource: source, CopySourceIfMatch: '"nope"' })),
    sdkError('PreconditionFailed', 412),
  );
  const parts = await s3.send(new ListPartsCommand({ Bucket, Key: key, UploadId: uploadId }));
  assert.equal(parts.Parts, undefined);
});

test('Multipart - abort frees the parts, and the upload is NoSuchUpload afterwards', async () => {
  const key = 'aborted';
  const uploadId = await create(key);
  const partFiles = await filesAddedBy(async () => {
    await upload(key, uploadId, 1, part1);
    await upload(key, uploadId, 2, 'tail');
  });
  const out = await s3.send(new AbortMultipartUploadCommand({ Bucket, Key: key, UploadId: uploadId }));
  assert.equal(out.$metadata.httpStatusCode, 204);
  await waitUntilDeleted(partFiles, 'aborted parts were not freed');
  await assert.rejects(upload(key, uploadId, 3, 'late'), sdkError('NoSuchUpload', 404));
  await assert.rejects(complete(key, uploadId, [{ PartNumber: 1, ETag: '"x"' }]), sdkError('NoSuchUpload', 404));
  await assert.rejects(s3.send(new ListPartsCommand({ Bucket, Key: key, UploadId: uploadId })), sdkError('NoSuchUpload', 404));
  await assert.rejects(s3.send(new AbortMultipartUploadCommand({ Bucket, Key: key, UploadId: uploadId })), sdkError('NoSuchUpload', 404));
  await assert.rejects(s3.send(new HeadObjectCommand({ Bucket, Key: key })), sdkError('NotFound', 404));
  const uploads = await s3.send(new ListMultipartUploadsCommand({ Bucket, Prefix: key }));
  assert.equal(uploads.Uploads, undefined);
});

test('Multipart - ETags escaped as numeric character references (as Go\'s encoding/xml writes them) complete', async () => {
  const key = 'go-escaped';
  const uploadId = await create(key);
  const p1 = await upload(key, uploadId, 1, 'escaped etag');
  const etag = p1.ETag!.replace(/"/g, '&#34;');
  const body = `<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>${etag}</ETag></Part></CompleteMultipartUpload>`;
  const res = await raw(server, { method: 'POST', path: objectPath(Bucket, key), query: { uploadId }, body });
  assert.equal(res.status, 200, res.text);
  assert.equal((await bytesOf(key)).toString(), 'escaped etag');
});

test('Multipart - a part whose Content-MD5 or checksum does not match gets BadDigest and is not kept', async () => {
  const key = 'bad-part';
  const uploadId = await create(key);
  await assert.rejects(
    s3.send(new UploadPartCommand({ Bucket, Key: key, UploadId: uploadId, PartNumber: 1, Body: 'part body', ContentMD5: md5(Buffer.from('other')).toString('base64') })),
    sdkError('BadDigest', 400),
  );
  const res = await raw(server, { method: 'PUT', path: objectPath(Bucket, key), query: { partNumber: '2', uploadId }, body: 'part body', headers: { 'x-amz-checksum-crc32': 'AAAAAA==' } });
  assertS3Error(res, 400, 'BadDigest');
  const parts = await s3.send(new ListPartsCommand({ Bucket, Key: key, UploadId: uploadId }));
  assert.equal(parts.Parts, undefined);
});

test('Multipart - unknown upload ids and out-of-range part numbers are refused', async () => {
  await assert.rejects(upload('k', 'not-an-upload-id', 1, 'x'), sdkError('NoSuchUpload', 404));
  const uploadId = await create('part-numbers');
  for (const partNumber of ['0', '10001', 'abc']) {
    const res = await raw(server, { method: 'PUT', path: objectPath(Bucket, 'part-numbers'), query: { partNumber, uploadId }, body: 'x' });
    assertS3Error(res, 400, 'InvalidArgument');
  }
  await upload('part-numbers', uploadId, 10000, 'the last possible part');
  // An upload id belongs to its key.
  await assert.rejects(upload('other-key', uploadId, 1, 'x'), sdkError('NoSuchUpload', 404));
});

test('Multipart - a CompleteMultipartUpload body without parts or with bad elements gets MalformedXML', async () => {
  const key = 'complete-xml';
  const uploadId = await create(key);
  await upload(key, uploadId, 1, 'x');
  for (const body of [
    '<CompleteMultipartUpload></CompleteMultipartUpload>',
    '<CompleteMultipartUpload><Part><PartNumber>1</PartNumber></Part></CompleteMultipartUpload>',
    '<CompleteMultipartUpload><Part><PartNumber>one</PartNumber><ETag>"x"</ETag></Part></CompleteMultipartUpload>',
    '<CompleteMultipartUpload><Part><PartNumber>1',
    '',
  ]) {
    const res = await raw(server, { method: 'POST', path: objectPath(Bucket, key), query: { uploadId }, body });
    assertS3Error(res, 400, 'MalformedXML');
  }
});

test('ListParts - pages through parts with max-parts and part-number-marker', async () => {
  const key = 'many-parts';
  const uploadId = await create(key);
  for (let n = 1; n <= 7; n++) await upload(key, uploadId, n * 3, `part ${n}`);
  const seen: number[] = [];
  let marker: string | undefined;
  for (let pages = 0; ; pages++) {
    assert.ok(pages < 5);
    const out = await s3.send(new ListPartsCommand({ Bucket, Key: key, UploadId: uploadId, MaxParts: 3, ...(marker ? { PartNumberMarker: marker } : {}) }));
    assert.equal(out.MaxParts, 3);
    assert.ok((out.Parts?.length ?? 0) <= 3);
    for (const p of out.Parts ?? []) {
      assert.equal(p.Size, `part ${p.PartNumber! / 3}`.length);
      assert.match(p.ETag!, /^"[0-9a-f]{32}"$/);
    }
    seen.push(...(out.Parts ?? []).map((p) => p.PartNumber!));
    if (!out.IsTruncated) break;
    marker = out.NextPartNumberMarker;
    assert.equal(marker, String(seen[seen.length - 1]));
  }
  assert.deepEqual(seen, [3, 6, 9, 12, 15, 18, 21]);
  for (const marker of ['21', '10000', '99999999999']) {
    const out = await s3.send(new ListPartsCommand({ Bucket, Key: key, UploadId: uploadId, PartNumberMarker: marker }));
    assert.equal(out.Parts, undefined, `marker ${marker}`);
    assert.equal(out.IsTruncated, false);
  }
  const bad = await raw(server, { path: objectPath(Bucket, key), query: { uploadId, 'part-number-marker': 'x1' } });
  assertS3Error(bad, 400, 'InvalidArgument');
});

test('ListMultipartUploads - pages with key and upload-id markers, several uploads of one key included', async () => {
  const keys = ['lmu/a', 'lmu/b', 'lmu/b', 'lmu/b', 'lmu/c', 'lmu/d/1', 'lmu/d/2'];
  const created: string[] = [];
  for (const key of keys) created.push(`${key} ${await create(key)}`);
  const seen: string[] = [];
  let keyMarker: string | undefined;
  let uploadIdMarker: string | undefined;
  for (let pages = 0; ; pages++) {
    assert.ok(pages < 10);
    const out = await s3.send(new ListMultipartUploadsCommand({
      Bucket, Prefix: 'lmu/', MaxUploads: 2, ...(keyMarker ? { KeyMarker: keyMarker } : {}), ...(uploadIdMarker ? { UploadIdMarker: uploadIdMarker } : {}),
    }));
    assert.ok((out.Uploads?.length ?? 0) <= 2);
    for (const u of out.Uploads ?? []) assert.ok(u.Initiated instanceof Date);
    seen.push(...(out.Uploads ?? []).map((u) => `${u.Key} ${u.UploadId}`));
    if (!out.IsTruncated) break;
    keyMarker = out.NextKeyMarker;
    uploadIdMarker = out.NextUploadIdMarker;
  }
  assert.deepEqual(seen, created); // key order, then initiation order within a key
  const rolled = await s3.send(new ListMultipartUploadsCommand({ Bucket, Prefix: 'lmu/', Delimiter: '/' }));
  assert.deepEqual(rolled.CommonPrefixes?.map((p) => p.Prefix), ['lmu/d/']);
  assert.deepEqual(rolled.Uploads?.map((u) => u.Key), ['lmu/a', 'lmu/b', 'lmu/b', 'lmu/b', 'lmu/c']);
  for (const entry of created) {
    const [key, id] = entry.split(' ');
    await s3.send(new AbortMultipartUploadCommand({ Bucket, Key: key, UploadId: id }));
  }
});

test('DeleteBucket - a bucket with only uploads in progress is deleted, its uploads aborted and their parts freed (issue 10)', async () => {
  const bucket = 'multipart-doomed';
  await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  const first = (await s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: 'a' }))).UploadId!;
  const second = (await s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: 'b/c' }))).UploadId!;
  const partFiles = await filesAddedBy(async () => {
    await s3.send(new UploadPartCommand({ Bucket: bucket, Key: 'a', UploadId: first, PartNumber: 1, Body: part1 }));
    await s3.send(new UploadPartCommand({ Bucket: bucket, Key: 'a', UploadId: first, PartNumber: 2, Body: part2 }));
    await s3.send(new UploadPartCommand({ Bucket: bucket, Key: 'b/c', UploadId: second, PartNumber: 1, Body: part1 }));
  });
  const out = await s3.send(new DeleteBucketCommand({ Bucket: bucket }));
  assert.equal(out.$metadata.httpStatusCode, 204);
  await assert.rejects(s3.send(new HeadBucketCommand({ Bucket: bucket })), sdkError('NotFound', 404));
  await waitUntilDeleted(partFiles, 'the parts of the deleted bucket\'s uploads were not freed');
  // A bucket of the same name starts with no uploads.
  await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  assert.equal((await s3.send(new ListMultipartUploadsCommand({ Bucket: bucket }))).Uploads, undefined);
  await assert.rejects(s3.send(new UploadPartCommand({ Bucket: bucket, Key: 'a', UploadId: first, PartNumber: 3, Body: 'late' })), sdkError('NoSuchUpload', 404));
});

test('DeleteBucket - a bucket with an object and an upload in progress is refused and keeps the upload (issue 10)', async () => {
  const bucket = 'multipart-kept';
  await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'object', Body: 'x' }));
  const uploadId = (await s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: 'a' }))).UploadId!;
  await s3.send(new UploadPartCommand({ Bucket: bucket, Key: 'a', UploadId: uploadId, PartNumber: 1, Body: 'part' }));
  await assert.rejects(s3.send(new DeleteBucketCommand({ Bucket: bucket })), sdkError('BucketNotEmpty', 409));
  const parts = await s3.send(new ListPartsCommand({ Bucket: bucket, Key: 'a', UploadId: uploadId }));
  assert.equal(parts.Parts?.length, 1);
});
