import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { loadKmsRootKeyring, RootKeyring, rootKeyIdOf } from './root-key.js';
import { KmsError } from './types.js';

const aad = Buffer.from('k\x001');

test('RootKeyring - seals under the current key, opens under a previous one, and material sealed before root key ids', () => {
  const [oldKey, newKey] = [randomBytes(32), randomBytes(32)];
  const material = randomBytes(32);
  const sealedOld = new RootKeyring(oldKey).seal(aad, material);
  assert.equal(sealedOld.root, rootKeyIdOf(oldKey));
  const ring = new RootKeyring(newKey, [oldKey]);
  assert.deepEqual(ring.open(aad, sealedOld, 'k'), material);
  assert.equal(ring.isCurrent(sealedOld), false);
  assert.equal(ring.isCurrent(ring.seal(aad, material)), true);
  // Sealed by the first key service, before sealed material named its root key.
  const { root: _root, ...unnamed } = sealedOld;
  assert.deepEqual(ring.open(aad, unnamed, 'k'), material);
  assert.throws(() => ring.open(Buffer.from('k\x002'), sealedOld, 'k'), (err: unknown) => err instanceof KmsError && err.code === 'KMSInternalException');
  assert.throws(() => new RootKeyring(newKey).open(aad, sealedOld, 'key "k"'), /sealed under root key [0-9a-f]{16}, which is not/);
  assert.throws(() => new RootKeyring(randomBytes(16)), RangeError);
  assert.throws(() => new RootKeyring(newKey, Array.from({ length: 8 }, () => randomBytes(32))), RangeError);
});

test('loadKmsRootKeyring - the environment before the file, previous keys from files and the environment, the file made 0600', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'tessera-root-key-'));
  try {
    const made = await loadKmsRootKeyring({ dataDir: dir, env: {} });
    const fileHex = (await readFile(join(dir, 'kms.key'), 'utf8')).trim();
    assert.equal(made.currentId, rootKeyIdOf(Buffer.from(fileHex, 'hex')));
    assert.equal((await stat(join(dir, 'kms.key'))).mode & 0o777, 0o600);
    const envKey = randomBytes(32);
    const previousKey = randomBytes(32);
    const ring = await loadKmsRootKeyring({ dataDir: dir, previousFiles: [join(dir, 'kms.key')], env: { TESSERA_KMS_ROOT_KEY: envKey.toString('hex'), TESSERA_KMS_PREVIOUS_ROOT_KEYS: `${previousKey.toString('hex')},` } });
    assert.equal(ring.currentId, rootKeyIdOf(envKey));
    const sealed = new RootKeyring(previousKey).seal(aad, Buffer.from('m'));
    assert.deepEqual(ring.open(aad, sealed, 'k'), Buffer.from('m'));
    assert.deepEqual(ring.open(aad, new RootKeyring(Buffer.from(fileHex, 'hex')).seal(aad, Buffer.from('n')), 'k'), Buffer.from('n'));
    await assert.rejects(loadKmsRootKeyring({ dataDir: dir, previousFiles: [join(dir, 'missing.key')], env: {} }), /Cannot read previous KMS root key file/);
    await assert.rejects(loadKmsRootKeyring({ dataDir: dir, env: { TESSERA_KMS_PREVIOUS_ROOT_KEYS: 'abcd' } }), /TESSERA_KMS_PREVIOUS_ROOT_KEYS environment variable: expected 32 bytes/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
