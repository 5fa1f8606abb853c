import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { checkMetricsToken, DriveSnapshot, metricsBearer } from './metrics.js';
import type { DriveSummary } from '../blocks/types.js';

/** A drive summary numbered by the read that made it (in corruptFound, a field the tests can follow). */
function drive(read: number): DriveSummary {
  return { id: 'd1', path: '/d1', state: 'ok', corruptFound: read };
}

test('DriveSnapshot - many scrapes within the refresh interval probe the drives once', async () => {
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
  assert.equal((await snapshot.get()).drives[0]!.corruptFound, 1);
  nowMs = 61_000;
  const stale = await snapshot.get();
  assert.equal(stale.drives[0]!.corruptFound, 1, 'served without waiting for the probe');
  assert.equal(stale.ageMs, 61_000);
  await snapshot.get();
  assert.equal(walks, 2, 'one refresh in flight, not one per scrape');
  release();
  await new Promise((r) => setImmediate(r));
  assert.equal((await snapshot.get()).drives[0]!.corruptFound, 2);
});

const withAuthorization = (authorization?: string) => ({ headers: authorization === undefined ? {} : { authorization } }) as IncomingMessage;

test('metricsBearer - grants the configured token, denies another, leaves other schemes to SigV4', () => {
  const check = metricsBearer('a-metrics-token-0001');
  assert.equal(check(withAuthorization('Bearer a-metrics-token-0001')), 'granted');
  assert.equal(check(withAuthorization('bearer  a-metrics-token-0001 ')), 'granted', 'the scheme is case-insensitive (RFC 7235)');
  assert.equal(check(withAuthorization('Bearer a-metrics-token-0002')), 'denied');
  assert.equal(check(withAuthorization('Bearer a-metrics-token-0001x')), 'denied');
  assert.equal(check(withAuthorization('Bearer ')), 'denied');
  assert.equal(check(withAuthorization('Bearer')), 'denied');
  assert.equal(check(withAuthorization('Bearera-metrics-token-0001')), 'absent');
  assert.equal(check(withAuthorization('AWS4-HMAC-SHA256 Credential=x')), 'absent');
  assert.equal(check(withAuthorization()), 'absent');
});

test('metricsBearer - denies every bearer token when none is configured', () => {
  assert.equal(metricsBearer(undefined)(withAuthorization('Bearer anything-at-all-00001')), 'denied');
});

test('checkMetricsToken - refuses short tokens and ones with spaces', () => {
  assert.equal(checkMetricsToken('0123456789abcdef'), '0123456789abcdef');
  assert.throws(() => checkMetricsToken('short'), /at least 16/);
  assert.throws(() => checkMetricsToken('0123456789 abcdef'), /printable ASCII/);
});
