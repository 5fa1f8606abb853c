// Stripe geometry: how a block's logical bytes map onto stripes, chunks and shard offsets. Every
// stripe but the last uses full chunks; the last uses the smallest aligned chunk that holds its bytes.
import { assert } from '../util/assert.js';

export interface StripeLayout {
  size: number;
  dataShards: number;
  /** Chunk bytes of a full stripe; stripeBytes = dataShards × chunkBytes. */
  chunkBytes: number;
  stripeBytes: number;
  alignBytes: number;
  stripeCount: number;
}

/** Chunk bytes for a stripe aimed at `targetBytes`: ceil(target / k) rounded up to the alignment. */
export function fullChunkBytes(targetBytes: number, dataShards: number, alignBytes: number): number {
  return alignUp(Math.ceil(targetBytes / dataShards), alignBytes);
}

export function stripeLayout(options: { size: number; dataShards: number; stripeBytes: number; alignBytes: number }): StripeLayout {
  const { size, dataShards, stripeBytes, alignBytes } = options;
  assert(Number.isSafeInteger(size) && size >= 0, `Invalid block size "${size}"`);
  assert(stripeBytes > 0 && stripeBytes % dataShards === 0, `Stripe of ${stripeBytes} bytes does not split into ${dataShards} chunks`);
  const chunkBytes = stripeBytes / dataShards;
  assert(chunkBytes % alignBytes === 0, `Chunk of ${chunkBytes} bytes is not aligned to ${alignBytes}`);
  return { size, dataShards, chunkBytes, stripeBytes, alignBytes, stripeCount: Math.ceil(size / stripeBytes) };
}

/** Chunk bytes of stripe `stripe`; the last stripe is shortened but still aligned (zero padded). */
export function chunkBytesOf(layout: StripeLayout, stripe: number): number {
  assert(stripe >= 0 && stripe < layout.stripeCount, `Stripe ${stripe} out of range`);
  if (stripe < layout.stripeCount - 1) return layout.chunkBytes;
  const lastBytes = layout.size - stripe * layout.stripeBytes;
  return alignUp(Math.ceil(lastBytes / layout.dataShards), layout.alignBytes);
}

/** Logical bytes in every shard file of the block. */
export function shardBytesOf(layout: StripeLayout): number {
  if (layout.stripeCount === 0) return 0;
  return (layout.stripeCount - 1) * layout.chunkBytes + chunkBytesOf(layout, layout.stripeCount - 1);
}

/** A piece of a logical range held by one data chunk of one stripe. */
export interface ChunkPiece {
  shardIndex: number;
  /** Offset within the stripe's chunk. */
  chunkStart: number;
  chunkEnd: number;
}

/** The data-chunk pieces of `stripe` that hold logical bytes [start, end), in logical order. */
export function piecesOf(layout: StripeLayout, stripe: number, start: number, end: number): ChunkPiece[] {
  const chunk = chunkBytesOf(layout, stripe);
  const stripeStart = stripe * layout.stripeBytes;
  const pieces: ChunkPiece[] = [];
  for (let j = 0; j < layout.dataShards; j++) {
    const from = Math.max(start, stripeStart + j * chunk);
    const to = Math.min(end, stripeStart + (j + 1) * chunk, layout.size);
    if (from < to) pieces.push({ shardIndex: j, chunkStart: from - stripeStart - j * chunk, chunkEnd: to - stripeStart - j * chunk });
  }
  return pieces;
}

export function alignUp(value: number, alignBytes: number): number {
  return Math.ceil(value / alignBytes) * alignBytes;
}
