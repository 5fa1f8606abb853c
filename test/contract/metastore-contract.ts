// The MetaStore contract, written once and run against every backend (SQLite now, PostgreSQL later):
// ordering, range scans, conditional commits, atomicity and concurrent commits.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { MetaStore } from '../../src/meta/types.js';

const b = (s: string) => Buffer.from(s, 'utf8');

export function runMetaStoreContract(name: string, open: () => Promise<{ store: MetaStore; cleanup(): Promise<void> }>): void {
  const withStore = (title: string, body: (store: MetaStore) => Promise<void>) =>
    test(`${name} - ${title}`, async () => {
      const { store, cleanup } = await open();
      try {
        await body(store);
      } finally {
        await store.close();
        await cleanup();
      }
    });

  withStore('get returns null for a missing key and the value after a commit', async (store) => {
    assert.equal(await store.get(b('k')), null);
    assert.equal(await store.commit({ checks: [], writes: [{ key: b('k'), value: b('v') }] }), true);
    assert.deepEqual(await store.get(b('k')), b('v'));
    // fill: false only tells a cache not to keep the value; the answer is the same.
    assert.deepEqual(await store.get(b('k'), { fill: false }), b('v'));
    assert.equal(await store.get(b('absent'), { fill: false }), null);
  });

  withStore('scan returns keys in unsigned byte order within [start, end) up to limit', async (store) => {
    const names = [Buffer.from([0x00]), Buffer.from([0x7f]), Buffer.from([0x80]), Buffer.from([0xff]), b('a'), b('a\u0000'), b('ab'), b('é')];
    await store.commit({ checks: [], writes: names.map((key) => ({ key, value: key })) });
    const all = await store.scan({ start: Buffer.alloc(0), end: Buffer.from([0xff, 0xff]), limit: 100 });
    const sorted = [...names].sort(Buffer.compare);
    assert.deepEqual(all.map((kv) => kv.key), sorted);
    const some = await store.scan({ start: b('a'), end: b('b'), limit: 2 });
    assert.deepEqual(some.map((kv) => kv.key.toString()), ['a', 'a\u0000']);
    assert.deepEqual(await store.scan({ start: b('b'), end: b('a'), limit: 10 }), []);
  });

  withStore('commit applies nothing when a check fails', async (store) => {
    await store.commit({ checks: [], writes: [{ key: b('x'), value: b('1') }] });
    const ok = await store.commit({ checks: [{ key: b('x'), value: b('2') }], writes: [{ key: b('x'), value: b('3') }, { key: b('y'), value: b('3') }] });
    assert.equal(ok, false);
    assert.deepEqual(await store.get(b('x')), b('1'));
    assert.equal(await store.get(b('y')), null);
  });

  withStore('a null check requires absence and a null write deletes', async (store) => {
    assert.equal(await store.commit({ checks: [{ key: b('n'), value: null }], writes: [{ key: b('n'), value: b('1') }] }), true);
    assert.equal(await store.commit({ checks: [{ key: b('n'), value: null }], writes: [{ key: b('n'), value: b('2') }] }), false);
    assert.equal(await store.commit({ checks: [{ key: b('n'), value: b('1') }], writes: [{ key: b('n'), value: null }] }), true);
    assert.equal(await store.get(b('n')), null);
  });

  withStore('concurrent conditional commits on one key: exactly one wins', async (store) => {
    await store.commit({ checks: [], writes: [{ key: b('c'), value: b('0') }] });
    const results = await Promise.all(
      Array.from({ length: 50 }, (_, i) => store.commit({ checks: [{ key: b('c'), value: b('0') }], writes: [{ key: b('c'), value: b(String(i + 1)) }] })),
    );
    assert.equal(results.filter(Boolean).length, 1);
  });

  withStore('many concurrent independent commits all land', async (store) => {
    const results = await Promise.all(Array.from({ length: 500 }, (_, i) => store.commit({ checks: [], writes: [{ key: b(`k${String(i).padStart(4, '0')}`), value: b('v') }] })));
    assert.ok(results.every(Boolean));
    assert.equal((await store.scan({ start: b('k'), end: b('l'), limit: 1000 })).length, 500);
  });
}
