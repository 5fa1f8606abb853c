// Metrics access (issue #10): the S3 endpoint serves /_tessera/metrics to the root key only, anonymous
// callers get S3's 403 AccessDenied; --metrics-address adds an unauthenticated listener for Prometheus.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { startTesseraForFile } from '../helpers/tessera.js';
import { assertS3Error, raw } from '../s3/raw-http.js';

async function freePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((r) => probe.listen(0, '127.0.0.1', () => r()));
  const { port } = probe.address() as { port: number };
  await new Promise<void>((r) => probe.close(() => r()));
  return port;
}

const metricsPort = await freePort();
const { server } = await startTesseraForFile({ args: ['--metrics-address', `127.0.0.1:${metricsPort}`] });

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

test('metrics - the separate listener serves them without authentication when --metrics-address is set', async () => {
  const res = await fetch(`http://127.0.0.1:${metricsPort}/metrics`);
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /^text\/plain/);
  assert.match(await res.text(), /^tessera_drive_shard_files\{drive="[^"]+"\} \d+$/m);
  const other = await fetch(`http://127.0.0.1:${metricsPort}/photos/cat.jpg`);
  assert.equal(other.status, 404);
  await other.text();
});
