import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ThreadHash, batchCounts, md5Deferrals, md5LaneUse, md5Summary, streamingHash, threadHashBytesMin, threadMessages } from './hash-thread.js';
import { loadMd5Lanes } from './md5-lanes.js';

// The lanes addon is in use unless TESSERA_MD5_LANES=off or it is not built (CI builds it).
const lanesSkip = md5Summary().md5.startsWith('lanes') || process.env.CI === 'true' ? false : md5Summary().reason ?? 'the lanes addon is not in use';

/** Calls with more than one lane, and all MD5 bytes, the hashing thread has made so far. */
function laneTotals(): { sharedCalls: number; bytes: number } {
  const use = md5LaneUse();
  return { sharedCalls: use.filter((u) => u.lanes > 1).reduce((n, u) => n + u.calls, 0), bytes: use.reduce((n, u) => n + u.bytes, 0) };
}

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

test('ThreadHash - sixteen uploads at once reuse the batches the thread hands back', async () => {
  const body = randomBytes(1024 * 1024);
  const expected = { md5: createHash('md5').update(body).digest(), sha256: createHash('sha256').update(body).digest() };
  // One 1 MiB upload as a server takes it: 64 KiB socket chunks, a turn of the event loop apart.
  const upload = async () => {
    const hash = new ThreadHash(['md5', 'sha256']);
    for (let at = 0; at < body.length; at += 65536) {
      hash.update(body.subarray(at, at + 65536));
      await new Promise((resolve) => setImmediate(resolve));
    }
    const [md5, sha256] = await hash.digests();
    assert.deepEqual(md5, expected.md5);
    assert.deepEqual(sha256, expected.sha256);
  };
  const rounds = async (count: number) => {
    for (let i = 0; i < count; i++) await Promise.all(Array.from({ length: 16 }, upload));
  };
  await rounds(2); // the pool fills
  const before = batchCounts.allocated;
  await rounds(10);
  // 160 uploads of four 256 KiB batches each. With 16 idle batches kept, about two in four were new
  // (and zero-filled) buffers, since the thread hands them back in bursts.
  const perUpload = (batchCounts.allocated - before) / 160;
  assert.ok(perUpload < 0.5, `${perUpload} new batches per upload`);
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

test('ThreadHash - batches of several digests that arrive together share one lanes call, each digest right', { skip: lanesSkip }, async () => {
  assert.match(md5Summary().md5, /^lanes/, md5Summary().reason);
  const before = laneTotals();
  // Unequal bodies, all sent before the thread runs: it gets every batch in one gathering.
  const bodies = Array.from({ length: 20 }, (_, i) => randomBytes(i * 90_001 + 7));
  const hashes = bodies.map((_, i) => new ThreadHash(i % 3 === 0 ? ['sha256', 'md5'] : 'md5'));
  for (const [i, body] of bodies.entries()) hashes[i]!.update(body);
  // Three are given up while their batches wait for the lanes: the others must not notice.
  const given = new Set([4, 9, 13]);
  for (const i of given) hashes[i]!.dispose();
  const digests = await Promise.all(hashes.map((hash, i) => (given.has(i) ? undefined : hash.digests())));
  for (const [i, body] of bodies.entries()) {
    if (given.has(i)) continue;
    const expected = (i % 3 === 0 ? ['sha256', 'md5'] : ['md5']).map((algorithm) => createHash(algorithm).update(body).digest());
    assert.deepEqual(digests[i], expected, `body ${i}`);
  }
  const after = laneTotals();
  assert.ok(after.sharedCalls > before.sharedCalls, 'some calls hashed several digests at once');
  // The given-up digests' last batches (below a full one) never left the main thread; their full ones may
  // have been hashed before their drop arrived, or not.
  const kept = bodies.reduce((n, body, i) => n + (given.has(i) ? 0 : body.length), 0);
  assert.ok(after.bytes - before.bytes >= kept, 'every byte of the kept digests went through the lanes');
});

test('ThreadHash - MD5 falls back to node:crypto with TESSERA_MD5_LANES=off, same digests', () => {
  const script = `
    const { createHash } = await import('node:crypto');
    const { ThreadHash, md5LaneUse, md5Summary } = await import(${JSON.stringify(fileURLToPath(new URL('./hash-thread.ts', import.meta.url)))});
    const body = Buffer.alloc(1_000_003, 7);
    const hash = new ThreadHash(['md5', 'sha256']);
    hash.update(body);
    const [md5] = await hash.digests();
    const ok = md5.equals(createHash('md5').update(body).digest());
    console.log(JSON.stringify({ ok, summary: md5Summary(), use: md5LaneUse() }));
  `;
  // A file, not --input-type=module -e: a worker inherits that flag and would read its CommonJS source as a module.
  const dir = mkdtempSync(join(tmpdir(), 'tessera-md5-off-'));
  writeFileSync(join(dir, 'off.mjs'), script);
  const child = spawnSync(process.execPath, ['--import', 'tsx', join(dir, 'off.mjs')], {
    env: { ...process.env, TESSERA_MD5_LANES: 'off' },
    encoding: 'utf8',
  });
  rmSync(dir, { recursive: true, force: true });
  assert.equal(child.status, 0, child.stderr);
  assert.deepEqual(JSON.parse(child.stdout), { ok: true, summary: { md5: 'node:crypto', reason: 'TESSERA_MD5_LANES=off' }, use: [] });
});

test('ThreadHash - a path TESSERA_MD5_LANES names is the one in use', { skip: lanesSkip }, () => {
  for (const path of loadMd5Lanes('').binding?.paths ?? []) {
    assert.deepEqual(loadMd5Lanes(path).path, path);
  }
  assert.match(loadMd5Lanes('sse9').reason ?? '', /"sse9", which is not one of this CPU's paths/);
});

test('ThreadHash - a lone digest is hashed as its bytes come; beside another, its bytes wait to share the lanes', { skip: lanesSkip }, async () => {
  const bodies = [randomBytes(300 * 1024), randomBytes(300 * 1024)];
  const md5 = (body: Buffer) => createHash('md5').update(body).digest();
  // Alone: nothing to wait for.
  const deferralsBefore = md5Deferrals();
  const lone = new ThreadHash('md5');
  lone.update(bodies[0]!); // the first 256 KiB go now, the rest with the digest request
  assert.deepEqual(await lone.digest(), md5(bodies[0]!));
  assert.equal(md5Deferrals(), deferralsBefore, 'a lone digest never waits for company');
  // Three under way: the first one's batch came alone and is hashed at once; the next two come while it is
  // under way, so their bytes wait, and the two digests asked for together are hashed in shared calls.
  const sharedBefore = laneTotals().sharedCalls;
  const [a, b, c] = [new ThreadHash('md5'), new ThreadHash('md5'), new ThreadHash('md5')];
  const third = randomBytes(300 * 1024);
  c.update(third);
  b.update(bodies[1]!);
  a.update(bodies[0]!);
  // The thread leaves the bytes waiting as soon as it has them (polled: no timing assumed).
  for (const deadline = Date.now() + 5000; md5Deferrals() === deferralsBefore && Date.now() < deadline; ) await new Promise((r) => setTimeout(r, 1));
  assert.ok(md5Deferrals() > deferralsBefore, 'bytes waited while another digest was under way');
  const [digestA, digestB] = await Promise.all([a.digest(), b.digest()]);
  assert.deepEqual(digestA, md5(bodies[0]!));
  assert.deepEqual(digestB, md5(bodies[1]!));
  assert.ok(laneTotals().sharedCalls > sharedBefore, 'and then shared the lanes');
  assert.deepEqual(await c.digest(), md5(third));
});

test('ThreadHash - a digest disposed while asked for rejects instead of hanging', async () => {
  const hash = new ThreadHash('md5');
  hash.update(randomBytes(600 * 1024));
  const pending = hash.digest();
  hash.dispose();
  // Either it was computed before the dispose took effect, or it says it never will be.
  const outcome = await pending.then(() => 'computed', (err: unknown) => (err instanceof Error ? err.message : String(err)));
  assert.ok(outcome === 'computed' || /disposed/.test(outcome), outcome);
});
