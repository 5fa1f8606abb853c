// How long a completed upload's answer is kept for a retried CompleteMultipartUpload (issue 10): replayed
// within completedUploadRetentionMs, NoSuchUpload after it, and the GC step deletes the expired record.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteMetaStore } from '../meta/sqlite/sqlite-store.js';
import { tempStore } from '../blocks/test-helpers.js';
import { createBucket } from './buckets.js';
import { completeUpload, createUpload, uploadPart } from './multipart.js';
import { gcStep } from './gc.js';
import { keys } from './keys.js';
import { ObjectError } from './errors.js';
import type { ObjectContext } from './context.js';
import { completedUploadRetentionMs } from '../constants.js';

const dir = await mkdtemp(join(tmpdir(), 'tessera-completed-'));
const meta = await SqliteMetaStore.open(join(dir, 'meta.db'));
const blocks = await tempStore(1);
let nowMs = Date.UTC(2026, 0, 1);
const ctx: ObjectContext = { meta, blocks: blocks.store, nowMs: () => nowMs, gcDelayMs: 0, inlineBytesMax: 0, region: 'us-east-1' };
after(async () => {
  await meta.close();
  await blocks.close();
  await rm(dir, { recursive: true, force: true });
});

async function* bodyOf(text: string): AsyncGenerator<Buffer> {
  yield Buffer.from(text);
}

test('completeUpload - a retry replays the answer until the retention ends, then is NoSuchUpload and the record is swept', async () => {
  await createBucket(ctx, 'bucket', 'owner');
  const upload = await createUpload(ctx, { bucket: 'bucket', key: 'k', owner: 'owner', headers: {}, storageClass: 'STANDARD' });
  const params = { bucket: 'bucket', key: 'k', uploadId: upload.uploadId };
  const part = await uploadPart(ctx, { ...params, partNumber: 1, body: bodyOf('data'), size: 4 });
  const complete = () => completeUpload(ctx, { ...params, parts: [{ partNumber: 1, etag: part.etag, checksums: {} }], conditions: {} });
  const first = await complete();
  nowMs += completedUploadRetentionMs - 1;
  const again = await complete();
  assert.deepEqual([again.etag, again.versionKey, again.isNull], [first.etag, first.versionKey, first.isNull]);
  await gcStep(ctx);
  assert.ok(await meta.get(keys.completed(upload.uploadId)), 'swept before it expired');
  nowMs += 1;
  await assert.rejects(complete(), (err: unknown) => err instanceof ObjectError && err.code === 'NoSuchUpload');
  await gcStep(ctx);
  assert.equal(await meta.get(keys.completed(upload.uploadId)), null);
  assert.deepEqual(await meta.scan({ ...keys.completedDueRange(nowMs + completedUploadRetentionMs), limit: 10 }), []);
});
