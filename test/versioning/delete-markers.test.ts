// Delete markers and permanent version deletes (issue 4): DeleteObject without an id puts a marker, a
// marker as latest hides the key (404 with x-amz-delete-marker), a marker read by id is 405, deleting a
// marker restores the version below it, and DeleteObjects reports DeleteMarker and DeleteMarkerVersionId.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  DeleteBucketCommand, DeleteObjectCommand, DeleteObjectsCommand, GetObjectCommand, HeadObjectCommand, ListObjectsCommand, ListObjectsV2Command,
  PutObjectCommand,
} from '@aws-sdk/client-s3';
import { startTesseraForFile } from '../helpers/tessera.js';
import { createBucket, failure, listVersionsPage, rawRequest, readText } from './helpers.js';

const { server, s3 } = await startTesseraForFile();

async function put(bucket: string, key: string, body: string): Promise<string> {
  return (await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body }))).VersionId!;
}

async function listedKeys(bucket: string): Promise<{ v1: string[]; v2: string[] }> {
  const v2 = await s3.send(new ListObjectsV2Command({ Bucket: bucket }));
  const v1 = await s3.send(new ListObjectsCommand({ Bucket: bucket }));
  return { v1: (v1.Contents ?? []).map((o) => o.Key!), v2: (v2.Contents ?? []).map((o) => o.Key!) };
}

test('delete markers - a DELETE without id hides the key behind a marker', async () => {
  await createBucket(s3, 'dm-basic', 'Enabled');
  const a1 = await put('dm-basic', 'k', 'a1');
  const a2 = await put('dm-basic', 'k', 'a2');
  const del = await s3.send(new DeleteObjectCommand({ Bucket: 'dm-basic', Key: 'k' }));
  assert.equal(del.DeleteMarker, true);
  assert.ok(del.VersionId && ![a1, a2].includes(del.VersionId));

  const get = await failure(s3.send(new GetObjectCommand({ Bucket: 'dm-basic', Key: 'k' })));
  assert.equal(get.status, 404);
  assert.equal(get.name, 'NoSuchKey');
  assert.equal(get.headers['x-amz-delete-marker'], 'true');
  assert.equal(get.headers['x-amz-version-id'], del.VersionId);
  const head = await failure(s3.send(new HeadObjectCommand({ Bucket: 'dm-basic', Key: 'k' })));
  assert.equal(head.status, 404);
  assert.equal(head.headers['x-amz-delete-marker'], 'true');

  // The marker itself, read by id: 405, as AWS answers.
  const byId = await failure(s3.send(new GetObjectCommand({ Bucket: 'dm-basic', Key: 'k', VersionId: del.VersionId })));
  assert.equal(byId.status, 405);
  assert.equal(byId.name, 'MethodNotAllowed');
  assert.equal(byId.headers['x-amz-delete-marker'], 'true');
  assert.equal(byId.headers['x-amz-version-id'], del.VersionId);
  assert.ok(byId.headers['last-modified']);
  const headById = await failure(s3.send(new HeadObjectCommand({ Bucket: 'dm-basic', Key: 'k', VersionId: del.VersionId })));
  assert.equal(headById.status, 405);
  assert.equal(headById.headers['x-amz-delete-marker'], 'true');

  // Older versions are still readable by id; the listings hide the key.
  assert.equal(await readText(s3, 'dm-basic', 'k', a1), 'a1');
  assert.deepEqual(await listedKeys('dm-basic'), { v1: [], v2: [] });
  const page = await listVersionsPage(server, 'dm-basic');
  assert.deepEqual(page.entries.map((e) => [e.kind, e.versionId, e.isLatest]), [
    ['DeleteMarker', del.VersionId, true], ['Version', a2, false], ['Version', a1, false],
  ]);
});

test('delete markers - deleting markers by id restores the version below', async () => {
  await createBucket(s3, 'dm-restore', 'Enabled');
  await put('dm-restore', 'k', 'a1');
  const a2 = await put('dm-restore', 'k', 'a2');
  const m1 = (await s3.send(new DeleteObjectCommand({ Bucket: 'dm-restore', Key: 'k' }))).VersionId!;
  const m2 = (await s3.send(new DeleteObjectCommand({ Bucket: 'dm-restore', Key: 'k' }))).VersionId!;
  assert.notEqual(m1, m2, 'a DELETE on a deleted key stacks another marker');

  const removed = await s3.send(new DeleteObjectCommand({ Bucket: 'dm-restore', Key: 'k', VersionId: m2 }));
  assert.equal(removed.DeleteMarker, true);
  assert.equal(removed.VersionId, m2);
  assert.equal((await failure(s3.send(new GetObjectCommand({ Bucket: 'dm-restore', Key: 'k' })))).headers['x-amz-version-id'], m1);

  await s3.send(new DeleteObjectCommand({ Bucket: 'dm-restore', Key: 'k', VersionId: m1 }));
  const got = await s3.send(new GetObjectCommand({ Bucket: 'dm-restore', Key: 'k' }));
  assert.equal(got.VersionId, a2);
  assert.equal(await got.Body!.transformToString(), 'a2');
  const listed = await s3.send(new ListObjectsV2Command({ Bucket: 'dm-restore' }));
  assert.deepEqual(listed.Contents?.map((o) => [o.Key, o.Size, o.ETag]), [['k', 2, got.ETag]]);
});

test('delete markers - deleting versions by id removes them for good, latest first', async () => {
  await createBucket(s3, 'dm-perm', 'Enabled');
  const a1 = await put('dm-perm', 'k', 'a1');
  const a2 = await put('dm-perm', 'k', 'a2');
  const del = await s3.send(new DeleteObjectCommand({ Bucket: 'dm-perm', Key: 'k', VersionId: a2 }));
  assert.equal(del.VersionId, a2);
  assert.equal(del.DeleteMarker, undefined);
  assert.equal((await failure(s3.send(new GetObjectCommand({ Bucket: 'dm-perm', Key: 'k', VersionId: a2 })))).name, 'NoSuchVersion');
  assert.equal(await readText(s3, 'dm-perm', 'k'), 'a1');
  await s3.send(new DeleteObjectCommand({ Bucket: 'dm-perm', Key: 'k', VersionId: a1 }));
  const gone = await failure(s3.send(new GetObjectCommand({ Bucket: 'dm-perm', Key: 'k' })));
  assert.equal(gone.name, 'NoSuchKey');
  assert.equal(gone.headers['x-amz-delete-marker'], undefined, 'no marker: the key simply has no versions');
  assert.deepEqual((await listVersionsPage(server, 'dm-perm')).entries, []);
  // Deleting a version that no longer exists succeeds, as AWS answers; a malformed id does not.
  const again = await s3.send(new DeleteObjectCommand({ Bucket: 'dm-perm', Key: 'k', VersionId: a1 }));
  assert.equal(again.$metadata.httpStatusCode, 204);
  const bad = await rawRequest(server, { method: 'DELETE', path: '/dm-perm/k', query: { versionId: 'zzz' } });
  assert.equal(bad.status, 400);
  assert.match(bad.body, /<Code>InvalidArgument<\/Code>/);
});

test('delete markers - deleting a noncurrent version keeps the current one', async () => {
  await createBucket(s3, 'dm-noncurrent', 'Enabled');
  const a1 = await put('dm-noncurrent', 'k', 'a1');
  const a2 = await put('dm-noncurrent', 'k', 'a2');
  const a3 = await put('dm-noncurrent', 'k', 'a3');
  await s3.send(new DeleteObjectCommand({ Bucket: 'dm-noncurrent', Key: 'k', VersionId: a2 }));
  assert.equal(await readText(s3, 'dm-noncurrent', 'k'), 'a3');
  assert.deepEqual((await listVersionsPage(server, 'dm-noncurrent')).entries.map((e) => [e.versionId, e.isLatest]), [[a3, true], [a1, false]]);
});

test('delete markers - DeleteObjects with version ids and markers', async () => {
  await createBucket(s3, 'dm-multi', 'Enabled');
  const x1 = await put('dm-multi', 'x', 'x1');
  const y1 = await put('dm-multi', 'y', 'y1');
  const y2 = await put('dm-multi', 'y', 'y2');
  await put('dm-multi', 'z', 'z1');
  const zMarker = (await s3.send(new DeleteObjectCommand({ Bucket: 'dm-multi', Key: 'z' }))).VersionId!;
  const res = await s3.send(new DeleteObjectsCommand({
    Bucket: 'dm-multi',
    Delete: {
      Objects: [
        { Key: 'x' }, // a new marker
        { Key: 'y', VersionId: y2 }, // a version, for good
        { Key: 'z', VersionId: zMarker }, // a marker, for good: z comes back
        { Key: 'never' }, // a marker even for a key that never existed, as AWS does
        { Key: 'x', VersionId: 'bad-id' },
      ],
    },
  }));
  const deleted = new Map((res.Deleted ?? []).map((d) => [`${d.Key}/${d.VersionId ?? ''}`, d]));
  const xDeleted = deleted.get('x/')!;
  assert.equal(xDeleted.DeleteMarker, true);
  assert.ok(xDeleted.DeleteMarkerVersionId && xDeleted.DeleteMarkerVersionId !== x1);
  const yDeleted = deleted.get(`y/${y2}`)!;
  assert.ok(yDeleted);
  assert.equal(yDeleted.DeleteMarker, undefined);
  const zDeleted = deleted.get(`z/${zMarker}`)!;
  assert.equal(zDeleted.DeleteMarker, true);
  assert.equal(zDeleted.DeleteMarkerVersionId, zMarker);
  assert.equal(deleted.get('never/')?.DeleteMarker, true);
  assert.deepEqual(res.Errors?.map((e) => [e.Key, e.VersionId, e.Code]), [['x', 'bad-id', 'InvalidArgument']]);

  assert.equal((await failure(s3.send(new GetObjectCommand({ Bucket: 'dm-multi', Key: 'x' })))).headers['x-amz-version-id'], xDeleted.DeleteMarkerVersionId);
  assert.equal(await readText(s3, 'dm-multi', 'x', x1), 'x1');
  assert.equal(await readText(s3, 'dm-multi', 'y'), 'y1');
  assert.equal((await s3.send(new HeadObjectCommand({ Bucket: 'dm-multi', Key: 'y' }))).VersionId, y1);
  assert.equal(await readText(s3, 'dm-multi', 'z'), 'z1');
  assert.deepEqual(await listedKeys('dm-multi'), { v1: ['y', 'z'], v2: ['y', 'z'] });
});

test('delete markers - DeleteObjects in an unversioned bucket reports no markers', async () => {
  await createBucket(s3, 'dm-multi-plain');
  await s3.send(new PutObjectCommand({ Bucket: 'dm-multi-plain', Key: 'a', Body: 'a' }));
  const res = await s3.send(new DeleteObjectsCommand({ Bucket: 'dm-multi-plain', Delete: { Objects: [{ Key: 'a' }, { Key: 'b' }] } }));
  assert.deepEqual(res.Deleted?.map((d) => [d.Key, d.DeleteMarker, d.DeleteMarkerVersionId]), [['a', undefined, undefined], ['b', undefined, undefined]]);
  assert.deepEqual((await listVersionsPage(server, 'dm-multi-plain')).entries, []);
});

test('delete markers - HEAD of a key deleted in an unversioned bucket is a 404 without x-amz-delete-marker, as the AWS docs say', async () => {
  await createBucket(s3, 'dm-plain-head');
  await s3.send(new PutObjectCommand({ Bucket: 'dm-plain-head', Key: 'k', Body: 'k' }));
  await s3.send(new DeleteObjectCommand({ Bucket: 'dm-plain-head', Key: 'k' }));
  const head = await failure(s3.send(new HeadObjectCommand({ Bucket: 'dm-plain-head', Key: 'k' })));
  assert.equal(head.status, 404);
  assert.equal(head.headers['x-amz-delete-marker'], undefined);
});

test('delete markers - a bucket holding only delete markers and old versions is not empty', async () => {
  await createBucket(s3, 'dm-bucket', 'Enabled');
  const v1 = await put('dm-bucket', 'k', 'v1');
  const marker = (await s3.send(new DeleteObjectCommand({ Bucket: 'dm-bucket', Key: 'k' }))).VersionId!;
  assert.equal((await failure(s3.send(new DeleteBucketCommand({ Bucket: 'dm-bucket' })))).name, 'BucketNotEmpty');
  await s3.send(new DeleteObjectCommand({ Bucket: 'dm-bucket', Key: 'k', VersionId: v1 }));
  assert.equal((await failure(s3.send(new DeleteBucketCommand({ Bucket: 'dm-bucket' })))).name, 'BucketNotEmpty', 'a lone delete marker still counts');
  await s3.send(new DeleteObjectCommand({ Bucket: 'dm-bucket', Key: 'k', VersionId: marker }));
  await s3.send(new DeleteBucketCommand({ Bucket: 'dm-bucket' }));
});
