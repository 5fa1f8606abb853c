// The chunk cipher: sealing in any slicing gives the same stored bytes, a plaintext range maps onto exactly
// the chunks it touches (at chunk and part edges), and a flipped stored bit is refused, never served.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes, randomInt } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chunkTagBytes, openChunkRuns, openChunks, sealChunks, sealedRangeOf, sealedSizeOf, type ChunkKey } from './chunk-cipher.js';
import { ingest, readSealed, readSealedLeased } from './data.js';
import { SqliteMetaStore } from '../meta/sqlite/sqlite-store.js';
import { tempStore } from '../blocks/test-helpers.js';
import type { ObjectContext } from './context.js';
import type { BlockRef, LeasedBytes } from '../blocks/types.js';
import { isStoreError } from '../util/errors.js';
import { loadNativeGcmChunks, nodeGcmChunks, type GcmChunks } from '../util/gcm-chunks.js';

const chunkBytes = 1000;
const dataKey = randomBytes(32);

async function* sliced(buf: Buffer, sizes: number[]): AsyncGenerator<Buffer> {
  let at = 0;
  for (let i = 0; at < buf.length; i++) {
    const n = sizes[i % sizes.length]!;
    yield buf.subarray(at, at + n);
    at += n;
  }
}

/** An object context over a SQLite MetaStore and one drive in a temporary directory, let go after the file's tests. */
async function objectContext(): Promise<ObjectContext> {
  const dir = await mkdtemp(join(tmpdir(), 'tessera-chunk-cipher-'));
  const meta = await SqliteMetaStore.open(join(dir, 'meta.db'));
  const blocks = await tempStore(1);
  after(async () => {
    await meta.close();
    await blocks.close();
    await rm(dir, { recursive: true, force: true });
  });
  return { meta, blocks: blocks.store, nowMs: () => Date.now(), gcDelayMs: 0, inlineBytesMax: 1024, region: 'us-east-1' };
}

async function collect(source: AsyncIterable<Buffer>): Promise<Buffer> {
  const out: Buffer[] = [];
  for await (const b of source) out.push(b);
  return Buffer.concat(out);
}

async function seal(plain: Buffer, key: ChunkKey, sizes = [plain.length || 1]): Promise<Buffer> {
  return collect(sealChunks(sliced(plain, sizes), key));
}

async function open(stored: Buffer, key: ChunkKey, plainBytes: number, start: number, end: number, sizes = [7, 1500, 1, 5000]): Promise<Buffer> {
  const range = sealedRangeOf(plainBytes, key.chunkBytes, start, end);
  return collect(openChunks(sliced(stored.subarray(range.storedStart, range.storedEnd), sizes), key, plainBytes, start, end));
}

test('chunk cipher - sealing gives the same stored bytes in any slicing, chunk sizes plus one tag each', async () => {
  const key = { dataKey, partNumber: 0, chunkBytes };
  for (const size of [0, 1, 999, 1000, 1001, 3000, 3456]) {
    const plain = randomBytes(size);
    const whole = await seal(plain, key);
    assert.equal(whole.length, sealedSizeOf(size, chunkBytes));
    assert.equal(whole.length, size + Math.ceil(size / chunkBytes) * chunkTagBytes);
    assert.deepEqual(await seal(plain, key, [3, 997, 1000, 1, 2048]), whole);
    if (size >= 16) assert.ok(!whole.includes(plain.subarray(0, 16)), 'no plaintext in the stored bytes');
  }
});

test('chunk cipher - a range opens only the chunks it touches and gives exactly its bytes at chunk edges', async () => {
  const key = { dataKey, partNumber: 3, chunkBytes };
  const plain = randomBytes(3456);
  const stored = await seal(plain, key);
  const edges = [0, 1, 999, 1000, 1001, 1999, 2000, 3000, 3455, 3456];
  for (const start of edges) {
    for (const end of edges) {
      if (end <= start) continue;
      assert.deepEqual(await open(stored, key, plain.length, start, end), plain.subarray(start, end), `[${start}, ${end})`);
    }
  }
  assert.deepEqual(sealedRangeOf(3456, chunkBytes, 1000, 2000), { firstChunk: 1, storedStart: 1016, storedEnd: 2032 });
  assert.deepEqual(sealedRangeOf(3456, chunkBytes, 3455, 3456), { firstChunk: 3, storedStart: 3048, storedEnd: 3456 + 4 * 16 });
});

test('chunk cipher - a flipped stored bit, a wrong part number or a wrong key is refused as corruption', async () => {
  const key = { dataKey, partNumber: 1, chunkBytes };
  const plain = randomBytes(2500);
  const stored = await seal(plain, key);
  for (const bit of [0, 500 * 8 + 3, 1010 * 8, (stored.length - 1) * 8]) {
    const flipped = Buffer.from(stored);
    flipped[bit >> 3]! ^= 1 << (bit & 7);
    await assert.rejects(open(flipped, key, plain.length, 0, plain.length), (err: unknown) => isStoreError(err, 'ERR_SHARD_CORRUPT'));
  }
  await assert.rejects(open(stored, { ...key, partNumber: 2 }, plain.length, 0, 10), (err: unknown) => isStoreError(err, 'ERR_SHARD_CORRUPT'));
  await assert.rejects(open(stored, { ...key, dataKey: randomBytes(32) }, plain.length, 0, 10), (err: unknown) => isStoreError(err, 'ERR_SHARD_CORRUPT'));
  // A range in an intact chunk still reads: corruption is confined to the chunk it is in.
  const flipped = Buffer.from(stored);
  flipped[100]! ^= 1;
  assert.deepEqual(await open(flipped, key, plain.length, 1000, 2000), plain.subarray(1000, 2000));
});

test('readSealed - a range across parts of a multipart object opens each part under its own part number', async () => {
  const ctx = await objectContext();
  const parts = [randomBytes(2500), randomBytes(1000), randomBytes(1)];
  const refs: BlockRef[] = [];
  for (const [i, part] of parts.entries()) {
    const stored = await ingest(ctx, sliced(part, [333]), { size: part.length, forceBlock: true, seal: { dataKey, partNumber: i + 1, chunkBytes } });
    assert.equal(stored.size, part.length);
    assert.equal(stored.block!.size, sealedSizeOf(part.length, chunkBytes));
    refs.push(stored.block!);
  }
  const plain = Buffer.concat(parts);
  const sealed = {
    data: { blocks: refs, parts: parts.map((p, i) => ({ size: p.length, etag: '"x"', partNumber: i + 1 })) },
    size: plain.length, chunkBytes, dataKey,
  };
  for (const [start, end] of [[0, plain.length], [2499, 2501], [2000, 3501], [3500, 3501], [1500, 3000]] as const) {
    assert.deepEqual(await collect(readSealed(ctx, sealed, start, end)), plain.subarray(start, end), `[${start}, ${end})`);
  }
  // Inline data is sealed too, as part 0.
  const small = randomBytes(700);
  const inline = await ingest(ctx, sliced(small, [100]), { size: small.length, seal: { dataKey, partNumber: 0, chunkBytes } });
  assert.ok(inline.inline && !inline.inline.includes(small.subarray(0, 16)));
  const inlineSealed = { data: { inline: inline.inline.toString('base64') }, size: small.length, chunkBytes, dataKey };
  assert.deepEqual(await collect(readSealed(ctx, inlineSealed, 5, 699)), small.subarray(5, 699));
});

// Both implementations through the streaming layer: the native one where it loaded (CI requires it:
// util/gcm-chunks.test.ts), node:crypto always, whatever TESSERA_NATIVE_CIPHER says.
const { native } = loadNativeGcmChunks();
const ciphers = [nodeGcmChunks, ...(native ? [native] : [])];

function randomSizes(): number[] {
  return Array.from({ length: 1 + randomInt(6) }, () => [1, 15, 999, 1000, 1001, 4000, 300_000][randomInt(7)]! + randomInt(3));
}

test('chunk cipher - native and node:crypto store the same bytes and open each other\'s in random piece slicings and ranges', async () => {
  for (let round = 0; round < 40; round++) {
    const key = { dataKey: randomBytes(32), partNumber: randomInt(10_001), chunkBytes: [1000, 4096, 65536][round % 3]! };
    const plain = randomBytes(round === 0 ? 0 : randomInt(400_000));
    const stored = await Promise.all(ciphers.map((cipher) => collect(sealChunks(sliced(plain, randomSizes()), key, { cipher }))));
    for (const other of stored) assert.ok(other.equals(stored[0]!), `round ${round}: ${plain.length} bytes`);
    if (plain.length === 0) continue;
    for (const cipher of ciphers) {
      const start = randomInt(plain.length);
      const end = start + 1 + randomInt(plain.length - start);
      const range = sealedRangeOf(plain.length, key.chunkBytes, start, end);
      const got = await collect(openChunks(sliced(stored[0]!.subarray(range.storedStart, range.storedEnd), randomSizes()), key, plain.length, start, end, { cipher }));
      assert.ok(got.equals(plain.subarray(start, end)), `${cipher.name}, round ${round}: [${start}, ${end}) of ${plain.length}`);
    }
  }
});

test('chunk cipher - a flipped ciphertext or tag bit serves the chunks before it and nothing of its chunk', async () => {
  const key = { dataKey, partNumber: 4, chunkBytes };
  const plain = randomBytes(20_500);
  const stored = await seal(plain, key);
  // Chunk 13's ciphertext, chunk 13's tag, the last chunk's tag.
  for (const [at, chunk] of [[13 * 1016 + 7, 13], [13 * 1016 + 1000 + 15, 13], [stored.length - 1, 20]] as const) {
    const flipped = Buffer.from(stored);
    flipped[at]! ^= 0x80;
    for (const cipher of ciphers) {
      for (const sizes of [[flipped.length], [1016], [333, 5000]]) {
        const served: Buffer[] = [];
        const reading = (async () => {
          for await (const piece of openChunks(sliced(flipped, sizes), key, plain.length, 500, plain.length, { cipher })) served.push(piece);
        })();
        await assert.rejects(reading, (err: unknown) => isStoreError(err, 'ERR_SHARD_CORRUPT') && (err as Error).message.includes(`chunk ${chunk} `));
        assert.ok(Buffer.concat(served).equals(plain.subarray(500, chunk * chunkBytes)), `${cipher.name} ${sizes}: exactly the chunks before ${chunk}`);
      }
    }
  }
});

test('chunk cipher - sealing and opening hold a few chunks at most when the pieces are small', async () => {
  const key = { dataKey, partNumber: 0, chunkBytes: 65536 };
  const total = 8 * 2 ** 20;
  let pulled = 0;
  let heldMax = 0;
  async function* small(): AsyncGenerator<Buffer> {
    for (let at = 0; at < total; at += 1024) {
      pulled += 1024;
      yield Buffer.alloc(1024, at);
    }
  }
  const sealed: Buffer[] = [];
  let sent = 0;
  for await (const piece of sealChunks(small(), key)) {
    sent += piece.length;
    heldMax = Math.max(heldMax, pulled - (sent - Math.ceil(sent / 65552) * 16));
    sealed.push(piece);
  }
  assert.ok(heldMax <= 256 * 1024 + 1024, `sealing held ${heldMax} bytes`);
  const stored = Buffer.concat(sealed);
  let read = 0;
  heldMax = 0;
  let served = 0;
  async function* storedSmall(): AsyncGenerator<Buffer> {
    for (let at = 0; at < stored.length; at += 1024) {
      read += Math.min(1024, stored.length - at);
      yield stored.subarray(at, at + 1024);
    }
  }
  for await (const piece of openChunks(storedSmall(), key, total, 0, total)) {
    served += piece.length;
    heldMax = Math.max(heldMax, read - (served + Math.ceil(served / 65536) * 16));
  }
  assert.equal(served, total);
  assert.ok(heldMax <= 4 * 65552 + 1024, `opening held ${heldMax} bytes`);
});

test('readSealedLeased - pooled output runs hold their bytes until released, and released ones are reused safely', async () => {
  const ctx = await objectContext();
  const plain = randomBytes(3 * 2 ** 20 + 4321);
  const key = { dataKey, partNumber: 0, chunkBytes: 65536 };
  const stored = await ingest(ctx, sliced(plain, [16_384, 70_000]), { size: plain.length, forceBlock: true, seal: key });
  const sealed = { data: { blocks: [stored.block!] }, size: plain.length, chunkBytes: 65536, dataKey };
  for (const [start, end] of [[0, plain.length], [100_000, 2_500_000], [plain.length - 10, plain.length]] as const) {
    // Every lease held to the end: no two may share bytes.
    const held = [];
    for await (const lease of readSealedLeased(ctx, sealed, start, end)) held.push(lease);
    assert.ok(Buffer.concat(held.flatMap((l) => l.pieces)).equals(plain.subarray(start, end)), `held [${start}, ${end})`);
    for (const lease of held) lease.release();
    // Each copied, then released at once: the next run may reuse its buffer.
    const copies: Buffer[] = [];
    for await (const lease of readSealedLeased(ctx, sealed, start, end)) {
      copies.push(Buffer.concat(lease.pieces));
      lease.release();
    }
    assert.ok(Buffer.concat(copies).equals(plain.subarray(start, end)), `released [${start}, ${end})`);
  }
});

/** `stored` as a block reader lends it: leases of `stripeBytes`, each cut into 64 KiB pieces, recording releases. */
function stripeLeases(stored: Buffer, stripeBytes: number): { leases: AsyncGenerator<LeasedBytes>; released: number[]; handedOut: () => number } {
  const released: number[] = [];
  let handedOut = 0;
  async function* leases(): AsyncGenerator<LeasedBytes> {
    for (let at = 0, n = 0; at < stored.length; at += stripeBytes, n++) {
      const stripe = stored.subarray(at, Math.min(stored.length, at + stripeBytes));
      const pieces = Array.from({ length: Math.ceil(stripe.length / 65536) }, (_, i) => stripe.subarray(i * 65536, (i + 1) * 65536));
      handedOut++;
      yield { pieces, release: () => released.push(n) };
    }
  }
  return { leases: leases(), released, handedOut: () => handedOut };
}

test('openChunkRuns - chunks straddling a reader\'s 64 KiB pieces and stripes open from those pieces, each lease released once after its chunks', async () => {
  const key = { dataKey, partNumber: 0, chunkBytes: 65536 };
  const plain = randomBytes(3 * 2 ** 20 + 4321);
  const stored = await collect(sealChunks(sliced(plain, [2 ** 20]), key));
  for (const cipher of ciphers) {
    for (const [start, end] of [[0, plain.length], [65_535, 2 * 2 ** 20 + 1], [plain.length - 1, plain.length]] as const) {
      const range = sealedRangeOf(plain.length, key.chunkBytes, start, end);
      const { leases, released, handedOut } = stripeLeases(stored.subarray(range.storedStart, range.storedEnd), 2 ** 20);
      let calls = 0;
      // Every open reads the stored bytes where the reader put them (a small tail aside), and only from leases not yet released.
      const watching: GcmChunks = {
        name: cipher.name,
        seal: (run) => cipher.seal(run),
        open: (run) => {
          calls++;
          const pieces = run.input instanceof Uint8Array ? [run.input] : run.input;
          for (const piece of pieces) {
            if (piece.buffer !== stored.buffer) {
              assert.ok(piece.length < 4096, `only a small tail is copied, not ${piece.length} bytes`);
              continue;
            }
            const lease = Math.floor((piece.byteOffset - stored.byteOffset - range.storedStart) / 2 ** 20);
            assert.ok(!released.includes(lease), `lease ${lease} still held`);
          }
          return cipher.open(run);
        },
      };
      const out: Buffer[] = [];
      for await (const run of openChunkRuns(leases, key, plain.length, start, end, { cipher: watching, take: (bytes) => Buffer.alloc(bytes) })) out.push(run.plain);
      assert.ok(Buffer.concat(out).equals(plain.subarray(start, end)), `${cipher.name} [${start}, ${end})`);
      assert.deepEqual(released, Array.from({ length: handedOut() }, (_, i) => i), 'each lease released once, in order');
      assert.ok(calls <= handedOut() + 1, `${calls} opens for ${handedOut()} leases`);
    }
  }
});

test('openChunkRuns - every lease is released when a chunk fails its tag or the consumer stops early', async () => {
  const key = { dataKey, partNumber: 0, chunkBytes: 65536 };
  const plain = randomBytes(3 * 2 ** 20);
  const stored = await collect(sealChunks(sliced(plain, [2 ** 20]), key));
  const flipped = Buffer.from(stored);
  flipped[2 * 65552 + 100]! ^= 1; // chunk 2
  const failing = stripeLeases(flipped, 2 ** 20);
  await assert.rejects(collect((async function* () {
    for await (const run of openChunkRuns(failing.leases, key, plain.length, 0, plain.length, { take: (bytes) => Buffer.alloc(bytes) })) yield run.plain;
  })()), (err: unknown) => isStoreError(err, 'ERR_SHARD_CORRUPT'));
  assert.deepEqual(failing.released, [0], 'the lease handed out is released');
  const stopped = stripeLeases(stored, 2 ** 20);
  for await (const run of openChunkRuns(stopped.leases, key, plain.length, 0, plain.length, { take: (bytes) => Buffer.alloc(bytes) })) {
    assert.ok(run.plain.length > 0);
    break;
  }
  assert.deepEqual(stopped.released.sort(), Array.from({ length: stopped.handedOut() }, (_, i) => i));
});
