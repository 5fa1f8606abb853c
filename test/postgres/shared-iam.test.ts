// Two servers on one PostgreSQL MetaStore, as gateways behind a balancer: an access key created, disabled or
// deleted through one is in force on the other within the IAM poll (1 s), and a process given another IAM
// key than the one the stored secrets were sealed under refuses to start.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ListBucketsCommand, S3Client } from '@aws-sdk/client-s3';
import { repoRoot, startTessera, type TesseraProcess } from '../helpers/tessera.js';
import { skipWithoutPostgres, startPostgres, type PostgresServer } from '../helpers/postgres.js';
import { raw } from '../s3/raw-http.js';
import { iamPollIntervalMs } from '../../src/iam/key-cache.js';

const skip = skipWithoutPostgres();
let postgres: PostgresServer;
let keyDir: string;
let url: string;
let first: TesseraProcess;
let second: TesseraProcess;

if (!skip) {
  before(async () => {
    postgres = await startPostgres();
    url = await postgres.createDatabase();
    keyDir = await mkdtemp(join(tmpdir(), 'tessera-iam-'));
    const args = ['--meta', url, '--iam-key-file', join(keyDir, 'iam.key')];
    first = await startTessera({ args });
    second = await startTessera({ args });
  });
  after(async () => {
    await first?.cleanup();
    await second?.cleanup();
    await postgres?.cleanup();
    if (keyDir) await rm(keyDir, { recursive: true, force: true });
  });
}

/** The error code `key` gets on `server` for ListBuckets. */
async function codeOn(server: TesseraProcess, key: { accessKeyId: string; secretAccessKey: string }): Promise<string> {
  const client = new S3Client({ endpoint: server.url, region: server.region, forcePathStyle: true, credentials: key, maxAttempts: 1 });
  try {
    await client.send(new ListBucketsCommand({}));
    return 'OK';
  } catch (err) {
    return (err as { name: string }).name;
  } finally {
    client.destroy();
  }
}

/** Polls until `key` gets `code` on `server`; resolves with how long that took. */
async function untilCode(server: TesseraProcess, key: { accessKeyId: string; secretAccessKey: string }, code: string): Promise<number> {
  const startMs = Date.now();
  let last = '';
  // Generous against a loaded machine: the bound checked is the poll's, the wait only avoids a hang.
  while (Date.now() - startMs < 30_000) {
    last = await codeOn(server, key);
    if (last === code) return Date.now() - startMs;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`Key ${key.accessKeyId} still gets ${last} on the second server, not ${code}`);
}

test('IAM on PostgreSQL - a key created, disabled and deleted on one server is in force on another within the poll', { skip }, async () => {
  const admin = (path: string, body: unknown) => raw(first, { method: 'POST', path: `/_tessera/admin/${path}`, body: JSON.stringify(body) });
  assert.equal((await admin('iam/users/create', { userName: 'shared' })).status, 201);
  const created = await admin('iam/keys/create', { userName: 'shared' });
  assert.equal(created.status, 201, created.text);
  const key = JSON.parse(created.text) as { accessKeyId: string; secretAccessKey: string };
  // At once where it was made; on the other server within a poll (and never a signature mismatch).
  assert.equal(await codeOn(first, key), 'AccessDenied');
  await untilCode(second, key, 'AccessDenied');
  assert.equal((await admin('iam/keys/update', { accessKeyId: key.accessKeyId, status: 'Inactive' })).status, 200);
  assert.equal(await codeOn(first, key), 'InvalidAccessKeyId');
  await untilCode(second, key, 'InvalidAccessKeyId');
  assert.equal((await admin('iam/keys/update', { accessKeyId: key.accessKeyId, status: 'Active' })).status, 200);
  await untilCode(second, key, 'AccessDenied');
  assert.equal((await admin('iam/keys/delete', { accessKeyId: key.accessKeyId })).status, 200);
  await untilCode(second, key, 'InvalidAccessKeyId');
  assert.ok(iamPollIntervalMs <= 1000);
});

test('IAM on PostgreSQL - a server given another IAM key than the stored secrets were sealed under refuses to start', { skip }, async () => {
  const dataDir = await mkdtemp(join(tmpdir(), 'tessera-iam-other-'));
  try {
    const child = spawn(process.execPath, [join(repoRoot, 'bin', 'tessera.js'), 'server', '--address', '127.0.0.1:0', '--data', dataDir, '--meta', url], {
      env: { ...process.env, TESSERA_ROOT_ACCESS_KEY: first.accessKeyId, TESSERA_ROOT_SECRET_KEY: first.secretAccessKey },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    assert.notEqual(code, 0);
    assert.match(stderr, /sealed under another one.*--iam-key-file/);
  } finally {
    await rm(dataDir, { recursive: true, force: true });
  }
});
