// The multi-lane MD5 addon on every path this CPU has: the digests node:crypto gives, whatever the lengths,
// the split points and the mix of lanes in a call; and bad arguments throw instead of crashing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes, randomInt } from 'node:crypto';
import { loadMd5Lanes, md5LanesMax, type Md5LanesBinding } from './md5-lanes.js';

// Loaded whatever TESSERA_MD5_LANES says, to test every path.
const { binding, path: inUse, reason } = loadMd5Lanes('');
// CI proves the addon is built; elsewhere a machine without cc skips these.
const skip = binding || process.env.CI === 'true' ? false : reason ?? 'the addon did not load';

function lanes(): Md5LanesBinding {
  assert.ok(binding, `The md5_lanes addon did not load: ${reason ?? 'unknown'}`);
  return binding;
}

const md5 = (bytes: Uint8Array) => createHash('md5').update(bytes).digest();

/** Hashes `bodies` in `path`, each cut at random points, the lanes of each call a random subset. */
function hashInPieces(path: string, bodies: Buffer[], pieceBytesMax: number): Buffer[] {
  const contexts = bodies.map(() => lanes().create());
  const offsets = bodies.map(() => 0);
  while (offsets.some((offset, i) => offset < bodies[i]!.length)) {
    const picked: Uint8Array[] = [];
    const inputs: Uint8Array[] = [];
    for (const [i, body] of bodies.entries()) {
      if (randomInt(4) === 0 || picked.length === md5LanesMax) continue; // this lane sits this call out
      const end = Math.min(body.length, offsets[i]! + randomInt(pieceBytesMax + 1));
      picked.push(contexts[i]!);
      inputs.push(body.subarray(offsets[i], end));
      offsets[i] = end;
    }
    if (picked.length > 0) lanes().update(picked, inputs, path);
  }
  return contexts.map((context) => lanes().digest(context));
}

const edgeLengths = [0, 1, 55, 56, 57, 63, 64, 65, 119, 120, 127, 128, 129, 1000, 4096, 3 * 2 ** 20 + 7];

test('md5 lanes - the addon loads and agrees with node:crypto when CI=true, with the scalar path at least', { skip }, () => {
  assert.equal(inUse, lanes().path, reason);
  assert.ok(lanes().paths.includes('scalar'));
  assert.equal(lanes().path, lanes().paths[0]);
});

for (const path of binding?.paths ?? ['scalar']) {
  test(`md5 lanes - ${path}: digests equal node:crypto's for edge lengths, alone and 16 lanes at once`, { skip }, () => {
    const bodies = edgeLengths.map((length) => randomBytes(length));
    for (const body of bodies) {
      const context = lanes().create();
      lanes().update([context], [body], path);
      assert.deepEqual(lanes().digest(context), md5(body), `${body.length} bytes alone`);
    }
    const contexts = bodies.map(() => lanes().create());
    lanes().update(contexts, bodies, path);
    for (const [i, body] of bodies.entries()) assert.deepEqual(lanes().digest(contexts[i]!), md5(body), `${body.length} bytes of 16`);
  });

  test(`md5 lanes - ${path}: digests equal node:crypto's for random split points and unequal lanes`, { skip }, () => {
    for (let round = 0; round < 20; round++) {
      const bodies = Array.from({ length: randomInt(1, md5LanesMax + 4) }, () => randomBytes(randomInt(0, round % 4 === 0 ? 3 * 2 ** 20 : 20_000)));
      const digests = hashInPieces(path, bodies, round % 2 === 0 ? 300 : 200_000);
      for (const [i, body] of bodies.entries()) assert.deepEqual(digests[i], md5(body), `round ${round}, ${body.length} bytes`);
    }
  });
}

test('md5 lanes - update and digest throw TypeError or RangeError on bad arguments', { skip }, () => {
  const { create, update, digest } = lanes();
  const context = create();
  const bytes = randomBytes(100);
  const bad: [string, () => unknown, ErrorConstructor][] = [
    ['no arguments', () => (update as () => void)(), TypeError],
    ['contexts not an array', () => update(context as unknown as Uint8Array[], [bytes]), TypeError],
    ['inputs not an array', () => update([context], bytes as unknown as Uint8Array[]), TypeError],
    ['no contexts', () => update([], []), RangeError],
    ['17 contexts', () => update(Array.from({ length: 17 }, () => create()), Array.from({ length: 17 }, () => bytes)), RangeError],
    ['fewer inputs', () => update([context, create()], [bytes]), RangeError],
    ['a context not a Uint8Array', () => update([{} as Uint8Array], [bytes]), TypeError],
    ['a context of the wrong size', () => update([new Uint8Array(95)], [bytes]), RangeError],
    ['a context create() did not make', () => update([new Uint8Array(context.length)], [bytes]), RangeError],
    ['a context with a tail of 64', () => update([Buffer.from(context).fill(64, 88, 89)], [bytes]), RangeError],
    ['one context twice', () => update([context, context], [bytes, bytes]), RangeError],
    ['a context inside an input', () => update([context], [new Uint8Array(context.buffer, context.byteOffset, 96)]), RangeError],
    ['an input not a Uint8Array', () => update([context], [new Uint16Array(4) as unknown as Uint8Array]), TypeError],
    ['a path not a string', () => update([context], [bytes], 1 as unknown as string), TypeError],
    ['an unknown path', () => update([context], [bytes], 'sse9'), RangeError],
    ['digest of nothing', () => (digest as unknown as () => void)(), TypeError],
    ['digest of a number', () => digest(3 as unknown as Uint8Array), TypeError],
    ['digest of a stranger', () => digest(new Uint8Array(96)), RangeError],
  ];
  for (const [what, call, kind] of bad) assert.throws(call, kind, what);
  // After every refusal the context is unharmed.
  update([context], [bytes]);
  assert.deepEqual(digest(context), md5(bytes));
});
