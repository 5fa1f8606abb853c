// Per-bucket usage with the metadata in PostgreSQL (issue #14): the counters live in the database
// (tessera_commit_v2's adds), so concurrent PUTs, overwrites and deletes through the S3 API leave them exact.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { CreateBucketCommand, DeleteObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { startTessera, type TesseraProcess } from '../helpers/tessera.js';
import { skipWithoutPostgres, startPostgres, type PostgresServer } from '../helpers/postgres.js';
import { raw } from '../s3/raw-http.js';

const skip = skipWithoutPostgres();
let postgres: PostgresServer;
let server: TesseraProcess;
let s3: S3Client;

if (!skip) {
  before(async () => {
    postgres = await startPostgres();
    server = await startTessera({ args: ['--meta', await postgres.createDatabase()] });
    s3 = server.client();
  });
  after(async () => {
    s3?.destroy();
    await server?.cleanup();
    await postgres?.cleanup();
  });
}

async function usage(bucket: string): Promise<{ objects: number; bytes: number }> {
  const res = await raw(server, { path: '/_tessera/metrics' });
  assert.equal(res.status, 200);
  const read = (name: string) => Number(new RegExp(`^${name}\\{bucket="${bucket}"\\} (\\d+)$`, 'm').exec(res.text)?.[1] ?? 'NaN');
  return { objects: read('tessera_bucket_objects'), bytes: read('tessera_bucket_bytes') };
}

test('bucket usage on PostgreSQL - concurrent puts, overwrites and deletes leave the counters exact', { skip }, async () => {
  const Bucket = 'pg-usage';
  await s3.send(new CreateBucketCommand({ Bucket }));
  // 30 keys written at once, then 10 of them overwritten with 3 more bytes and 5 others deleted, at once.
  await Promise.all(Array.from({ length: 30 }, (_, i) => s3.send(new PutObjectCommand({ Bucket, Key: `k${i}`, Body: 'x'.repeat(i + 1) }))));
  assert.deepEqual(await usage(Bucket), { objects: 30, bytes: (30 * 31) / 2 });
  await Promise.all([
    ...Array.from({ length: 10 }, (_, i) => s3.send(new PutObjectCommand({ Bucket, Key: `k${i}`, Body: 'y'.repeat(i + 4) }))),
    ...Array.from({ length: 5 }, (_, i) => s3.send(new DeleteObjectCommand({ Bucket, Key: `k${20 + i}` }))),
  ]);
  const deletedBytes = [21, 22, 23, 24, 25].reduce((a, b) => a + b, 0);
  assert.deepEqual(await usage(Bucket), { objects: 25, bytes: (30 * 31) / 2 + 10 * 3 - deletedBytes });
});
