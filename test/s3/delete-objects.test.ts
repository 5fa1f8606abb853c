// DeleteObjects: up to 1,000 keys per request, quiet mode, missing keys, and the limits of the request.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { CreateBucketCommand, DeleteObjectsCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import { startTesseraForFile } from '../helpers/tessera.js';
import { assertS3Error, md5Base64, raw, sdkError, seedObjects } from './raw-http.js';

const { server, s3 } = await startTesseraForFile();
const Bucket = 'multi-delete';
before(() => s3.send(new CreateBucketCommand({ Bucket })));

async function putMany(prefix: string, count: number): Promise<string[]> {
  const keys = Array.from({ length: count }, (_, i) => `${prefix}/${String(i).padStart(4, '0')}`);
  await seedObjects(server, Bucket, keys);
  return keys;
}

async function countUnder(prefix: string): Promise<number> {
  let n = 0;
  let token: string | undefined;
  do {
    const page = await s3.send(new ListObjectsV2Command({ Bucket, Prefix: `${prefix}/`, ContinuationToken: token }));
    n += page.KeyCount ?? 0;
    token = page.NextContinuationToken;
  } while (token);
  return n;
}

test('DeleteObjects - deletes 1,000 keys in one request and reports each as Deleted', async () => {
  const keys = await putMany('thousand', 1000);
  const out = await s3.send(new DeleteObjectsCommand({ Bucket, Delete: { Objects: keys.map((Key) => ({ Key })) } }));
  assert.equal(out.Errors, undefined);
  assert.deepEqual(out.Deleted?.map((d) => d.Key).sort(), keys);
  assert.equal(await countUnder('thousand'), 0);
});

test('DeleteObjects - answers in the order of the request, a repeated key included', async () => {
  const keys = await putMany('ordered', 40);
  const requested = [...keys].reverse();
  requested.splice(10, 0, keys[5]!);
  const out = await s3.send(new DeleteObjectsCommand({ Bucket, Delete: { Objects: requested.map((Key) => ({ Key })) } }));
  assert.deepEqual(out.Deleted?.map((d) => d.Key), requested);
  assert.equal(await countUnder('ordered'), 0);
});

test('DeleteObjects - an entry without a key anywhere in the list gets MalformedXML and deletes nothing', async () => {
  await putMany('partial', 2);
  const body = '<Delete><Object><Key>partial/0000</Key></Object><Object><VersionId>null</VersionId></Object><Object><Key>partial/0001</Key></Object></Delete>';
  const res = await raw(server, { method: 'POST', path: `/${Bucket}`, query: { delete: null }, body, headers: { 'content-md5': md5Base64(body) } });
  assertS3Error(res, 400, 'MalformedXML');
  assert.equal(await countUnder('partial'), 2);
});

test('DeleteObjects - quiet mode answers without Deleted entries', async () => {
  const keys = await putMany('quiet', 20);
  const out = await s3.send(new DeleteObjectsCommand({ Bucket, Delete: { Quiet: true, Objects: [...keys, 'quiet/never-existed'].map((Key) => ({ Key })) } }));
  assert.equal(out.$metadata.httpStatusCode, 200);
  assert.equal(out.Deleted, undefined);
  assert.equal(out.Errors, undefined);
  assert.equal(await countUnder('quiet'), 0);
});

test('DeleteObjects - keys that do not exist are reported as Deleted', async () => {
  const out = await s3.send(new DeleteObjectsCommand({ Bucket, Delete: { Objects: [{ Key: 'ghost-1' }, { Key: 'ghost 2 & <x>' }] } }));
  assert.deepEqual(out.Deleted?.map((d) => d.Key).sort(), ['ghost 2 & <x>', 'ghost-1']);
});

test('DeleteObjects - 1,001 keys get MalformedXML and delete nothing', async () => {
  const keys = await putMany('overflow', 3);
  const objects = [...keys, ...Array.from({ length: 998 }, (_, i) => `overflow/missing-${i}`)].map((Key) => ({ Key }));
  assert.equal(objects.length, 1001);
  await assert.rejects(s3.send(new DeleteObjectsCommand({ Bucket, Delete: { Objects: objects } })), sdkError('MalformedXML', 400));
  assert.equal(await countUnder('overflow'), 3);
});

test('DeleteObjects - malformed or empty request bodies get MalformedXML', async () => {
  const bodies = [
    '<Delete><Object><Key>a</Key></Object>', // unclosed
    'not xml at all',
    '<Delete></Delete>', // no objects
    '<Delete><Object></Object></Delete>', // object without a key
    '<Other><Object><Key>a</Key></Object></Other>', // wrong root
    '<Delete><Object><Key><Nested>a</Nested></Key></Object></Delete>',
  ];
  for (const body of bodies) {
    const res = await raw(server, { method: 'POST', path: `/${Bucket}`, query: { delete: null }, body, headers: { 'content-md5': md5Base64(body) } });
    assertS3Error(res, 400, 'MalformedXML');
  }
});

test('DeleteObjects - a Content-MD5 that does not match the body gets BadDigest', async () => {
  const body = '<Delete><Object><Key>a</Key></Object></Delete>';
  const res = await raw(server, { method: 'POST', path: `/${Bucket}`, query: { delete: null }, body, headers: { 'content-md5': md5Base64('other') } });
  assertS3Error(res, 400, 'BadDigest');
});

test('DeleteObjects - a key over 1,024 bytes is reported as a per-key error, the rest are deleted', async () => {
  await putMany('mixed', 2);
  const long = 'k'.repeat(1025);
  const out = await s3.send(new DeleteObjectsCommand({ Bucket, Delete: { Objects: [{ Key: 'mixed/0000' }, { Key: long }, { Key: 'mixed/0001' }] } }));
  assert.deepEqual(out.Deleted?.map((d) => d.Key).sort(), ['mixed/0000', 'mixed/0001']);
  assert.equal(out.Errors?.length, 1);
  assert.equal(out.Errors?.[0]?.Key, long);
  assert.equal(out.Errors?.[0]?.Code, 'KeyTooLongError');
});

test('DeleteObjects - a missing bucket gets NoSuchBucket', async () => {
  await assert.rejects(s3.send(new DeleteObjectsCommand({ Bucket: 'no-bucket-here', Delete: { Objects: [{ Key: 'a' }] } })), sdkError('NoSuchBucket', 404));
});
