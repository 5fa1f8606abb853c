import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { describe, test } from 'node:test';
import { allocStripe, chunkOf, codecById, codecFor, type Codec, type StripeBuffers } from './index.js';

const rsSettings = [
  [2, 1],
  [4, 2],
  [8, 3],
] as const;

/** Every way to choose `size` of 0..n-1, in lexicographic order. */
function subsets(n: number, size: number): number[][] {
  if (size === 0) return [[]];
  const out: number[][] = [];
  for (let first = 0; first <= n - size; first++) {
    for (const rest of subsets(n - first - 1, size - 1)) out.push([first, ...rest.map((r) => r + first + 1)]);
  }
  return out;
}

function copyStripe(stripe: StripeBuffers): StripeBuffers {
  return { data: Buffer.from(stripe.data), parity: Buffer.from(stripe.parity), chunkBytes: stripe.chunkBytes };
}

async function encodedRandomStripe(codec: Codec, chunkBytes: number): Promise<StripeBuffers> {
  const stripe = allocStripe(codec, chunkBytes);
  randomBytes(stripe.data.length).copy(stripe.data);
  await codec.encode(stripe);
  return stripe;
}

describe('RonomonRsCodec', () => {
  test('encode - parity matches the known answer for a fixed input', async () => {
    // Pins the parity bytes of codec "rs-ronomon-v1": if these change, stored blocks become unreadable.
    const expected: Record<string, string> = {
      '2+1': '5f70bf18a086007016e948b04aed3b82103a36bea41755b6cddfaf10ace3c6ef',
      '4+2': '97d05115fadda354c5a28ecab127d67bad2c3fa77dbebfe8d6d24e2d74ea5994',
      '8+3': 'f88022a6ec4f28a34e20821b5ee613dac5368c645f2d6687db674871c6597df1',
    };
    for (const [k, m] of rsSettings) {
      const codec = codecFor({ kind: 'rs', data: k, parity: m });
      assert.equal(codec.id, 'rs-ronomon-v1');
      const stripe = allocStripe(codec, 1024);
      for (let i = 0; i < stripe.data.length; i++) stripe.data[i] = (i * 31 + 7) & 255;
      await codec.encode(stripe);
      assert.equal(createHash('sha256').update(stripe.parity).digest('hex'), expected[`${k}+${m}`], `${k}+${m}`);
    }
  });

  test('encode - systematic: data chunks are left as they were', async () => {
    const codec = codecFor({ kind: 'rs', data: 4, parity: 2 });
    const stripe = allocStripe(codec, 4096);
    randomBytes(stripe.data.length).copy(stripe.data);
    const before = Buffer.from(stripe.data);
    await codec.encode(stripe);
    assert.deepEqual(stripe.data, before);
    assert.notDeepEqual(stripe.parity, Buffer.alloc(stripe.parity.length));
  });

  for (const [k, m] of rsSettings) {
    test(`reconstruct - every ${k} of ${k + m} shards rebuild the exact bytes (${k}+${m})`, async () => {
      const codec = codecFor({ kind: 'rs', data: k, parity: m });
      for (const chunkBytes of [8, 1024, 8 * 1111]) {
        const original = await encodedRandomStripe(codec, chunkBytes);
        for (const present of subsets(k + m, k)) {
          const damaged = copyStripe(original);
          const missing = Array.from({ length: k + m }, (_, i) => i).filter((i) => !present.includes(i));
          for (const i of missing) randomBytes(chunkBytes).copy(chunkOf(damaged, k, i));
          await codec.reconstruct(damaged, present, missing);
          assert.deepEqual(damaged.data, original.data, `present ${present.join(',')} chunk ${chunkBytes}`);
          assert.deepEqual(damaged.parity, original.parity, `present ${present.join(',')} chunk ${chunkBytes}`);
        }
      }
    });
  }

  test('encode - runs off the event loop (the loop keeps turning while it works)', async () => {
    const codec = codecFor({ kind: 'rs', data: 8, parity: 3 });
    const stripe = allocStripe(codec, 4 * 1024 * 1024);
    let turns = 0;
    let running = true;
    const spin = () => {
      turns++;
      if (running) setImmediate(spin);
    };
    setImmediate(spin);
    await codec.encode(stripe);
    running = false;
    assert.ok(turns > 0, 'a synchronous encoder would finish before any setImmediate callback');
  });
});

describe('ReplicationCodec', () => {
  test('encode and reconstruct - copies are exact and any one rebuilds the rest', async () => {
    const codec = codecFor({ kind: 'replicate', copies: 3 });
    assert.equal(codec.id, 'rep-v1');
    const original = await encodedRandomStripe(codec, 999);
    for (let i = 1; i < 3; i++) assert.deepEqual(chunkOf(original, 1, i), original.data);
    for (const source of [0, 1, 2]) {
      const damaged = copyStripe(original);
      const missing = [0, 1, 2].filter((i) => i !== source);
      for (const i of missing) chunkOf(damaged, 1, i).fill(0);
      await codec.reconstruct(damaged, [source], missing);
      assert.deepEqual(damaged, original);
    }
  });
});

describe('codecById', () => {
  test('codecById - RangeError for an unknown codec id or a mismatched redundancy', () => {
    assert.throws(() => codecById('rs-isal-v9', { kind: 'rs', data: 4, parity: 2 }), RangeError);
    assert.throws(() => codecById('rep-v1', { kind: 'rs', data: 4, parity: 2 }), RangeError);
    assert.equal(codecById('rs-ronomon-v1', { kind: 'rs', data: 4, parity: 2 }).dataShards, 4);
  });
});
