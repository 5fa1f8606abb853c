import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteMetaStore } from '../meta/sqlite/sqlite-store.js';
import { IamStore } from './users.js';
import { KeyCache } from './key-cache.js';

const root = { accessKeyId: 'ROOTKEY0000000000001', secretAccessKey: 'root-secret' };
const policy = JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 's3:GetObject', Resource: '*' }] });

test('KeyCache - answers the root key and active user keys with their identity, and follows changes on refresh', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'tessera-key-cache-'));
  const meta = await SqliteMetaStore.open(join(dir, 'meta.db'));
  try {
    const store = await IamStore.open(meta, Buffer.alloc(32, 1));
    const cache = new KeyCache({ store, root });
    await cache.refresh();
    assert.equal(cache.secretFor(root.accessKeyId), 'root-secret');
    assert.deepEqual(cache.identityFor(root.accessKeyId), { kind: 'root', accessKeyId: root.accessKeyId, arn: 'arn:aws:iam::000000000000:root' });
    const alice = await store.createUser('alice');
    const key = await store.createAccessKey('alice');
    await store.attachPolicy({ userName: 'alice', policyName: 'read', document: policy });
    assert.equal(cache.secretFor(key.accessKeyId), undefined, 'not before a refresh');
    await cache.refresh();
    assert.equal(cache.secretFor(key.accessKeyId), key.secretAccessKey);
    assert.deepEqual(cache.identityFor(key.accessKeyId), { kind: 'user', accessKeyId: key.accessKeyId, userName: 'alice', userId: alice.userId, arn: 'arn:aws:iam::000000000000:user/alice', policies: [policy] });
    await store.setAccessKeyStatus(key.accessKeyId, 'Inactive');
    await cache.refresh();
    assert.equal(cache.secretFor(key.accessKeyId), undefined, 'an inactive key is unknown');
    assert.equal(cache.identityFor(key.accessKeyId), undefined);
    await store.setAccessKeyStatus(key.accessKeyId, 'Active');
    await store.detachPolicy({ userName: 'alice', policyName: 'read' });
    await cache.refresh();
    assert.deepEqual(cache.identityFor(key.accessKeyId), { kind: 'user', accessKeyId: key.accessKeyId, userName: 'alice', userId: alice.userId, arn: 'arn:aws:iam::000000000000:user/alice', policies: [] });
    await store.deleteAccessKey(key.accessKeyId);
    await cache.refresh();
    assert.equal(cache.secretFor(key.accessKeyId), undefined, 'a deleted key is unknown');
  } finally {
    await meta.close();
    await rm(dir, { recursive: true, force: true });
  }
});

test('KeyCache - a refresh asked for during a load sees a change committed after that load began', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'tessera-key-cache-'));
  const meta = await SqliteMetaStore.open(join(dir, 'meta.db'));
  try {
    const store = await IamStore.open(meta, Buffer.alloc(32, 1));
    const cache = new KeyCache({ store, root });
    await store.createUser('bob');
    const inFlight = cache.refresh();
    const key = await store.createAccessKey('bob');
    await cache.refresh();
    assert.equal(cache.secretFor(key.accessKeyId), key.secretAccessKey);
    await inFlight;
  } finally {
    await meta.close();
    await rm(dir, { recursive: true, force: true });
  }
});
