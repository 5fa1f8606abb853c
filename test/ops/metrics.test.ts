// Metrics access (issues #10, #14): /_tessera/metrics answers the root key's signature or the metrics
// bearer token (--metrics-token), on the S3 endpoint and on the metrics-only listener (--metrics-address);
// anyone else gets S3's 403 AccessDenied. A scrape reads drive figures from probes, never from a walk.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { repoRoot, startTesseraForFile } from '../helpers/tessera.js';
import { assertS3Error, raw } from '../s3/raw-http.js';

async function freePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((r) => probe.listen(0, '127.0.0.1', () => r()));
  const { port } = probe.address() as { port: number };
  await new Promise<void>((r) => probe.close(() => r()));
  return port;
}

const token = 'metrics-token-for-tests-0001';
const metricsPort = await freePort();
const { server } = await startTesseraForFile({ args: ['--metrics-address', `127.0.0.1:${metricsPort}`], env: { TESSERA_METRICS_TOKEN: token } });
const bearer = (t: string) => ({ authorization: `Bearer ${t}` });

test('metrics - anonymous request to the S3 endpoint gets 403 AccessDenied', async () => {
  const res = await raw(server, { path: '/_tessera/metrics', sign: false });
  assertS3Error(res, 403, 'AccessDenied');
  assert.doesNotMatch(res.text, /tessera_/);
});

test('metrics - a request signed with a wrong secret gets 403', async () => {
  const res = await raw(server, { path: '/_tessera/metrics', secret: 'not/the/secret/000000000000000000000000' });
  assert.equal(res.status, 403);
  assert.doesNotMatch(res.text, /tessera_/);
});

test('metrics - the root key reads them from the S3 endpoint', async () => {
  const res = await raw(server, { path: '/_tessera/metrics' });
  assert.equal(res.status, 200);
  assert.match(res.text, /^tessera_drive_up\{drive="[^"]+"\} 1$/m);
  assert.match(res.text, /^tessera_requests_total \d+$/m);
});

test('metrics - the bearer token reads them from the S3 endpoint; a wrong one gets 403 AccessDenied', async () => {
  const res = await raw(server, { path: '/_tessera/metrics', sign: false, headers: bearer(token) });
  assert.equal(res.status, 200);
  assert.match(res.text, /^tessera_drive_free_bytes\{drive="[^"]+"\} \d+$/m);
  assert.doesNotMatch(res.text, /tessera_drive_shard_files/, 'a scrape counts no shard files: that would walk the drives');
  assertS3Error(await raw(server, { path: '/_tessera/metrics', sign: false, headers: bearer(`${token}x`) }), 403, 'AccessDenied');
  assertS3Error(await raw(server, { path: '/_tessera/metrics', sign: false, headers: bearer('') }), 403, 'AccessDenied');
});

// AWS answers an Authorization header of another scheme with 400 InvalidArgument "Unsupported Authorization Type".
test('metrics - the token opens metrics only, not the admin API or S3', async () => {
  assertS3Error(await raw(server, { path: '/_tessera/admin/status', sign: false, headers: bearer(token) }), 400, 'InvalidArgument');
  assertS3Error(await raw(server, { path: '/', sign: false, headers: bearer(token) }), 400, 'InvalidArgument');
});

test('metrics - the metrics-only listener answers the token and refuses anonymous scrapes', async () => {
  const res = await fetch(`http://127.0.0.1:${metricsPort}/metrics`, { headers: bearer(token) });
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /^text\/plain/);
  assert.match(await res.text(), /^tessera_drive_up\{drive="[^"]+"\} 1$/m);
  const anonymous = await fetch(`http://127.0.0.1:${metricsPort}/metrics`);
  assert.equal(anonymous.status, 403);
  assert.match(await anonymous.text(), /<Code>AccessDenied<\/Code>/);
  const other = await fetch(`http://127.0.0.1:${metricsPort}/photos/cat.jpg`, { headers: bearer(token) });
  assert.equal(other.status, 404);
  await other.text();
});

test('metrics - a server asked for a metrics listener without a token refuses to start', async () => {
  const child = spawn(process.execPath, [join(repoRoot, 'bin', 'tessera.js'), 'server', '--address', '127.0.0.1:0', '--data', join(server.dataDir, 'unused'), '--metrics-address', '127.0.0.1:0'], {
    env: { ...process.env, TESSERA_METRICS_TOKEN: '' },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const code = await new Promise<number | null>((r) => child.once('exit', (c) => r(c)));
  assert.notEqual(code, 0);
  assert.match(stderr, /without a metrics token/);
});
