// Version ids (issue 4): every PUT, COPY and CompleteMultipartUpload in an Enabled bucket makes a new
// version whose id comes back in x-amz-version-id; GET, HEAD and copy sources address any version by id,
// "null" included; conditional writes and multipart behave on versioned buckets.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  CompleteMultipartUploadCommand, CopyObjectCommand, CreateMultipartUploadCommand, DeleteObjectCommand, GetObjectCommand,
  HeadObjectCommand, PutObjectCommand, UploadPartCommand, UploadPartCopyCommand, type S3Client,
} from '@aws-sdk/client-s3';
import { startTesseraForFile } from '../helpers/tessera.js';
import { createBucket, failure, listVersionsPage, readText, setVersioning } from './helpers.js';

const { server, s3 } = await startTesseraForFile();

async function put(client: S3Client, bucket: string, key: string, body: string | Buffer, extra: { IfMatch?: string; IfNoneMatch?: string } = {}) {
  return client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body, ...extra }));
}

test('version ids - each PUT makes a new version, addressable by GET and HEAD', async () => {
  await createBucket(s3, 'ids-put', 'Enabled');
  const bodies = ['first', 'second', 'x'.repeat(40_000)]; // the last is big enough to live in a block
  const ids: string[] = [];
  for (const body of bodies) {
    const res = await put(s3, 'ids-put', 'k', body);
    assert.match(res.VersionId ?? '', /^\S+$/);
    ids.push(res.VersionId!);
  }
  assert.equal(new Set(ids).size, 3);
  for (const [i, id] of ids.entries()) {
    const got = await s3.send(new GetObjectCommand({ Bucket: 'ids-put', Key: 'k', VersionId: id }));
    assert.equal(got.VersionId, id);
    assert.equal(await got.Body!.transformToString(), bodies[i]);
    const head = await s3.send(new HeadObjectCommand({ Bucket: 'ids-put', Key: 'k', VersionId: id }));
    assert.equal(head.VersionId, id);
    assert.equal(head.ContentLength, bodies[i]!.length);
  }
  const current = await s3.send(new HeadObjectCommand({ Bucket: 'ids-put', Key: 'k' }));
  assert.equal(current.VersionId, ids[2]);
});

test('version ids - unknown and malformed version ids', async () => {
  await createBucket(s3, 'ids-bad', 'Enabled');
  const { VersionId } = await put(s3, 'ids-bad', 'k', 'body');
  await put(s3, 'ids-bad', 'other', 'body');
  // Another key's version id names no version of this key.
  const otherId = (await put(s3, 'ids-bad', 'other', 'body2')).VersionId!;
  assert.equal((await failure(s3.send(new GetObjectCommand({ Bucket: 'ids-bad', Key: 'k', VersionId: otherId })))).name, 'NoSuchVersion');
  const head = await failure(s3.send(new HeadObjectCommand({ Bucket: 'ids-bad', Key: 'k', VersionId: otherId })));
  assert.equal(head.status, 404);
  const malformed = await failure(s3.send(new GetObjectCommand({ Bucket: 'ids-bad', Key: 'k', VersionId: 'not-a-version' })));
  assert.equal(malformed.status, 400);
  assert.equal(malformed.name, 'InvalidArgument');
  // No null version exists in a bucket that was versioned from the start.
  assert.equal((await failure(s3.send(new GetObjectCommand({ Bucket: 'ids-bad', Key: 'k', VersionId: 'null' })))).name, 'NoSuchVersion');
  assert.equal(await readText(s3, 'ids-bad', 'k', VersionId), 'body');
});

test('version ids - an unversioned bucket answers versionId=null and names no version', async () => {
  await createBucket(s3, 'ids-unversioned');
  const res = await put(s3, 'ids-unversioned', 'k', 'plain');
  assert.equal(res.VersionId, undefined);
  assert.equal(await readText(s3, 'ids-unversioned', 'k', 'null'), 'plain');
  const copied = await s3.send(new CopyObjectCommand({ Bucket: 'ids-unversioned', Key: 'k2', CopySource: 'ids-unversioned/k?versionId=null' }));
  assert.equal(copied.VersionId, undefined);
  assert.equal(await readText(s3, 'ids-unversioned', 'k2'), 'plain');
});

test('version ids - CopyObject makes a version and copies the source version named by id', async () => {
  await createBucket(s3, 'ids-copy');
  await put(s3, 'ids-copy', 'src', 'before-versioning'); // the null version
  await setVersioning(s3, 'ids-copy', 'Enabled');
  const v1 = (await put(s3, 'ids-copy', 'src', 'src-v1', {})).VersionId!;
  const v2 = (await put(s3, 'ids-copy', 'src', 'x'.repeat(50_000))).VersionId!;

  const fromV1 = await s3.send(new CopyObjectCommand({ Bucket: 'ids-copy', Key: 'dst', CopySource: `ids-copy/src?versionId=${v1}` }));
  assert.ok(fromV1.VersionId && ![v1, v2].includes(fromV1.VersionId));
  assert.equal(fromV1.CopySourceVersionId, v1);
  assert.equal(await readText(s3, 'ids-copy', 'dst', fromV1.VersionId), 'src-v1');

  const fromNull = await s3.send(new CopyObjectCommand({ Bucket: 'ids-copy', Key: 'dst', CopySource: 'ids-copy/src?versionId=null' }));
  assert.notEqual(fromNull.VersionId, fromV1.VersionId);
  assert.equal(await readText(s3, 'ids-copy', 'dst'), 'before-versioning');

  const fromCurrent = await s3.send(new CopyObjectCommand({ Bucket: 'ids-copy', Key: 'dst', CopySource: 'ids-copy/src' }));
  assert.equal(fromCurrent.CopySourceVersionId, v2);
  assert.equal((await readText(s3, 'ids-copy', 'dst')).length, 50_000);
  // Every copy stayed a version of its own.
  const page = await listVersionsPage(server, 'ids-copy', { prefix: 'dst' });
  assert.deepEqual(page.entries.map((e) => e.versionId), [fromCurrent.VersionId, fromNull.VersionId, fromV1.VersionId]);

  // Restoring an old version: copy it onto its own key.
  const restored = await s3.send(new CopyObjectCommand({ Bucket: 'ids-copy', Key: 'src', CopySource: `ids-copy/src?versionId=${v1}` }));
  assert.ok(restored.VersionId);
  assert.equal(await readText(s3, 'ids-copy', 'src'), 'src-v1');
  assert.equal(await readText(s3, 'ids-copy', 'src', v2).then((t) => t.length), 50_000);
});

test('version ids - a copy source that is a delete marker', async () => {
  await createBucket(s3, 'ids-copy-marker', 'Enabled');
  await put(s3, 'ids-copy-marker', 'src', 'gone');
  const marker = (await s3.send(new DeleteObjectCommand({ Bucket: 'ids-copy-marker', Key: 'src' }))).VersionId!;
  // The current version is a marker: the source does not exist.
  const current = await failure(s3.send(new CopyObjectCommand({ Bucket: 'ids-copy-marker', Key: 'dst', CopySource: 'ids-copy-marker/src' })));
  assert.equal(current.status, 404);
  assert.equal(current.name, 'NoSuchKey');
  // Naming the marker by id is a bad request, as AWS documents for CopyObject.
  const byId = await failure(s3.send(new CopyObjectCommand({ Bucket: 'ids-copy-marker', Key: 'dst', CopySource: `ids-copy-marker/src?versionId=${marker}` })));
  assert.equal(byId.status, 400);
  assert.equal(byId.name, 'InvalidRequest');
  const missing = await failure(s3.send(new CopyObjectCommand({ Bucket: 'ids-copy-marker', Key: 'dst', CopySource: 'ids-copy-marker/src?versionId=null' })));
  assert.equal(missing.name, 'NoSuchVersion');
});

test('version ids - CompleteMultipartUpload makes a version; UploadPartCopy copies a named version', async () => {
  await createBucket(s3, 'ids-mpu', 'Enabled');
  const old = (await put(s3, 'ids-mpu', 'src', 'old-source')).VersionId!;
  await put(s3, 'ids-mpu', 'src', 'new-source');
  const before = (await put(s3, 'ids-mpu', 'big', 'small-before')).VersionId!;
  const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: 'ids-mpu', Key: 'big' }));
  const part1 = Buffer.alloc(5 * 1024 * 1024, 'a');
  const p1 = await s3.send(new UploadPartCommand({ Bucket: 'ids-mpu', Key: 'big', UploadId, PartNumber: 1, Body: part1 }));
  const p2 = await s3.send(new UploadPartCopyCommand({ Bucket: 'ids-mpu', Key: 'big', UploadId, PartNumber: 2, CopySource: `ids-mpu/src?versionId=${old}` }));
  assert.equal(p2.CopySourceVersionId, old);
  const done = await s3.send(new CompleteMultipartUploadCommand({
    Bucket: 'ids-mpu', Key: 'big', UploadId,
    MultipartUpload: { Parts: [{ PartNumber: 1, ETag: p1.ETag }, { PartNumber: 2, ETag: p2.CopyPartResult!.ETag }] },
  }));
  assert.ok(done.VersionId && done.VersionId !== before);
  const got = await s3.send(new GetObjectCommand({ Bucket: 'ids-mpu', Key: 'big', VersionId: done.VersionId }));
  assert.equal(got.VersionId, done.VersionId);
  const bytes = Buffer.from(await got.Body!.transformToByteArray());
  assert.equal(bytes.length, part1.length + 'old-source'.length);
  assert.equal(bytes.subarray(part1.length).toString(), 'old-source');
  assert.equal(await readText(s3, 'ids-mpu', 'big', before), 'small-before');
});

test('version ids - conditional PUTs compare against the current version only', async () => {
  await createBucket(s3, 'ids-cond', 'Enabled');
  const first = await put(s3, 'ids-cond', 'k', 'one', { IfNoneMatch: '*' });
  assert.ok(first.VersionId);
  // If-None-Match: * fails while a current version exists.
  assert.equal((await failure(put(s3, 'ids-cond', 'k', 'dup', { IfNoneMatch: '*' }))).status, 412);
  const second = await put(s3, 'ids-cond', 'k', 'two', { IfMatch: first.ETag! });
  assert.ok(second.VersionId && second.VersionId !== first.VersionId);
  // The first version still exists, but it is not current: its ETag no longer matches.
  assert.equal((await failure(put(s3, 'ids-cond', 'k', 'three', { IfMatch: first.ETag! }))).status, 412);
  // Once a delete marker is latest the key does not exist: If-None-Match succeeds, If-Match finds no key.
  await s3.send(new DeleteObjectCommand({ Bucket: 'ids-cond', Key: 'k' }));
  assert.equal((await failure(put(s3, 'ids-cond', 'k', 'nope', { IfMatch: second.ETag! }))).status, 404);
  const revived = await put(s3, 'ids-cond', 'k', 'revived', { IfNoneMatch: '*' });
  assert.ok(revived.VersionId);
  assert.equal(await readText(s3, 'ids-cond', 'k'), 'revived');
  const page = await listVersionsPage(server, 'ids-cond', { prefix: 'k' });
  assert.deepEqual(page.entries.map((e) => e.kind), ['Version', 'DeleteMarker', 'Version', 'Version']);
});

test('version ids - conditional CompleteMultipartUpload on a versioned bucket', async () => {
  await createBucket(s3, 'ids-cond-mpu', 'Enabled');
  const existing = await put(s3, 'ids-cond-mpu', 'k', 'exists');
  const upload = async () => {
    const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: 'ids-cond-mpu', Key: 'k' }));
    const p = await s3.send(new UploadPartCommand({ Bucket: 'ids-cond-mpu', Key: 'k', UploadId, PartNumber: 1, Body: 'only-part' }));
    return { UploadId, MultipartUpload: { Parts: [{ PartNumber: 1, ETag: p.ETag }] } };
  };
  const a = await upload();
  assert.equal((await failure(s3.send(new CompleteMultipartUploadCommand({ Bucket: 'ids-cond-mpu', Key: 'k', ...a, IfNoneMatch: '*' })))).status, 412);
  const done = await s3.send(new CompleteMultipartUploadCommand({ Bucket: 'ids-cond-mpu', Key: 'k', ...a, IfMatch: existing.ETag! }));
  assert.ok(done.VersionId && done.VersionId !== existing.VersionId);
  assert.equal(await readText(s3, 'ids-cond-mpu', 'k'), 'only-part');
  assert.equal(await readText(s3, 'ids-cond-mpu', 'k', existing.VersionId), 'exists');
});
