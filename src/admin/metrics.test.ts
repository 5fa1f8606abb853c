import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DriveSnapshot } from './metrics.js';
import type { DriveStatus } from '../blocks/types.js';

function drive(shardFiles: number): DriveStatus {
  return { id: 'd1', path: '/d1', state: 'ok', shardFiles, bytes: 0, corruptFound: 0 };
}

test('DriveSnapshot - many scrapes within the refresh interval walk the drives once', async () => {
  let walks = 0;
  let nowMs = 0;
  const snapshot = new DriveSnapshot({ read: async () => [drive(++walks)], refreshMs: 60_000, nowMs: () => nowMs });
  await Promise.all(Array.from({ length: 10 }, () => snapshot.get()));
  for (let i = 0; i < 10; i++) {
    nowMs += 1000;
    await snapshot.get();
  }
  assert.equal(walks, 1);
});

test('DriveSnapshot - a stale snapshot is served at once while one refresh runs in the background', async () => {
  let walks = 0;
  let nowMs = 0;
  let release: () => void = () => undefined;
  const snapshot = new DriveSnapshot({
    read: async () => {
      walks++;
      if (walks > 1) await new Promise<void>((r) => (release = r));
      return [drive(walks)];
    },
    refreshMs: 60_000,
    nowMs: () => nowMs,
  });
  assert.equal((await snapshot.get()).drives[0]!.shardFiles, 1);
  nowMs = 61_000;
  const stale = await snapshot.get();
  assert.equal(stale.drives[0]!.shardFiles, 1, 'served without waiting for the walk');
  assert.equal(stale.ageMs, 61_000);
  await snapshot.get();
  assert.equal(walks, 2, 'one refresh in flight, not one per scrape');
  release();
  await new Promise((r) => setImmediate(r));
  assert.equal((await snapshot.get()).drives[0]!.shardFiles, 2);
});
