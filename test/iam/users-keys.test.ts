// Users and access keys on a real server, through the admin API and `tessera admin user|key|policy`: a
// created key authenticates (SigV4 header and presigned, SigV2, a form POST) and, until the policy
// evaluator decides, gets AccessDenied; a disabled or deleted key gets InvalidAccessKeyId, presigned URLs
// signed before the delete too; the admin API stays the root key's.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateBucketCommand, GetObjectCommand, ListBucketsCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { startTesseraForFile, type TesseraProcess } from '../helpers/tessera.js';
import { assertS3Error, raw, sdkError, send, type RawResponse } from '../s3/raw-http.js';
import { adminAccess } from '../helpers/admin-cli.js';
import { formBody, postForm, signedFields } from '../s3/post-form.js';
import { allowAllPolicy, createUserWithKey, signingAs } from '../helpers/iam.js';

const { server, s3 } = await startTesseraForFile();
const Bucket = 'iam-keys';
const allowAll = allowAllPolicy;

before(async () => {
  await s3.send(new CreateBucketCommand({ Bucket }));
  await s3.send(new PutObjectCommand({ Bucket, Key: 'k', Body: 'data' }));
});

const { admin, cli, cliFails } = adminAccess(server);

interface Key { accessKeyId: string; secretAccessKey: string }

function userWithKey(userName: string): Promise<Key> {
  return createUserWithKey(server, userName);
}

function clientWith(credentials: Key): S3Client {
  return new S3Client({ endpoint: server.url, region: server.region, forcePathStyle: true, credentials, maxAttempts: 1 });
}

const as = (key: Key): TesseraProcess => signingAs(server, key);

function sigv2Get(key: Key, path: string): Promise<RawResponse> {
  const date = new Date().toUTCString();
  const signature = createHmac('sha1', key.secretAccessKey).update(`GET\n\n\n${date}\n${path}`).digest('base64');
  return send(server, { method: 'GET', path, headers: { host: `127.0.0.1:${server.port}`, date, authorization: `AWS ${key.accessKeyId}:${signature}` } });
}

async function fetchRaw(url: string): Promise<RawResponse> {
  const res = await fetch(url);
  const body = Buffer.from(await res.arrayBuffer());
  return { status: res.status, headers: Object.fromEntries(res.headers.entries()), body, text: body.toString('utf8') };
}

test('IAM keys - a user\'s key without policies authenticates and gets AccessDenied on every S3 operation (deny by default)', async () => {
  const key = await createUserWithKey(server, 'nopolicy');
  const client = clientWith(key);
  try {
    await assert.rejects(client.send(new ListBucketsCommand({})), sdkError('AccessDenied', 403));
    await assert.rejects(client.send(new GetObjectCommand({ Bucket, Key: 'k' })), sdkError('AccessDenied', 403));
    await assert.rejects(client.send(new PutObjectCommand({ Bucket, Key: 'by-user', Body: 'x' })), sdkError('AccessDenied', 403));
    const presigned = await getSignedUrl(client, new GetObjectCommand({ Bucket, Key: 'k' }), { expiresIn: 300 });
    assertS3Error(await fetchRaw(presigned), 403, 'AccessDenied');
    assertS3Error(await sigv2Get(key, `/${Bucket}/k`), 403, 'AccessDenied');
    const form = await postForm(server, Bucket, formBody([['key', 'form-by-user'], ...signedFields(as(key), [{ bucket: Bucket }, { key: 'form-by-user' }]), ['file', 'x', 'f.txt']]));
    assertS3Error(form, 403, 'AccessDenied');
    // The admin API stays the root key's alone.
    assertS3Error(await raw(as(key), { path: '/_tessera/admin/iam/users' }), 403, 'AccessDenied');
  } finally {
    client.destroy();
  }
  // The access log names the user beside its key.
  await server.logged(new RegExp(`"message":"request".*"accessKeyId":"${key.accessKeyId}","user":"nopolicy","operation":"GetObject".*"error":"AccessDenied"`));
  await assert.rejects(s3.send(new GetObjectCommand({ Bucket, Key: 'by-user' })), sdkError('NoSuchKey'));
  await assert.rejects(s3.send(new GetObjectCommand({ Bucket, Key: 'form-by-user' })), sdkError('NoSuchKey'));
});

test('IAM keys - a disabled key gets InvalidAccessKeyId until enabled again', async () => {
  const key = await userWithKey('toggled');
  assert.equal((await admin('POST', 'iam/keys/update', { accessKeyId: key.accessKeyId, status: 'Inactive' })).status, 200);
  const client = clientWith(key);
  try {
    await assert.rejects(client.send(new ListBucketsCommand({})), sdkError('InvalidAccessKeyId', 403));
    assertS3Error(await sigv2Get(key, `/${Bucket}/k`), 403, 'InvalidAccessKeyId');
    assert.equal((await admin('POST', 'iam/keys/update', { accessKeyId: key.accessKeyId, status: 'Active' })).status, 200);
    await assert.rejects(client.send(new ListBucketsCommand({})), sdkError('AccessDenied', 403));
  } finally {
    client.destroy();
  }
});

test('IAM keys - a deleted key gets InvalidAccessKeyId, a URL it presigned before the delete too', async () => {
  const key = await userWithKey('removed');
  const client = clientWith(key);
  try {
    const presigned = await getSignedUrl(client, new GetObjectCommand({ Bucket, Key: 'k' }), { expiresIn: 300 });
    assertS3Error(await fetchRaw(presigned), 403, 'AccessDenied');
    assert.equal((await admin('POST', 'iam/keys/delete', { accessKeyId: key.accessKeyId })).status, 200);
    const refused = assertS3Error(await fetchRaw(presigned), 403, 'InvalidAccessKeyId');
    assert.equal((refused as Record<string, string | undefined>).AWSAccessKeyId, key.accessKeyId);
    await assert.rejects(client.send(new ListBucketsCommand({})), sdkError('InvalidAccessKeyId', 403));
  } finally {
    client.destroy();
  }
});

test('IAM admin API - refusals carry IAM\'s codes: DeleteConflict, NoSuchEntity, EntityAlreadyExists, LimitExceeded, ValidationError', async () => {
  const key = await userWithKey('held');
  const conflict = await admin('POST', 'iam/users/delete', { userName: 'held' });
  assert.equal(conflict.status, 409);
  assert.equal((JSON.parse(conflict.text) as { code: string }).code, 'DeleteConflict');
  const codeOf = async (res: Promise<RawResponse>, status: number) => {
    const answer = await res;
    assert.equal(answer.status, status, answer.text);
    return (JSON.parse(answer.text) as { code: string }).code;
  };
  assert.equal(await codeOf(admin('POST', 'iam/users/create', { userName: 'held' }), 409), 'EntityAlreadyExists');
  assert.equal(await codeOf(admin('POST', 'iam/users/create', { userName: 'no spaces' }), 400), 'ValidationError');
  assert.equal(await codeOf(admin('POST', 'iam/keys/create', { userName: 'ghost' }), 404), 'NoSuchEntity');
  assert.equal(await codeOf(admin('POST', 'iam/keys/update', { accessKeyId: key.accessKeyId, status: 'Paused' }), 400), 'ValidationError');
  assert.equal((await admin('POST', 'iam/keys/create', { userName: 'held' })).status, 201);
  assert.equal(await codeOf(admin('POST', 'iam/keys/create', { userName: 'held' }), 409), 'LimitExceeded');
  assert.equal(await codeOf(admin('POST', 'iam/policies/attach', { userName: 'held', policyName: 'p', document: '{"Statement":[]}' }), 400), 'MalformedPolicyDocument');
  assert.equal((await admin('POST', 'iam/users/create', 'not an object')).status, 400);
  const listed = JSON.parse((await raw(server, { path: '/_tessera/admin/iam/keys', query: { user: 'held' } })).text) as { accessKeys: Record<string, unknown>[] };
  assert.equal(listed.accessKeys.length, 2);
  assert.ok(listed.accessKeys.every((k) => k.secret === undefined && k.secretAccessKey === undefined), 'no secret in a listing');
});

test('tessera admin user|key|policy - create a user, a key (--json once), attach, list, disable, and delete in AWS\'s order', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'tessera-iam-cli-'));
  try {
    assert.match(await cli('user', 'create', 'carol'), /^Created user carol \(arn:aws:iam::000000000000:user\/carol\)$/m);
    const created = JSON.parse(await cli('key', 'create', '--user', 'carol', '--json')) as Key;
    assert.deepEqual(Object.keys(created), ['accessKeyId', 'secretAccessKey']);
    const policyFile = join(dir, 'read-all.json');
    await writeFile(policyFile, allowAll);
    assert.match(await cli('policy', 'attach', '--user', 'carol', policyFile), /Attached policy read-all to user carol/);
    assert.match(await cli('policy', 'list', '--user', 'carol'), /^read-all +\d{4}-/m);
    assert.match(await cli('user', 'list'), new RegExp(`^carol +\\S+ +${created.accessKeyId} +read-all$`, 'm'));
    assert.match(await cli('key', 'list', '--user', 'carol'), new RegExp(`^${created.accessKeyId} +carol +Active `, 'm'));
    assert.match(await cli('key', 'disable', created.accessKeyId), /Disabled/);
    assert.match(await cli('key', 'list'), new RegExp(`^${created.accessKeyId} +carol +Inactive `, 'm'));
    assert.doesNotMatch(await cli('key', 'list', '--json'), new RegExp(created.secretAccessKey.replace(/[+/]/g, '.')));
    assert.match(await cliFails('user', 'delete', 'carol'), /DeleteConflict: Cannot delete entity, must delete access keys and detach policies first/);
    const badPolicy = join(dir, 'bad.json');
    await writeFile(badPolicy, '{"Version":"2012-10-17"}');
    assert.match(await cliFails('policy', 'attach', '--user', 'carol', '--name', 'bad', badPolicy), /MalformedPolicyDocument/);
    await cli('key', 'delete', created.accessKeyId);
    await cli('policy', 'detach', '--user', 'carol', '--name', 'read-all');
    assert.match(await cli('user', 'delete', 'carol'), /Deleted user carol/);
    assert.doesNotMatch(await cli('user', 'list'), /carol/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('IAM keys - no file of the data directory holds a secret in plaintext; iam.key is 0600', async () => {
  const key = await userWithKey('at-rest');
  const files: string[] = [];
  const walk = async (dir: string) => {
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      if (entry.isDirectory()) await walk(join(dir, entry.name));
      else files.push(join(dir, entry.name));
    }
  };
  await walk(server.dataDir);
  assert.equal((await stat(join(server.dataDir, 'iam.key'))).mode & 0o777, 0o600);
  for (const file of files) {
    const bytes = await readFile(file).catch(() => Buffer.alloc(0));
    assert.ok(!bytes.includes(Buffer.from(key.secretAccessKey)), `${file} holds the secret`);
  }
});
