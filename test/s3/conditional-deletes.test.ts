// Conditional deletes (issue 10): If-Match, x-amz-if-match-last-modified-time and x-amz-if-match-size on
// DeleteObject, and <ETag>, <LastModifiedTime> and <Size> per key in DeleteObjects; a failed condition
// deletes nothing, in unversioned and versioned buckets, by version id, and under concurrent deletes.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import {
  CreateBucketCommand, DeleteObjectCommand, DeleteObjectsCommand, HeadObjectCommand, ListObjectVersionsCommand,
  PutBucketVersioningCommand, PutObjectCommand,
} from '@aws-sdk/client-s3';
import { startTesseraForFile } from '../helpers/tessera.js';
import { assertS3Error, objectPath, raw, sdkError } from './raw-http.js';

const { server, s3 } = await startTesseraForFile();
const Bucket = 'conditional-deletes';
const Versioned = 'conditional-deletes-versioned';
before(async () => {
  await s3.send(new CreateBucketCommand({ Bucket }));
  await s3.send(new CreateBucketCommand({ Bucket: Versioned }));
  await s3.send(new PutBucketVersioningCommand({ Bucket: Versioned, VersioningConfiguration: { Status: 'Enabled' } }));
});

async function exists(bucket: string, key: string): Promise<boolean> {
  try {
    await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
    return true;
  } catch (err) {
    if ((err as { name?: string }).name === 'NotFound') return false;
    throw err;
  }
}

async function versionsOf(key: string): Promise<{ versions: number; markers: number }> {
  const page = await s3.send(new ListObjectVersionsCommand({ Bucket: Versioned, Prefix: key }));
  return { versions: (page.Versions ?? []).filter((v) => v.Key === key).length, markers: (page.DeleteMarkers ?? []).filter((m) => m.Key === key).length };
}

test('DeleteObject If-Match - a wrong ETag gets 412 and deletes nothing; the right one deletes', async () => {
  const { ETag } = await s3.send(new PutObjectCommand({ Bucket, Key: 'im', Body: 'data' }));
  await assert.rejects(s3.send(new DeleteObjectCommand({ Bucket, Key: 'im', IfMatch: '"0123456789abcdef0123456789abcdef"' })), sdkError('PreconditionFailed', 412));
  assert.ok(await exists(Bucket, 'im'));
  const res = await raw(server, { method: 'DELETE', path: objectPath(Bucket, 'im'), headers: { 'if-match': 'badetag' } });
  assertS3Error(res, 412, 'PreconditionFailed');
  assert.ok(await exists(Bucket, 'im'));
  await s3.send(new DeleteObjectCommand({ Bucket, Key: 'im', IfMatch: ETag }));
  assert.equal(await exists(Bucket, 'im'), false);
});

test('DeleteObject If-Match - a key that does not exist gets 404 NoSuchKey; * deletes a key that does', async () => {
  await assert.rejects(s3.send(new DeleteObjectCommand({ Bucket, Key: 'im-missing', IfMatch: '*' })), sdkError('NoSuchKey', 404));
  await assert.rejects(s3.send(new DeleteObjectCommand({ Bucket, Key: 'im-missing', IfMatch: '"abc"' })), sdkError('NoSuchKey', 404));
  await s3.send(new PutObjectCommand({ Bucket, Key: 'im-star', Body: 'x' }));
  await s3.send(new DeleteObjectCommand({ Bucket, Key: 'im-star', IfMatch: '*' }));
  assert.equal(await exists(Bucket, 'im-star'), false);
});

test('DeleteObject If-Match - versioned: checks the current version and adds no marker when it fails', async () => {
  const v1 = await s3.send(new PutObjectCommand({ Bucket: Versioned, Key: 'cur', Body: 'v1' }));
  await s3.send(new PutObjectCommand({ Bucket: Versioned, Key: 'cur', Body: 'v2' }));
  await assert.rejects(s3.send(new DeleteObjectCommand({ Bucket: Versioned, Key: 'cur', IfMatch: v1.ETag })), sdkError('PreconditionFailed', 412));
  assert.deepEqual(await versionsOf('cur'), { versions: 2, markers: 0 });
  const done = await s3.send(new DeleteObjectCommand({ Bucket: Versioned, Key: 'cur', IfMatch: '*' }));
  assert.equal(done.DeleteMarker, true);
  // A delete marker as the current version is no object: If-Match cannot hold.
  await assert.rejects(s3.send(new DeleteObjectCommand({ Bucket: Versioned, Key: 'cur', IfMatch: '*' })), sdkError('NoSuchKey', 404));
  assert.deepEqual(await versionsOf('cur'), { versions: 2, markers: 1 });
});

test('DeleteObject If-Match - with a version id checks that version and removes it only when it matches', async () => {
  const v1 = await s3.send(new PutObjectCommand({ Bucket: Versioned, Key: 'byid', Body: 'v1' }));
  const v2 = await s3.send(new PutObjectCommand({ Bucket: Versioned, Key: 'byid', Body: 'v2' }));
  await assert.rejects(s3.send(new DeleteObjectCommand({ Bucket: Versioned, Key: 'byid', VersionId: v1.VersionId, IfMatch: v2.ETag })), sdkError('PreconditionFailed', 412));
  assert.deepEqual(await versionsOf('byid'), { versions: 2, markers: 0 });
  await s3.send(new DeleteObjectCommand({ Bucket: Versioned, Key: 'byid', VersionId: v1.VersionId, IfMatch: v1.ETag }));
  assert.deepEqual(await versionsOf('byid'), { versions: 1, markers: 0 });
  await assert.rejects(s3.send(new DeleteObjectCommand({ Bucket: Versioned, Key: 'byid', VersionId: v1.VersionId, IfMatch: '*' })), sdkError('NoSuchVersion', 404));
});

test('DeleteObject x-amz-if-match-size and -last-modified-time - a mismatch gets 412, a match deletes', async () => {
  await s3.send(new PutObjectCommand({ Bucket, Key: 'size-time', Body: 'five!' }));
  const head = await s3.send(new HeadObjectCommand({ Bucket, Key: 'size-time' }));
  await assert.rejects(s3.send(new DeleteObjectCommand({ Bucket, Key: 'size-time', IfMatchSize: 4 })), sdkError('PreconditionFailed', 412));
  const earlier = new Date(head.LastModified!.getTime() - 60_000);
  await assert.rejects(s3.send(new DeleteObjectCommand({ Bucket, Key: 'size-time', IfMatchLastModifiedTime: earlier })), sdkError('PreconditionFailed', 412));
  assert.ok(await exists(Bucket, 'size-time'));
  await s3.send(new DeleteObjectCommand({ Bucket, Key: 'size-time', IfMatchSize: 5, IfMatchLastModifiedTime: head.LastModified }));
  assert.equal(await exists(Bucket, 'size-time'), false);
  // Documented for these two: an object that does not exist passes them.
  await s3.send(new DeleteObjectCommand({ Bucket, Key: 'size-time', IfMatchSize: 4 }));
});

test('DeleteObject conditions - a malformed size or time gets 400 InvalidArgument and deletes nothing', async () => {
  await s3.send(new PutObjectCommand({ Bucket, Key: 'malformed', Body: 'x' }));
  const malformed: Record<string, string>[] = [{ 'x-amz-if-match-size': 'one' }, { 'x-amz-if-match-size': '-1' }, { 'x-amz-if-match-last-modified-time': 'yesterday' }];
  for (const headers of malformed) {
    assertS3Error(await raw(server, { method: 'DELETE', path: objectPath(Bucket, 'malformed'), headers }), 400, 'InvalidArgument');
  }
  assert.ok(await exists(Bucket, 'malformed'));
});

test('DeleteObjects conditions - a key whose ETag, Size or LastModifiedTime fails gets a PreconditionFailed entry and stays', async () => {
  const keys = ['m/etag-ok', 'm/etag-bad', 'm/size-bad', 'm/time-bad', 'm/size-ok'];
  const etags = new Map<string, string>();
  // Bodies of one length (for Size) and distinct ETags.
  for (const [i, key] of keys.entries()) etags.set(key, (await s3.send(new PutObjectCommand({ Bucket, Key: key, Body: `ab${i}` }))).ETag!);
  const res = await s3.send(new DeleteObjectsCommand({
    Bucket,
    Delete: {
      Objects: [
        { Key: 'm/etag-ok', ETag: etags.get('m/etag-ok') },
        { Key: 'm/etag-bad', ETag: etags.get('m/etag-ok') },
        { Key: 'm/size-bad', Size: 4 },
        { Key: 'm/time-bad', LastModifiedTime: new Date('2001-01-01T00:00:00Z') },
        { Key: 'm/size-ok', Size: 3 },
        { Key: 'm/missing', ETag: '*' },
      ],
    },
  }));
  assert.deepEqual((res.Deleted ?? []).map((d) => d.Key).sort(), ['m/etag-ok', 'm/size-ok']);
  assert.deepEqual((res.Errors ?? []).map((e) => [e.Key, e.Code]), [
    ['m/etag-bad', 'PreconditionFailed'], ['m/size-bad', 'PreconditionFailed'], ['m/time-bad', 'PreconditionFailed'], ['m/missing', 'NoSuchKey'],
  ]);
  for (const key of ['m/etag-bad', 'm/size-bad', 'm/time-bad']) assert.ok(await exists(Bucket, key), key);
  assert.equal(await exists(Bucket, 'm/etag-ok'), false);
});

test('DeleteObject If-Match - of many concurrent conditional deletes of one version exactly one adds a marker', async () => {
  const { ETag } = await s3.send(new PutObjectCommand({ Bucket: Versioned, Key: 'race', Body: 'x' }));
  const outcomes = await Promise.allSettled(Array.from({ length: 8 }, () => s3.send(new DeleteObjectCommand({ Bucket: Versioned, Key: 'race', IfMatch: ETag }))));
  assert.equal(outcomes.filter((o) => o.status === 'fulfilled').length, 1);
  for (const o of outcomes) {
    if (o.status === 'rejected') assert.ok(['NoSuchKey', 'ConditionalRequestConflict'].includes((o.reason as { name: string }).name), String(o.reason));
  }
  assert.deepEqual(await versionsOf('race'), { versions: 1, markers: 1 });
});
