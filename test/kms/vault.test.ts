// VaultKeyService against a test double of Vault's transit engine (test/helpers/fake-vault.ts): data keys
// made and opened under plain and derived keys, through a rotation; a wrong context refused for both; the
// SSE-S3 key made in Vault on first use; a denied key refused as disabled; a renewed token file picked up;
// and a real server started with --kms vault listing Vault's keys and refusing to create or disable them.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startFakeVault } from '../helpers/fake-vault.js';
import { repoRoot, startTessera } from '../helpers/tessera.js';
import { raw } from '../s3/raw-http.js';
import { VaultKeyService } from '../../src/kms/vault-key-service.js';
import { KmsError, sseS3KeyId } from '../../src/kms/types.js';
import { makeCertificate } from '../../src/cli/tls.js';

const exec = promisify(execFile);
const dir = await mkdtemp(join(tmpdir(), 'tessera-vault-'));
const tokenFile = join(dir, 'token');
await writeFile(tokenFile, 'token-1\n');
const vault = await startFakeVault({ token: 'token-1' });
const kms = await VaultKeyService.open({ address: vault.url, tokenFile }, { region: 'us-east-1' });
after(async () => {
  await kms.close();
  await vault.close();
  await rm(dir, { recursive: true, force: true });
});

const isKms = (code: string) => (err: unknown) => err instanceof KmsError && err.code === code;
const context = { 'aws:s3:arn': 'arn:aws:s3:::bucket/key' };

test('VaultKeyService - data keys open under their key and context, through a rotation, for plain and derived keys', async () => {
  vault.createKey('plain-key');
  vault.createKey('derived-key', { derived: true });
  for (const keyId of ['plain-key', 'derived-key']) {
    const before = await kms.generateDataKey(keyId, context);
    assert.equal(before.plaintext.length, 32);
    assert.equal(before.keyArn, `arn:aws:kms:us-east-1:000000000000:key/${keyId}`);
    assert.ok(!before.wrapped.includes(before.plaintext.toString('base64')));
    assert.deepEqual(await kms.decryptDataKey(before.keyArn, before.wrapped, context), before.plaintext);
    await assert.rejects(kms.decryptDataKey(keyId, before.wrapped, { 'aws:s3:arn': 'arn:aws:s3:::bucket/other' }), isKms('InvalidCiphertextException'), keyId);
    await assert.rejects(kms.decryptDataKey(keyId, 'not-wrapped', context), isKms('InvalidCiphertextException'));
    vault.rotateKey(keyId);
    const after = await kms.generateDataKey(keyId, context);
    assert.match(after.wrapped, /\.vault:v2:/);
    assert.deepEqual(await kms.decryptDataKey(keyId, before.wrapped, context), before.plaintext);
    assert.deepEqual(await kms.decryptDataKey(keyId, after.wrapped, context), after.plaintext);
  }
  // Derived keys get the context in Vault's "context" field; plain keys do not (Vault would refuse it).
  assert.ok(vault.requests.some((r) => r === 'POST /v1/transit/datakey/plaintext/derived-key'));
});

test('VaultKeyService - an unknown key is NotFound, the SSE-S3 key is made in Vault on first use, a denied key is Disabled', async () => {
  await assert.rejects(kms.generateDataKey('no-such-key', context), isKms('NotFoundException'));
  assert.equal(await kms.describeKey('no-such-key'), undefined);
  await assert.rejects(kms.generateDataKey('bad/id', context), isKms('ValidationException'));
  const sseS3 = await kms.generateDataKey(sseS3KeyId, {});
  assert.ok(vault.keys.has(sseS3KeyId));
  assert.deepEqual(await kms.decryptDataKey(sseS3KeyId, sseS3.wrapped, {}), sseS3.plaintext);
  vault.createKey('policy-key');
  const dataKey = await kms.generateDataKey('policy-key', context);
  vault.denied.add('policy-key');
  await assert.rejects(kms.decryptDataKey('policy-key', dataKey.wrapped, context), isKms('DisabledException'));
  vault.denied.delete('policy-key');
  assert.deepEqual(await kms.decryptDataKey('policy-key', dataKey.wrapped, context), dataKey.plaintext);
  await assert.rejects(kms.create(), isKms('UnsupportedOperationException'));
  await assert.rejects(kms.setEnabled(), isKms('UnsupportedOperationException'));
});

test('VaultKeyService - a token renewed in its file is read again when Vault refuses the old one', async () => {
  vault.createKey('renew-key');
  vault.tokens.clear();
  vault.tokens.add('token-2');
  await writeFile(tokenFile, 'token-2\n');
  const dataKey = await kms.generateDataKey('renew-key', context);
  assert.deepEqual(await kms.decryptDataKey('renew-key', dataKey.wrapped, context), dataKey.plaintext);
  // Refused for good: the error names the status and never the token.
  vault.tokens.clear();
  const err = await kms.generateDataKey('renew-key', context).catch((e: unknown) => e as KmsError);
  assert.ok(err instanceof KmsError);
  assert.match(err.message, /HTTP 403/);
  assert.ok(!err.message.includes('token-2'));
  vault.tokens.add('token-2');
});

test('tessera server --kms vault - lists Vault\'s keys, refuses to create, rotate or disable them', async () => {
  vault.createKey('testkey-1');
  const server = await startTessera({ args: ['--kms', 'vault', '--vault-address', vault.url, '--vault-token-file', tokenFile] });
  try {
    const listed = await raw(server, { method: 'GET', path: '/_tessera/admin/kms/keys' });
    assert.equal(listed.status, 200, listed.text);
    const ids = (JSON.parse(listed.text) as { keys: { keyId: string; versions: number }[] }).keys.map((k) => k.keyId);
    assert.ok(ids.includes('testkey-1') && ids.includes('derived-key'), listed.text);
    const shown = await raw(server, { method: 'GET', path: '/_tessera/admin/kms/keys/derived-key' });
    assert.equal((JSON.parse(shown.text) as { versions: number }).versions, 2);
    for (const [method, path] of [['POST', 'kms/keys'], ['POST', 'kms/keys/testkey-1/rotate'], ['POST', 'kms/keys/testkey-1/disable'], ['POST', 'kms/rewrap']]) {
      const res = await raw(server, { method: method!, path: `/_tessera/admin/${path}` });
      assert.equal(res.status, 501, `${path}: ${res.text}`);
      assert.equal((JSON.parse(res.text) as { code: string }).code, 'UnsupportedOperationException');
    }
    const { stdout } = await exec(process.execPath, [join(repoRoot, 'bin', 'tessera.js'), 'admin', 'kms', 'list', '--endpoint', server.url], {
      env: { ...process.env, TESSERA_ROOT_ACCESS_KEY: server.accessKeyId, TESSERA_ROOT_SECRET_KEY: server.secretAccessKey },
    });
    assert.match(stdout, /^testkey-1 +Enabled +1 /m);
  } finally {
    await server.cleanup();
  }
});

test('tessera server --kms vault - refuses to start without a token file', async () => {
  await assert.rejects(startTessera({ args: ['--kms', 'vault', '--vault-address', vault.url, '--vault-token-file', join(dir, 'missing')] }), /Vault token file/);
  await assert.rejects(startTessera({ args: ['--kms', 'vault', '--vault-address', vault.url] }), /--vault-token-file/);
});

test('VaultKeyService - over HTTPS, Vault\'s certificate is checked against --vault-ca-file', async () => {
  const made = await makeCertificate(join(dir, 'tls'), 'vault', ['127.0.0.1']);
  const tlsVault = await startFakeVault({ token: 'token-1', tls: { cert: await readFile(made.cert), key: await readFile(made.key) } });
  await writeFile(tokenFile, 'token-1\n');
  const trusting = await VaultKeyService.open({ address: tlsVault.url, tokenFile, caFile: made.ca }, { region: 'us-east-1' });
  const untrusting = await VaultKeyService.open({ address: tlsVault.url, tokenFile }, { region: 'us-east-1' });
  try {
    tlsVault.createKey('tls-key');
    const dataKey = await trusting.generateDataKey('tls-key', context);
    assert.deepEqual(await trusting.decryptDataKey('tls-key', dataKey.wrapped, context), dataKey.plaintext);
    await assert.rejects(untrusting.generateDataKey('tls-key', context), (err: unknown) => err instanceof KmsError && err.code === 'KMSInternalException' && /Cannot reach Vault/.test(err.message));
  } finally {
    await trusting.close();
    await untrusting.close();
    await tlsVault.close();
  }
});
