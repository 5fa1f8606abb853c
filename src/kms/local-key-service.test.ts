import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { SqliteMetaStore } from '../meta/sqlite/sqlite-store.js';
import { LocalKeyService } from './local-key-service.js';
import { KmsError, sseS3KeyId, type DataKey } from './types.js';
import { RootKeyring, rootKeyIdOf } from './root-key.js';
import type { MetaStore } from '../meta/types.js';
import { setTimeout as delay } from 'node:timers/promises';

async function withService(fn: (kms: LocalKeyService, meta: SqliteMetaStore) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'tessera-kms-'));
  const meta = await SqliteMetaStore.open(join(dir, 'meta'));
  try {
    await fn(new LocalKeyService(meta, randomBytes(32), { region: 'us-east-1' }), meta);
  } finally {
    await meta.close();
    await rm(dir, { recursive: true, force: true });
  }
}

const isKms = (code: string) => (err: unknown) => err instanceof KmsError && err.code === code;

test('LocalKeyService - a data key unwraps under its key and context, through rotation, and not while disabled', async () => {
  await withService(async (kms) => {
    await kms.create({ keyId: 'testkey-1' });
    const context = { 'aws:s3:arn': 'arn:aws:s3:::b/k' };
    const before = await kms.generateDataKey('testkey-1', context);
    assert.equal(before.keyArn, 'arn:aws:kms:us-east-1:000000000000:key/testkey-1');
    assert.deepEqual(await kms.decryptDataKey(before.keyArn, before.wrapped, context), before.plaintext);
    await assert.rejects(kms.decryptDataKey('testkey-1', before.wrapped, { 'aws:s3:arn': 'arn:aws:s3:::b/other' }), isKms('InvalidCiphertextException'));
    assert.equal((await kms.rotate('testkey-1')).versions, 2);
    const after = await kms.generateDataKey('testkey-1', context);
    assert.deepEqual(await kms.decryptDataKey('testkey-1', before.wrapped, context), before.plaintext);
    assert.deepEqual(await kms.decryptDataKey('testkey-1', after.wrapped, context), after.plaintext);
    await kms.setEnabled('testkey-1', false);
    await assert.rejects(kms.decryptDataKey('testkey-1', before.wrapped, context), isKms('DisabledException'));
    await assert.rejects(kms.generateDataKey('testkey-1', context), isKms('DisabledException'));
    await kms.setEnabled('testkey-1', true);
    assert.deepEqual(await kms.decryptDataKey('testkey-1', before.wrapped, context), before.plaintext);
  });
});

test('LocalKeyService - an unknown key is NotFound, a second create AlreadyExists, the SSE-S3 key made on first use', async () => {
  await withService(async (kms, meta) => {
    await assert.rejects(kms.generateDataKey('nokey', {}), isKms('NotFoundException'));
    await kms.create({ keyId: 'k1' });
    await assert.rejects(kms.create({ keyId: 'k1' }), isKms('AlreadyExistsException'));
    await assert.rejects(kms.create({ keyId: 'bad/id' }), isKms('ValidationException'));
    const dataKey = await kms.generateDataKey(sseS3KeyId, {});
    assert.deepEqual(await kms.decryptDataKey(sseS3KeyId, dataKey.wrapped, {}), dataKey.plaintext);
    // Another root key cannot open the master keys this one sealed.
    const stranger = new LocalKeyService(meta, randomBytes(32), { region: 'us-east-1' });
    await assert.rejects(stranger.decryptDataKey(sseS3KeyId, dataKey.wrapped, {}), isKms('KMSInternalException'));
  });
});

/** A MetaStore that counts its gets and may be told to fail commits after some succeed (a crash mid-way). */
function instrumented(meta: SqliteMetaStore): { store: MetaStore; gets: () => number; failCommitsAfter: (n: number) => void } {
  let gets = 0;
  let commitsLeft = Infinity;
  const store: MetaStore = {
    get: (key, options) => {
      gets++;
      return meta.get(key, options);
    },
    scan: (range) => meta.scan(range),
    readMany: (batch) => meta.readMany(batch),
    commit: (txn) => {
      if (commitsLeft-- <= 0) return Promise.reject(new Error('Simulated crash'));
      return meta.commit(txn);
    },
    close: () => meta.close(),
  };
  return { store, gets: () => gets, failCommitsAfter: (n) => (commitsLeft = n) };
}

test('LocalKeyService - a cached key needs no MetaStore read per data key, and a change made by another process is seen at the next refresh', async () => {
  await withService(async (kms, meta) => {
    const rootKey = randomBytes(32);
    const counted = instrumented(meta);
    const here = new LocalKeyService(counted.store, rootKey, { region: 'us-east-1' });
    const there = new LocalKeyService(meta, rootKey, { region: 'us-east-1' });
    await there.create({ keyId: 'shared' });
    const dataKey = await here.generateDataKey('shared', {});
    const before = counted.gets();
    for (let i = 0; i < 5; i++) assert.deepEqual(await here.decryptDataKey('shared', dataKey.wrapped, {}), dataKey.plaintext);
    assert.equal(counted.gets(), before, 'decrypts of a cached key read nothing');
    await there.setEnabled('shared', false);
    // Until it looks, this process serves from its cache: the staleness bound is one poll.
    assert.deepEqual(await here.decryptDataKey('shared', dataKey.wrapped, {}), dataKey.plaintext);
    await here.refresh();
    await assert.rejects(here.decryptDataKey('shared', dataKey.wrapped, {}), isKms('DisabledException'));
    await there.setEnabled('shared', true);
    here.start(10);
    try {
      for (let i = 0; i < 200; i++) {
        if (await here.decryptDataKey('shared', dataKey.wrapped, {}).then(() => true, () => false)) break;
        await delay(10);
      }
      assert.deepEqual(await here.decryptDataKey('shared', dataKey.wrapped, {}), dataKey.plaintext);
      // A rotation elsewhere: the new version opens here once seen.
      await there.rotate('shared');
      const rotated = await there.generateDataKey('shared', {});
      await here.refresh();
      assert.deepEqual(await here.decryptDataKey('shared', rotated.wrapped, {}), rotated.plaintext);
    } finally {
      here.stop();
    }
    // A change made through this process is in force here at once, without a refresh.
    await here.setEnabled('shared', false);
    await assert.rejects(here.generateDataKey('shared', {}), isKms('DisabledException'));
    void kms;
  });
});

test('LocalKeyService - rewrap re-seals every key version under the new root key, survives a crash mid-way and is idempotent', async () => {
  await withService(async (_kms, meta) => {
    const oldRoot = randomBytes(32);
    const newRoot = randomBytes(32);
    const before = new LocalKeyService(meta, oldRoot, { region: 'us-east-1' });
    const wrapped: { keyId: string; dataKey: DataKey }[] = [];
    for (const keyId of ['r1', 'r2', 'r3']) {
      await before.create({ keyId });
      wrapped.push({ keyId, dataKey: await before.generateDataKey(keyId, { k: keyId }) });
      await before.rotate(keyId);
      wrapped.push({ keyId, dataKey: await before.generateDataKey(keyId, { k: keyId }) });
    }
    const opensAll = async (kms: LocalKeyService) => {
      for (const { keyId, dataKey } of wrapped) assert.deepEqual(await kms.decryptDataKey(keyId, dataKey.wrapped, { k: keyId }), dataKey.plaintext);
    };
    // A crash after the first key's commit: that key is re-sealed, the others are as they were.
    const crashing = instrumented(meta);
    crashing.failCommitsAfter(1);
    await assert.rejects(new LocalKeyService(crashing.store, new RootKeyring(newRoot, [oldRoot]), { region: 'us-east-1' }).rewrap(), /Simulated crash/);
    const during = new LocalKeyService(meta, new RootKeyring(newRoot, [oldRoot]), { region: 'us-east-1' });
    await opensAll(during);
    const result = await during.rewrap();
    assert.deepEqual(result, { keys: 3, versionsResealed: 4, versionsUnopenable: 0, rootKeyId: rootKeyIdOf(newRoot) });
    assert.equal((await during.rewrap()).versionsResealed, 0);
    // Done: the new root key alone opens everything, the old one alone nothing.
    await opensAll(new LocalKeyService(meta, newRoot, { region: 'us-east-1' }));
    await assert.rejects(new LocalKeyService(meta, oldRoot, { region: 'us-east-1' }).decryptDataKey('r1', wrapped[0]!.dataKey.wrapped, { k: 'r1' }), isKms('KMSInternalException'));
    // A server given some other root key counts what it cannot open and leaves it alone.
    const stranger = await new LocalKeyService(meta, new RootKeyring(randomBytes(32), [randomBytes(32)]), { region: 'us-east-1' }).rewrap();
    assert.deepEqual({ resealed: stranger.versionsResealed, unopenable: stranger.versionsUnopenable }, { resealed: 0, unopenable: 6 });
    await opensAll(new LocalKeyService(meta, newRoot, { region: 'us-east-1' }));
  });
});

test('LocalKeyService - list names every key with no material, the SSE-S3 key once made', async () => {
  await withService(async (kms) => {
    await kms.create({ keyId: 'b-key', description: 'second' });
    await kms.create({ keyId: 'a-key' });
    await kms.generateDataKey(sseS3KeyId, {});
    const listed = await kms.list();
    assert.deepEqual(listed.map((k) => k.keyId), ['a-key', 'b-key', sseS3KeyId]);
    assert.doesNotMatch(JSON.stringify(listed), /"(iv|tag|data|versions)":\s*[["]/);
  });
});
