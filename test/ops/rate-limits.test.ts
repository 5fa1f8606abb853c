// Rate limits (issue 14) on a real server: 503 SlowDown with Retry-After per access key, bucket and client
// IP, other clients unaffected, limits changed at run time through the admin API and its CLI, the SDK's
// default retries getting through, and a bytes/s limit pacing a PUT's body.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { writeFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateBucketCommand, GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { repoRoot, startTessera, startTesseraForFile, type TesseraProcess } from '../helpers/tessera.js';
import { allowAllPolicy, createUserWithKey, signingAs } from '../helpers/iam.js';
import { clientEnv, clients, run, skipUnlessPythonModule } from '../clients/lib.js';
import { assertS3Error, raw, signedHeaders, socketExchange, type RawRequest, type RawResponse } from '../s3/raw-http.js';

const exec = promisify(execFile);
const configDir = await mkdtemp(join(tmpdir(), 'tessera-limits-'));
const limitsFile = join(configDir, 'limits.json');
// A second key, of a user allowed everything, made on a first start so the limits file can name it.
const dataDir = await mkdtemp(join(tmpdir(), 'tessera-test-'));
const first = await startTessera({ dataDir });
const limitedKey = await createUserWithKey(first, 'limited', { 'allow-all': allowAllPolicy });
await first.stop();
// At start: the second key gets 2 requests at once, then one every 2 s.
await writeFile(limitsFile, JSON.stringify({ key: { [limitedKey.accessKeyId]: { requestsPerSec: 0.5, requestsBurst: 2 } } }));
const { server, s3 } = await startTesseraForFile({ dataDir, args: ['--rate-limits', limitsFile] });
const asLimited: TesseraProcess = signingAs(server, limitedKey);

await s3.send(new CreateBucketCommand({ Bucket: 'hot' }));
await s3.send(new CreateBucketCommand({ Bucket: 'cold' }));
await s3.send(new PutObjectCommand({ Bucket: 'hot', Key: 'k', Body: 'hot data' }));
await s3.send(new PutObjectCommand({ Bucket: 'cold', Key: 'k', Body: 'cold data' }));

function assertSlowDown(res: RawResponse): number {
  assertS3Error(res, 503, 'SlowDown');
  assert.match(res.text, /<Message>Please reduce your request rate\.<\/Message>/);
  const retryAfter = Number(res.headers['retry-after']);
  assert.ok(Number.isInteger(retryAfter) && retryAfter >= 1, `Retry-After "${String(res.headers['retry-after'])}"`);
  return retryAfter;
}

const admin = (method: string, path: string, body?: unknown) => raw(server, { method, path: `/_tessera/admin/${path}`, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });

async function cli(...args: string[]): Promise<string> {
  const { stdout } = await exec(process.execPath, [join(repoRoot, 'bin', 'tessera.js'), 'admin', 'limits', ...args, '--endpoint', server.url], {
    env: { ...process.env, TESSERA_ROOT_ACCESS_KEY: server.accessKeyId, TESSERA_ROOT_SECRET_KEY: server.secretAccessKey },
  });
  return stdout;
}

async function throttledCount(kind: string, measure: string): Promise<number> {
  const res = await raw(server, { path: '/_tessera/metrics' });
  const m = new RegExp(`^tessera_requests_throttled_total\\{kind="${kind}",measure="${measure}"\\} (\\d+)$`, 'm').exec(res.text);
  assert.ok(m, `no throttled counter for ${kind}/${measure} in the metrics`);
  return Number(m[1]);
}

test('rate limits - a key over its limit gets 503 SlowDown with Retry-After while another key passes', async () => {
  const get: RawRequest = { path: '/cold/k' };
  const statuses: number[] = [];
  let refused: RawResponse | undefined;
  for (let i = 0; i < 4; i++) {
    const res = await raw(asLimited, get);
    statuses.push(res.status);
    if (res.status !== 200) refused ??= res;
  }
  assert.deepEqual(statuses.slice(0, 2), [200, 200], 'the burst passes');
  assert.ok(refused, `no request refused: ${statuses.join(', ')}`);
  assert.ok(assertSlowDown(refused) <= 2, 'one token every 2 s');
  for (let i = 0; i < 10; i++) assert.equal((await raw(server, get)).status, 200, 'the root key has no limit');
  assert.ok(await throttledCount('key', 'requests') >= 1);
  // The access lines name each refusal's SlowDown (level info, no stack); nothing else may mention it.
  const beyondAccessLines = server.logs().split('\n').filter((l) => !l.includes('"message":"request"')).join('\n');
  await server.logged(/"message":"request".*"status":503,"error":"SlowDown"/);
  assert.doesNotMatch(beyondAccessLines, /SlowDown|Request failed/, 'a refusal is the server working as configured, not a fault to log');
});

test('rate limits - a bucket over its limit is refused while other buckets of the same key pass', async () => {
  assert.equal((await admin('POST', 'limits/set', { kind: 'bucket', name: 'hot', limit: { requestsPerSec: 1, requestsBurst: 2 } })).status, 200);
  try {
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) statuses.push((await raw(server, { path: '/hot/k' })).status);
    assert.deepEqual(statuses.slice(0, 2), [200, 200]);
    assert.ok(statuses.includes(503), statuses.join(', '));
    assertSlowDown(await raw(server, { path: '/hot/k' }));
    for (let i = 0; i < 5; i++) assert.equal((await raw(server, { path: '/cold/k' })).status, 200);
    assert.ok(await throttledCount('bucket', 'requests') >= 1);
  } finally {
    await admin('POST', 'limits/clear', { kind: 'bucket', name: 'hot' });
  }
});

test('rate limits - a client IP over its limit is refused, another IP behind the same trusted proxy passes', async () => {
  const config = { ip: { '192.0.2.1': { requestsPerSec: 1, requestsBurst: 1 } }, trustedProxies: ['127.0.0.1'], key: { [limitedKey.accessKeyId]: { requestsPerSec: 0.5, requestsBurst: 2 } } };
  assert.equal((await admin('PUT', 'limits', config)).status, 200);
  try {
    const from = (ip: string) => raw(server, { path: '/cold/k', headers: { 'x-forwarded-for': `198.51.100.9, ${ip}` } });
    assert.equal((await from('192.0.2.1')).status, 200);
    assertSlowDown(await from('192.0.2.1'));
    for (let i = 0; i < 5; i++) assert.equal((await from('192.0.2.2')).status, 200);
    // The admin API is never limited, so an operator can always lift a limit.
    assert.equal((await admin('POST', 'limits/set', { kind: 'ip', name: '127.0.0.1', limit: { requestsPerSec: 0.1, requestsBurst: 1 } })).status, 200);
    await raw(server, { path: '/cold/k' });
    assertSlowDown(await raw(server, { path: '/cold/k' }));
    assert.equal((await admin('GET', 'limits')).status, 200);
    assert.ok(await throttledCount('ip', 'requests') >= 2);
  } finally {
    const res = await admin('PUT', 'limits', { key: config.key });
    assert.equal(res.status, 200, res.text);
  }
});

test('rate limits - tessera admin limits set, show and clear change a limit at run time without a restart', async () => {
  // Spend the limited key's burst, so it is refused before the change.
  for (let i = 0; i < 3; i++) await raw(asLimited, { path: '/cold/k' });
  assertSlowDown(await raw(asLimited, { path: '/cold/k' }));
  const shown = await cli('set', 'key', limitedKey.accessKeyId, '--requests-per-sec', '1000', '--bytes-per-sec', '10MiB');
  assert.match(shown, new RegExp(`^key +${limitedKey.accessKeyId} +1000 +1000 +10\\.0 MiB/s +10\\.0 MiB$`, 'm'));
  for (let i = 0; i < 10; i++) assert.equal((await raw(asLimited, { path: '/cold/k' })).status, 200);
  assert.match(await cli('show'), /Refused with SlowDown since start: .*over key requests/);
  assert.match(await cli('clear', 'key', limitedKey.accessKeyId), /^No rate limits\.$/m);
  const view = JSON.parse(await cli('show', '--json')) as { limits: unknown; scope: string };
  assert.deepEqual(view.limits, {});
  assert.equal(view.scope, 'process');
  const bad = await admin('POST', 'limits/set', { kind: 'key', name: 'X', limit: { requestsPerSec: -1 } });
  assert.equal(bad.status, 400);
  assert.match((JSON.parse(bad.text) as { error: string }).error, /"requestsPerSec" must be a positive number, not -1/);
});

test('rate limits - a PUT over its limit sent with Expect: 100-continue gets SlowDown and never 100 Continue', async () => {
  const rest = { requestsPerSec: 0.1, requestsBurst: 1 };
  assert.equal((await admin('POST', 'limits/set', { kind: 'bucket', name: 'hot', limit: rest })).status, 200);
  try {
    await raw(server, { path: '/hot/k' }); // spends the burst
    const headers = await signedHeaders(server, { method: 'PUT', path: '/hot/big', payloadHash: 'UNSIGNED-PAYLOAD', headers: { expect: '100-continue', 'content-length': String(64 * 1024 * 1024) } });
    const request = `PUT /hot/big HTTP/1.1\r\n${Object.entries(headers).map(([k, v]) => `${k}: ${v}`).join('\r\n')}\r\n\r\n`;
    // No body is sent: a server that said 100 Continue and then waited for 64 MiB would time out here.
    const answer = await socketExchange(server, request, { idleMs: 3000 });
    assert.match(answer, /^HTTP\/1\.1 503 /);
    assert.doesNotMatch(answer, /100 Continue/);
    assert.match(answer, /\r\nretry-after: \d+\r\n/i);
    assert.match(answer, /<Code>SlowDown<\/Code>/);
  } finally {
    await admin('POST', 'limits/clear', { kind: 'bucket', name: 'hot' });
  }
});

test('rate limits - set --file replaces every limit and clear --all removes them, keeping trustedProxies', async () => {
  const file = join(configDir, 'replace.json');
  await writeFile(file, JSON.stringify({ bucket: { '*': { requestsPerSec: 100 } }, ip: { '192.0.2.5': { bytesPerSec: 1024 } }, trustedProxies: ['127.0.0.1'] }));
  const shown = await cli('set', '--file', file);
  assert.match(shown, /^bucket +\* +100 +100 +- +-$/m);
  assert.match(shown, /^ip +192\.0\.2\.5 +- +- +1\.0 KiB\/s +1\.0 KiB$/m);
  assert.match(shown, /^X-Forwarded-For believed from: 127\.0\.0\.1$/m);
  const cleared = JSON.parse(await cli('clear', '--all', '--json')) as { limits: unknown };
  assert.deepEqual(cleared.limits, { trustedProxies: ['127.0.0.1'] });
  await assert.rejects(cli('set', 'user', 'x', '--requests-per-sec', '1'), /Cannot use limit kind "user"/);
});

test('rate limits - the SDK v3 with its default retry strategy completes every request under a limit', async () => {
  assert.equal((await admin('POST', 'limits/set', { kind: 'key', name: limitedKey.accessKeyId, limit: { requestsPerSec: 2, requestsBurst: 1 } })).status, 200);
  const client = new S3Client({ endpoint: server.url, region: server.region, forcePathStyle: true, credentials: limitedKey });
  try {
    const before = await throttledCount('key', 'requests');
    let attempts = 0;
    for (let i = 0; i < 4; i++) {
      const put = await client.send(new PutObjectCommand({ Bucket: 'cold', Key: `sdk-${i}`, Body: `body ${i}` }));
      const got = await client.send(new GetObjectCommand({ Bucket: 'cold', Key: `sdk-${i}` }));
      assert.equal(await got.Body!.transformToString(), `body ${i}`);
      attempts += (put.$metadata.attempts ?? 1) + (got.$metadata.attempts ?? 1);
    }
    assert.ok(attempts > 8, 'some requests were refused and retried');
    assert.ok(await throttledCount('key', 'requests') > before);
  } finally {
    client.destroy();
    await admin('POST', 'limits/clear', { kind: 'key', name: limitedKey.accessKeyId });
  }
});

const skipBoto3 = skipUnlessPythonModule('boto3');

test('rate limits - boto3 with its default configuration completes every request under a limit', { skip: skipBoto3 }, async () => {
  assert.equal((await admin('POST', 'limits/set', { kind: 'key', name: limitedKey.accessKeyId, limit: { requestsPerSec: 2, requestsBurst: 1 } })).status, 200);
  const home = await mkdtemp(join(tmpdir(), 'tessera-boto3-limits-'));
  try {
    const env = clientEnv(home, { AWS_ACCESS_KEY_ID: limitedKey.accessKeyId, AWS_SECRET_ACCESS_KEY: limitedKey.secretAccessKey, TESSERA_ENDPOINT: server.url });
    const r = await run(clients.python3, [join(import.meta.dirname, '..', 'clients', 'scripts', 'boto3_rate_limited.py'), 'cold', '4'], { env, timeoutMs: 120_000 });
    assert.equal(r.code, 0, r.stderr);
    const summary = JSON.parse(r.stdout.trim().split('\n').pop()!) as { ok: boolean; retries: number };
    assert.ok(summary.ok);
    assert.ok(summary.retries > 0, 'some requests were refused and retried');
  } finally {
    await rm(home, { recursive: true, force: true });
    await admin('POST', 'limits/clear', { kind: 'key', name: limitedKey.accessKeyId });
  }
});

test('rate limits - a bytes/s limit paces a PUT body, and the debt of a download refuses the next request', async () => {
  const rateBytes = 64 * 1024;
  assert.equal((await admin('POST', 'limits/set', { kind: 'bucket', name: 'cold', limit: { bytesPerSec: rateBytes } })).status, 200);
  try {
    const body = Buffer.alloc(256 * 1024, 7);
    const startMs = Date.now();
    await s3.send(new PutObjectCommand({ Bucket: 'cold', Key: 'paced', Body: body }));
    // 192 KiB beyond the 64 KiB burst at 64 KiB/s: at least 3 s, less what the first pieces' wait rounds away.
    assert.ok(Date.now() - startMs >= 2500, `the PUT took ${Date.now() - startMs} ms`);
    const got = await raw(server, { path: '/cold/paced' });
    assert.equal(got.status, 200);
    assert.ok(got.body.equals(body));
    assertSlowDown(await raw(server, { path: '/cold/k' }));
    assert.ok(await throttledCount('bucket', 'bytes') >= 1);
  } finally {
    await admin('POST', 'limits/clear', { kind: 'bucket', name: 'cold' });
    await rm(configDir, { recursive: true, force: true });
  }
});
