// Random bytes for ids (block ids, version keys, tmp file names) from a pooled buffer: one CSPRNG call per
// few hundred ids instead of one per id, which cost three randomBytes calls on every PUT (issue 17).
import { randomFillSync } from 'node:crypto';
import { assert } from './assert.js';

const poolBytes = 4096;
const takeBytesMax = 256;
const pool = Buffer.allocUnsafe(poolBytes);
let poolAt = poolBytes;

/** The pool offset of `count` fresh random bytes; each byte is handed out once. */
function take(count: number): number {
  if (!(Number.isSafeInteger(count) && count > 0 && count <= takeBytesMax)) assert(false, `Invalid random byte count "${count}"`);
  if (poolAt + count > poolBytes) {
    randomFillSync(pool);
    poolAt = 0;
  }
  const at = poolAt;
  poolAt += count;
  return at;
}

/** Writes `count` random bytes into `target` at `offset` (count at most 256). */
export function randomFill(target: Buffer, offset: number, count: number): void {
  const at = take(count);
  pool.copy(target, offset, at, at + count);
}

/** `count` random bytes as lowercase hex (count at most 256). */
export function randomHex(count: number): string {
  const at = take(count);
  return pool.toString('hex', at, at + count);
}
