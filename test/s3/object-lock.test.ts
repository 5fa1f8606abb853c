// Object Lock through the AWS SDK v3 (issue 15): lock-enabled buckets, the lock configuration, retention
// and legal hold per version, the lock headers on writes and reads, and AWS's refusals.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  CompleteMultipartUploadCommand, CopyObjectCommand, CreateBucketCommand, CreateMultipartUploadCommand, DeleteObjectCommand,
  DeleteObjectsCommand, GetObjectLegalHoldCommand, GetObjectLockConfigurationCommand, GetObjectRetentionCommand, HeadObjectCommand,
  PutBucketVersioningCommand, PutObjectCommand, PutObjectLegalHoldCommand, PutObjectLockConfigurationCommand, PutObjectRetentionCommand,
  UploadPartCommand, GetBucketVersioningCommand,
} from '@aws-sdk/client-s3';
import { startTesseraForFile } from '../helpers/tessera.js';
import { assertS3Error, md5Base64, raw, sdkError } from './raw-http.js';

const { server, s3 } = await startTesseraForFile();
const far = new Date(Date.UTC(2100, 0, 1));
let n = 0;

async function lockedBucket(): Promise<string> {
  const Bucket = `locked-${++n}`;
  await s3.send(new CreateBucketCommand({ Bucket, ObjectLockEnabledForBucket: true }));
  return Bucket;
}

test('CreateBucket - x-amz-bucket-object-lock-enabled turns versioning on, and it cannot be suspended (InvalidBucketState)', async () => {
  const Bucket = await lockedBucket();
  assert.equal((await s3.send(new GetBucketVersioningCommand({ Bucket }))).Status, 'Enabled');
  await assert.rejects(s3.send(new PutBucketVersioningCommand({ Bucket, VersioningConfiguration: { Status: 'Suspended' } })), sdkError('InvalidBucketState', 409));
  const got = await s3.send(new GetObjectLockConfigurationCommand({ Bucket }));
  assert.deepEqual(got.ObjectLockConfiguration, { ObjectLockEnabled: 'Enabled' });
});

test('PutObjectLockConfiguration - needs versioning Enabled on a bucket created without lock, then turns lock on', async () => {
  const Bucket = `later-${++n}`;
  await s3.send(new CreateBucketCommand({ Bucket }));
  await assert.rejects(s3.send(new GetObjectLockConfigurationCommand({ Bucket })), sdkError('ObjectLockConfigurationNotFoundError', 404));
  const conf = { ObjectLockEnabled: 'Enabled' as const, Rule: { DefaultRetention: { Mode: 'GOVERNANCE' as const, Days: 1 } } };
  await assert.rejects(s3.send(new PutObjectLockConfigurationCommand({ Bucket, ObjectLockConfiguration: conf })), sdkError('InvalidBucketState', 409));
  await s3.send(new PutBucketVersioningCommand({ Bucket, VersioningConfiguration: { Status: 'Enabled' } }));
  await s3.send(new PutObjectLockConfigurationCommand({ Bucket, ObjectLockConfiguration: conf }));
  assert.deepEqual((await s3.send(new GetObjectLockConfigurationCommand({ Bucket }))).ObjectLockConfiguration, conf);
  await assert.rejects(s3.send(new PutBucketVersioningCommand({ Bucket, VersioningConfiguration: { Status: 'Suspended' } })), sdkError('InvalidBucketState', 409));
});

test('PutObjectLockConfiguration - Days and Years together, no period, a bad mode or Disabled are MalformedXML; a period of 0 is InvalidRetentionPeriod', async () => {
  const Bucket = await lockedBucket();
  const bodies: [string, string][] = [
    ['<DefaultRetention><Mode>GOVERNANCE</Mode><Days>1</Days><Years>1</Years></DefaultRetention>', 'MalformedXML'],
    ['<DefaultRetention><Mode>GOVERNANCE</Mode></DefaultRetention>', 'MalformedXML'],
    ['<DefaultRetention><Mode>governance</Mode><Days>1</Days></DefaultRetention>', 'MalformedXML'],
    ['<DefaultRetention><Mode>GOVERNANCE</Mode><Days>0</Days></DefaultRetention>', 'InvalidRetentionPeriod'],
    ['<DefaultRetention><Mode>GOVERNANCE</Mode><Years>-1</Years></DefaultRetention>', 'InvalidRetentionPeriod'],
  ];
  for (const [rule, code] of bodies) {
    const body = `<ObjectLockConfiguration><ObjectLockEnabled>Enabled</ObjectLockEnabled><Rule>${rule}</Rule></ObjectLockConfiguration>`;
    assertS3Error(await raw(server, { method: 'PUT', path: `/${Bucket}`, query: { 'object-lock': null }, body, headers: { 'content-md5': md5Base64(body) } }), 400, code);
  }
  const disabled = '<ObjectLockConfiguration><ObjectLockEnabled>Disabled</ObjectLockEnabled></ObjectLockConfiguration>';
  assertS3Error(await raw(server, { method: 'PUT', path: `/${Bucket}`, query: { 'object-lock': null }, body: disabled, headers: { 'content-md5': md5Base64(disabled) } }), 400, 'MalformedXML');
  const good = '<ObjectLockConfiguration><ObjectLockEnabled>Enabled</ObjectLockEnabled></ObjectLockConfiguration>';
  assertS3Error(await raw(server, { method: 'PUT', path: `/${Bucket}`, query: { 'object-lock': null }, body: good }), 400, 'InvalidRequest');
});

test('PutObject - the default retention is applied to new versions; an explicit retention overrides it', async () => {
  const Bucket = await lockedBucket();
  await s3.send(new PutObjectLockConfigurationCommand({ Bucket, ObjectLockConfiguration: { ObjectLockEnabled: 'Enabled', Rule: { DefaultRetention: { Mode: 'GOVERNANCE', Days: 2 } } } }));
  const before = Date.now();
  await s3.send(new PutObjectCommand({ Bucket, Key: 'a', Body: 'x' }));
  const head = await s3.send(new HeadObjectCommand({ Bucket, Key: 'a' }));
  assert.equal(head.ObjectLockMode, 'GOVERNANCE');
  const until = head.ObjectLockRetainUntilDate!.getTime();
  assert.ok(until >= before + 2 * 86_400_000 - 1000 && until <= Date.now() + 2 * 86_400_000, `retain until ${head.ObjectLockRetainUntilDate?.toISOString()}`);
  // AWS requires Content-MD5 or a checksum of a PUT that gets a retention, even only the default one.
  assertS3Error(await raw(server, { method: 'PUT', path: `/${Bucket}/plain`, body: 'x' }), 400, 'InvalidRequest');
  assert.equal((await raw(server, { method: 'PUT', path: `/${Bucket}/plain`, body: 'x', headers: { 'content-md5': md5Base64('x') } })).status, 200);
  await s3.send(new PutObjectCommand({ Bucket, Key: 'b', Body: 'x', ObjectLockMode: 'COMPLIANCE', ObjectLockRetainUntilDate: far, ObjectLockLegalHoldStatus: 'ON' }));
  const b = await s3.send(new HeadObjectCommand({ Bucket, Key: 'b' }));
  assert.equal(b.ObjectLockMode, 'COMPLIANCE');
  assert.equal(b.ObjectLockRetainUntilDate?.getTime(), far.getTime());
  assert.equal(b.ObjectLockLegalHoldStatus, 'ON');
});

test('PutObject - lock headers in a bucket without lock are InvalidRequest; without Content-MD5 or a checksum too; a past date or a lone mode is InvalidArgument', async () => {
  const plain = `plain-${++n}`;
  await s3.send(new CreateBucketCommand({ Bucket: plain }));
  await assert.rejects(s3.send(new PutObjectCommand({ Bucket: plain, Key: 'k', Body: 'x', ObjectLockLegalHoldStatus: 'ON' })), sdkError('InvalidRequest', 400));
  const Bucket = await lockedBucket();
  const headers = { 'x-amz-object-lock-mode': 'GOVERNANCE', 'x-amz-object-lock-retain-until-date': far.toISOString() };
  assertS3Error(await raw(server, { method: 'PUT', path: `/${Bucket}/k`, body: 'x', headers }), 400, 'InvalidRequest');
  const ok = await raw(server, { method: 'PUT', path: `/${Bucket}/k`, body: 'x', headers: { ...headers, 'content-md5': md5Base64('x') } });
  assert.equal(ok.status, 200, ok.text);
  const past = { 'x-amz-object-lock-mode': 'GOVERNANCE', 'x-amz-object-lock-retain-until-date': '2020-01-01T00:00:00Z', 'content-md5': md5Base64('x') };
  assertS3Error(await raw(server, { method: 'PUT', path: `/${Bucket}/k`, body: 'x', headers: past }), 400, 'InvalidArgument');
  assertS3Error(await raw(server, { method: 'PUT', path: `/${Bucket}/k`, body: 'x', headers: { 'x-amz-object-lock-mode': 'GOVERNANCE', 'content-md5': md5Base64('x') } }), 400, 'InvalidArgument');
});

test('PutObjectRetention - extending is allowed, shortening GOVERNANCE needs the bypass, and a version with retention resists DeleteObject by id', async () => {
  const Bucket = await lockedBucket();
  const { VersionId } = await s3.send(new PutObjectCommand({ Bucket, Key: 'k', Body: 'x' }));
  await assert.rejects(s3.send(new GetObjectRetentionCommand({ Bucket, Key: 'k' })), sdkError('NoSuchObjectLockConfiguration', 404));
  const d1 = new Date(Date.UTC(2090, 0, 3));
  const d0 = new Date(Date.UTC(2090, 0, 1));
  await s3.send(new PutObjectRetentionCommand({ Bucket, Key: 'k', Retention: { Mode: 'GOVERNANCE', RetainUntilDate: d0 } }));
  await s3.send(new PutObjectRetentionCommand({ Bucket, Key: 'k', VersionId, Retention: { Mode: 'GOVERNANCE', RetainUntilDate: d1 } }));
  assert.deepEqual((await s3.send(new GetObjectRetentionCommand({ Bucket, Key: 'k', VersionId }))).Retention, { Mode: 'GOVERNANCE', RetainUntilDate: d1 });
  await assert.rejects(s3.send(new PutObjectRetentionCommand({ Bucket, Key: 'k', Retention: { Mode: 'GOVERNANCE', RetainUntilDate: d0 } })), sdkError('AccessDenied', 403));
  await assert.rejects(s3.send(new DeleteObjectCommand({ Bucket, Key: 'k', VersionId })), sdkError('AccessDenied', 403));
  await s3.send(new PutObjectRetentionCommand({ Bucket, Key: 'k', Retention: { Mode: 'GOVERNANCE', RetainUntilDate: d0 }, BypassGovernanceRetention: true }));
  assert.deepEqual((await s3.send(new GetObjectRetentionCommand({ Bucket, Key: 'k' }))).Retention, { Mode: 'GOVERNANCE', RetainUntilDate: d0 });
  const deleted = await s3.send(new DeleteObjectCommand({ Bucket, Key: 'k', VersionId, BypassGovernanceRetention: true }));
  assert.equal(deleted.$metadata.httpStatusCode, 204);
});

test('PutObjectRetention, PutObjectLegalHold and their Gets - a bucket without lock is InvalidRequest; a bad mode or status is MalformedXML', async () => {
  const plain = `plain-${++n}`;
  await s3.send(new CreateBucketCommand({ Bucket: plain }));
  await s3.send(new PutObjectCommand({ Bucket: plain, Key: 'k', Body: 'x' }));
  await assert.rejects(s3.send(new PutObjectRetentionCommand({ Bucket: plain, Key: 'k', Retention: { Mode: 'GOVERNANCE', RetainUntilDate: far } })), sdkError('InvalidRequest', 400));
  await assert.rejects(s3.send(new GetObjectRetentionCommand({ Bucket: plain, Key: 'k' })), sdkError('InvalidRequest', 400));
  await assert.rejects(s3.send(new PutObjectLegalHoldCommand({ Bucket: plain, Key: 'k', LegalHold: { Status: 'ON' } })), sdkError('InvalidRequest', 400));
  await assert.rejects(s3.send(new GetObjectLegalHoldCommand({ Bucket: plain, Key: 'k' })), sdkError('InvalidRequest', 400));
  const Bucket = await lockedBucket();
  await s3.send(new PutObjectCommand({ Bucket, Key: 'k', Body: 'x' }));
  for (const body of ['<Retention><Mode>governance</Mode><RetainUntilDate>2090-01-01T00:00:00Z</RetainUntilDate></Retention>', '<LegalHold><Status>abc</Status></LegalHold>']) {
    const sub = body.startsWith('<Retention') ? 'retention' : 'legal-hold';
    assertS3Error(await raw(server, { method: 'PUT', path: `/${Bucket}/k`, query: { [sub]: null }, body, headers: { 'content-md5': md5Base64(body) } }), 400, 'MalformedXML');
  }
});

test('PutObjectLegalHold - a hold blocks deleting its version, even with the bypass, until it is turned off; never set, GetObjectLegalHold is NoSuchObjectLockConfiguration', async () => {
  const Bucket = await lockedBucket();
  const { VersionId } = await s3.send(new PutObjectCommand({ Bucket, Key: 'k', Body: 'x' }));
  await assert.rejects(s3.send(new GetObjectLegalHoldCommand({ Bucket, Key: 'k', VersionId })), sdkError('NoSuchObjectLockConfiguration', 404));
  await s3.send(new PutObjectLegalHoldCommand({ Bucket, Key: 'k', VersionId, LegalHold: { Status: 'ON' } }));
  assert.equal((await s3.send(new GetObjectLegalHoldCommand({ Bucket, Key: 'k', VersionId }))).LegalHold?.Status, 'ON');
  await assert.rejects(s3.send(new DeleteObjectCommand({ Bucket, Key: 'k', VersionId, BypassGovernanceRetention: true })), sdkError('AccessDenied', 403));
  await s3.send(new PutObjectLegalHoldCommand({ Bucket, Key: 'k', VersionId, LegalHold: { Status: 'OFF' } }));
  assert.equal((await s3.send(new GetObjectLegalHoldCommand({ Bucket, Key: 'k', VersionId }))).LegalHold?.Status, 'OFF');
  await s3.send(new DeleteObjectCommand({ Bucket, Key: 'k', VersionId }));
});

test('DeleteObjects - a locked version gets a per-key AccessDenied, the others are deleted; with the bypass GOVERNANCE goes too', async () => {
  const Bucket = await lockedBucket();
  const v1 = (await s3.send(new PutObjectCommand({ Bucket, Key: 'k1', Body: 'x', ObjectLockMode: 'GOVERNANCE', ObjectLockRetainUntilDate: far }))).VersionId!;
  const v2 = (await s3.send(new PutObjectCommand({ Bucket, Key: 'k2', Body: 'x' }))).VersionId!;
  const r = await s3.send(new DeleteObjectsCommand({ Bucket, Delete: { Objects: [{ Key: 'k1', VersionId: v1 }, { Key: 'k2', VersionId: v2 }] } }));
  assert.deepEqual(r.Errors?.map((e) => [e.Key, e.VersionId, e.Code]), [['k1', v1, 'AccessDenied']]);
  assert.deepEqual(r.Deleted?.map((d) => [d.Key, d.VersionId]), [['k2', v2]]);
  const again = await s3.send(new DeleteObjectsCommand({ Bucket, BypassGovernanceRetention: true, Delete: { Objects: [{ Key: 'k1', VersionId: v1 }] } }));
  assert.equal(again.Errors, undefined);
  assert.deepEqual(again.Deleted?.map((d) => d.VersionId), [v1]);
});

test('CreateMultipartUpload and CopyObject - their lock headers land on the version they make; a copy does not take its source\'s lock', async () => {
  const Bucket = await lockedBucket();
  const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket, Key: 'mp', ObjectLockMode: 'GOVERNANCE', ObjectLockRetainUntilDate: far, ObjectLockLegalHoldStatus: 'ON' }));
  const part = await s3.send(new UploadPartCommand({ Bucket, Key: 'mp', UploadId, PartNumber: 1, Body: 'abc' }));
  const done = await s3.send(new CompleteMultipartUploadCommand({ Bucket, Key: 'mp', UploadId, MultipartUpload: { Parts: [{ PartNumber: 1, ETag: part.ETag! }] } }));
  const head = await s3.send(new HeadObjectCommand({ Bucket, Key: 'mp', VersionId: done.VersionId }));
  assert.equal(head.ObjectLockMode, 'GOVERNANCE');
  assert.equal(head.ObjectLockLegalHoldStatus, 'ON');
  await assert.rejects(s3.send(new DeleteObjectCommand({ Bucket, Key: 'mp', VersionId: done.VersionId })), sdkError('AccessDenied', 403));
  await s3.send(new CopyObjectCommand({ Bucket, Key: 'copy', CopySource: `${Bucket}/mp` }));
  const copy = await s3.send(new HeadObjectCommand({ Bucket, Key: 'copy' }));
  assert.equal(copy.ObjectLockMode, undefined);
  assert.equal(copy.ObjectLockLegalHoldStatus, undefined);
  await s3.send(new CopyObjectCommand({ Bucket, Key: 'copy2', CopySource: `${Bucket}/mp`, ObjectLockMode: 'COMPLIANCE', ObjectLockRetainUntilDate: far }));
  assert.equal((await s3.send(new HeadObjectCommand({ Bucket, Key: 'copy2' }))).ObjectLockMode, 'COMPLIANCE');
});
