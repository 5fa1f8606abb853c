// The two AES-256-GCM run implementations: the same bytes for any key, part, index and size, each opening the
// other's, the same refusal of a flipped bit; and the native addon throws on bad arguments instead of crashing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes, randomInt } from 'node:crypto';
import { gcmChunks, loadNativeGcmChunks, nodeGcmChunks, type GcmChunks, type GcmRun } from './gcm-chunks.js';

const tagBytes = 16;
const off = process.env.TESSERA_NATIVE_CIPHER === 'off';
// Loaded here whatever TESSERA_NATIVE_CIPHER says, to compare it with node:crypto.
const { native: nativeGcmChunks, binding: nativeBinding, libcrypto, reason } = loadNativeGcmChunks();
// CI proves the addon is built; elsewhere a machine without cc or libssl-dev skips these.
const nativeSkip = nativeGcmChunks || process.env.CI === 'true' ? false : reason ?? 'the native addon did not load';

function native(): GcmChunks {
  assert.ok(nativeGcmChunks, `The native addon is not in use: ${reason ?? 'unknown'}`);
  return nativeGcmChunks;
}

function sealWith(impl: GcmChunks, run: Omit<GcmRun, 'input' | 'out'>, plain: Buffer): Buffer {
  const out = Buffer.alloc(plain.length + Math.ceil(plain.length / run.chunkBytes) * tagBytes);
  assert.equal(impl.seal({ ...run, input: plain, out }), out.length);
  return out;
}

function openWith(impl: GcmChunks, run: Omit<GcmRun, 'input' | 'out'>, sealed: Buffer): { opened: number; out: Buffer } {
  const out = Buffer.alloc(Math.max(0, sealed.length - Math.ceil(sealed.length / (run.chunkBytes + tagBytes)) * tagBytes));
  return { opened: impl.open({ ...run, input: sealed, out }), out };
}

test('gcm chunks - the native addon loads when CI=true, and is the cipher in use unless TESSERA_NATIVE_CIPHER=off', { skip: nativeSkip }, () => {
  native();
  assert.equal(gcmChunks.name, off ? 'node:crypto' : 'native');
});

test('gcm chunks - the addon\'s EVP calls run in the system libcrypto, not in the OpenSSL Node exports', { skip: nativeSkip || (process.platform !== 'linux' && 'Linux only') }, () => {
  native();
  assert.match(libcrypto ?? '', /\/libcrypto\.so/);
});

test('gcm chunks - native and node:crypto seal the same bytes and open each other\'s for random keys, parts, indexes and sizes', { skip: nativeSkip }, () => {
  for (let round = 0; round < 200; round++) {
    const chunkBytes = [1, 16, 17, 1000, 65536][round % 5]!;
    const run = { dataKey: randomBytes(32), partNumber: randomInt(2 ** 32), firstIndex: round % 7 === 0 ? 2 ** 53 - 200 : randomInt(2 ** 40), chunkBytes };
    const plain = randomBytes(randomInt(Math.min(4 * chunkBytes + 3, 300_000)));
    const fromNative = sealWith(native(), run, plain);
    const fromNode = sealWith(nodeGcmChunks, run, plain);
    assert.ok(fromNative.equals(fromNode), `round ${round}: ${plain.length} bytes in chunks of ${chunkBytes}`);
    for (const [impl, sealed] of [[native(), fromNode], [nodeGcmChunks, fromNative]] as const) {
      const { opened, out } = openWith(impl, run, sealed);
      assert.equal(opened, plain.length);
      assert.ok(out.equals(plain));
    }
  }
});

test('gcm chunks - a flipped ciphertext or tag bit fails that chunk only, its bytes zeroed, in both implementations', { skip: nativeSkip }, () => {
  const run = { dataKey: randomBytes(32), partNumber: 2, firstIndex: 10, chunkBytes: 1000 };
  const plain = randomBytes(3500);
  const sealed = sealWith(nodeGcmChunks, run, plain);
  // chunk 1's ciphertext, chunk 2's tag, the last (short) chunk's first byte and its tag's last.
  for (const [at, chunk] of [[1016 + 500, 1], [2 * 1016 + 1000 + 3, 2], [3 * 1016, 3], [sealed.length - 1, 3]] as const) {
    const flipped = Buffer.from(sealed);
    flipped[at]! ^= 0x20;
    for (const impl of [native(), nodeGcmChunks]) {
      const { opened, out } = openWith(impl, run, flipped);
      assert.equal(opened, -1 - chunk, `${impl.name}, byte ${at}`);
      assert.ok(out.subarray(0, chunk * 1000).equals(plain.subarray(0, chunk * 1000)), 'the chunks before it are opened');
      assert.ok(out.subarray(chunk * 1000, Math.min(plain.length, (chunk + 1) * 1000)).every((b) => b === 0), 'the failing chunk is zeroed');
    }
  }
  // A wrong part number or first index fails the first chunk; a tail too short for a tag is corrupt too.
  for (const impl of [native(), nodeGcmChunks]) {
    assert.equal(openWith(impl, { ...run, partNumber: 3 }, sealed).opened, -1);
    assert.equal(openWith(impl, { ...run, firstIndex: 11 }, sealed).opened, -1);
    assert.equal(impl.open({ ...run, input: sealed.subarray(0, 1016 + 16), out: Buffer.alloc(1000) }), -2);
    assert.equal(impl.open({ ...run, input: sealed.subarray(0, 1016 + 10), out: Buffer.alloc(1000) }), -2);
  }
  // The output must hold the chunks before a tagless tail: 994 bytes (1026 - 2 tags) would be overrun.
  assert.throws(() => native().open({ ...run, input: sealed.subarray(0, 1016 + 10), out: Buffer.alloc(994) }), RangeError);
});

function describe(value: unknown): string {
  return ArrayBuffer.isView(value) ? `${value.constructor.name}(${value.byteLength})` : String(value);
}

test('gcm chunks - bad arguments to the native addon throw TypeError or RangeError, never crash', { skip: nativeSkip }, () => {
  native();
  const binding = nativeBinding as unknown as Record<'seal' | 'open', (...args: unknown[]) => number>;
  const key = randomBytes(32);
  const input = randomBytes(100);
  const out = Buffer.alloc(200);
  const good = [key, 1, 0, 64, input, out];
  const detachedBuffer = new ArrayBuffer(32);
  const detached = new Uint8Array(detachedBuffer);
  structuredClone(detachedBuffer, { transfer: [detachedBuffer] });
  const typeErrors: [number, unknown][] = [
    [0, 'k'.repeat(32)], [0, new Float64Array(4)], [0, new DataView(new ArrayBuffer(32))], [0, undefined],
    [4, 'plaintext'], [4, [1, 2, 3]], [4, new Uint16Array(50)], [5, null], [5, {}], [5, new Int8Array(200)],
  ];
  const rangeErrors: [number, unknown][] = [
    [0, randomBytes(31)], [0, detached],
    [1, -1], [1, 2 ** 32], [1, 1.5], [1, Number.NaN], [1, '1'], [1, 1n],
    [2, -1], [2, 2 ** 53], [2, Infinity], [2, undefined],
    [3, 0], [3, 2 ** 31], [3, 0.5], [3, null],
    [5, Buffer.alloc(115)], // 100 bytes in chunks of 64 seal to 132
  ];
  for (const fn of ['seal', 'open'] as const) {
    assert.throws(() => binding[fn](), TypeError);
    assert.throws(() => binding[fn](...good.slice(0, 5)), TypeError);
    for (const [i, bad] of typeErrors) assert.throws(() => binding[fn](...good.map((v, j) => (j === i ? bad : v))), TypeError, `${fn} argument ${i}: ${describe(bad)}`);
    for (const [i, bad] of rangeErrors) {
      if (fn === 'open' && i === 5) continue; // 100 sealed bytes open to at most 68: 115 is enough
      assert.throws(() => binding[fn](...good.map((v, j) => (j === i ? bad : v))), RangeError, `${fn} argument ${i}: ${describe(bad)}`);
    }
    // Output overlapping the input or the key, even partly.
    const shared = Buffer.alloc(400);
    assert.throws(() => binding[fn](key, 1, 0, 64, shared.subarray(0, 100), shared.subarray(50, 250)), RangeError);
    assert.throws(() => binding[fn](key, 1, 0, 64, shared.subarray(200, 300), shared.subarray(0, 201)), RangeError);
    assert.throws(() => binding[fn](shared.subarray(0, 32), 1, 0, 64, input, shared.subarray(16, 216)), RangeError);
    // Chunk indexes past 2^53 - 1.
    assert.throws(() => binding[fn](key, 1, 2 ** 53 - 2, 64, input, out), RangeError);
  }
  assert.throws(() => binding.open(key, 1, 0, 64, input, Buffer.alloc(67)), RangeError);
  // Empty input is no chunks; a detached output is a zero-length one.
  assert.equal(binding.seal(key, 1, 0, 64, Buffer.alloc(0), Buffer.alloc(0)), 0);
  assert.equal(binding.open(key, 1, 0, 64, Buffer.alloc(0), detached), 0);
  // After all that, it still works.
  assert.equal(binding.seal(...good), 132);
});

/** `sealed` cut at random places, so chunks and tags straddle pieces; some pieces empty. */
function randomPieces(sealed: Buffer): Buffer[] {
  const pieces: Buffer[] = [];
  for (let at = 0; at < sealed.length;) {
    const n = [0, 1, 7, 16, 999, 1016, 3000][randomInt(7)]! + randomInt(3);
    pieces.push(sealed.subarray(at, at + n));
    at += n;
  }
  return pieces;
}

test('gcm chunks - a run given as pieces opens like the run given whole, chunks and tags straddling pieces, in both implementations', { skip: nativeSkip }, () => {
  for (let round = 0; round < 100; round++) {
    const chunkBytes = [17, 1000, 4096][round % 3]!;
    const run = { dataKey: randomBytes(32), partNumber: randomInt(10_001), firstIndex: randomInt(2 ** 40), chunkBytes };
    const plain = randomBytes(1 + randomInt(6 * chunkBytes));
    const sealed = sealWith(nodeGcmChunks, run, plain);
    const flip = round % 4 === 3 ? randomInt(sealed.length) : -1;
    if (flip >= 0) sealed[flip]! ^= 0x01;
    const whole = openWith(nodeGcmChunks, run, sealed);
    if (flip < 0) assert.equal(whole.opened, plain.length);
    else assert.equal(whole.opened, -1 - Math.floor(flip / (chunkBytes + tagBytes)));
    for (const impl of [native(), nodeGcmChunks]) {
      const out = Buffer.alloc(whole.out.length, 0xee);
      const pieces = randomPieces(sealed);
      assert.equal(impl.open({ ...run, input: pieces, out }), whole.opened, `${impl.name}, round ${round}: ${pieces.map((p) => p.length)}`);
      // Up to the end of a failing chunk (zeroed): what follows it is never written.
      const written = whole.opened >= 0 ? out.length : Math.min(out.length, (-whole.opened) * chunkBytes);
      assert.ok(out.subarray(0, written).equals(whole.out.subarray(0, written)), `${impl.name}, round ${round}: the same bytes, a failing chunk zeroed`);
    }
  }
});

test('gcm chunks - bad pieces to the native addon\'s open throw TypeError or RangeError, and getters cannot pull bytes away from it', { skip: nativeSkip }, () => {
  native();
  const binding = nativeBinding as unknown as Record<'seal' | 'open', (...args: unknown[]) => number>;
  const key = randomBytes(32);
  const run = { dataKey: key, partNumber: 1, firstIndex: 0, chunkBytes: 64 };
  const plain = randomBytes(100);
  const sealed = sealWith(nodeGcmChunks, run, plain);
  const args = (input: unknown, out: unknown = Buffer.alloc(100), k: unknown = key) => [k, 1, 0, 64, input, out];
  assert.equal(binding.open(...args([sealed.subarray(0, 70), sealed.subarray(70)])), 100);
  assert.equal(binding.open(...args([])), 0);
  for (const bad of [[sealed, 'x'], [sealed, new Uint16Array(4)], [null], [sealed, undefined]]) {
    assert.throws(() => binding.open(...args(bad)), TypeError, `pieces ${String(bad)}`);
  }
  assert.throws(() => binding.seal(...args([plain])), TypeError, 'seal takes one buffer');
  assert.throws(() => binding.open(...args(Array.from({ length: 4097 }, () => sealed.subarray(0, 0)))), RangeError);
  // The output overlapping any one piece.
  const shared = Buffer.from(sealed);
  assert.throws(() => binding.open(...args([shared.subarray(0, 50), Buffer.from(shared.subarray(50))], shared.subarray(40, 140))), RangeError);
  assert.throws(() => binding.open(...args([Buffer.from(shared.subarray(0, 50)), shared.subarray(50)], shared.subarray(0, 100))), RangeError);
  // A getter that detaches the key's memory, or a piece's, runs before any bytes are looked at.
  const detach = (buffer: ArrayBufferLike) => structuredClone(buffer, { transfer: [buffer as ArrayBuffer] });
  const ownKey = new Uint8Array(randomBytes(32));
  const keyThief = [sealed];
  Object.defineProperty(keyThief, 1, { enumerable: true, get: () => (detach(ownKey.buffer), sealed.subarray(0, 0)) });
  assert.throws(() => binding.open(...args(keyThief, Buffer.alloc(100), ownKey)), RangeError);
  const ownPiece = new Uint8Array(sealed);
  const pieceThief = [ownPiece];
  Object.defineProperty(pieceThief, 1, { enumerable: true, get: () => (detach(ownPiece.buffer), sealed.subarray(0, 0)) });
  assert.equal(binding.open(...args(pieceThief)), 0, 'a detached piece is an empty one');
  const throwing = [sealed];
  Object.defineProperty(throwing, 1, { enumerable: true, get: () => { throw new Error('from a getter'); } });
  assert.throws(() => binding.open(...args(throwing)), /from a getter/);
  // After all that, it still works.
  assert.equal(binding.open(...args([sealed])), 100);
});
