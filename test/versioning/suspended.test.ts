// The null version (issue 4), as AWS documents it for never-versioned and Suspended buckets: a PUT
// overwrites the null version and leaves older versions alone; a DELETE puts a null delete marker in
// place of the null version.
// https://docs.aws.amazon.com/AmazonS3/latest/userguide/AddingObjectstoVersionSuspendedBuckets.html
// https://docs.aws.amazon.com/AmazonS3/latest/userguide/DeletingObjectsfromVersioningSuspendedBuckets.html
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DeleteObjectCommand, GetObjectCommand, HeadObjectCommand, PutObjectCommand, CopyObjectCommand } from '@aws-sdk/client-s3';
import { startTesseraForFile } from '../helpers/tessera.js';
import { createBucket, failure, listVersionsPage, readText, setVersioning } from './helpers.js';

const { server, s3 } = await startTesseraForFile();

async function put(bucket: string, key: string, body: string): Promise<string | undefined> {
  return (await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body }))).VersionId;
}

async function versionsOf(bucket: string, key: string): Promise<{ kind: string; versionId: string; isLatest: boolean }[]> {
  const page = await listVersionsPage(server, bucket, { prefix: key });
  return page.entries.filter((e) => e.key === key).map(({ kind, versionId, isLatest }) => ({ kind, versionId, isLatest }));
}

test('suspended - a never-versioned bucket keeps one null version per key', async () => {
  await createBucket(s3, 'susp-never');
  assert.equal(await put('susp-never', 'k', 'one'), undefined);
  assert.equal(await put('susp-never', 'k', 'two'), undefined);
  assert.deepEqual(await versionsOf('susp-never', 'k'), [{ kind: 'Version', versionId: 'null', isLatest: true }]);
  assert.equal(await readText(s3, 'susp-never', 'k', 'null'), 'two');
  const head = await s3.send(new HeadObjectCommand({ Bucket: 'susp-never', Key: 'k' }));
  assert.equal(head.VersionId, undefined, 'a never-versioned bucket sends no version id');
  const del = await s3.send(new DeleteObjectCommand({ Bucket: 'susp-never', Key: 'k' }));
  assert.equal(del.DeleteMarker, undefined);
  assert.equal(del.VersionId, undefined);
  assert.deepEqual(await versionsOf('susp-never', 'k'), []);
});

test('suspended - a PUT replaces the null version and keeps older non-null versions', async () => {
  await createBucket(s3, 'susp-put');
  await put('susp-put', 'k', 'v0-unversioned');
  await setVersioning(s3, 'susp-put', 'Enabled');
  const v1 = await put('susp-put', 'k', 'v1');
  const v2 = await put('susp-put', 'k', 'v2');
  assert.ok(v1 && v2 && v1 !== v2);
  // The object written before versioning is still there, as the null version.
  assert.equal(await readText(s3, 'susp-put', 'k', 'null'), 'v0-unversioned');
  assert.deepEqual((await versionsOf('susp-put', 'k')).map((v) => v.versionId), [v2, v1, 'null']);

  await setVersioning(s3, 'susp-put', 'Suspended');
  // AWS answers a PUT to a Suspended bucket without x-amz-version-id (see the PutObject examples).
  assert.equal(await put('susp-put', 'k', 's1'), undefined);
  assert.deepEqual(await versionsOf('susp-put', 'k'), [
    { kind: 'Version', versionId: 'null', isLatest: true },
    { kind: 'Version', versionId: v2!, isLatest: false },
    { kind: 'Version', versionId: v1!, isLatest: false },
  ]);
  assert.equal(await readText(s3, 'susp-put', 'k'), 's1');
  const got = await s3.send(new GetObjectCommand({ Bucket: 'susp-put', Key: 'k' }));
  assert.equal(got.VersionId, 'null', 'a bucket with versioning configured names the null version');
  await got.Body!.transformToString();

  assert.equal(await put('susp-put', 'k', 's2'), undefined);
  assert.equal((await versionsOf('susp-put', 'k')).length, 3, 'the second PUT overwrote the null version');
  assert.equal(await readText(s3, 'susp-put', 'k', 'null'), 's2');
  assert.equal(await readText(s3, 'susp-put', 'k', v1), 'v1');
  assert.equal(await readText(s3, 'susp-put', 'k', v2), 'v2');
});

test('suspended - a DELETE puts a null delete marker in place of the null version', async () => {
  await createBucket(s3, 'susp-del', 'Enabled');
  const v1 = await put('susp-del', 'k', 'v1');
  await setVersioning(s3, 'susp-del', 'Suspended');
  await put('susp-del', 'k', 'null-object');
  const del = await s3.send(new DeleteObjectCommand({ Bucket: 'susp-del', Key: 'k' }));
  assert.equal(del.DeleteMarker, true);
  assert.equal(del.VersionId, 'null');
  assert.deepEqual(await versionsOf('susp-del', 'k'), [
    { kind: 'DeleteMarker', versionId: 'null', isLatest: true },
    { kind: 'Version', versionId: v1!, isLatest: false },
  ]);
  const missing = await failure(s3.send(new GetObjectCommand({ Bucket: 'susp-del', Key: 'k' })));
  assert.equal(missing.status, 404);
  assert.equal(missing.headers['x-amz-delete-marker'], 'true');
  assert.equal(missing.headers['x-amz-version-id'], 'null');
  // A second DELETE replaces the null marker rather than stacking another one.
  await s3.send(new DeleteObjectCommand({ Bucket: 'susp-del', Key: 'k' }));
  assert.equal((await versionsOf('susp-del', 'k')).length, 2);
  assert.equal((await failure(s3.send(new GetObjectCommand({ Bucket: 'susp-del', Key: 'k', VersionId: 'null' })))).status, 405);
  // Removing the null marker by id brings back the newest remaining version.
  const removed = await s3.send(new DeleteObjectCommand({ Bucket: 'susp-del', Key: 'k', VersionId: 'null' }));
  assert.equal(removed.DeleteMarker, true);
  assert.equal(removed.VersionId, 'null');
  assert.equal(await readText(s3, 'susp-del', 'k'), 'v1');
});

test('suspended - a null version that is not the latest is still the one a PUT or DELETE replaces', async () => {
  await createBucket(s3, 'susp-mid', 'Enabled');
  const v1 = await put('susp-mid', 'k', 'v1');
  await setVersioning(s3, 'susp-mid', 'Suspended');
  await put('susp-mid', 'k', 'null-a');
  await setVersioning(s3, 'susp-mid', 'Enabled');
  const v3 = await put('susp-mid', 'k', 'v3');
  assert.deepEqual((await versionsOf('susp-mid', 'k')).map((v) => v.versionId), [v3, 'null', v1]);
  await setVersioning(s3, 'susp-mid', 'Suspended');
  await put('susp-mid', 'k', 'null-b');
  assert.deepEqual((await versionsOf('susp-mid', 'k')).map((v) => v.versionId), ['null', v3, v1]);
  assert.equal(await readText(s3, 'susp-mid', 'k', 'null'), 'null-b');
  // Enabled again: new versions get ids and the null version stays below them.
  await setVersioning(s3, 'susp-mid', 'Enabled');
  const v5 = await put('susp-mid', 'k', 'v5');
  assert.deepEqual((await versionsOf('susp-mid', 'k')).map((v) => v.versionId), [v5, 'null', v3, v1]);
  await setVersioning(s3, 'susp-mid', 'Suspended');
  await s3.send(new DeleteObjectCommand({ Bucket: 'susp-mid', Key: 'k' }));
  assert.deepEqual(await versionsOf('susp-mid', 'k'), [
    { kind: 'DeleteMarker', versionId: 'null', isLatest: true },
    { kind: 'Version', versionId: v5!, isLatest: false },
    { kind: 'Version', versionId: v3!, isLatest: false },
    { kind: 'Version', versionId: v1!, isLatest: false },
  ]);
});

test('suspended - deleting a non-null version by id in a Suspended bucket removes only that version', async () => {
  await createBucket(s3, 'susp-byid', 'Enabled');
  const v1 = await put('susp-byid', 'k', 'v1');
  const v2 = await put('susp-byid', 'k', 'v2');
  await setVersioning(s3, 'susp-byid', 'Suspended');
  const del = await s3.send(new DeleteObjectCommand({ Bucket: 'susp-byid', Key: 'k', VersionId: v2 }));
  assert.equal(del.VersionId, v2);
  assert.equal(del.DeleteMarker, undefined);
  assert.equal(await readText(s3, 'susp-byid', 'k'), 'v1');
  assert.deepEqual((await versionsOf('susp-byid', 'k')).map((v) => v.versionId), [v1]);
});

test('suspended - a copy into a Suspended bucket overwrites the null version', async () => {
  await createBucket(s3, 'susp-copy', 'Enabled');
  const v1 = await put('susp-copy', 'src', 'source-v1');
  await setVersioning(s3, 'susp-copy', 'Suspended');
  await put('susp-copy', 'dst', 'old-null');
  const copied = await s3.send(new CopyObjectCommand({ Bucket: 'susp-copy', Key: 'dst', CopySource: `susp-copy/src?versionId=${v1}` }));
  assert.equal(copied.VersionId, undefined);
  assert.equal(copied.CopySourceVersionId, v1);
  assert.deepEqual(await versionsOf('susp-copy', 'dst'), [{ kind: 'Version', versionId: 'null', isLatest: true }]);
  assert.equal(await readText(s3, 'susp-copy', 'dst'), 'source-v1');
});
