import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteMetaStore } from '../meta/sqlite/sqlite-store.js';
import type { MetaStore } from '../meta/types.js';
import { checkPolicyDocument, IamError, IamStore, type IamErrorCode } from './users.js';
import { iamKeys } from './keys.js';

const iamKey = Buffer.alloc(32, 3);
const allowAll = JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 's3:*', Resource: '*' }] });

async function withStore(fn: (store: IamStore, meta: MetaStore, dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'tessera-iam-'));
  const meta = await SqliteMetaStore.open(join(dir, 'meta.db'));
  try {
    await fn(await IamStore.open(meta, iamKey), meta, dir);
  } finally {
    await meta.close();
    await rm(dir, { recursive: true, force: true });
  }
}

function iamError(code: IamErrorCode) {
  return (err: unknown) => err instanceof IamError && err.code === code;
}

test('IamStore - users are created once, listed with their keys and policies, and named as IAM allows', () => withStore(async (store) => {
  const alice = await store.createUser('alice');
  assert.equal(alice.arn, 'arn:aws:iam::000000000000:user/alice');
  assert.match(alice.userId, /^AIDA[A-Z2-7]{16}$/);
  await assert.rejects(store.createUser('alice'), iamError('EntityAlreadyExists'));
  for (const bad of ['', 'a b', 'x'.repeat(65), 'a/b', 'é', 7]) await assert.rejects(store.createUser(bad), iamError('ValidationError'), String(bad));
  await store.createUser('b+=,.@_-9');
  const { accessKeyId } = await store.createAccessKey('alice');
  await store.attachPolicy({ userName: 'alice', policyName: 'all', document: allowAll });
  const users = await store.listUsers();
  assert.deepEqual(users.map((u) => [u.userName, u.accessKeyIds, u.policyNames]), [['alice', [accessKeyId], ['all']], ['b+=,.@_-9', [], []]]);
}));

test('IamStore - DeleteUser is refused with DeleteConflict while the user has keys or policies, as IAM refuses it', () => withStore(async (store) => {
  await store.createUser('bob');
  const { accessKeyId } = await store.createAccessKey('bob');
  await store.attachPolicy({ userName: 'bob', policyName: 'p', document: allowAll });
  await assert.rejects(store.deleteUser('bob'), (err: unknown) => iamError('DeleteConflict')(err) && /1 access keys and 1 attached policies/.test((err as Error).message));
  await store.deleteAccessKey(accessKeyId);
  await assert.rejects(store.deleteUser('bob'), iamError('DeleteConflict'));
  await store.detachPolicy({ userName: 'bob', policyName: 'p' });
  await store.deleteUser('bob');
  await assert.rejects(store.deleteUser('bob'), iamError('NoSuchEntity'));
  await assert.rejects(store.createAccessKey('bob'), iamError('NoSuchEntity'));
}));

test('IamStore - a user has at most 2 access keys; status changes and deletes need an existing key', () => withStore(async (store) => {
  await store.createUser('carol');
  const first = await store.createAccessKey('carol');
  assert.match(first.accessKeyId, /^AKIA[A-Z2-7]{16}$/);
  assert.equal(first.secretAccessKey.length, 40);
  await store.createAccessKey('carol');
  await assert.rejects(store.createAccessKey('carol'), iamError('LimitExceeded'));
  assert.equal((await store.setAccessKeyStatus(first.accessKeyId, 'Inactive')).status, 'Inactive');
  const listed = await store.listAccessKeys('carol');
  assert.equal(listed.length, 2);
  assert.ok(listed.every((k) => !('secret' in k)), 'no secret, sealed or not, in a listing');
  await assert.rejects(store.setAccessKeyStatus('AKIANOSUCHKEY0000000', 'Active'), iamError('NoSuchEntity'));
  await assert.rejects(store.deleteAccessKey('AKIANOSUCHKEY0000000'), iamError('NoSuchEntity'));
  await assert.rejects(store.listAccessKeys('nobody'), iamError('NoSuchEntity'));
}));

test('IamStore - the database holds no plaintext secret; the snapshot opens them with the IAM key', () => withStore(async (store, meta, dir) => {
  await store.createUser('dave');
  const created = await store.createAccessKey('dave');
  const snapshot = await store.snapshot();
  assert.equal(snapshot.keys.get(created.accessKeyId)?.secretAccessKey, created.secretAccessKey);
  await meta.close();
  let records = 0;
  for (const name of await readdir(dir)) {
    const bytes = await readFile(join(dir, name));
    if (bytes.includes(Buffer.from(created.accessKeyId))) records++;
    assert.ok(!bytes.includes(Buffer.from(created.secretAccessKey)), `${name} holds the secret`);
  }
  assert.ok(records > 0, 'the key record is in the database files');
}));

test('IamStore - a process with another IAM key is refused at open', () => withStore(async (_store, meta) => {
  await assert.rejects(IamStore.open(meta, Buffer.alloc(32, 4)), /sealed under another one/);
  await IamStore.open(meta, iamKey);
}));

test('IamStore - every change bumps the generation, a refused one does not', () => withStore(async (store) => {
  const before = await store.generation();
  await store.createUser('erin');
  await assert.rejects(store.createUser('erin'));
  await store.attachPolicy({ userName: 'erin', policyName: 'p', document: allowAll });
  assert.equal(await store.generation(), before + 2);
}));

test('IamStore - policies are attached by name (replacing), listed, detached; at most 10 per user', () => withStore(async (store) => {
  await store.createUser('frank');
  await store.attachPolicy({ userName: 'frank', policyName: 'p', document: allowAll });
  const deny = JSON.stringify({ Version: '2012-10-17', Statement: { Effect: 'Deny', Action: '*', Resource: '*' } });
  await store.attachPolicy({ userName: 'frank', policyName: 'p', document: deny });
  assert.deepEqual((await store.listPolicies('frank')).map((p) => [p.policyName, p.document]), [['p', deny]]);
  for (let i = 1; i < 10; i++) await store.attachPolicy({ userName: 'frank', policyName: `p${i}`, document: allowAll });
  await assert.rejects(store.attachPolicy({ userName: 'frank', policyName: 'p10', document: allowAll }), iamError('LimitExceeded'));
  await assert.rejects(store.detachPolicy({ userName: 'frank', policyName: 'nope' }), iamError('NoSuchEntity'));
  await store.detachPolicy({ userName: 'frank', policyName: 'p' });
  assert.equal((await store.listPolicies('frank')).length, 9);
  assert.deepEqual(iamKeys.parsePolicy(iamKeys.policy('frank', 'p1')), { userName: 'frank', policyName: 'p1' });
}));

test('checkPolicyDocument - wants JSON with a Version and a Statement, within 6144 characters', () => {
  assert.equal(checkPolicyDocument(allowAll), allowAll);
  for (const bad of ['not json', '[]', '{"Statement":[]}', '{"Version":"2012-10-17"}', '{"Version":"2012-10-17","Statement":[]}', '{"Version":"1","Statement":{}}', 42]) {
    assert.throws(() => checkPolicyDocument(bad), iamError('MalformedPolicyDocument'), String(bad));
  }
  const big = JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 's3:GetObject', Resource: `arn:aws:s3:::${'b'.repeat(6200)}` }] });
  assert.throws(() => checkPolicyDocument(big), iamError('LimitExceeded'));
});

test('IamStore - a key whose sealed secret is damaged is left out of the snapshot and named, the others load', () => withStore(async (store, meta) => {
  await store.createUser('gina');
  const good = await store.createAccessKey('gina');
  const bad = await store.createAccessKey('gina');
  const record = JSON.parse((await meta.get(iamKeys.accessKey(bad.accessKeyId)))!.toString('utf8')) as { secret: { tag: string } };
  record.secret.tag = Buffer.alloc(16).toString('base64');
  assert.ok(await meta.commit({ checks: [], writes: [{ key: iamKeys.accessKey(bad.accessKeyId), value: Buffer.from(JSON.stringify(record)) }] }));
  const snapshot = await store.snapshot();
  assert.deepEqual(snapshot.unreadable, [bad.accessKeyId]);
  assert.equal(snapshot.keys.get(good.accessKeyId)?.secretAccessKey, good.secretAccessKey);
  assert.equal(snapshot.keys.has(bad.accessKeyId), false);
}));

test('IamStore - DeleteUser racing CreateAccessKey never leaves a key without its user', () => withStore(async (store) => {
  for (let i = 0; i < 20; i++) {
    const userName = `racer${i}`;
    await store.createUser(userName);
    const [created, deleted] = await Promise.allSettled([store.createAccessKey(userName), store.deleteUser(userName)]);
    assert.ok(created.status === 'rejected' || deleted.status === 'rejected', `${userName}: both the key and the delete went through`);
  }
  const users = new Set((await store.listUsers()).map((u) => u.userName));
  for (const key of await store.listAccessKeys()) assert.ok(users.has(key.userName), `key ${key.accessKeyId} outlived user ${key.userName}`);
}));
