// writeBlock's hand-over to the shard writers: which append is the last (a writer may finish its file then).
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { writeBlock } from './block-writer.js';
import { codecFor } from './codec/index.js';
import { newBlockId } from './ids.js';
import type { ShardStore, ShardWriteStream } from './shard-store.js';
import { piecesOf } from './test-helpers.js';
import { Readable } from 'node:stream';
import { ReadableSource } from '../util/chunk-source.js';
import { isStoreError } from '../util/errors.js';

/** A store that records, per shard, the length and `last` flag of every append, and keeps nothing. */
function recordingStore(log: Map<number, string[]>): ShardStore {
  const createShard = async (shard: { shardIndex: number }): Promise<ShardWriteStream> => {
    const appends: string[] = [];
    log.set(shard.shardIndex, appends);
    return {
      append: async (data, options) => void appends.push(`${data.length}${options?.last ? ' last' : ''}`),
      commit: async () => void appends.push('commit'),
      abort: async () => undefined,
    };
  };
  return { createShard } as unknown as ShardStore;
}

async function appendsOf(bodyBytes: number, stripeBytes: number): Promise<string[]> {
  const log = new Map<number, string[]>();
  const codec = codecFor({ kind: 'replicate', copies: 1 });
  const plan = { blockId: newBlockId(), codec, stripeBytes, targets: [{ target: 't', store: recordingStore(log) }], quorum: 1 };
  const { size } = await writeBlock(plan, piecesOf(randomBytes(bodyBytes), 1000));
  assert.equal(size, bodyBytes);
  return log.get(0)!;
}

test('writeBlock - the last append says so when the block is whole stripes', async () => {
  assert.deepEqual(await appendsOf(4096, 4096), ['4096 last', 'commit']);
  assert.deepEqual(await appendsOf(8192, 4096), ['4096', '4096 last', 'commit']);
});

test('writeBlock - the last append says so when the block ends in a partial stripe', async () => {
  assert.deepEqual(await appendsOf(5000, 4096), ['4096', '904 last', 'commit']);
});

test('writeBlock - an abort while the body is idle rejects at once and lets go of the body', async () => {
  const log = new Map<number, string[]>();
  const codec = codecFor({ kind: 'replicate', copies: 1 });
  const controller = new AbortController();
  const readable = new Readable({ read: () => undefined });
  const body = new ReadableSource(readable);
  const plan = { blockId: newBlockId(), codec, stripeBytes: 4096, targets: [{ target: 't', store: recordingStore(log) }], quorum: 1, signal: controller.signal };
  const writing = writeBlock(plan, body);
  readable.push(Buffer.alloc(100)); // then the client stalls
  await new Promise((r) => setTimeout(r, 10));
  controller.abort();
  await assert.rejects(writing, (err) => isStoreError(err) && err.code === 'ERR_ABORTED');
  assert.equal(readable.listenerCount('data'), 0, 'the body is still read after the write gave up');
  assert.equal(readable.destroyed, false);
});
