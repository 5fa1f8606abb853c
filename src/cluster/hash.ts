// Stable 32-bit hashing for the layout: block id → partition, and the tie-breaks and shuffles that
// make a layout computation deterministic. Integer arithmetic only, so every process agrees.

/** FNV-1a over the UTF-16 code units, then murmur3's finalizer so the top bits mix well. */
export function hash32(text: string, seed = 0): number {
  let h = (0x811c9dc5 ^ seed) >>> 0;
  for (let i = 0; i < text.length; i++) {
    h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  }
  return mix32(h);
}

/** murmur3's fmix32: every input bit affects every output bit. */
export function mix32(value: number): number {
  let h = value >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/** Hash of a few small integers, for ranking slots and targets without building strings. */
export function hashInts(a: number, b: number, c = 0): number {
  return mix32(Math.imul(mix32(a ^ 0x9e3779b9) ^ b, 0x27d4eb2f) ^ mix32(c + 0x165667b1));
}

/** The partition of a block: the top bits of the id's hash, so a count that doubles would split partitions in two. */
export function partitionOfId(blockId: string, partitionCount: number): number {
  const bits = 31 - Math.clz32(partitionCount);
  return bits === 0 ? 0 : hash32(blockId) >>> (32 - bits);
}

/** A small deterministic generator (mulberry32) for shuffles. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

/** Fisher–Yates in place with a seeded generator. */
export function shuffleInPlace<T>(items: T[], seed: number): void {
  const random = seededRandom(seed);
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    const swap = items[i] as T;
    items[i] = items[j] as T;
    items[j] = swap;
  }
}
