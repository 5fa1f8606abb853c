// The lifecycle pass against a real SQLite MetaStore and drives, with a fake clock: expiration of current
// and noncurrent versions, delete markers, filters, Object Lock, multipart aborts, resumption, transitions.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteMetaStore } from '../meta/sqlite/sqlite-store.js';
import { tempStore, collect } from '../blocks/test-helpers.js';
import { createBucket, setBucketLifecycle, setBucketVersioning } from './buckets.js';
import { putObject } from './put-object.js';
import { deleteObject } from './delete-object.js';
import { createUpload } from './multipart.js';
import { updateVersion } from './key-state.js';
import { keys } from './keys.js';
import { decodeRecord, type VersionRecord } from './records.js';
import { readData } from './data.js';
import { Lifecycle, type LifecycleOptions } from './lifecycle.js';
import { dayMs, type LifecycleRule } from './lifecycle-rules.js';
import type { ObjectContext } from './context.js';

const dir = await mkdtemp(join(tmpdir(), 'tessera-lifecycle-'));
const meta = await SqliteMetaStore.open(join(dir, 'meta.db'));
const blocks = await tempStore(3);
/** The fake clock: starts at noon UTC on a fixed day; tests move it. */
const clock = { ms: Date.UTC(2030, 0, 10, 12) };
const ctx: ObjectContext = {
  meta, blocks: blocks.store, nowMs: () => clock.ms, gcDelayMs: 0, inlineBytesMax: 64, region: 'us-east-1',
  redundancyFor: (c) => (c === 'GLACIER_IR' ? { kind: 'replicate', copies: 3 } : c === 'STANDARD' ? { kind: 'replicate', copies: 1 } : undefined),
  blocksInFlight: new Set(),
};
after(async () => {
  await meta.close();
  await blocks.close();
  await rm(dir, { recursive: true, force: true });
});

let bucketSeq = 0;
async function bucketWith(rules: Omit<LifecycleRule, 'enabled'>[], versioning?: 'Enabled' | 'Suspended'): Promise<string> {
  const name = `b${++bucketSeq}`;
  await createBucket(ctx, name, 'owner');
  if (versioning) await setBucketVersioning(ctx, name, versioning);
  await setBucketLifecycle(ctx, name, { rules: rules.map((r) => ({ enabled: true, ...r })) });
  return name;
}

async function* bodyOf(data: Buffer): AsyncGenerator<Buffer> {
  yield data;
}
const put = (bucket: string, key: string, text = 'hello', extra: { tags?: Record<string, string> } = {}) =>
  putObject(ctx, { bucket, key, owner: 'owner', headers: {}, storageClass: 'STANDARD', body: bodyOf(Buffer.from(text)), size: Buffer.byteLength(text), ...extra });

async function versionsOf(bucket: string, key: string): Promise<VersionRecord[]> {
  return (await meta.scan({ ...keys.versionsOfKey(bucket, key), limit: 1000 })).map((kv) => decodeRecord<VersionRecord>(kv.value));
}

async function runPass(options: Partial<LifecycleOptions> = {}, keysMax = 100) {
  const lc = new Lifecycle(ctx, { abortUploadsAfterMs: 0, ...options });
  await lc.start();
  for (let i = 0; i < 10_000 && (await lc.step(keysMax)) === 'busy'; i++);
  return lc.progress();
}

test('lifecycle - expires a current version in an unversioned bucket at the midnight after its days', async () => {
  const bucket = await bucketWith([{ id: 'r', filter: { form: 'single' }, expiration: { days: 1 } }]);
  await put(bucket, 'k');
  clock.ms += dayMs; // noon the next day: due only at the midnight after
  await runPass();
  assert.equal((await versionsOf(bucket, 'k')).length, 1);
  clock.ms += 12 * 3_600_000;
  const p = await runPass();
  assert.equal((await versionsOf(bucket, 'k')).length, 0);
  assert.ok(p.currentExpired >= 1);
});

test('lifecycle - adds a delete marker for an expired current version when versioning is enabled', async () => {
  const bucket = await bucketWith([{ id: 'r', filter: { form: 'single' }, expiration: { days: 1 } }], 'Enabled');
  await put(bucket, 'k');
  clock.ms += 2 * dayMs;
  await runPass();
  const versions = await versionsOf(bucket, 'k');
  assert.deepEqual(versions.map((v) => v.deleteMarker), [true, false]);
});

test('lifecycle - counts noncurrent days from when the successor was written', async () => {
  const bucket = await bucketWith([{ id: 'r', filter: { form: 'single' }, noncurrentExpiration: { days: 2 } }], 'Enabled');
  await put(bucket, 'k', 'v1');
  clock.ms += 10 * dayMs; // v1 is old, but it becomes noncurrent only now
  await put(bucket, 'k', 'v2');
  clock.ms += dayMs;
  await runPass();
  assert.equal((await versionsOf(bucket, 'k')).length, 2);
  clock.ms += 2 * dayMs;
  await runPass();
  const left = await versionsOf(bucket, 'k');
  assert.equal(left.length, 1);
  assert.equal(left[0]!.size, 2);
});

test('lifecycle - keeps the newest noncurrent versions when NewerNoncurrentVersions is set', async () => {
  const bucket = await bucketWith([{ id: 'r', filter: { form: 'single' }, noncurrentExpiration: { days: 1, newerNoncurrentVersions: 2 } }], 'Enabled');
  for (const text of ['a', 'bb', 'ccc', 'dddd', 'eeeee']) {
    await put(bucket, 'k', text);
    clock.ms += 1000;
  }
  clock.ms += 3 * dayMs;
  await runPass();
  assert.deepEqual((await versionsOf(bucket, 'k')).map((v) => v.size), [5, 4, 3]);
});

test('lifecycle - removes a delete marker with no versions behind it when ExpiredObjectDeleteMarker is set', async () => {
  const bucket = await bucketWith([
    { id: 'nc', filter: { form: 'single' }, noncurrentExpiration: { days: 1 } },
    { id: 'dm', filter: { form: 'single' }, expiration: { expiredObjectDeleteMarker: true } },
  ], 'Enabled');
  await put(bucket, 'k');
  await put(bucket, 'kept');
  await deleteObject(ctx, { bucket, key: 'k', owner: 'owner' });
  clock.ms += 3 * dayMs;
  const p = await runPass();
  assert.equal((await versionsOf(bucket, 'k')).length, 0, 'the version expired and then its lone marker');
  assert.equal((await versionsOf(bucket, 'kept')).length, 1);
  assert.equal(p.deleteMarkersRemoved, 1);
});

test('lifecycle - applies a rule only to keys, tags and sizes its filter matches', async () => {
  const bucket = await bucketWith([
    { id: 'p', filter: { form: 'single', prefix: 'logs/' }, expiration: { days: 1 } },
    { id: 't', filter: { form: 'and', prefix: 'tagged/', tags: { tier: 'tmp' } }, expiration: { days: 1 } },
    { id: 's', filter: { form: 'and', prefix: 'sized/', sizeGreaterThan: 3, sizeLessThan: 10 }, expiration: { days: 1 } },
  ]);
  await put(bucket, 'logs/a');
  await put(bucket, 'data/a');
  await put(bucket, 'tagged/yes', 'x', { tags: { tier: 'tmp', other: '1' } });
  await put(bucket, 'tagged/no', 'x', { tags: { tier: 'keep' } });
  await put(bucket, 'sized/small', 'abc');
  await put(bucket, 'sized/mid', 'abcdef');
  await put(bucket, 'sized/big', 'abcdefghijk');
  clock.ms += 2 * dayMs;
  await runPass();
  const left = [];
  for (const k of ['logs/a', 'data/a', 'tagged/yes', 'tagged/no', 'sized/small', 'sized/mid', 'sized/big']) if ((await versionsOf(bucket, k)).length > 0) left.push(k);
  assert.deepEqual(left, ['data/a', 'tagged/no', 'sized/small', 'sized/big']);
});

test('lifecycle - leaves rules that are disabled alone', async () => {
  const bucket = await bucketWith([{ id: 'r', filter: { form: 'single' }, expiration: { days: 1 } }]);
  await setBucketLifecycle(ctx, bucket, { rules: [{ id: 'r', enabled: false, filter: { form: 'single' }, expiration: { days: 1 } }] });
  await put(bucket, 'k');
  clock.ms += 5 * dayMs;
  await runPass();
  assert.equal((await versionsOf(bucket, 'k')).length, 1);
});

test('lifecycle - never removes a version under retention or legal hold', async () => {
  const bucket = await bucketWith([{ id: 'r', filter: { form: 'single' }, noncurrentExpiration: { days: 1 } }], 'Enabled');
  await put(bucket, 'retained', 'v1');
  await put(bucket, 'held', 'v1');
  const [retained] = await versionsOf(bucket, 'retained');
  const [held] = await versionsOf(bucket, 'held');
  await updateVersion(ctx, bucket, 'retained', retained!.versionKey, (r) => ({ ...r, retention: { mode: 'COMPLIANCE', untilMs: clock.ms + 30 * dayMs } }));
  await updateVersion(ctx, bucket, 'held', held!.versionKey, (r) => ({ ...r, legalHold: true }));
  await put(bucket, 'retained', 'v2');
  await put(bucket, 'held', 'v2');
  clock.ms += 5 * dayMs;
  const p = await runPass();
  assert.equal((await versionsOf(bucket, 'retained')).length, 2);
  assert.equal((await versionsOf(bucket, 'held')).length, 2);
  assert.ok(p.lockedSkipped >= 2);
  clock.ms += 30 * dayMs; // the retention has run out; the hold stays until lifted
  await runPass();
  assert.equal((await versionsOf(bucket, 'retained')).length, 1);
  assert.equal((await versionsOf(bucket, 'held')).length, 2);
});

test('lifecycle - aborts uploads by rule and by the store-wide default', async () => {
  const ruled = await bucketWith([{ id: 'a', filter: { form: 'single', prefix: 'up/' }, abortIncompleteUploadDays: 1 }]);
  await createBucket(ctx, 'plain', 'owner');
  const params = { owner: 'owner', headers: {}, storageClass: 'STANDARD' };
  await createUpload(ctx, { bucket: ruled, key: 'up/a', ...params });
  await createUpload(ctx, { bucket: ruled, key: 'other', ...params });
  await createUpload(ctx, { bucket: 'plain', key: 'x', ...params });
  clock.ms += 2 * dayMs;
  await runPass({ abortUploadsAfterMs: 7 * dayMs });
  const uploads = async (b: string) => (await meta.scan({ ...keys.uploadRange(b, ''), limit: 10 })).length;
  assert.equal(await uploads(ruled), 1, 'the rule aborted up/a only');
  assert.equal(await uploads('plain'), 1);
  clock.ms += 6 * dayMs;
  await runPass({ abortUploadsAfterMs: 7 * dayMs });
  assert.equal(await uploads(ruled), 0);
  assert.equal(await uploads('plain'), 0);
});

test('lifecycle - a pass cut into one-key steps by new processes resumes where it stopped', async () => {
  const bucket = await bucketWith([{ id: 'r', filter: { form: 'single' }, expiration: { days: 1 } }]);
  for (let i = 0; i < 7; i++) await put(bucket, `k${i}`);
  clock.ms += 2 * dayMs;
  await new Lifecycle(ctx, { abortUploadsAfterMs: 0 }).start();
  let steps = 0;
  // A fresh Lifecycle for each step: everything it needs is in the MetaStore.
  while ((await new Lifecycle(ctx, { abortUploadsAfterMs: 0 }).step(1)) === 'busy') steps++;
  const p = await new Lifecycle(ctx, { abortUploadsAfterMs: 0 }).progress();
  assert.equal(p.running, false);
  assert.ok(steps >= 7);
  for (let i = 0; i < 7; i++) assert.equal((await versionsOf(bucket, `k${i}`)).length, 0);
});

test('lifecycle - a transition re-encodes the blocks and keeps bytes, ETag and version id', async () => {
  const bucket = await bucketWith([{ id: 't', filter: { form: 'single' }, transitions: [{ days: 1, storageClass: 'GLACIER_IR' }] }], 'Enabled');
  const body = 'x'.repeat(5000);
  await put(bucket, 'big', body);
  const [before] = await versionsOf(bucket, 'big');
  clock.ms += 2 * dayMs;
  const p = await runPass();
  assert.equal(p.transitioned, 1);
  const [afterT] = await versionsOf(bucket, 'big');
  assert.equal(afterT!.storageClass, 'GLACIER_IR');
  assert.equal(afterT!.etag, before!.etag);
  assert.equal(afterT!.versionKey, before!.versionKey);
  assert.deepEqual(afterT!.data.blocks![0]!.redundancy, { kind: 'replicate', copies: 3 });
  assert.notEqual(afterT!.data.blocks![0]!.id, before!.data.blocks![0]!.id);
  assert.equal((await collect(readData(ctx, afterT!.data, 0, afterT!.size))).toString(), body);
  const gcQueued = await meta.scan({ ...keys.gcDueRange(clock.ms + 1), limit: 1000 });
  assert.ok(gcQueued.some((kv) => decodeRecord<{ id: string }>(kv.value).id === before!.data.blocks![0]!.id), 'the old block went to GC');
  const current = decodeRecord<{ storageClass: string }>((await meta.get(keys.current(bucket, 'big')))!);
  assert.equal(current.storageClass, 'GLACIER_IR');
});

test('lifecycle - a transition interrupted before its swap leaves the old class readable and is redone', async () => {
  const bucket = await bucketWith([{ id: 't', filter: { form: 'single' }, transitions: [{ days: 1, storageClass: 'GLACIER_IR' }] }]);
  const body = 'y'.repeat(3000);
  await put(bucket, 'obj', body);
  const [before] = await versionsOf(bucket, 'obj');
  clock.ms += 2 * dayMs;
  await assert.rejects(runPass({ transitionHooks: { beforeSwap: () => Promise.reject(new Error('Killed before the swap')) } }), /Killed before the swap/);
  const [mid] = await versionsOf(bucket, 'obj');
  assert.equal(mid!.storageClass, 'STANDARD');
  assert.deepEqual(mid!.data, before!.data);
  assert.equal((await collect(readData(ctx, mid!.data, 0, mid!.size))).toString(), body);
  assert.equal(ctx.blocksInFlight!.size, 0, 'the copy is an orphan the sweep may take');
  await runPass();
  const [done] = await versionsOf(bucket, 'obj');
  assert.equal(done!.storageClass, 'GLACIER_IR');
  assert.equal((await collect(readData(ctx, done!.data, 0, done!.size))).toString(), body);
});

test('lifecycle - a noncurrent transition moves only versions noncurrent long enough', async () => {
  const bucket = await bucketWith([{ id: 'nt', filter: { form: 'single' }, noncurrentTransitions: [{ days: 1, storageClass: 'GLACIER_IR' }] }], 'Enabled');
  await put(bucket, 'k', 'a'.repeat(1000));
  await put(bucket, 'k', 'b'.repeat(1000));
  clock.ms += 2 * dayMs;
  await runPass();
  const [current, old] = await versionsOf(bucket, 'k');
  assert.equal(current!.storageClass, 'STANDARD');
  assert.equal(old!.storageClass, 'GLACIER_IR');
  assert.equal((await collect(readData(ctx, old!.data, 0, old!.size))).toString(), 'a'.repeat(1000));
});

test('lifecycle - expiration in a versioning-suspended bucket replaces the null version with a null delete marker', async () => {
  const bucket = await bucketWith([{ id: 'r', filter: { form: 'single' }, expiration: { days: 1 } }], 'Suspended');
  await put(bucket, 'k');
  clock.ms += 2 * dayMs;
  await runPass();
  const versions = await versionsOf(bucket, 'k');
  assert.deepEqual(versions.map((v) => [v.deleteMarker, v.isNull]), [[true, true]]);
});

test('lifecycle - judges a key whose versions span several scan pages as one key', async () => {
  const bucket = await bucketWith([{ id: 'r', filter: { form: 'single' }, noncurrentExpiration: { days: 1, newerNoncurrentVersions: 5 } }], 'Enabled');
  await put(bucket, 'a');
  for (let i = 0; i < 300; i++) await put(bucket, 'many', `v${i}`);
  await put(bucket, 'z');
  clock.ms += 2 * dayMs;
  await runPass({}, 1);
  assert.deepEqual((await versionsOf(bucket, 'many')).map((v) => v.size), [4, 4, 4, 4, 4, 4]);
  assert.equal((await versionsOf(bucket, 'a')).length, 1);
});

test('lifecycle - an Expiration by days also removes a lone delete marker once it is that old', async () => {
  const bucket = await bucketWith([{ id: 'r', filter: { form: 'single' }, expiration: { days: 3 } }], 'Enabled');
  await put(bucket, 'k');
  const [only] = await versionsOf(bucket, 'k');
  await deleteObject(ctx, { bucket, key: 'k', owner: 'owner' });
  await removeVersionOf(bucket, 'k', only!.versionKey);
  clock.ms += 2 * dayMs;
  await runPass();
  assert.equal((await versionsOf(bucket, 'k')).length, 1, 'the marker is not old enough yet');
  clock.ms += 2 * dayMs;
  await runPass();
  assert.equal((await versionsOf(bucket, 'k')).length, 0);
});

async function removeVersionOf(bucket: string, key: string, versionKey: string): Promise<void> {
  await deleteObject(ctx, { bucket, key, owner: 'owner', versionId: versionKey });
}
