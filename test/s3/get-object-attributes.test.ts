// GetObjectAttributes (issue 10): each attribute, ObjectParts of multipart objects with and without a
// checksum (paged), versions and delete markers, and the errors of a bad x-amz-object-attributes.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import {
  CompleteMultipartUploadCommand, CreateBucketCommand, CreateMultipartUploadCommand, DeleteObjectCommand, GetObjectAttributesCommand,
  PutBucketVersioningCommand, PutObjectCommand, S3Client, UploadPartCommand, type ChecksumAlgorithm, type CompletedPart, type ObjectAttributes,
} from '@aws-sdk/client-s3';
import { startTesseraForFile } from '../helpers/tessera.js';
import { assertS3Error, objectPath, raw, sdkError } from './raw-http.js';

const { server, s3 } = await startTesseraForFile();
const Bucket = 'attributes';
const MiB = 1024 * 1024;
const all: ObjectAttributes[] = ['ETag', 'Checksum', 'ObjectParts', 'StorageClass', 'ObjectSize'];
before(() => s3.send(new CreateBucketCommand({ Bucket })));

/** A multipart object of `sizes`, with parts checksummed in `algorithm` when given. */
async function multipart(key: string, sizes: number[], algorithm?: ChecksumAlgorithm) {
  const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket, Key: key, ...(algorithm ? { ChecksumAlgorithm: algorithm } : {}) }));
  const parts: CompletedPart[] = [];
  for (const [i, size] of sizes.entries()) {
    const out = await s3.send(new UploadPartCommand({ Bucket, Key: key, UploadId, PartNumber: i + 1, Body: randomBytes(size), ...(algorithm ? { ChecksumAlgorithm: algorithm } : {}) }));
    parts.push({ PartNumber: i + 1, ETag: out.ETag!, ...(algorithm === 'SHA256' ? { ChecksumSHA256: out.ChecksumSHA256! } : {}) });
  }
  const done = await s3.send(new CompleteMultipartUploadCommand({ Bucket, Key: key, UploadId, MultipartUpload: { Parts: parts } }));
  return { parts, done };
}

test('GetObjectAttributes - a single-part object: ETag without quotes, checksum, storage class, size, Last-Modified, no ObjectParts', async () => {
  const put = await s3.send(new PutObjectCommand({ Bucket, Key: 'single', Body: 'hello', ChecksumAlgorithm: 'SHA256' }));
  const out = await s3.send(new GetObjectAttributesCommand({ Bucket, Key: 'single', ObjectAttributes: all }));
  assert.equal(out.ETag, put.ETag!.replace(/"/g, ''));
  assert.equal(out.Checksum?.ChecksumSHA256, put.ChecksumSHA256);
  assert.equal(out.Checksum?.ChecksumType, 'FULL_OBJECT');
  assert.deepEqual([out.StorageClass, out.ObjectSize, out.ObjectParts, out.DeleteMarker], ['STANDARD', 5, undefined, undefined]);
  assert.ok(out.LastModified instanceof Date);
  const only = await s3.send(new GetObjectAttributesCommand({ Bucket, Key: 'single', ObjectAttributes: ['ObjectSize'] }));
  assert.deepEqual([only.ObjectSize, only.ETag, only.StorageClass], [5, undefined, undefined]);
});

test('GetObjectAttributes - a multipart object with checksums lists its parts, paged by MaxParts and PartNumberMarker', async () => {
  const sizes = [5 * MiB, 5 * MiB, 5 * MiB, 1000];
  const { parts, done } = await multipart('mp-checksummed', sizes, 'SHA256');
  const out = await s3.send(new GetObjectAttributesCommand({ Bucket, Key: 'mp-checksummed', ObjectAttributes: all }));
  assert.equal(out.ETag, done.ETag!.replace(/"/g, ''));
  assert.equal(out.Checksum?.ChecksumSHA256, done.ChecksumSHA256);
  assert.equal(out.ObjectSize, sizes.reduce((a, b) => a + b, 0));
  assert.deepEqual([out.ObjectParts?.TotalPartsCount, out.ObjectParts?.IsTruncated], [4, false]);
  assert.deepEqual(out.ObjectParts?.Parts?.map((p) => [p.PartNumber, p.Size, p.ChecksumSHA256]), parts.map((p, i) => [i + 1, sizes[i], p.ChecksumSHA256]));
  const page = await s3.send(new GetObjectAttributesCommand({ Bucket, Key: 'mp-checksummed', ObjectAttributes: ['ObjectParts'], MaxParts: 1, PartNumberMarker: '2' }));
  assert.deepEqual(
    [page.ObjectParts?.MaxParts, page.ObjectParts?.PartNumberMarker, page.ObjectParts?.IsTruncated, page.ObjectParts?.NextPartNumberMarker, page.ObjectParts?.Parts?.map((p) => p.PartNumber)],
    [1, '2', true, '3', [3]],
  );
  const rest = await s3.send(new GetObjectAttributesCommand({ Bucket, Key: 'mp-checksummed', ObjectAttributes: ['ObjectParts'], MaxParts: 10, PartNumberMarker: '3' }));
  assert.deepEqual([rest.ObjectParts?.IsTruncated, rest.ObjectParts?.Parts?.map((p) => p.PartNumber)], [false, [4]]);
  const none = await raw(server, { path: objectPath(Bucket, 'mp-checksummed'), query: { attributes: null }, headers: { 'x-amz-object-attributes': 'ObjectParts', 'x-amz-max-parts': '0' } });
  assert.equal(none.status, 200, none.text);
  assert.match(none.text, /<MaxParts>0<\/MaxParts><IsTruncated>true<\/IsTruncated><PartsCount>4<\/PartsCount><\/ObjectParts>/);
});

test('GetObjectAttributes - parts sent without a checksum to an upload with one get it computed at UploadPart', async () => {
  // A client that sends checksums only when required sends none with these parts.
  const plain = new S3Client({
    endpoint: server.url, region: server.region, forcePathStyle: true, requestChecksumCalculation: 'WHEN_REQUIRED',
    credentials: { accessKeyId: server.accessKeyId, secretAccessKey: server.secretAccessKey },
  });
  const key = 'mp-server-checksum';
  const bodies = [randomBytes(5 * MiB), randomBytes(100)];
  const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket, Key: key, ChecksumAlgorithm: 'SHA256' }));
  const parts: CompletedPart[] = [];
  for (const [i, body] of bodies.entries()) {
    const out = await plain.send(new UploadPartCommand({ Bucket, Key: key, UploadId, PartNumber: i + 1, Body: body }));
    parts.push({ PartNumber: i + 1, ETag: out.ETag! });
  }
  plain.destroy();
  await s3.send(new CompleteMultipartUploadCommand({ Bucket, Key: key, UploadId, MultipartUpload: { Parts: parts } }));
  const out = await s3.send(new GetObjectAttributesCommand({ Bucket, Key: key, ObjectAttributes: ['ObjectParts', 'Checksum'] }));
  const sha256 = (data: Buffer) => createHash('sha256').update(data).digest();
  assert.deepEqual(out.ObjectParts?.Parts?.map((p) => p.ChecksumSHA256), bodies.map((b) => sha256(b).toString('base64')));
  assert.equal(out.Checksum?.ChecksumSHA256, `${sha256(Buffer.concat(bodies.map(sha256))).toString('base64')}-2`);
});

test('GetObjectAttributes - a multipart object without checksums gives only its parts count, as AWS does', async () => {
  await multipart('mp-plain', [5 * MiB, 10]);
  const out = await s3.send(new GetObjectAttributesCommand({ Bucket, Key: 'mp-plain', ObjectAttributes: all }));
  assert.deepEqual([out.ObjectParts?.TotalPartsCount, out.ObjectParts?.Parts, out.Checksum], [2, undefined, undefined]);
});

test('GetObjectAttributes - versionId selects a version; a delete marker is NoSuchKey with x-amz-delete-marker', async () => {
  const vb = 'attributes-versioned';
  await s3.send(new CreateBucketCommand({ Bucket: vb }));
  await s3.send(new PutBucketVersioningCommand({ Bucket: vb, VersioningConfiguration: { Status: 'Enabled' } }));
  const v1 = await s3.send(new PutObjectCommand({ Bucket: vb, Key: 'k', Body: 'one' }));
  await s3.send(new PutObjectCommand({ Bucket: vb, Key: 'k', Body: 'second' }));
  const current = await s3.send(new GetObjectAttributesCommand({ Bucket: vb, Key: 'k', ObjectAttributes: ['ObjectSize'] }));
  assert.equal(current.ObjectSize, 6);
  const old = await s3.send(new GetObjectAttributesCommand({ Bucket: vb, Key: 'k', VersionId: v1.VersionId, ObjectAttributes: ['ObjectSize'] }));
  assert.deepEqual([old.ObjectSize, old.VersionId], [3, v1.VersionId]);
  const marker = await s3.send(new DeleteObjectCommand({ Bucket: vb, Key: 'k' }));
  const res = await raw(server, { path: objectPath(vb, 'k'), query: { attributes: null }, headers: { 'x-amz-object-attributes': 'ObjectSize' } });
  assertS3Error(res, 404, 'NoSuchKey');
  assert.deepEqual([res.headers['x-amz-delete-marker'], res.headers['x-amz-version-id']], ['true', marker.VersionId]);
  const byId = await raw(server, { path: objectPath(vb, 'k'), query: { attributes: null, versionId: marker.VersionId! }, headers: { 'x-amz-object-attributes': 'ObjectSize' } });
  assertS3Error(byId, 405, 'MethodNotAllowed');
  await assert.rejects(s3.send(new GetObjectAttributesCommand({ Bucket, Key: 'missing', ObjectAttributes: all })), sdkError('NoSuchKey', 404));
});

test('GetObjectAttributes - a missing, empty or unknown x-amz-object-attributes is InvalidArgument', async () => {
  await s3.send(new PutObjectCommand({ Bucket, Key: 'bad-attributes', Body: 'x' }));
  for (const value of [undefined, '', 'ETag,Colour']) {
    const res = await raw(server, { path: objectPath(Bucket, 'bad-attributes'), query: { attributes: null }, headers: value === undefined ? {} : { 'x-amz-object-attributes': value } });
    assertS3Error(res, 400, 'InvalidArgument');
  }
  const res = await raw(server, { path: objectPath(Bucket, 'bad-attributes'), query: { attributes: null }, headers: { 'x-amz-object-attributes': 'ObjectParts', 'x-amz-max-parts': 'many' } });
  assert.equal(res.status, 200, 'x-amz-max-parts only matters for a multipart object with checksums');
});
