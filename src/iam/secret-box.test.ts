import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { iamKeyFingerprint, loadIamKey, openSecret, sealSecret } from './secret-box.js';

const key = Buffer.alloc(32, 7);

test('sealSecret - round trips, and the sealed form holds no plaintext', () => {
  const sealed = sealSecret(key, 'AKIAEXAMPLE000000001', 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY');
  assert.ok(!JSON.stringify(sealed).includes('wJalrXUtnFEMI'));
  assert.equal(openSecret(key, 'AKIAEXAMPLE000000001', sealed), 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY');
  assert.notDeepEqual(sealSecret(key, 'AKIAEXAMPLE000000001', 'same'), sealSecret(key, 'AKIAEXAMPLE000000001', 'same'), 'a fresh IV each time');
});

test('openSecret - refuses another IAM key, another access key id and a changed ciphertext', () => {
  const sealed = sealSecret(key, 'AKIAEXAMPLE000000001', 'secret');
  assert.throws(() => openSecret(Buffer.alloc(32, 8), 'AKIAEXAMPLE000000001', sealed), /not the one it was sealed under/);
  assert.throws(() => openSecret(key, 'AKIAEXAMPLE000000002', sealed), /not the one it was sealed under/);
  const data = Buffer.from(sealed.data, 'base64');
  data[0]! ^= 1;
  assert.throws(() => openSecret(key, 'AKIAEXAMPLE000000001', { ...sealed, data: data.toString('base64') }), /not the one it was sealed under/);
  assert.throws(() => sealSecret(Buffer.alloc(16), 'x', 'y'), RangeError);
});

test('loadIamKey - creates the file 0600 once and reads the same key back; refuses a malformed or missing one', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'tessera-iam-key-'));
  try {
    const path = join(dir, 'iam.key');
    const created = await loadIamKey(path, { create: true });
    assert.equal(created.length, 32);
    assert.equal((await stat(path)).mode & 0o777, 0o600);
    assert.match(await readFile(path, 'utf8'), /^[0-9a-f]{64}\n$/);
    assert.deepEqual(await loadIamKey(path, { create: true }), created);
    assert.deepEqual(await loadIamKey(path, { create: false }), created);
    assert.notEqual(iamKeyFingerprint(created), iamKeyFingerprint(Buffer.alloc(32)));
    await assert.rejects(loadIamKey(join(dir, 'absent.key'), { create: false }), /Cannot read IAM key file ".*absent\.key": ENOENT/);
    await writeFile(join(dir, 'short.key'), 'abcd\n');
    await assert.rejects(loadIamKey(join(dir, 'short.key'), { create: true }), /expected 32 bytes as 64 hex digits/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
