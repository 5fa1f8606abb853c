// Replication as a codec: k = 1 data chunk and copies − 1 "parity" chunks that are plain copies.
// Modelling it as a codec lets one stripe engine serve both, including degraded reads and heal.
import { assert } from '../../util/assert.js';
import { chunkOf, type Codec, type StripeBuffers } from './codec.js';

export const repCodecId = 'rep-v1';

export class ReplicationCodec implements Codec {
  readonly id = repCodecId;
  readonly dataShards = 1;
  readonly parityShards: number;
  readonly chunkAlignBytes = 1;

  constructor(copies: number) {
    assert(Number.isInteger(copies) && copies >= 1, `Invalid copy count "${copies}"`);
    this.parityShards = copies - 1;
  }

  async encode(stripe: StripeBuffers): Promise<void> {
    const data = chunkOf(stripe, 1, 0);
    for (let i = 1; i <= this.parityShards; i++) data.copy(chunkOf(stripe, 1, i));
  }

  async reconstruct(stripe: StripeBuffers, present: readonly number[], missing: readonly number[]): Promise<void> {
    const source = present[0];
    assert(source !== undefined, 'Replication rebuild needs one present copy');
    const from = chunkOf(stripe, 1, source);
    for (const index of missing) if (index !== source) from.copy(chunkOf(stripe, 1, index));
  }
}
