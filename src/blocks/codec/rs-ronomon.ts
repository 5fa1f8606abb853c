// Reed-Solomon through @ronomon/reed-solomon: a systematic Cauchy RS code, applied as an XOR bitmatrix
// over GF(2^w) with w ∈ {2,4,8} picked per (k,m) by the library (w = 4 for 4+2 and 8+3). Its parity
// bytes are specific to that construction, so they are pinned by the codec id and a known-answer test.
import { createRequire } from 'node:module';
import { assert } from '../../util/assert.js';
import type { Codec, StripeBuffers } from './codec.js';

export const rsRonomonCodecId = 'rs-ronomon-v1';

type Callback = (error: Error | undefined) => void;
interface RonomonBinding {
  MAX_K: number;
  MAX_M: number;
  create(k: number, m: number): Buffer;
  encode(
    context: Buffer, sources: number, targets: number,
    buffer: Buffer, bufferOffset: number, bufferSize: number,
    parity: Buffer, parityOffset: number, paritySize: number,
    callback: Callback,
  ): void;
}

const ronomon = createRequire(import.meta.url)('@ronomon/reed-solomon') as RonomonBinding;

/** Encoding contexts are immutable and reusable concurrently, so one per (k,m) is cached. */
const contexts = new Map<string, Buffer>();

export class RonomonRsCodec implements Codec {
  readonly id = rsRonomonCodecId;
  readonly chunkAlignBytes = 8; // the library requires shard sizes in multiples of 8
  private readonly context: Buffer;

  constructor(readonly dataShards: number, readonly parityShards: number) {
    assert(Number.isInteger(dataShards) && dataShards >= 1 && dataShards <= ronomon.MAX_K, `Invalid data shard count "${dataShards}"`);
    assert(Number.isInteger(parityShards) && parityShards >= 1 && parityShards <= ronomon.MAX_M, `Invalid parity shard count "${parityShards}"`);
    const key = `${dataShards}+${parityShards}`;
    let context = contexts.get(key);
    if (!context) {
      context = ronomon.create(dataShards, parityShards);
      contexts.set(key, context);
    }
    this.context = context;
  }

  encode(stripe: StripeBuffers): Promise<void> {
    const sources = bits(0, this.dataShards);
    const targets = bits(this.dataShards, this.dataShards + this.parityShards);
    return this.run(stripe, sources, targets);
  }

  reconstruct(stripe: StripeBuffers, present: readonly number[], missing: readonly number[]): Promise<void> {
    assert(present.length >= this.dataShards, 'Reed-Solomon rebuild needs k present chunks');
    if (missing.length === 0) return Promise.resolve();
    return this.run(stripe, maskOf(present), maskOf(missing));
  }

  /** Runs on the libuv threadpool; the buffers must stay untouched until it settles. */
  private run(stripe: StripeBuffers, sources: number, targets: number): Promise<void> {
    const { data, parity, chunkBytes } = stripe;
    assert(chunkBytes % this.chunkAlignBytes === 0 && chunkBytes > 0, `Chunk of ${chunkBytes} bytes is not aligned`);
    assert(data.length === chunkBytes * this.dataShards && parity.length === chunkBytes * this.parityShards, 'Stripe buffers have the wrong size');
    return new Promise((resolve, reject) => {
      ronomon.encode(this.context, sources, targets, data, 0, data.length, parity, 0, parity.length, (error) => {
        if (error) reject(error);
        else resolve();
      });
    });
  }
}

function bits(from: number, to: number): number {
  let mask = 0;
  for (let i = from; i < to; i++) mask |= 1 << i;
  return mask;
}

function maskOf(indices: readonly number[]): number {
  let mask = 0;
  for (const i of indices) mask |= 1 << i;
  return mask;
}
