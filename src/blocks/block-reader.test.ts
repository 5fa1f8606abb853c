// The block reader's use of readInOrder: a read of several stripes asks each shard for its whole part of
// the range once (one streamed request for a remote store), and a one-stripe read reads plainly.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { readBlock, type ShardSource } from './block-reader.js';
import { codecFor } from './codec/index.js';
import type { ShardRangeReader, ShardReadHandle, ShardStore } from './shard-store.js';
import { chunkBytesOf, shardBytesOf, stripeLayout, type StripeLayout } from './stripe-layout.js';

/** The bytes data shard `j` holds for `data` under `layout`. */
function dataShard(data: Buffer, layout: StripeLayout, j: number): Buffer {
  const parts: Buffer[] = [];
  for (let s = 0; s < layout.stripeCount; s++) {
    const chunk = chunkBytesOf(layout, s);
    const from = Math.min(data.length, s * layout.stripeBytes + j * chunk);
    const part = data.subarray(from, Math.min(data.length, from + chunk));
    parts.push(part, Buffer.alloc(chunk - part.length));
  }
  return Buffer.concat(parts);
}

interface Calls {
  plain: number;
  inOrder: [number, number][];
}

function fakeSource(shard: Buffer, calls: Calls): ShardSource {
  const handle: ShardReadHandle = {
    readPieces: async (start, end) => {
      calls.plain++;
      return [shard.subarray(start, end)];
    },
    readPooled: async (start, end) => {
      calls.plain++;
      return { pieces: [shard.subarray(start, end)], buffer: Buffer.alloc(0) };
    },
    readInOrder: (start, end): ShardRangeReader => {
      calls.inOrder.push([start, end]);
      let next = start;
      return {
        read: async (from, to) => {
          assert.equal(from, next, 'reads come in order');
          assert.ok(to <= end, 'reads stay inside the range');
          next = to;
          return [shard.subarray(from, to)];
        },
        close: () => undefined,
      };
    },
    close: async () => undefined,
  };
  const store = { key: 'fake', openShard: async () => handle } as unknown as ShardStore;
  return { target: 'fake', store };
}

async function readWith(data: Buffer, start: number, end: number) {
  const codec = codecFor({ kind: 'rs', data: 4, parity: 2 });
  const layout = stripeLayout({ size: data.length, dataShards: 4, stripeBytes: 4 * 4096, alignBytes: codec.chunkAlignBytes });
  const calls = Array.from({ length: 6 }, (): Calls => ({ plain: 0, inOrder: [] }));
  const sources = calls.map((c, j) => fakeSource(j < 4 ? dataShard(data, layout, j) : Buffer.alloc(shardBytesOf(layout)), c));
  const plan = { blockId: 'b'.repeat(32), codec, layout, sources, onDamage: () => assert.fail('no damage expected') };
  const got: Buffer[] = [];
  for await (const piece of readBlock(plan, start, end)) got.push(piece);
  return { got: Buffer.concat(got), calls, layout };
}

test('readBlock - a read of several stripes asks each data shard for its range once, in order', async () => {
  const data = randomBytes(5 * 4 * 4096 + 3000);
  const whole = await readWith(data, 0, data.length);
  assert.deepEqual(whole.got, data);
  // The last stripe holds 3000 bytes in 4 chunks of 752: shard 3 has 744 of its chunk's.
  const last = chunkBytesOf(whole.layout, 5);
  const ends = [0, 1, 2, 3].map((j) => 5 * 4096 + Math.min(last, 3000 - j * last));
  assert.deepEqual(whole.calls.map((c) => c.inOrder), [...ends.map((e) => [[0, e]]), [], []]);
  assert.deepEqual(whole.calls.map((c) => c.plain), [0, 0, 0, 0, 0, 0]);

  const start = 4 * 4096 + 100;
  const end = 3 * 4 * 4096 + 50;
  const part = await readWith(data, start, end);
  assert.deepEqual(part.got, data.subarray(start, end));
  assert.deepEqual(part.calls[0]!.inOrder, [[4096 + 100, 3 * 4096 + 50]]);
  assert.deepEqual(part.calls[1]!.inOrder, [[4096, 3 * 4096]]);
  assert.equal(part.calls[4]!.inOrder.length + part.calls[4]!.plain, 0, 'parity is not read');
});

test('readBlock - a read within one stripe reads each shard plainly', async () => {
  const data = randomBytes(5 * 4 * 4096);
  const one = await readWith(data, 4096 + 10, 3 * 4096);
  assert.deepEqual(one.got, data.subarray(4096 + 10, 3 * 4096));
  assert.deepEqual(one.calls.map((c) => c.inOrder.length), [0, 0, 0, 0, 0, 0]);
  assert.deepEqual(one.calls.map((c) => c.plain), [0, 1, 1, 0, 0, 0]);
});
