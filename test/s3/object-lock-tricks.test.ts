// Issue 15's must-hold: a COMPLIANCE-locked version cannot be deleted, shortened or overwritten by anyone,
// root included, until its date, whatever trick is tried; once the date passes it can be deleted.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  CreateBucketCommand, DeleteBucketCommand, DeleteObjectCommand, DeleteObjectsCommand, GetObjectCommand, GetObjectRetentionCommand,
  PutBucketVersioningCommand, PutObjectCommand, PutObjectLockConfigurationCommand, PutObjectRetentionCommand, CopyObjectCommand,
  ListObjectVersionsCommand, type DeleteObjectsCommandOutput,
} from '@aws-sdk/client-s3';
import { startTesseraForFile } from '../helpers/tessera.js';
import { assertS3Error, md5Base64, raw, sdkError } from './raw-http.js';

const { server, s3 } = await startTesseraForFile();
const Bucket = 'compliance';
const Key = 'ledger';
const until = new Date(Date.UTC(2099, 0, 1));
await s3.send(new CreateBucketCommand({ Bucket, ObjectLockEnabledForBucket: true }));
const { VersionId } = await s3.send(new PutObjectCommand({ Bucket, Key, Body: 'the original', ObjectLockMode: 'COMPLIANCE', ObjectLockRetainUntilDate: until }));
assert.ok(VersionId);

async function assertIntact(): Promise<void> {
  const got = await s3.send(new GetObjectCommand({ Bucket, Key, VersionId }));
  assert.equal(await got.Body?.transformToString(), 'the original');
  assert.equal(got.ObjectLockMode, 'COMPLIANCE');
  assert.equal(got.ObjectLockRetainUntilDate?.getTime(), until.getTime());
}

test('COMPLIANCE lock - DeleteObject by version id is AccessDenied, with or without the bypass header', async () => {
  await assert.rejects(s3.send(new DeleteObjectCommand({ Bucket, Key, VersionId })), sdkError('AccessDenied', 403));
  await assert.rejects(s3.send(new DeleteObjectCommand({ Bucket, Key, VersionId, BypassGovernanceRetention: true })), sdkError('AccessDenied', 403));
  await assertIntact();
});

test('COMPLIANCE lock - DeleteObjects reports AccessDenied for the version, with or without the bypass', async () => {
  for (const BypassGovernanceRetention of [false, true]) {
    const result: DeleteObjectsCommandOutput = await s3.send(new DeleteObjectsCommand({ Bucket, BypassGovernanceRetention, Delete: { Objects: [{ Key, VersionId }] } }));
    assert.deepEqual(result.Errors?.map((e) => [e.Key, e.VersionId, e.Code]), [[Key, VersionId, 'AccessDenied']]);
  }
  await assertIntact();
});

test('COMPLIANCE lock - a shorter date, a switch to GOVERNANCE or removing the retention is AccessDenied, bypass or not', async () => {
  const shorter = new Date(until.getTime() - 86_400_000);
  const later = new Date(until.getTime() + 86_400_000);
  for (const BypassGovernanceRetention of [false, true]) {
    await assert.rejects(s3.send(new PutObjectRetentionCommand({ Bucket, Key, VersionId, BypassGovernanceRetention, Retention: { Mode: 'COMPLIANCE', RetainUntilDate: shorter } })), sdkError('AccessDenied', 403));
    await assert.rejects(s3.send(new PutObjectRetentionCommand({ Bucket, Key, VersionId, BypassGovernanceRetention, Retention: { Mode: 'GOVERNANCE', RetainUntilDate: later } })), sdkError('AccessDenied', 403));
    const empty = '<Retention/>';
    const res = await raw(server, {
      method: 'PUT', path: `/${Bucket}/${Key}`, query: { retention: null, versionId: VersionId! }, body: empty,
      headers: { 'content-md5': md5Base64(empty), ...(BypassGovernanceRetention ? { 'x-amz-bypass-governance-retention': 'true' } : {}) },
    });
    assertS3Error(res, 403, 'AccessDenied');
  }
  assert.deepEqual((await s3.send(new GetObjectRetentionCommand({ Bucket, Key, VersionId }))).Retention, { Mode: 'COMPLIANCE', RetainUntilDate: until });
  await assertIntact();
});

test('COMPLIANCE lock - removing the bucket\'s default retention, disabling lock or suspending versioning leaves the version locked', async () => {
  await s3.send(new PutObjectLockConfigurationCommand({ Bucket, ObjectLockConfiguration: { ObjectLockEnabled: 'Enabled', Rule: { DefaultRetention: { Mode: 'GOVERNANCE', Days: 1 } } } }));
  await s3.send(new PutObjectLockConfigurationCommand({ Bucket, ObjectLockConfiguration: { ObjectLockEnabled: 'Enabled' } }));
  const disable = '<ObjectLockConfiguration><ObjectLockEnabled>Disabled</ObjectLockEnabled></ObjectLockConfiguration>';
  assertS3Error(await raw(server, { method: 'PUT', path: `/${Bucket}`, query: { 'object-lock': null }, body: disable, headers: { 'content-md5': md5Base64(disable) } }), 400, 'MalformedXML');
  await assert.rejects(s3.send(new PutBucketVersioningCommand({ Bucket, VersioningConfiguration: { Status: 'Suspended' } })), sdkError('InvalidBucketState', 409));
  await assert.rejects(s3.send(new DeleteObjectCommand({ Bucket, Key, VersionId })), sdkError('AccessDenied', 403));
  await assertIntact();
});

test('COMPLIANCE lock - an overwrite, a copy onto the key and a plain DELETE make new versions; the locked one stays', async () => {
  const put = await s3.send(new PutObjectCommand({ Bucket, Key, Body: 'an overwrite' }));
  assert.notEqual(put.VersionId, VersionId);
  await s3.send(new CopyObjectCommand({ Bucket, Key, CopySource: `${Bucket}/${Key}?versionId=${put.VersionId}`, MetadataDirective: 'REPLACE' }));
  const marker = await s3.send(new DeleteObjectCommand({ Bucket, Key }));
  assert.equal(marker.DeleteMarker, true);
  const versions = await s3.send(new ListObjectVersionsCommand({ Bucket, Prefix: Key }));
  assert.ok(versions.Versions?.some((v) => v.VersionId === VersionId));
  await assertIntact();
});

test('COMPLIANCE lock - DeleteBucket of the bucket holding it is BucketNotEmpty', async () => {
  await assert.rejects(s3.send(new DeleteBucketCommand({ Bucket })), sdkError('BucketNotEmpty', 409));
  await assertIntact();
});

test('COMPLIANCE lock - once its date has passed the version can be deleted by id', async () => {
  const soon = new Date(Date.now() + 2000);
  const short = await s3.send(new PutObjectCommand({ Bucket, Key: 'short', Body: 'x', ObjectLockMode: 'COMPLIANCE', ObjectLockRetainUntilDate: soon }));
  await assert.rejects(s3.send(new DeleteObjectCommand({ Bucket, Key: 'short', VersionId: short.VersionId })), sdkError('AccessDenied', 403));
  await new Promise((r) => setTimeout(r, Math.max(0, soon.getTime() - Date.now()) + 50));
  const deleted = await s3.send(new DeleteObjectCommand({ Bucket, Key: 'short', VersionId: short.VersionId }));
  assert.equal(deleted.$metadata.httpStatusCode, 204);
});
