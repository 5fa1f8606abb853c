// Metadata round trips per S3 request on `tessera server --meta postgres://`, read from the
// tessera_meta_round_trips_total metric: a GET or HEAD of the current version is one readMany, and PUT and
// DeleteObject read their key's state in one readMany before their commit. Background work (leases,
// layout follower, GC) also sends requests, so the checks bound the single-key kinds rather than pin them.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { CreateBucketCommand, DeleteObjectCommand, GetObjectCommand, HeadObjectCommand, PutBucketVersioningCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { startTessera, type TesseraProcess } from '../helpers/tessera.js';
import { skipWithoutPostgres, startPostgres, type PostgresServer } from '../helpers/postgres.js';

const skip = skipWithoutPostgres();
let postgres: PostgresServer;
let server: TesseraProcess;
let s3: S3Client;
let metricsPort: number;
const metricsToken = 'round-trips-metrics-token-01';

async function freePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const port = (probe.address() as { port: number }).port;
  await new Promise((resolve) => probe.close(resolve));
  return port;
}

async function roundTrips(): Promise<Record<string, number>> {
  const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`, { headers: { authorization: `Bearer ${metricsToken}` } })).text();
  const out: Record<string, number> = {};
  for (const m of text.matchAll(/^tessera_meta_round_trips_total\{kind="(\w+)"\} (\d+)$/gm)) out[m[1]!] = Number(m[2]);
  return out;
}

/** The round trips `n` calls of `op` cost, by kind. */
async function measure(n: number, op: (i: number) => Promise<unknown>): Promise<Record<string, number>> {
  const before = await roundTrips();
  for (let i = 0; i < n; i++) await op(i);
  const after = await roundTrips();
  return Object.fromEntries(Object.keys(after).map((k) => [k, after[k]! - (before[k] ?? 0)]));
}

if (!skip) {
  before(async () => {
    postgres = await startPostgres();
    metricsPort = await freePort();
    server = await startTessera({ args: ['--meta', await postgres.createDatabase(), '--metrics-address', `127.0.0.1:${metricsPort}`], env: { TESSERA_METRICS_TOKEN: metricsToken } });
    s3 = server.client();
    await s3.send(new CreateBucketCommand({ Bucket: 'trips' }));
    await s3.send(new CreateBucketCommand({ Bucket: 'trips-versioned' }));
    await s3.send(new PutBucketVersioningCommand({ Bucket: 'trips-versioned', VersioningConfiguration: { Status: 'Enabled' } }));
  });
  after(async () => {
    s3?.destroy();
    await server?.cleanup();
    await postgres?.cleanup();
  });
}

const n = 20;

test('metadata round trips - a GET or HEAD of the current version is one readMany when the metadata is in PostgreSQL', { skip }, async () => {
  for (const bucket of ['trips', 'trips-versioned']) {
    for (let i = 0; i < 3; i++) await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'k', Body: `body ${i}` }));
    const gets = await measure(n, async () => {
      const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'k' }));
      assert.equal(await got.Body!.transformToString(), 'body 2');
    });
    assert.equal(gets.get_many, n, `${bucket}: ${JSON.stringify(gets)}`);
    // Three sequential gets per GET before readMany; what is left is background work.
    assert.ok(gets.get! + gets.scan! < n, `${bucket}: ${JSON.stringify(gets)}`);
    const heads = await measure(n, () => s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'k' })));
    assert.equal(heads.get_many, n, `${bucket}: ${JSON.stringify(heads)}`);
    assert.ok(heads.get! + heads.scan! < n, `${bucket}: ${JSON.stringify(heads)}`);
  }
});

test('metadata round trips - PUT and DeleteObject read the key in one readMany before one commit when the metadata is in PostgreSQL', { skip }, async () => {
  await measure(n, (i) => s3.send(new PutObjectCommand({ Bucket: 'trips', Key: `p${i}`, Body: 'x' })));
  const puts = await measure(n, (i) => s3.send(new PutObjectCommand({ Bucket: 'trips', Key: `p${i}`, Body: 'y' })));
  assert.equal(puts.get_many, n, JSON.stringify(puts));
  // One bucket read before the body per PUT; four per PUT (six overwriting) before readMany.
  assert.ok(puts.get! + puts.scan! < 2 * n, JSON.stringify(puts));
  const deletes = await measure(n, (i) => s3.send(new DeleteObjectCommand({ Bucket: 'trips', Key: `p${i}` })));
  assert.equal(deletes.get_many, n, JSON.stringify(deletes));
  // One bucket read per delete; four more (head, version, next version) before readMany.
  assert.ok(deletes.get! + deletes.scan! < 2 * n, JSON.stringify(deletes));
});
