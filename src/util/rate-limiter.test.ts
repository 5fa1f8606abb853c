import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ByteMeter, limitStatesMax, RateLimiter, RateRefusal } from './rate-limiter.js';
import { parseRateLimitConfig } from './rate-limits.js';

function clock(): { nowMs: () => number; advance(ms: number): void } {
  let t = 1000;
  return { nowMs: () => t, advance: (ms) => (t += ms) };
}

test('RateLimiter - admits a key up to its burst, then refuses with the wait until one token is back', () => {
  const c = clock();
  const limiter = new RateLimiter({ key: { A: { requestsPerSec: 2, requestsBurst: 3 } } }, { nowMs: c.nowMs });
  for (let i = 0; i < 3; i++) assert.equal(limiter.admit({ key: 'A' }), undefined);
  const refused = limiter.admit({ key: 'A' });
  assert.ok(refused instanceof RateRefusal);
  assert.deepEqual({ kind: refused.kind, measure: refused.measure, retryAfterSec: refused.retryAfterSec }, { kind: 'key', measure: 'requests', retryAfterSec: 1 });
  c.advance(500);
  assert.equal(limiter.admit({ key: 'A' }), undefined, 'one token back after half a second at 2/s');
  assert.ok(limiter.admit({ key: 'A' }) instanceof RateRefusal);
});

test('RateLimiter - another key, and a key without a limit, pass while one key is refused', () => {
  const c = clock();
  const limiter = new RateLimiter({ key: { A: { requestsPerSec: 1 } } }, { nowMs: c.nowMs });
  assert.equal(limiter.admit({ key: 'A' }), undefined);
  assert.ok(limiter.admit({ key: 'A' }) instanceof RateRefusal);
  for (let i = 0; i < 100; i++) assert.equal(limiter.admit({ key: 'B' }), undefined);
});

test('RateLimiter - the default limit gives each name its own bucket', () => {
  const c = clock();
  const limiter = new RateLimiter({ bucket: { '*': { requestsPerSec: 1 } } }, { nowMs: c.nowMs });
  assert.equal(limiter.admit({ bucket: 'one' }), undefined);
  assert.equal(limiter.admit({ bucket: 'two' }), undefined);
  assert.ok(limiter.admit({ bucket: 'one' }) instanceof RateRefusal);
});

test('RateLimiter - a refused request costs no limit anything', () => {
  const c = clock();
  const limiter = new RateLimiter({ key: { A: { requestsPerSec: 10, requestsBurst: 1 } }, bucket: { b: { requestsPerSec: 1 } } }, { nowMs: c.nowMs });
  assert.equal(limiter.admit({ key: 'A', bucket: 'b' }), undefined);
  c.advance(100); // A has a token again, b has not
  const refused = limiter.admit({ key: 'A', bucket: 'b' });
  assert.ok(refused instanceof RateRefusal && refused.kind === 'bucket');
  assert.equal(limiter.admit({ key: 'A' }), undefined, 'A was not charged for the refused request');
});

test('RateLimiter - Retry-After is the longest wait among the limits over, in whole seconds', () => {
  const c = clock();
  const limiter = new RateLimiter({ key: { A: { requestsPerSec: 0.2 } }, ip: { '10.0.0.1': { requestsPerSec: 1 } } }, { nowMs: c.nowMs });
  assert.equal(limiter.admit({ key: 'A', ip: '10.0.0.1' }), undefined);
  const refused = limiter.admit({ key: 'A', ip: '10.0.0.1' });
  assert.ok(refused instanceof RateRefusal);
  assert.equal(refused.kind, 'key');
  assert.equal(refused.retryAfterSec, 5);
});

test('RateLimiter - a byte limit paces bodies and refuses new requests only beyond one burst of debt', () => {
  const c = clock();
  const limiter = new RateLimiter({ key: { A: { bytesPerSec: 1000 } } }, { nowMs: c.nowMs });
  const meter = limiter.admit({ key: 'A' });
  assert.ok(meter instanceof ByteMeter);
  assert.equal(meter.take(600), 0, 'within the burst');
  assert.equal(meter.take(600), 200, 'wait until out of debt');
  assert.ok(limiter.admit({ key: 'A' }) instanceof ByteMeter, 'a small debt does not refuse');
  meter.take(3000); // a download's bytes, charged after it was sent
  const refused = limiter.admit({ key: 'A' });
  assert.ok(refused instanceof RateRefusal);
  assert.equal(refused.measure, 'bytes');
  assert.equal(refused.retryAfterSec, 3, '3200 bytes of debt, 1000 allowed: 2.2 s');
  c.advance(2200);
  assert.ok(limiter.admit({ key: 'A' }) instanceof ByteMeter);
});

test('RateLimiter - set and clear at run time take effect for the next request', () => {
  const c = clock();
  const limiter = new RateLimiter({}, { nowMs: c.nowMs });
  assert.equal(limiter.active, false);
  limiter.set('key', 'A', { requestsPerSec: 1 });
  assert.equal(limiter.active, true);
  limiter.admit({ key: 'A' });
  assert.ok(limiter.admit({ key: 'A' }) instanceof RateRefusal);
  assert.equal(limiter.clear('key', 'A'), true);
  assert.equal(limiter.admit({ key: 'A' }), undefined);
  assert.equal(limiter.active, false);
  assert.deepEqual(limiter.throttled().find((t) => t.kind === 'key' && t.measure === 'requests')?.count, 1);
});

test('RateLimiter - clientIp believes X-Forwarded-For only from a trusted proxy, and only its last address', () => {
  const limiter = new RateLimiter({ trustedProxies: ['10.0.0.9'] });
  assert.equal(limiter.clientIp('10.0.0.9', '1.1.1.1, 192.0.2.7'), '192.0.2.7');
  assert.equal(limiter.clientIp('10.0.0.8', '192.0.2.7'), '10.0.0.8');
  assert.equal(limiter.clientIp('::ffff:10.0.0.8', undefined), '10.0.0.8');
});

test('RateLimiter - buckets kept per kind stay bounded under many names', () => {
  const c = clock();
  const limiter = new RateLimiter({ ip: { '*': { requestsPerSec: 1, requestsBurst: 5 } } }, { nowMs: c.nowMs });
  for (let i = 0; i < limitStatesMax * 2; i++) limiter.admit({ ip: `ip${i}` });
  assert.ok(limiter.statesKept('ip') <= limitStatesMax);
});

test('parseRateLimitConfig - refuses unknown fields, non-positive rates and bad IPs with the value named', () => {
  assert.throws(() => parseRateLimitConfig({ key: { A: { requestPerSec: 1 } } }), /unknown field "requestPerSec"/);
  assert.throws(() => parseRateLimitConfig({ key: { A: { requestsPerSec: 0 } } }), /"requestsPerSec" must be a positive number, not 0/);
  assert.throws(() => parseRateLimitConfig({ ip: { 'not-an-ip': { requestsPerSec: 1 } } }), /"not-an-ip" as an IP rate limit/);
  assert.throws(() => parseRateLimitConfig({ users: {} }), /unknown field "users"/);
  assert.deepEqual(parseRateLimitConfig({ ip: { '::ffff:10.0.0.1': { bytesPerSec: 5 } } }), { ip: { '10.0.0.1': { bytesPerSec: 5 } } });
});

test('RateLimiter - two workers that share their spending admit one burst between them, not one each', () => {
  const c = clock();
  const config = { key: { '*': { requestsPerSec: 10, requestsBurst: 10 } }, ip: { '*': { bytesPerSec: 1000 } } };
  const [a, b] = [new RateLimiter(config, { nowMs: c.nowMs }), new RateLimiter(config, { nowMs: c.nowMs })];
  a.shareSpending();
  b.shareSpending();
  for (let i = 0; i < 6; i++) assert.equal(a.admit({ key: 'K' }), undefined);
  const meter = a.admit({ ip: '10.0.0.1' });
  assert.ok(meter instanceof ByteMeter);
  meter.take(2500);
  const spent = a.takeSpent();
  assert.deepEqual(
    spent.sort((x, y) => x.kind.localeCompare(y.kind)),
    [
      { kind: 'ip', name: '10.0.0.1', requests: 0, bytes: 2500 },
      { kind: 'key', name: 'K', requests: 6, bytes: 0 },
    ],
  );
  assert.deepEqual(a.takeSpent(), [], 'spending is told once');
  b.absorbSpent(spent);
  for (let i = 0; i < 4; i++) assert.equal(b.admit({ key: 'K' }), undefined, `request ${i + 1} of the 4 left`);
  assert.ok(b.admit({ key: 'K' }) instanceof RateRefusal, 'the burst is spent across both');
  assert.ok(b.admit({ ip: '10.0.0.1' }) instanceof RateRefusal, 'the other worker\'s download debt (beyond one burst) refuses here too');
  assert.deepEqual(
    b.takeSpent().map((e) => [e.kind, e.requests]),
    [['key', 4]],
    'what was absorbed is not passed on again',
  );
});

test('RateLimiter - a process that does not share its spending keeps none', () => {
  const limiter = new RateLimiter({ key: { '*': { requestsPerSec: 10 } } });
  assert.equal(limiter.admit({ key: 'K' }), undefined);
  assert.deepEqual(limiter.takeSpent(), []);
});
