// GET/HEAD of the current version has two read paths: an in-process store (SQLite) reads the current
// entry and the version it names (read-cache hits); a database store reads the bucket and the key's newest
// version in one readMany. Both must answer alike: the same record, the same 404s and delete-marker headers.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteMetaStore } from '../meta/sqlite/sqlite-store.js';
import type { MetaStore } from '../meta/types.js';
import { tempStore } from '../blocks/test-helpers.js';
import { createBucket, setBucketVersioning } from './buckets.js';
import { putObject } from './put-object.js';
import { deleteObject } from './delete-object.js';
import { resolveVersionAndBucket } from './get-object.js';
import type { ObjectContext } from './context.js';

const dir = await mkdtemp(join(tmpdir(), 'tessera-get-object-'));
const meta = await SqliteMetaStore.open(join(dir, 'meta.db'));
const blocks = await tempStore(1);
let nowMs = Date.UTC(2026, 0, 1);
const local: ObjectContext = { meta, blocks: blocks.store, nowMs: () => nowMs++, gcDelayMs: 0, inlineBytesMax: 1024, region: 'us-east-1' };
/** The same database seen as a store with a round trip per call: no getNow, so GET takes readMany. */
const remoteMeta: MetaStore = {
  get: (key, options) => meta.get(key, options),
  scan: (range) => meta.scan(range),
  readMany: (batch) => meta.readMany(batch),
  commit: (txn) => meta.commit(txn),
  close: async () => undefined,
};
const remote: ObjectContext = { ...local, meta: remoteMeta };
after(async () => {
  await meta.close();
  await blocks.close();
  await rm(dir, { recursive: true, force: true });
});

async function* bodyOf(text: string): AsyncGenerator<Buffer> {
  yield Buffer.from(text);
}

function put(bucket: string, key: string, text: string) {
  return putObject(local, { bucket, key, owner: 'owner', body: bodyOf(text), size: text.length, headers: {}, storageClass: 'STANDARD' });
}

/** What each path answers for the key: the record, or the error's code and headers. */
async function both(bucket: string, key: string): Promise<[unknown, unknown]> {
  const answer = (ctx: ObjectContext) => resolveVersionAndBucket(ctx, bucket, key).then(
    (r) => ({ versionKey: r.record.versionKey, etag: r.record.etag, versioning: r.bucket.versioning }),
    (err: { code?: string; headers?: Record<string, string> }) => ({ error: err.code, headers: err.headers }),
  );
  return [await answer(local), await answer(remote)];
}

test('resolveVersionAndBucket - the readMany path answers as the current-entry path does when versions, overwrites and delete markers change a key', async () => {
  assert.equal(typeof meta.getNow, 'function');
  await createBucket(local, 'plain', 'owner');
  await createBucket(local, 'versioned', 'owner');
  await setBucketVersioning(local, 'versioned', 'Enabled');
  const seen: unknown[] = [];
  const check = async (bucket: string, key: string) => {
    const [a, b] = await both(bucket, key);
    assert.deepEqual(b, a, `${bucket}/${key}`);
    seen.push(a);
  };
  await check('missing-bucket', 'k');
  for (const bucket of ['plain', 'versioned']) {
    await check(bucket, 'k'); // no such key
    await put(bucket, 'k', 'one');
    await check(bucket, 'k');
    await put(bucket, 'k', 'two');
    await check(bucket, 'k'); // the overwrite, not the first
    await put(bucket, 'k\u0000x', 'neighbour'); // a key whose versions sort right after k's
    await check(bucket, 'k');
    await deleteObject(local, { bucket, key: 'k', owner: 'owner' });
    await check(bucket, 'k'); // plain: gone; versioned: a delete marker, with its headers
    await put(bucket, 'k', 'three');
    await check(bucket, 'k');
  }
  await setBucketVersioning(local, 'versioned', 'Suspended');
  await put('versioned', 'k', 'null version');
  await check('versioned', 'k');
  assert.ok(seen.some((a) => (a as { headers?: Record<string, string> }).headers?.['x-amz-delete-marker'] === 'true'), 'no delete marker was met');
  assert.ok(seen.some((a) => (a as { error?: string }).error === 'NoSuchBucket'));
});
