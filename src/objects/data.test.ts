// ingest's hold on a request body: whatever fails, the body is read no further, so the HTTP layer can drain it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { ingest } from './data.js';
import type { ObjectContext } from './context.js';
import type { BlockStore } from '../blocks/types.js';
import { ReadableSource, type ChunkSource } from '../util/chunk-source.js';

test('ingest - lets go of a sealed request body when its block write fails', async () => {
  const request = new Readable({ read: () => undefined });
  // A block store that starts reading, then fails as writeBlock does: it cancels the source it was given.
  const blocks = {
    newId: () => 'a'.repeat(32),
    write: async (source: ChunkSource) => {
      while (source.take() === undefined && request.listenerCount('data') === 0) await new Promise((r) => setImmediate(r));
      const err = new Error('the drives went away');
      source.cancel(err);
      throw err;
    },
  } as unknown as BlockStore;
  const ctx = { blocks, inlineBytesMax: 0 } as unknown as ObjectContext;
  const seal = { dataKey: Buffer.alloc(32, 7), partNumber: 0, chunkBytes: 64 * 1024 };
  await assert.rejects(ingest(ctx, new ReadableSource(request), { size: 1024 * 1024, seal }), /drives went away/);
  // Still attached, the reader would take what the HTTP layer means to drain, and keep the stream paused.
  assert.equal(request.listenerCount('data'), 0);
  assert.equal(request.destroyed, false);
});
