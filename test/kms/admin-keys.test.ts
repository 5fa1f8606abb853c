// KMS master keys on a real server through the admin API (`kms/keys...`) and `tessera admin kms`: made,
// listed, shown, rotated, disabled and enabled; refusals carry KMS's error codes; no answer carries key
// material; the admin API stays the root key's.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { startTesseraForFile } from '../helpers/tessera.js';
import { adminAccess } from '../helpers/admin-cli.js';
import { raw } from '../s3/raw-http.js';

const { server } = await startTesseraForFile();

const { admin, cli, cliFails } = adminAccess(server);

interface KeyInfo { keyId: string; arn: string; enabled: boolean; versions: number; description?: string; createdMs: number; rotatedMs?: number }

/** Every string of a JSON answer: none may look like key material (base64 or hex of 32 bytes or more). */
function assertNoMaterial(text: string): void {
  assert.doesNotMatch(text, /[A-Za-z0-9+/]{43,}={0,2}|[0-9a-f]{64}/, `An answer carries something like key material: ${text}`);
}

test('admin kms keys - create, show, list, rotate, disable and enable answer the key info and no material', async () => {
  const created = await admin('POST', 'kms/keys', { keyId: 'api-key-1', description: 'for tests' });
  assert.equal(created.status, 200, created.text);
  const info = JSON.parse(created.text) as KeyInfo;
  assert.equal(info.keyId, 'api-key-1');
  assert.equal(info.arn, 'arn:aws:kms:us-east-1:000000000000:key/api-key-1');
  assert.equal(info.enabled, true);
  assert.equal(info.versions, 1);
  assert.equal(info.description, 'for tests');
  assertNoMaterial(created.text);

  const shown = await admin('GET', 'kms/keys/api-key-1');
  assert.equal(shown.status, 200);
  assert.deepEqual(JSON.parse(shown.text), info);

  const rotated = JSON.parse((await admin('POST', 'kms/keys/api-key-1/rotate')).text) as KeyInfo;
  assert.equal(rotated.versions, 2);
  assert.equal(typeof rotated.rotatedMs, 'number');
  const disabled = await admin('POST', 'kms/keys/api-key-1/disable');
  assert.equal(disabled.status, 200);
  assert.equal((JSON.parse(disabled.text) as KeyInfo).enabled, false);
  assert.equal((JSON.parse((await admin('GET', 'kms/keys/api-key-1')).text) as KeyInfo).enabled, false);
  assert.equal((JSON.parse((await admin('POST', 'kms/keys/api-key-1/enable')).text) as KeyInfo).enabled, true);

  // Without a body: a key with a fresh UUID.
  const fresh = await admin('POST', 'kms/keys');
  assert.equal(fresh.status, 200, fresh.text);
  const freshId = (JSON.parse(fresh.text) as KeyInfo).keyId;
  assert.match(freshId, /^[0-9a-f-]{36}$/);

  const listed = await admin('GET', 'kms/keys');
  assert.equal(listed.status, 200);
  const ids = (JSON.parse(listed.text) as { keys: KeyInfo[] }).keys.map((k) => k.keyId);
  assert.ok(ids.includes('api-key-1') && ids.includes(freshId), listed.text);
  assertNoMaterial(listed.text);
});

test('admin kms keys - refusals carry KMS error codes and statuses', async () => {
  await admin('POST', 'kms/keys', { keyId: 'api-dup' });
  const cases: [string, string, unknown, number, string][] = [
    ['POST', 'kms/keys', { keyId: 'api-dup' }, 409, 'AlreadyExistsException'],
    ['POST', 'kms/keys', { keyId: 'bad/id' }, 400, 'ValidationException'],
    ['POST', 'kms/keys', { keyId: 'x'.repeat(65) }, 400, 'ValidationException'],
    ['GET', 'kms/keys/no-such-key', undefined, 404, 'NotFoundException'],
    ['POST', 'kms/keys/no-such-key/rotate', undefined, 404, 'NotFoundException'],
    ['POST', 'kms/keys/no-such-key/disable', undefined, 404, 'NotFoundException'],
    ['GET', 'kms/keys/bad%2Fid', undefined, 400, 'ValidationException'],
  ];
  for (const [method, path, body, status, code] of cases) {
    const res = await admin(method, path, body);
    assert.equal(res.status, status, `${method} ${path}: ${res.text}`);
    assert.equal((JSON.parse(res.text) as { code: string }).code, code, `${method} ${path}`);
  }
  const bodies: unknown[] = [[1], { keyId: 5 }, { keyId: 'k', colour: 'red' }, { description: 7 }];
  for (const body of bodies) assert.equal((await admin('POST', 'kms/keys', body)).status, 400, JSON.stringify(body));
  assert.equal((await admin('POST', 'kms/keys/api-dup/explode')).status, 404);
  assert.equal((await admin('GET', 'kms/keys/api-dup/rotate')).status, 404);
});

test('admin kms keys - only the root key may call them', async () => {
  const res = await raw({ ...server, accessKeyId: 'AKIANOTAKEY000000000', secretAccessKey: 'nope' }, { method: 'GET', path: '/_tessera/admin/kms/keys' });
  assert.equal(res.status, 403);
});

test('admin kms keys - the KMS root key file is made 0600 in the data directory and never answered', async () => {
  const rootKeyHex = (await readFile(join(server.dataDir, 'kms.key'), 'utf8')).trim();
  assert.match(rootKeyHex, /^[0-9a-f]{64}$/);
  assert.equal((await stat(join(server.dataDir, 'kms.key'))).mode & 0o777, 0o600);
  const listed = await admin('GET', 'kms/keys');
  assert.ok(!listed.text.includes(rootKeyHex));
});

test('tessera admin kms - create, list, show, rotate, disable and enable print what changed and no material', async () => {
  assert.match(await cli('kms', 'create', 'cli-key-1', '--description', 'made by the CLI'), /^Created KMS key cli-key-1 \(arn:aws:kms:us-east-1:000000000000:key\/cli-key-1\)\n$/);
  const made = JSON.parse(await cli('kms', 'create', '--json')) as KeyInfo;
  assert.match(made.keyId, /^[0-9a-f-]{36}$/);
  assert.match(await cli('kms', 'rotate', 'cli-key-1'), /now at version 2/);
  assert.match(await cli('kms', 'disable', 'cli-key-1'), /^Disabled KMS key cli-key-1\n$/);
  const shown = await cli('kms', 'show', 'cli-key-1');
  assert.match(shown, /^key id: +cli-key-1$/m);
  assert.match(shown, /^state: +Disabled$/m);
  assert.match(shown, /^versions: +2$/m);
  assert.match(shown, /^description: +made by the CLI$/m);
  assertNoMaterial(shown);
  assert.match(await cli('kms', 'enable', 'cli-key-1'), /^Enabled KMS key cli-key-1\n$/);
  const listed = await cli('kms', 'list');
  assert.match(listed, /^KEY ID +STATE +VERSIONS/);
  assert.match(listed, /^cli-key-1 +Enabled +2 /m);
  assert.ok(listed.includes(made.keyId));
  assertNoMaterial(listed);
  const json = JSON.parse(await cli('kms', 'list', '--json')) as { keys: KeyInfo[] };
  assert.equal(json.keys.find((k) => k.keyId === 'cli-key-1')?.versions, 2);
  assert.equal((JSON.parse(await cli('kms', 'show', 'cli-key-1', '--json')) as KeyInfo).enabled, true);
});

test('tessera admin kms - refusals print the KMS error code', async () => {
  assert.match(await cliFails('kms', 'show', 'no-such-key'), /HTTP 404: NotFoundException: Cannot find KMS key "no-such-key"/);
  assert.match(await cliFails('kms', 'disable', 'no-such-key'), /NotFoundException/);
  assert.match(await cliFails('kms', 'create', 'bad.id'), /HTTP 400: ValidationException/);
  await cli('kms', 'create', 'cli-dup');
  assert.match(await cliFails('kms', 'create', 'cli-dup'), /HTTP 409: AlreadyExistsException/);
});
