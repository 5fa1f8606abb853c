// The workers' hashing service (hash-service.ts), run here as the primary runs it: its thread on a Unix
// socket, and this process as a worker whose digests go to it through a slab of shared memory. The tests
// run in order: the last one stops the service.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Worker } from 'node:worker_threads';
import { encodeFrame } from './socket-frames.js';
import { hashSocketEnv, sideDigestBytes, slabDir, slabSlots, startHashService } from './hash-service.js';
import { batchCounts, hashedByService, serviceSlotsFree, ThreadHash } from './hash-thread.js';
import { md5LanesMax } from './md5-lanes.js';

const dir = mkdtempSync(join(tmpdir(), 'tessera-hash-service-'));
const socketPath = join(dir, 'hash.sock');
let service: { thread: Worker; laneStats: SharedArrayBuffer; sideBytes: SharedArrayBuffer } | undefined;
// The side thread takes the SHA-256 of every digest said to be long, busy or not, so that these tests cover it.
process.env.TESSERA_HASH_SIDE_FROM = '0';
const started = await startHashService(socketPath);
// CI builds the lanes addon and has /dev/shm; elsewhere the reason is the skip.
const skip = 'reason' in started ? (process.env.CI === 'true' ? false : started.reason) : false;
if (!('reason' in started)) service = started;
process.env[hashSocketEnv] = socketPath;

/**
 * Hashes `bodies` at once as uploads do, in uneven chunks fed round-robin, and returns each one's digests;
 * `expectedBytes` is what each digest is told to expect (the service's side thread takes long ones).
 */
async function hashAll(bodies: Buffer[], algorithms: ('md5' | 'sha256')[], expectedBytes = 0): Promise<Buffer[][]> {
  const hashes = bodies.map(() => new ThreadHash(algorithms, expectedBytes));
  const offsets = bodies.map(() => 0);
  for (let round = 0; offsets.some((o, i) => o < bodies[i]!.length); round++) {
    for (const [i, body] of bodies.entries()) {
      if (offsets[i]! >= body.length) continue;
      const end = Math.min(body.length, offsets[i]! + 1 + ((round * 7919 + i * 104_729) % 100_000));
      const chunk = Buffer.from(body.subarray(offsets[i], end));
      hashes[i]!.update(chunk);
      chunk.fill(0); // copied into the slot when update() returned
      offsets[i] = end;
      if (hashes[i]!.backlogged) await hashes[i]!.drained();
    }
  }
  return Promise.all(hashes.map((h) => h.digests()));
}

/** The mappings of this process's slab (the thread's and the service's, both here) in /proc/self/maps. */
function slabMappings(): string[] {
  return readFileSync('/proc/self/maps', 'utf8').split('\n').filter((line) => line.includes(`${slabDir}/tessera-hash-${process.ppid}-${process.pid}-`));
}

test('hashing service - many digests at once share its lanes, the side thread hashes the SHA-256 of the long ones, each digest right, and the slab is gone from /dev/shm once mapped', { skip }, async () => {
  const bodies = Array.from({ length: 24 }, (_, i) => randomBytes((i * 131_071) % 3_000_000));
  // Half of them said to be long, hashed at the same time as the others.
  const [short, long] = await Promise.all([hashAll(bodies.slice(0, 12), ['md5', 'sha256']), hashAll(bodies.slice(12), ['md5', 'sha256'], sideDigestBytes)]);
  const digests = [...short, ...long];
  assert.ok(hashedByService(), 'the digests went to the service');
  const longBytes = bodies.slice(12).reduce((sum, body) => sum + body.length, 0);
  assert.equal(new Float64Array(service!.sideBytes)[0], longBytes, 'the side thread hashed the long ones\' bytes, and only those');
  for (const [i, body] of bodies.entries()) {
    assert.deepEqual(digests[i], [createHash('md5').update(body).digest(), createHash('sha256').update(body).digest()], `body ${i} (${body.length} bytes)`);
  }
  const stats = new Float64Array(service!.laneStats);
  const wideCalls = Array.from({ length: md5LanesMax - 7 }, (_, i) => stats[8 + i]!).reduce((a, b) => a + b, 0);
  assert.ok(wideCalls > 0, 'some lanes calls took 8 digests or more');
  assert.equal(serviceSlotsFree(), slabSlots, 'every slot came back');
  assert.deepEqual(readdirSync(slabDir).filter((name) => name.startsWith(`tessera-hash-${process.ppid}-${process.pid}-`)), []);
  assert.equal(slabMappings().length, 3, 'mapped by this side, by the service and by its side thread');
  assert.ok(slabMappings().every((line) => line.endsWith('(deleted)')));
  assert.equal(statSync(socketPath).mode & 0o777, 0o600);
});

test('hashing service - disposed digests give their slots back, and the service and its side thread drop their state', { skip }, async () => {
  for (let i = 0; i < 200; i++) {
    // Every other one a long signed upload's, whose SHA-256 the side thread hashes.
    const hash = i % 2 === 0 ? new ThreadHash(['md5']) : new ThreadHash(['md5', 'sha256'], sideDigestBytes);
    hash.update(randomBytes(700_000)); // two slots sent, a third being filled
    hash.dispose();
  }
  const body = randomBytes(1_000_000);
  assert.deepEqual(await hashAll([body], ['md5']), [[createHash('md5').update(body).digest()]]);
  assert.deepEqual(await hashAll([body], ['md5', 'sha256'], sideDigestBytes), [[createHash('md5').update(body).digest(), createHash('sha256').update(body).digest()]]);
  for (let i = 0; i < 50 && serviceSlotsFree() !== slabSlots; i++) await new Promise((r) => setTimeout(r, 20));
  assert.equal(serviceSlotsFree(), slabSlots);
});

test('hashing service - a batch with no slot free goes as bytes, and its digest is right', { skip }, async () => {
  // Digests with 4 MiB each in flight would need 16 slots each: past slabSlots / 16 of them, batches find none.
  const bodies = Array.from({ length: slabSlots / 16 + 8 }, (_, i) => randomBytes(4 * 1024 * 1024 + i));
  const hashes = bodies.map(() => new ThreadHash(['md5']));
  const allocated = batchCounts.allocated;
  for (const [i, body] of bodies.entries()) hashes[i]!.update(body);
  assert.ok(batchCounts.allocated > allocated, 'some batches were buffers of this process\'s');
  const digests = await Promise.all(hashes.map((h) => h.digest()));
  for (const [i, body] of bodies.entries()) assert.deepEqual(digests[i], createHash('md5').update(body).digest());
  assert.equal(serviceSlotsFree(), slabSlots);
});

test('hashing service - frames no worker of ours sends close that connection only', { skip }, async () => {
  const bad = [
    { op: 'slab', name: '../../etc/passwd', slots: 1, slotBytes: 4096 },
    { op: 'update', id: 1, algorithms: ['md5'], length: 10, slot: 0 }, // no slab
    { op: 'update', id: -1, algorithms: ['md5'], length: 0, bytes: new Uint8Array(0) },
    { op: 'update', id: 1, algorithms: ['whirlpool'], length: 1, bytes: new Uint8Array(1) },
    { op: 'rename', id: 1 },
  ];
  for (const frame of bad) {
    const socket = connect(socketPath);
    const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()));
    socket.on('error', () => undefined);
    socket.write(encodeFrame(frame));
    await closed;
  }
  const body = randomBytes(600_000);
  assert.deepEqual(await hashAll([body], ['md5']), [[createHash('md5').update(body).digest()]]);
});

test('hashing service - when it stops, digests under way fail and the next ones are hashed on this process\'s thread', { skip }, async () => {
  const hash = new ThreadHash(['md5']);
  hash.update(randomBytes(600_000));
  await service!.thread.terminate();
  await assert.rejects(hash.digest(), /hashing service closed/);
  const body = randomBytes(900_000);
  const after = new ThreadHash(['md5']);
  after.update(body);
  assert.deepEqual(await after.digest(), createHash('md5').update(body).digest());
  assert.equal(hashedByService(), false);
});

test.after(async () => {
  await service?.thread.terminate();
  rmSync(dir, { recursive: true, force: true });
});
