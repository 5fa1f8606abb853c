// Metrics values (issue #14): after known requests the request counters, latency histograms and byte
// counters move by exactly those requests, and the per-bucket usage (kept as MetaStore counters) follows
// PUT, overwrite, delete, versioned delete, delete markers and multipart completion; the admin API's
// `GET usage` answers the same counters.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  CompleteMultipartUploadCommand, CreateBucketCommand, CreateMultipartUploadCommand, DeleteBucketCommand, DeleteObjectCommand, GetObjectCommand,
  PutBucketVersioningCommand, PutObjectCommand, UploadPartCommand,
} from '@aws-sdk/client-s3';
import { startTesseraForFile } from '../helpers/tessera.js';
import { assertS3Error, raw } from '../s3/raw-http.js';
import { allowAllPolicy, createUserWithKey, signingAs } from '../helpers/iam.js';

const token = 'metrics-values-token-0001';
const { server, s3 } = await startTesseraForFile({ env: { TESSERA_METRICS_TOKEN: token } });

/** One scrape, as sample name with labels → value. */
async function scrape(): Promise<Map<string, number>> {
  const res = await fetch(`${server.url}/_tessera/metrics`, { headers: { authorization: `Bearer ${token}` } });
  assert.equal(res.status, 200);
  const samples = new Map<string, number>();
  for (const line of (await res.text()).split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const space = line.lastIndexOf(' ');
    samples.set(line.slice(0, space), Number(line.slice(space + 1)));
  }
  return samples;
}

const value = (samples: Map<string, number>, name: string): number => samples.get(name) ?? 0;

test('metrics values - 3 PUTs and 2 GETs move the request, histogram and byte counters by exactly that', async () => {
  await raw(server, { method: 'PUT', path: '/counted' });
  const before = await scrape();
  const bodies = ['a'.repeat(10), 'b'.repeat(20), 'c'.repeat(30)];
  for (const [i, body] of bodies.entries()) assert.equal((await raw(server, { method: 'PUT', path: `/counted/k${i}`, body })).status, 200);
  for (const i of [0, 2]) assert.equal((await raw(server, { path: `/counted/k${i}` })).status, 200);
  const after = await scrape();
  const delta = (name: string): number => value(after, name) - value(before, name);
  assert.equal(delta('tessera_s3_requests_total{operation="PutObject",status="200"}'), 3);
  assert.equal(delta('tessera_s3_requests_total{operation="GetObject",status="200"}'), 2);
  assert.equal(delta('tessera_s3_request_duration_seconds_count{operation="PutObject"}'), 3);
  assert.equal(delta('tessera_s3_request_duration_seconds_count{operation="GetObject"}'), 2);
  assert.equal(delta('tessera_s3_request_duration_seconds_bucket{operation="GetObject",le="+Inf"}'), 2);
  assert.ok(delta('tessera_s3_request_duration_seconds_sum{operation="GetObject"}') > 0);
  assert.equal(delta('tessera_s3_received_bytes_total{operation="PutObject"}'), 60);
  assert.equal(delta('tessera_s3_received_bytes_total{operation="GetObject"}'), 0);
  // Two answers with 10 and 30 body bytes and their status lines and headers.
  const sent = delta('tessera_s3_sent_bytes_total{operation="GetObject"}');
  assert.ok(sent > 40 && sent < 40 + 2 * 1024, `GetObject sent ${sent} bytes`);
  assert.equal(delta('tessera_bucket_objects{bucket="counted"}'), 3);
  assert.equal(delta('tessera_bucket_bytes{bucket="counted"}'), 60);
  const missing = await raw(server, { path: '/counted/absent' });
  assert.equal(missing.status, 404);
  assert.equal(value(await scrape(), 'tessera_s3_requests_total{operation="GetObject",status="404"}') - value(after, 'tessera_s3_requests_total{operation="GetObject",status="404"}'), 1);
});

test('metrics values - an object read again is kept in the read cache, and its GETs after that come from memory', async () => {
  await s3.send(new CreateBucketCommand({ Bucket: 'cached' }));
  const body = Buffer.alloc(2 * 1024 * 1024 + 5, 'x'); // three stripes
  body.write('the start', 0);
  await s3.send(new PutObjectCommand({ Bucket: 'cached', Key: 'hot', Body: body }));
  const before = await scrape();
  for (let i = 0; i < 4; i++) {
    const got = Buffer.from(await (await s3.send(new GetObjectCommand({ Bucket: 'cached', Key: 'hot' }))).Body!.transformToByteArray());
    assert.ok(got.equals(body), `GET ${i + 1} answers the object`);
  }
  const ranged = await s3.send(new GetObjectCommand({ Bucket: 'cached', Key: 'hot', Range: 'bytes=2-10' }));
  assert.equal(await ranged.Body!.transformToString(), 'e start' + 'xx');
  const after = await scrape();
  const delta = (name: string): number => value(after, name) - value(before, name);
  assert.equal(delta('tessera_read_cache_misses_total'), 3 * 2, 'the first two GETs read the drive');
  assert.equal(delta('tessera_read_cache_hits_total'), 3 * 2 + 1, 'the next two GETs and the range came from memory');
  assert.equal(delta('tessera_read_cache_bytes'), body.length);
});

test('metrics values - the process figures are present: open connections, event-loop delay, commit latency and batch sizes, workers', async () => {
  const samples = await scrape();
  assert.ok(value(samples, 'tessera_http_open_connections') >= 1, 'the scrape\'s own connection is open');
  assert.ok(samples.has('tessera_event_loop_delay_seconds{quantile="0.99"}'));
  assert.ok(value(samples, 'tessera_meta_commit_duration_seconds_count') > 0);
  assert.ok(value(samples, 'tessera_meta_commit_batch_size_count') > 0);
  assert.ok(value(samples, 'tessera_meta_commit_batch_size_count') <= value(samples, 'tessera_meta_commit_duration_seconds_count'));
  assert.equal(value(samples, 'tessera_worker_lease_held{worker="gc"}'), 1, 'the only process runs the GC');
  assert.ok(samples.has('tessera_gc_blocks_deleted_total'));
});

test('metrics values - bucket usage follows a put, an overwrite and a delete in an unversioned bucket', async () => {
  await s3.send(new CreateBucketCommand({ Bucket: 'usage-plain' }));
  const usage = async () => {
    const samples = await scrape();
    return { objects: value(samples, 'tessera_bucket_objects{bucket="usage-plain"}'), bytes: value(samples, 'tessera_bucket_bytes{bucket="usage-plain"}') };
  };
  await s3.send(new PutObjectCommand({ Bucket: 'usage-plain', Key: 'a', Body: 'x'.repeat(10) }));
  assert.deepEqual(await usage(), { objects: 1, bytes: 10 });
  await s3.send(new PutObjectCommand({ Bucket: 'usage-plain', Key: 'a', Body: 'x'.repeat(25) }));
  assert.deepEqual(await usage(), { objects: 1, bytes: 25 }, 'an overwrite replaces the null version');
  await s3.send(new PutObjectCommand({ Bucket: 'usage-plain', Key: 'b', Body: 'x'.repeat(5) }));
  assert.deepEqual(await usage(), { objects: 2, bytes: 30 });
  await s3.send(new DeleteObjectCommand({ Bucket: 'usage-plain', Key: 'a' }));
  assert.deepEqual(await usage(), { objects: 1, bytes: 5 });
  await s3.send(new DeleteObjectCommand({ Bucket: 'usage-plain', Key: 'a' }));
  assert.deepEqual(await usage(), { objects: 1, bytes: 5 }, 'deleting a missing key changes nothing');
  await s3.send(new DeleteObjectCommand({ Bucket: 'usage-plain', Key: 'b' }));
  await s3.send(new DeleteBucketCommand({ Bucket: 'usage-plain' }));
  assert.ok(!(await scrape()).has('tessera_bucket_objects{bucket="usage-plain"}'), 'a deleted bucket\'s usage goes with it');
});

test('metrics values - bucket usage counts noncurrent versions and delete markers in a versioned bucket', async () => {
  const Bucket = 'usage-versioned';
  await s3.send(new CreateBucketCommand({ Bucket }));
  await s3.send(new PutBucketVersioningCommand({ Bucket, VersioningConfiguration: { Status: 'Enabled' } }));
  const usage = async () => {
    const samples = await scrape();
    return {
      objects: value(samples, `tessera_bucket_objects{bucket="${Bucket}"}`),
      bytes: value(samples, `tessera_bucket_bytes{bucket="${Bucket}"}`),
      markers: value(samples, `tessera_bucket_delete_markers{bucket="${Bucket}"}`),
    };
  };
  const v1 = await s3.send(new PutObjectCommand({ Bucket, Key: 'k', Body: 'x'.repeat(10) }));
  await s3.send(new PutObjectCommand({ Bucket, Key: 'k', Body: 'x'.repeat(20) }));
  assert.deepEqual(await usage(), { objects: 2, bytes: 30, markers: 0 }, 'an overwrite keeps the old version');
  const marker = await s3.send(new DeleteObjectCommand({ Bucket, Key: 'k' }));
  assert.deepEqual(await usage(), { objects: 2, bytes: 30, markers: 1 });
  await s3.send(new DeleteObjectCommand({ Bucket, Key: 'k', VersionId: marker.VersionId! }));
  assert.deepEqual(await usage(), { objects: 2, bytes: 30, markers: 0 });
  await s3.send(new DeleteObjectCommand({ Bucket, Key: 'k', VersionId: v1.VersionId! }));
  assert.deepEqual(await usage(), { objects: 1, bytes: 20, markers: 0 });
  await s3.send(new PutBucketVersioningCommand({ Bucket, VersioningConfiguration: { Status: 'Suspended' } }));
  await s3.send(new PutObjectCommand({ Bucket, Key: 'k', Body: 'x'.repeat(7) }));
  await s3.send(new PutObjectCommand({ Bucket, Key: 'k', Body: 'x'.repeat(3) }));
  assert.deepEqual(await usage(), { objects: 2, bytes: 23, markers: 0 }, 'with versioning suspended a put replaces the null version only');
});

test('metrics values - a completed multipart upload counts as one object of its size', async () => {
  const Bucket = 'usage-multipart';
  await s3.send(new CreateBucketCommand({ Bucket }));
  const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket, Key: 'big' }));
  const first = await s3.send(new UploadPartCommand({ Bucket, Key: 'big', UploadId, PartNumber: 1, Body: Buffer.alloc(5 * 1024 * 1024, 1) }));
  const second = await s3.send(new UploadPartCommand({ Bucket, Key: 'big', UploadId, PartNumber: 2, Body: Buffer.alloc(1000, 2) }));
  assert.ok(!(await scrape()).has(`tessera_bucket_objects{bucket="${Bucket}"}`), 'parts of an upload in progress are not objects');
  await s3.send(new CompleteMultipartUploadCommand({ Bucket, Key: 'big', UploadId, MultipartUpload: { Parts: [{ PartNumber: 1, ETag: first.ETag! }, { PartNumber: 2, ETag: second.ETag! }] } }));
  const samples = await scrape();
  assert.equal(value(samples, `tessera_bucket_objects{bucket="${Bucket}"}`), 1);
  assert.equal(value(samples, `tessera_bucket_bytes{bucket="${Bucket}"}`), 5 * 1024 * 1024 + 1000);
});

test('admin usage - answers each bucket\'s MetaStore counters, the same as the metrics, to the root key only', async () => {
  const Bucket = 'usage-admin';
  await s3.send(new CreateBucketCommand({ Bucket }));
  await s3.send(new PutObjectCommand({ Bucket, Key: 'a', Body: 'x'.repeat(10) }));
  await s3.send(new PutObjectCommand({ Bucket, Key: 'b', Body: 'x'.repeat(20) }));
  const res = await raw(server, { path: '/_tessera/admin/usage' });
  assert.equal(res.status, 200, res.text);
  const answer = JSON.parse(res.text) as { buckets: { bucket: string; objects: number; bytes: number; deleteMarkers: number }[]; bucketsMax: number };
  assert.deepEqual(answer.buckets.find((u) => u.bucket === Bucket), { bucket: Bucket, objects: 2, bytes: 30, deleteMarkers: 0 });
  assert.ok(answer.bucketsMax > 0);
  const samples = await scrape();
  assert.ok(answer.buckets.length > 0);
  for (const u of answer.buckets) {
    assert.equal(u.objects, value(samples, `tessera_bucket_objects{bucket="${u.bucket}"}`), u.bucket);
    assert.equal(u.bytes, value(samples, `tessera_bucket_bytes{bucket="${u.bucket}"}`), u.bucket);
  }
  assert.equal((await fetch(`${server.url}/_tessera/admin/usage`)).status, 403, 'unsigned');
  const user = await createUserWithKey(server, 'usage-reader', { all: allowAllPolicy });
  assertS3Error(await raw(signingAs(server, user), { path: '/_tessera/admin/usage' }), 403, 'AccessDenied');
});
