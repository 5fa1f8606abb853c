// Conditional PutObject against a key overwritten between the reads of its head and its latest version
// (another gateway's commit landing in between): the condition is judged on the object that is there,
// never on a version the overwrite already deleted.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteMetaStore } from '../meta/sqlite/sqlite-store.js';
import type { MetaStore } from '../meta/types.js';
import { tempStore } from '../blocks/test-helpers.js';
import { createBucket } from './buckets.js';
import { putObject, type PutParams } from './put-object.js';
import { keys } from './keys.js';
import { ObjectError } from './errors.js';
import type { ObjectContext } from './context.js';

const dir = await mkdtemp(join(tmpdir(), 'tessera-put-race-'));
const meta = await SqliteMetaStore.open(join(dir, 'meta.db'));
const blocks = await tempStore(1);
const ctx: ObjectContext = { meta, blocks: blocks.store, nowMs: () => Date.now(), gcDelayMs: 0, inlineBytesMax: 1024, region: 'us-east-1' };
after(async () => {
  await meta.close();
  await blocks.close();
  await rm(dir, { recursive: true, force: true });
});

async function* bodyOf(text: string): AsyncGenerator<Buffer> {
  yield Buffer.from(text);
}
const put = (c: ObjectContext, text: string, conditions: Partial<PutParams> = {}) =>
  putObject(c, { bucket: 'race', key: 'k', owner: 'owner', headers: {}, storageClass: 'STANDARD', body: bodyOf(text), size: text.length, ...conditions });

/**
 * A MetaStore whose readMany answers its gets, then (once, when they include the key's head) runs
 * `between`, then answers its scans: a backend whose batch is not one snapshot, with another gateway's
 * commit landing in the middle.
 */
function overwriteAfterHeadRead(between: () => Promise<unknown>): MetaStore {
  const head = keys.head('race', 'k');
  let armed = true;
  return {
    get: (key, options) => meta.get(key, options),
    async readMany(batch) {
      const values = await Promise.all(batch.gets.map((key) => meta.get(key)));
      if (armed && batch.gets.some((key) => key.equals(head))) {
        armed = false;
        await between();
      }
      const scans = await Promise.all(batch.scans.map((range) => meta.scan(range)));
      return { values, scans };
    },
    scan: (range) => meta.scan(range),
    commit: (txn) => meta.commit(txn),
    close: async () => undefined,
  };
}

test('putObject - If-Match racing an overwrite between the head and version reads fails with PreconditionFailed, not NoSuchKey', async () => {
  await createBucket(ctx, 'race', 'owner');
  const first = await put(ctx, 'first');
  const racing: ObjectContext = { ...ctx, meta: overwriteAfterHeadRead(() => put(ctx, 'second')) };
  await assert.rejects(put(racing, 'third', { ifMatch: first.etag }), (err: unknown) => err instanceof ObjectError && err.code === 'PreconditionFailed');
});

test('putObject - If-None-Match "*" racing an overwrite between the reads fails with PreconditionFailed', async () => {
  const racing: ObjectContext = { ...ctx, meta: overwriteAfterHeadRead(() => put(ctx, 'fourth')) };
  await assert.rejects(put(racing, 'fifth', { ifNoneMatch: '*' }), (err: unknown) => err instanceof ObjectError && err.code === 'PreconditionFailed');
});
