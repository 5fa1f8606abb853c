// Put/Get/DeleteBucketLifecycleConfiguration through the AWS SDK v3 against a real server (issue 15), and the
// lifecycle pass run on demand through the admin API: a rule dated in the past is due at once, so a real
// process can show expiration and a transition without a fake clock (src/objects/lifecycle.test.ts has one).
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  CreateBucketCommand, DeleteBucketLifecycleCommand, GetBucketLifecycleConfigurationCommand, GetObjectCommand, HeadObjectCommand,
  ListObjectsV2Command, PutBucketLifecycleConfigurationCommand, PutBucketVersioningCommand, PutObjectCommand, ListObjectVersionsCommand,
  type LifecycleRule,
} from '@aws-sdk/client-s3';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTesseraForFile } from '../helpers/tessera.js';
import { assertS3Error, raw, sdkError } from '../s3/raw-http.js';

const drives = await mkdtemp(join(tmpdir(), 'tessera-lc-drives-'));
const { server, s3 } = await startTesseraForFile({ args: ['--drives', [0, 1, 2].map((i) => join(drives, `d${i}`)).join(','), '--storage-classes', 'GLACIER_IR=rep:3', '--lifecycle-interval', '0'] });
// Registered after the server's own after() (node:test runs them in that order), so the drives go once it has stopped.
after(() => rm(drives, { recursive: true, force: true }));

const put = (Bucket: string, Rules: LifecycleRule[]) => s3.send(new PutBucketLifecycleConfigurationCommand({ Bucket, LifecycleConfiguration: { Rules } }));
const putXml = (bucket: string, body: string) => raw(server, { method: 'PUT', path: `/${bucket}`, query: { lifecycle: null }, body });

async function runLifecycle(): Promise<Record<string, number | boolean>> {
  assert.equal((await raw(server, { method: 'POST', path: '/_tessera/admin/lifecycle' })).status, 202);
  for (let i = 0; i < 600; i++) {
    const progress = JSON.parse((await raw(server, { path: '/_tessera/admin/lifecycle' })).body.toString()) as Record<string, number | boolean>;
    if (!progress.running) return progress;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('The lifecycle pass did not finish within a minute');
}

await s3.send(new CreateBucketCommand({ Bucket: 'rules' }));

test('GetBucketLifecycleConfiguration - a bucket without rules gets 404 NoSuchLifecycleConfiguration', async () => {
  await assert.rejects(s3.send(new GetBucketLifecycleConfigurationCommand({ Bucket: 'rules' })), sdkError('NoSuchLifecycleConfiguration', 404));
});

test('PutBucketLifecycleConfiguration - rules are read back as put and removed by DeleteBucketLifecycle', async () => {
  const rules: LifecycleRule[] = [
    { ID: 'logs', Status: 'Enabled', Filter: { Prefix: 'logs/' }, Expiration: { Days: 30 }, AbortIncompleteMultipartUpload: { DaysAfterInitiation: 2 } },
    { ID: 'tmp', Status: 'Disabled', Filter: { And: { Prefix: 'tmp/', Tags: [{ Key: 'a', Value: '1' }], ObjectSizeGreaterThan: 10 } }, NoncurrentVersionExpiration: { NoncurrentDays: 5, NewerNoncurrentVersions: 3 } },
    { ID: 'cold', Status: 'Enabled', Filter: { ObjectSizeGreaterThan: 1000 }, Transitions: [{ Days: 30, StorageClass: 'GLACIER_IR' }] },
  ];
  await put('rules', rules);
  const got = await s3.send(new GetBucketLifecycleConfigurationCommand({ Bucket: 'rules' }));
  assert.deepEqual(got.Rules, rules);
  const deleted = await s3.send(new DeleteBucketLifecycleCommand({ Bucket: 'rules' }));
  assert.equal(deleted.$metadata.httpStatusCode, 204);
  await assert.rejects(s3.send(new GetBucketLifecycleConfigurationCommand({ Bucket: 'rules' })), sdkError('NoSuchLifecycleConfiguration', 404));
});

test('PutBucketLifecycleConfiguration - invalid rules get AWS\'s errors', async () => {
  const rule = (inner: string) => `<LifecycleConfiguration>${inner}</LifecycleConfiguration>`;
  const cases: [string, number, string][] = [
    [rule(''), 400, 'MalformedXML'],
    [rule('<Rule><ID>a</ID><Filter/><Status>Maybe</Status><Expiration><Days>1</Days></Expiration></Rule>'), 400, 'MalformedXML'],
    [rule('<Rule><ID>a</ID><Status>Enabled</Status><Expiration><Days>1</Days></Expiration></Rule>'), 400, 'MalformedXML'],
    [rule('<Rule><ID>a</ID><Filter><Prefix>x</Prefix><Tag><Key>k</Key><Value>v</Value></Tag></Filter><Status>Enabled</Status><Expiration><Days>1</Days></Expiration></Rule>'), 400, 'MalformedXML'],
    [rule('<Rule><ID>a</ID><Filter/><Status>Enabled</Status><Expiration><Days>1</Days><ExpiredObjectDeleteMarker>true</ExpiredObjectDeleteMarker></Expiration></Rule>'), 400, 'MalformedXML'],
    [rule('<Rule><ID>a</ID><Filter/><Status>Enabled</Status><Expiration><Days>0</Days></Expiration></Rule>'), 400, 'InvalidArgument'],
    [rule('<Rule><ID>a</ID><Filter/><Status>Enabled</Status><Expiration><Date>2030-01-01T10:00:00Z</Date></Expiration></Rule>'), 400, 'InvalidArgument'],
    [rule('<Rule><ID>a</ID><Filter/><Status>Enabled</Status><Expiration><Days>1</Days></Expiration></Rule><Rule><ID>a</ID><Filter/><Status>Enabled</Status><Expiration><Days>2</Days></Expiration></Rule>'), 400, 'InvalidArgument'],
    [rule(`<Rule><ID>${'x'.repeat(256)}</ID><Filter/><Status>Enabled</Status><Expiration><Days>1</Days></Expiration></Rule>`), 400, 'InvalidArgument'],
    [rule('<Rule><ID>a</ID><Filter/><Status>Enabled</Status></Rule>'), 400, 'InvalidRequest'],
    [rule('<Rule><ID>a</ID><Filter><Tag><Key>k</Key><Value>v</Value></Tag></Filter><Status>Enabled</Status><AbortIncompleteMultipartUpload><DaysAfterInitiation>1</DaysAfterInitiation></AbortIncompleteMultipartUpload></Rule>'), 400, 'InvalidRequest'],
    [rule('<Rule><ID>a</ID><Filter/><Status>Enabled</Status><Transition><Days>1</Days><StorageClass>STANDARD</StorageClass></Transition></Rule>'), 400, 'MalformedXML'],
    [rule('<Rule><ID>a</ID><Filter/><Status>Enabled</Status><NoncurrentVersionExpiration><NoncurrentDays>-1</NoncurrentDays></NoncurrentVersionExpiration></Rule>'), 400, 'InvalidArgument'],
  ];
  for (const [body, status, code] of cases) assertS3Error(await putXml('rules', body), status, code);
  const tooMany = rule(Array.from({ length: 1001 }, (_, i) => `<Rule><ID>r${i}</ID><Filter/><Status>Enabled</Status><Expiration><Days>1</Days></Expiration></Rule>`).join(''));
  assertS3Error(await putXml('rules', tooMany), 400, 'InvalidArgument');
  assertS3Error(await putXml('no-such-bucket', rule('<Rule><ID>a</ID><Filter/><Status>Enabled</Status><Expiration><Days>1</Days></Expiration></Rule>')), 404, 'NoSuchBucket');
});

test('PutBucketLifecycleConfiguration - the legacy top-level Prefix is read back as put', async () => {
  const res = await putXml('rules', '<LifecycleConfiguration><Rule><ID>old</ID><Prefix>a/</Prefix><Status>Enabled</Status><Expiration><Days>3</Days></Expiration></Rule></LifecycleConfiguration>');
  assert.equal(res.status, 200);
  const got = await s3.send(new GetBucketLifecycleConfigurationCommand({ Bucket: 'rules' }));
  assert.deepEqual(got.Rules, [{ ID: 'old', Prefix: 'a/', Status: 'Enabled', Expiration: { Days: 3 } }]);
});

test('PutObject and HeadObject - answer x-amz-expiration where a rule expires the object', async () => {
  await s3.send(new CreateBucketCommand({ Bucket: 'expiring' }));
  await put('expiring', [{ ID: 'a rule', Status: 'Enabled', Filter: { Prefix: 'e/' }, Expiration: { Days: 2 } }]);
  const putRes = await s3.send(new PutObjectCommand({ Bucket: 'expiring', Key: 'e/1', Body: 'x' }));
  await s3.send(new PutObjectCommand({ Bucket: 'expiring', Key: 'kept', Body: 'x' }));
  const head = await s3.send(new HeadObjectCommand({ Bucket: 'expiring', Key: 'e/1' }));
  const day = 86_400_000;
  const due = new Date((Math.floor((head.LastModified!.getTime() + 2 * day) / day) + 1) * day).toUTCString();
  assert.equal(head.Expiration, `expiry-date="${due}", rule-id="a%20rule"`);
  assert.equal(putRes.Expiration, head.Expiration);
  assert.equal((await s3.send(new HeadObjectCommand({ Bucket: 'expiring', Key: 'kept' }))).Expiration, undefined);
});

test('lifecycle run - expires current versions under a dated rule: a delete marker where versioning is on', async () => {
  await s3.send(new CreateBucketCommand({ Bucket: 'dated' }));
  await s3.send(new PutBucketVersioningCommand({ Bucket: 'dated', VersioningConfiguration: { Status: 'Enabled' } }));
  await put('dated', [{ ID: 'past', Status: 'Enabled', Filter: { Prefix: 'old/' }, Expiration: { Date: new Date('2020-01-01T00:00:00Z') } }]);
  for (const Key of ['old/a', 'old/b', 'new/a']) await s3.send(new PutObjectCommand({ Bucket: 'dated', Key, Body: Key }));
  const progress = await runLifecycle();
  assert.ok((progress.currentExpired as number) >= 2);
  const listed = await s3.send(new ListObjectsV2Command({ Bucket: 'dated' }));
  assert.deepEqual(listed.Contents?.map((o) => o.Key), ['new/a']);
  const versions = await s3.send(new ListObjectVersionsCommand({ Bucket: 'dated', Prefix: 'old/' }));
  assert.equal(versions.DeleteMarkers?.length, 2);
  assert.equal(versions.Versions?.length, 2);
});

test('lifecycle run - a transition re-encodes an object under the new class and keeps its bytes and ETag', async () => {
  await s3.send(new CreateBucketCommand({ Bucket: 'cold' }));
  const body = Buffer.alloc(300_000, 7);
  const putRes = await s3.send(new PutObjectCommand({ Bucket: 'cold', Key: 'big', Body: body, Metadata: { note: 'kept' } }));
  await put('cold', [{ ID: 'to-cold', Status: 'Enabled', Filter: { Prefix: '' }, Transitions: [{ Date: new Date('2020-01-01T00:00:00Z'), StorageClass: 'GLACIER_IR' }] }]);
  const progress = await runLifecycle();
  assert.ok((progress.transitioned as number) >= 1);
  const got = await s3.send(new GetObjectCommand({ Bucket: 'cold', Key: 'big' }));
  assert.equal(got.StorageClass, 'GLACIER_IR');
  assert.equal(got.ETag, putRes.ETag);
  assert.deepEqual(got.Metadata, { note: 'kept' });
  assert.ok(Buffer.from(await got.Body!.transformToByteArray()).equals(body));
  const listed = await s3.send(new ListObjectsV2Command({ Bucket: 'cold' }));
  assert.equal(listed.Contents?.[0]?.StorageClass, 'GLACIER_IR');
});

test('PutObject - an unknown x-amz-storage-class gets 400 InvalidStorageClass', async () => {
  const res = await raw(server, { method: 'PUT', path: '/rules/x', body: 'x', headers: { 'x-amz-storage-class': 'COLDEST' } });
  assertS3Error(res, 400, 'InvalidStorageClass');
});

test('admin status - shows the storage classes and the lifecycle pass', async () => {
  const status = JSON.parse((await raw(server, { path: '/_tessera/admin/status' })).body.toString()) as { storageClasses: { name: string; redundancy: unknown; note?: string }[]; lifecycle: { running: boolean } };
  assert.deepEqual(status.storageClasses.find((c) => c.name === 'GLACIER_IR')?.redundancy, { kind: 'replicate', copies: 3 });
  assert.match(status.storageClasses.find((c) => c.name === 'STANDARD_IA')?.note ?? '', /needs 11 failure domains and 3 exist/);
  assert.equal(typeof status.lifecycle.running, 'boolean');
  const metrics = (await raw(server, { path: '/_tessera/metrics' })).body.toString();
  assert.match(metrics, /^tessera_lifecycle_running [01]$/m);
  assert.match(metrics, /^tessera_lifecycle_actions\{action="transitioned"\} [1-9]/m);
});
