import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { SqliteMetaStore } from '../meta/sqlite/sqlite-store.js';
import { LocalKeyService } from './local-key-service.js';
import { KmsError, sseS3KeyId } from './types.js';

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
