import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { ThreadHash, streamingHash, threadHashBytesMin, threadMessages } from './hash-thread.js';

test('ThreadHash - digests match node:crypto for many interleaved streams and chunkings', async () => {
  const bodies = Array.from({ length: 8 }, (_, i) => randomBytes(i * 300_001 + 1));
  const hashes = bodies.map((_, i) => new ThreadHash(i % 2 === 0 ? 'md5' : 'sha256'));
  const offsets = bodies.map(() => 0);
  // Feed the streams round-robin in uneven chunks, so the thread sees their updates interleaved.
  for (let round = 0; offsets.some((o, i) => o < bodies[i]!.length); round++) {
    for (const [i, body] of bodies.entries()) {
      const end = Math.min(body.length, offsets[i]! + 1 + ((round * 7919 + i * 104_729) % 200_000));
      const chunk = Buffer.from(body.subarray(offsets[i], end)); // a copy the test then scribbles over
      hashes[i]!.update(chunk);
      chunk.fill(0); // the hash copied the bytes when update() returned
      offsets[i] = end;
      if (hashes[i]!.backlogged) await hashes[i]!.drained();
    }
  }
  const digests = await Promise.all(hashes.map((h) => h.digest()));
  for (const [i, body] of bodies.entries()) {
    assert.deepEqual(digests[i], createHash(i % 2 === 0 ? 'md5' : 'sha256').update(body).digest(), `stream ${i}`);
  }
});

test('ThreadHash - bytes in flight are capped: backlogged until the thread catches up', async () => {
  const hash = new ThreadHash('md5');
  const chunk = randomBytes(1024 * 1024);
  let sawBacklog = false;
  for (let i = 0; i < 12; i++) {
    hash.update(chunk);
    if (hash.backlogged) {
      sawBacklog = true;
      await hash.drained();
      assert.equal(hash.backlogged, false);
    }
  }
  assert.ok(sawBacklog, '12 MiB sent without waiting exceeds the cap');
  const expected = createHash('md5');
  for (let i = 0; i < 12; i++) expected.update(chunk);
  assert.deepEqual(await hash.digest(), expected.digest());
});

test('ThreadHash - an empty stream and a disposed one', async () => {
  assert.deepEqual(await new ThreadHash('md5').digest(), createHash('md5').digest());
  const abandoned = new ThreadHash('sha256');
  abandoned.update(randomBytes(1000));
  abandoned.dispose();
  abandoned.dispose(); // twice is harmless
  const after = new ThreadHash('sha256');
  after.update(Buffer.from('abc'));
  assert.equal((await after.digest()).toString('hex'), createHash('sha256').update('abc').digest('hex'));
});

test('streamingHash - several algorithms give each its digest of the same bytes, on and off the thread', async () => {
  for (const size of [10, 3 * threadHashBytesMin + 5]) {
    const body = randomBytes(size);
    const hash = streamingHash(['sha256', 'md5'], size);
    for (let o = 0; o < size; o += 70_000) hash.update(body.subarray(o, o + 70_000));
    const expected = ['sha256', 'md5'].map((algorithm) => createHash(algorithm).update(body).digest());
    assert.deepEqual(await hash.digests(), expected, `size ${size}`);
    hash.dispose();
  }
});

test('streamingHash - small bodies hash in place, large ones on the thread, same digests', async () => {
  for (const size of [0, 10, threadHashBytesMin - 1, threadHashBytesMin, 3 * threadHashBytesMin + 5]) {
    const body = randomBytes(size);
    const hash = streamingHash('md5', size);
    assert.equal(hash instanceof ThreadHash, size >= threadHashBytesMin);
    hash.update(body);
    assert.deepEqual(await hash.digest(), createHash('md5').update(body).digest(), `size ${size}`);
    hash.dispose();
  }
});

test('ThreadHash - the digest request rides on the last batch when bytes are pending', async () => {
  // 256 KiB batches: a 1 MiB body is 4 of them, and asking for the digest adds no message of its own.
  for (const [size, messages] of [[1024 * 1024, 4], [1024 * 1024 + 1, 5], [300 * 1024, 2], [0, 1]] as const) {
    const body = randomBytes(size);
    const hash = new ThreadHash(['sha256', 'md5']);
    const before = threadMessages.posted;
    for (let o = 0; o < size; o += 65_536) hash.update(body.subarray(o, o + 65_536));
    const digests = await hash.digests();
    assert.equal(threadMessages.posted - before, messages, `messages for ${size} bytes`);
    assert.deepEqual(digests, ['sha256', 'md5'].map((algorithm) => createHash(algorithm).update(body).digest()), `digests of ${size} bytes`);
    hash.dispose();
  }
});
