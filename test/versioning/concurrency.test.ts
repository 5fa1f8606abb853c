// Concurrent writers under versioning (issue 4): concurrent PUTs to one key never lose a version, and
// every acknowledged PUT's version id stays readable with its own bytes; conditional creates race safely.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DeleteObjectCommand, GetObjectCommand, ListObjectsV2Command, PutObjectCommand } from '@aws-sdk/client-s3';
import { startTesseraForFile } from '../helpers/tessera.js';
import { createBucket, failure, listAllVersionPages } from './helpers.js';

const { server, s3 } = await startTesseraForFile();

/** A body unique to writer i; odd writers send enough bytes to go to the block store, even ones stay inline. */
function bodyOf(i: number): Buffer {
  const size = i % 2 === 1 ? 40_000 + i : 100 + i;
  return Buffer.alloc(size, `writer-${i};`);
}

test('concurrency - 30 concurrent PUTs to one key make 30 readable versions', async () => {
  await createBucket(s3, 'conc-put', 'Enabled');
  const writers = 30;
  const results = await Promise.all(Array.from({ length: writers }, (_, i) =>
    s3.send(new PutObjectCommand({ Bucket: 'conc-put', Key: 'hot', Body: bodyOf(i) })).then((r) => ({ i, versionId: r.VersionId!, etag: r.ETag! }))));
  const ids = results.map((r) => r.versionId);
  assert.equal(new Set(ids).size, writers, 'every PUT got its own version id');
  for (const { i, versionId, etag } of results) {
    const got = await s3.send(new GetObjectCommand({ Bucket: 'conc-put', Key: 'hot', VersionId: versionId }));
    assert.equal(got.ETag, etag);
    assert.ok(Buffer.from(await got.Body!.transformToByteArray()).equals(bodyOf(i)), `version of writer ${i} has its bytes`);
  }
  const listed = (await listAllVersionPages(server, 'conc-put', { 'max-keys': '7' })).flatMap((p) => p.entries);
  assert.deepEqual(new Set(listed.map((e) => e.versionId)), new Set(ids));
  assert.deepEqual(listed.map((e) => e.isLatest), listed.map((_, i) => i === 0));
  // The latest in the listing is what a plain GET returns.
  const current = await s3.send(new GetObjectCommand({ Bucket: 'conc-put', Key: 'hot' }));
  assert.equal(current.VersionId, listed[0]!.versionId);
  await current.Body!.transformToByteArray();
});

test('concurrency - concurrent PUTs and DELETEs keep every version and marker', async () => {
  await createBucket(s3, 'conc-mixed', 'Enabled');
  const ops = Array.from({ length: 24 }, (_, i) => i % 3 === 2
    ? s3.send(new DeleteObjectCommand({ Bucket: 'conc-mixed', Key: 'k' })).then((r) => ({ kind: 'DeleteMarker', versionId: r.VersionId! }))
    : s3.send(new PutObjectCommand({ Bucket: 'conc-mixed', Key: 'k', Body: `v${i}` })).then((r) => ({ kind: 'Version', versionId: r.VersionId! })));
  const done = await Promise.all(ops);
  const listed = (await listAllVersionPages(server, 'conc-mixed', {})).flatMap((p) => p.entries);
  assert.equal(listed.length, 24);
  assert.deepEqual(new Map(listed.map((e) => [e.versionId, e.kind])), new Map(done.map((d) => [d.versionId, d.kind])));
  const live = await s3.send(new ListObjectsV2Command({ Bucket: 'conc-mixed' }));
  assert.equal(live.KeyCount, listed[0]!.kind === 'Version' ? 1 : 0, 'the listing agrees with the latest version');
});

test('concurrency - racing If-None-Match creates on a versioned bucket let exactly one win', async () => {
  await createBucket(s3, 'conc-create', 'Enabled');
  const outcomes = await Promise.all(Array.from({ length: 10 }, (_, i) =>
    s3.send(new PutObjectCommand({ Bucket: 'conc-create', Key: 'once', Body: `c${i}`, IfNoneMatch: '*' }))
      .then((r) => ({ ok: true as const, versionId: r.VersionId!, body: `c${i}` }))
      .catch(async (err: unknown) => ({ ok: false as const, status: (await failure(Promise.reject(err))).status }))));
  const winners = outcomes.filter((o) => o.ok);
  assert.equal(winners.length, 1);
  for (const o of outcomes) if (!o.ok) assert.ok(o.status === 412 || o.status === 409, `loser answered ${o.status}`);
  const listed = (await listAllVersionPages(server, 'conc-create', {})).flatMap((p) => p.entries);
  assert.deepEqual(listed.map((e) => e.versionId), [winners[0]!.ok ? winners[0]!.versionId : '']);
});
