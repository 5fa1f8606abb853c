// Picks the codec for a redundancy setting on write, and for a recorded codec id on read.
import type { Redundancy } from '../types.js';
import type { Codec } from './codec.js';
import { ReplicationCodec, repCodecId } from './rep.js';
import { RonomonRsCodec, rsRonomonCodecId } from './rs-ronomon.js';

export { chunkOf, allocStripe, resizeStripe, type Codec, type StripeBuffers } from './codec.js';
export { repCodecId, rsRonomonCodecId };

/** The codec new writes use for `redundancy`. */
export function codecFor(redundancy: Redundancy): Codec {
  return redundancy.kind === 'replicate'
    ? new ReplicationCodec(redundancy.copies)
    : new RonomonRsCodec(redundancy.data, redundancy.parity);
}

/** The codec that wrote a block; unknown ids are refused rather than guessed. */
export function codecById(id: string, redundancy: Redundancy): Codec {
  if (id === repCodecId && redundancy.kind === 'replicate') return new ReplicationCodec(redundancy.copies);
  if (id === rsRonomonCodecId && redundancy.kind === 'rs') return new RonomonRsCodec(redundancy.data, redundancy.parity);
  throw new RangeError(`Cannot read a block with codec "${id}" and redundancy "${JSON.stringify(redundancy)}"`);
}
