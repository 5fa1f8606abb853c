// NonceCache: the replay guard of node RPC authentication, bounded in memory.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rpcClockSkewMaxMs } from '../blocks/rpc-protocol.js';
import { NonceCache, RpcRefusal } from './auth.js';

test('NonceCache - refuses a nonce it has seen, and forgets it only once its request left the window', () => {
  const cache = new NonceCache(10);
  const nowMs = 1_000_000;
  assert.equal(cache.admit('a', nowMs, nowMs), true);
  assert.equal(cache.admit('a', nowMs, nowMs + 1000), false);
  cache.sweep(nowMs + rpcClockSkewMaxMs - 1);
  assert.equal(cache.admit('a', nowMs, nowMs + 1000), false);
  cache.sweep(nowMs + rpcClockSkewMaxMs + 1);
  assert.equal(cache.size, 0);
});

test('NonceCache - when full of live nonces it refuses new requests (503) rather than forget one', () => {
  const cache = new NonceCache(2);
  const nowMs = 1_000_000;
  cache.admit('a', nowMs, nowMs);
  cache.admit('b', nowMs, nowMs);
  assert.throws(() => cache.admit('c', nowMs, nowMs), (err) => err instanceof RpcRefusal && err.status === 503);
  assert.equal(cache.admit('a', nowMs, nowMs), false, 'a seen nonce is still refused');
  assert.equal(cache.admit('c', nowMs, nowMs + rpcClockSkewMaxMs + 1), true, 'room again once old nonces expire');
});

test('NonceCache - expired nonces are dropped as new ones arrive, without waiting for the cache to fill', () => {
  const cache = new NonceCache(1000);
  const nowMs = 1_000_000;
  for (let i = 0; i < 10; i++) cache.admit(`old${i}`, nowMs, nowMs);
  cache.admit('new', nowMs + rpcClockSkewMaxMs + 1, nowMs + rpcClockSkewMaxMs + 1);
  assert.equal(cache.size, 1);
});
