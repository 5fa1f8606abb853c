// Bucket policies and Block Public Access through HTTP: the Put/Get/Delete(BucketPolicy|PublicAccessBlock)
// and GetBucketPolicyStatus shapes and errors, BlockPublicPolicy at the store and the bucket, and a public
// prefix opened on purpose (store and bucket BPA off, then a policy).
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import {
  CreateBucketCommand, DeleteBucketPolicyCommand, DeletePublicAccessBlockCommand, GetBucketPolicyCommand, GetBucketPolicyStatusCommand,
  GetObjectCommand, GetPublicAccessBlockCommand, PutBucketPolicyCommand, PutObjectCommand, PutPublicAccessBlockCommand,
} from '@aws-sdk/client-s3';
import { startTesseraForFile } from '../helpers/tessera.js';
import { assertS3Error, raw, sdkError, send } from './raw-http.js';
import { formBody, postForm } from './post-form.js';

const { server, s3 } = await startTesseraForFile();
const Bucket = 'policies';
const publicRead = (prefix: string) => JSON.stringify({
  Version: '2012-10-17',
  Statement: [{ Sid: 'PublicRead', Effect: 'Allow', Principal: '*', Action: 's3:GetObject', Resource: `arn:aws:s3:::${Bucket}/${prefix}*` }],
});
const allOff = { BlockPublicAcls: false, IgnorePublicAcls: false, BlockPublicPolicy: false, RestrictPublicBuckets: false };

async function storeBlock(body: Record<string, boolean>): Promise<void> {
  const res = await raw(server, { method: 'PUT', path: '/_tessera/admin/public-access-block', body: JSON.stringify(body) });
  assert.equal(res.status, 200, res.text);
}

before(async () => {
  await s3.send(new CreateBucketCommand({ Bucket }));
  for (const Key of ['public/a.txt', 'private/b.txt']) await s3.send(new PutObjectCommand({ Bucket, Key, Body: Key }));
});

test('Admin API - the store-wide Block Public Access is on by default, all four settings', async () => {
  const res = await raw(server, { path: '/_tessera/admin/public-access-block' });
  assert.deepEqual(JSON.parse(res.text), { BlockPublicAcls: true, IgnorePublicAcls: true, BlockPublicPolicy: true, RestrictPublicBuckets: true });
});

test('GetBucketPolicy - a bucket without a policy gets 404 NoSuchBucketPolicy, as does GetBucketPolicyStatus', async () => {
  assertS3Error(await raw(server, { path: `/${Bucket}`, query: { policy: null } }), 404, 'NoSuchBucketPolicy');
  assertS3Error(await raw(server, { path: `/${Bucket}`, query: { policyStatus: null } }), 404, 'NoSuchBucketPolicy');
  assertS3Error(await raw(server, { path: '/no-such-bucket-here', query: { policy: null } }), 404, 'NoSuchBucket');
});

test('PutBucketPolicy - malformed documents get 400 MalformedPolicy with AWS\'s message', async () => {
  const cases: [string, RegExp][] = [
    ['{not json', /valid JSON/],
    [JSON.stringify({ Version: '2012-10-17' }), /Missing required field Statement/],
    [JSON.stringify({ Statement: [{ Effect: 'Allow', Principal: '*', Action: 's3:GetObject', Resource: 'arn:aws:s3:::other/*' }] }), /Policy has invalid resource/],
    [JSON.stringify({ Statement: [{ Effect: 'Allow', Principal: '*', Action: 's3:Fly', Resource: `arn:aws:s3:::${Bucket}/*` }] }), /Policy has invalid action/],
    [JSON.stringify({ Statement: [{ Effect: 'Allow', Action: 's3:GetObject', Resource: `arn:aws:s3:::${Bucket}/*` }] }), /Missing required field Principal/],
  ];
  for (const [body, message] of cases) {
    const err = assertS3Error(await raw(server, { method: 'PUT', path: `/${Bucket}`, query: { policy: null }, body }), 400, 'MalformedPolicy');
    assert.match(err.Message!, message);
  }
});

test('PutBucketPolicy - a public policy is refused with AccessDenied while Block Public Access blocks public policies', async () => {
  await assert.rejects(s3.send(new PutBucketPolicyCommand({ Bucket, Policy: publicRead('public/') })), sdkError('AccessDenied', 403));
  // A policy naming the account's own user is not public: accepted under the default settings.
  const named = JSON.stringify({ Statement: [{ Effect: 'Allow', Principal: { AWS: 'arn:aws:iam::000000000000:user/alice' }, Action: 's3:GetObject', Resource: `arn:aws:s3:::${Bucket}/*` }] });
  await s3.send(new PutBucketPolicyCommand({ Bucket, Policy: named }));
  assert.equal((await s3.send(new GetBucketPolicyCommand({ Bucket }))).Policy, named);
  assert.equal((await s3.send(new GetBucketPolicyStatusCommand({ Bucket }))).PolicyStatus?.IsPublic, false);
  await s3.send(new DeleteBucketPolicyCommand({ Bucket }));
  await assert.rejects(s3.send(new GetBucketPolicyCommand({ Bucket })), sdkError('NoSuchBucketPolicy', 404));
});

test('PublicAccessBlock - put, get and delete per bucket; none put gets 404 NoSuchPublicAccessBlockConfiguration', async () => {
  await assert.rejects(s3.send(new GetPublicAccessBlockCommand({ Bucket })), sdkError('NoSuchPublicAccessBlockConfiguration', 404));
  await s3.send(new PutPublicAccessBlockCommand({ Bucket, PublicAccessBlockConfiguration: { BlockPublicPolicy: true } }));
  const got = await s3.send(new GetPublicAccessBlockCommand({ Bucket }));
  assert.deepEqual(got.PublicAccessBlockConfiguration, { ...allOff, BlockPublicPolicy: true });
  await s3.send(new DeletePublicAccessBlockCommand({ Bucket }));
  await assert.rejects(s3.send(new GetPublicAccessBlockCommand({ Bucket })), sdkError('NoSuchPublicAccessBlockConfiguration', 404));
  const bad = await raw(server, { method: 'PUT', path: `/${Bucket}`, query: { publicAccessBlock: null }, body: '<PublicAccessBlockConfiguration><BlockPublicAcls>maybe</BlockPublicAcls></PublicAccessBlockConfiguration>' });
  assertS3Error(bad, 400, 'MalformedXML');
});

test('Public prefix - anonymous reads get in only once the store and the bucket allow a public policy, and only under the prefix', async () => {
  const anonymousGet = (key: string) => send(server, { method: 'GET', path: `/${Bucket}/${key}`, headers: {} });
  assertS3Error(await anonymousGet('public/a.txt'), 403, 'AccessDenied');
  // The bucket's own setting blocks public policies even with the store's off.
  await storeBlock(allOff);
  await s3.send(new PutPublicAccessBlockCommand({ Bucket, PublicAccessBlockConfiguration: { ...allOff, BlockPublicPolicy: true } }));
  await assert.rejects(s3.send(new PutBucketPolicyCommand({ Bucket, Policy: publicRead('public/') })), sdkError('AccessDenied', 403));
  await s3.send(new DeletePublicAccessBlockCommand({ Bucket }));
  await s3.send(new PutBucketPolicyCommand({ Bucket, Policy: publicRead('public/') }));
  assert.equal((await s3.send(new GetBucketPolicyStatusCommand({ Bucket }))).PolicyStatus?.IsPublic, true);
  const got = await anonymousGet('public/a.txt');
  assert.equal(got.status, 200, got.text);
  assert.equal(got.text, 'public/a.txt');
  assertS3Error(await anonymousGet('private/b.txt'), 403, 'AccessDenied');
  assertS3Error(await send(server, { method: 'PUT', path: `/${Bucket}/public/new.txt`, headers: { 'content-length': '1' }, body: Buffer.from('x') }), 403, 'AccessDenied');
  assertS3Error(await send(server, { method: 'GET', path: `/${Bucket}`, headers: {} }), 403, 'AccessDenied');
  // RestrictPublicBuckets on the bucket closes it again without touching the policy.
  await s3.send(new PutPublicAccessBlockCommand({ Bucket, PublicAccessBlockConfiguration: { ...allOff, RestrictPublicBuckets: true } }));
  assertS3Error(await anonymousGet('public/a.txt'), 403, 'AccessDenied');
  await s3.send(new DeletePublicAccessBlockCommand({ Bucket }));
  assert.equal((await anonymousGet('public/a.txt')).status, 200);
  // And so does the store's setting, put back on.
  await storeBlock({ RestrictPublicBuckets: true });
  assertS3Error(await anonymousGet('public/a.txt'), 403, 'AccessDenied');
  await storeBlock(allOff);
  await s3.send(new DeleteBucketPolicyCommand({ Bucket }));
  assertS3Error(await anonymousGet('public/a.txt'), 403, 'AccessDenied');
});

test('Bucket policy - a Deny applies to the root too, except for the bucket policy operations', async () => {
  await storeBlock(allOff);
  const deny = JSON.stringify({ Statement: [{ Effect: 'Deny', Principal: '*', Action: 's3:GetObject', Resource: `arn:aws:s3:::${Bucket}/private/*` }] });
  await s3.send(new PutBucketPolicyCommand({ Bucket, Policy: deny }));
  assertS3Error(await raw(server, { path: `/${Bucket}/private/b.txt` }), 403, 'AccessDenied');
  assert.equal((await raw(server, { path: `/${Bucket}/public/a.txt` })).status, 200);
  const lockout = JSON.stringify({ Statement: [{ Effect: 'Deny', Principal: '*', Action: 's3:*', Resource: [`arn:aws:s3:::${Bucket}`, `arn:aws:s3:::${Bucket}/*`] }] });
  await s3.send(new PutBucketPolicyCommand({ Bucket, Policy: lockout }));
  assertS3Error(await raw(server, { path: `/${Bucket}`, query: { versioning: null } }), 403, 'AccessDenied');
  assert.equal((await s3.send(new GetBucketPolicyCommand({ Bucket }))).Policy, lockout);
  await s3.send(new DeleteBucketPolicyCommand({ Bucket }));
  assert.equal((await raw(server, { path: `/${Bucket}/private/b.txt` })).status, 200);
});

test('Admin API - the store-wide Block Public Access refuses unknown settings and anonymous callers', async () => {
  const res = await raw(server, { method: 'PUT', path: '/_tessera/admin/public-access-block', body: JSON.stringify({ BlockEverything: true }) });
  assert.equal(res.status, 400);
  const wrong = await raw(server, { method: 'PUT', path: '/_tessera/admin/public-access-block', body: JSON.stringify({ BlockPublicAcls: 'yes' }) });
  assert.equal(wrong.status, 400);
  const anonymous = await send(server, { method: 'GET', path: '/_tessera/admin/public-access-block', headers: {} });
  assert.equal(anonymous.status, 403);
});

test('Anonymous writes - a policy letting anyone put under drop/ takes a PUT and a browser form POST there, nowhere else', async () => {
  await storeBlock(allOff);
  const dropBox = JSON.stringify({ Statement: [{ Effect: 'Allow', Principal: '*', Action: 's3:PutObject', Resource: `arn:aws:s3:::${Bucket}/drop/*` }] });
  await s3.send(new PutBucketPolicyCommand({ Bucket, Policy: dropBox }));
  const put = await send(server, { method: 'PUT', path: `/${Bucket}/drop/put.txt`, headers: { 'content-length': '3' }, body: Buffer.from('put') });
  assert.equal(put.status, 200, put.text);
  assertS3Error(await send(server, { method: 'PUT', path: `/${Bucket}/elsewhere.txt`, headers: { 'content-length': '3' }, body: Buffer.from('put') }), 403, 'AccessDenied');
  const form = (key: string) => formBody([['key', key], ['file', 'form', 'f.txt']]);
  const posted = await postForm(server, Bucket, form('drop/form.txt'));
  assert.ok(posted.status === 204 || posted.status === 200, posted.text);
  assertS3Error(await postForm(server, Bucket, form('elsewhere-form.txt')), 403, 'AccessDenied');
  assert.equal(await (await s3.send(new GetObjectCommand({ Bucket, Key: 'drop/form.txt' }))).Body!.transformToString(), 'form');
  assert.equal(await (await s3.send(new GetObjectCommand({ Bucket, Key: 'drop/put.txt' }))).Body!.transformToString(), 'put');
  await s3.send(new DeleteBucketPolicyCommand({ Bucket }));
});
