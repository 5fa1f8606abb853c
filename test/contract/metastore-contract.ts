// The MetaStore contract, written once and run against every backend (SQLite, PostgreSQL): ordering, range
// scans, conditional commits, atomicity, concurrent commits, and what a shared database makes hard.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { counterValue, type MetaStore } from '../../src/meta/types.js';

const b = (s: string) => Buffer.from(s, 'utf8');

/** A fresh, empty database with one store open on it. */
export interface OpenedStore {
  store: MetaStore;
  /** Removes the database; every store on it is closed by then. */
  cleanup(): Promise<void>;
  /** Opens another store instance on the same database, where the backend allows two (not SQLite). */
  openAnother?(): Promise<MetaStore>;
}

export function runMetaStoreContract(name: string, open: () => Promise<OpenedStore>): void {
  const withStore = (title: string, body: (store: MetaStore) => Promise<void>) => withPair(title, (store) => body(store));
  function withPair(title: string, body: (one: MetaStore, two: MetaStore) => Promise<void>): void {
    test(`${name} - ${title}`, async () => {
      const { store, cleanup, openAnother } = await open();
      let another: MetaStore | undefined;
      try {
        another = openAnother ? await openAnother() : undefined;
        await body(store, another ?? store);
      } finally {
        await another?.close();
        await store.close();
        await cleanup();
      }
    });
  }

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

  // What a shared database makes hard. Each of these runs over two store instances on one database when
  // the backend can open two (PostgreSQL: `openAnother`), and over the one instance twice when it cannot
  // (SQLite: its data-directory lock admits one store per database), so every backend runs every case.
  withPair('a second instance sees a commit at once, and its conditional commits see it too', async (one, two) => {
    assert.equal(await one.commit({ checks: [{ key: b('s'), value: null }], writes: [{ key: b('s'), value: b('1') }] }), true);
    assert.deepEqual(await two.get(b('s')), b('1'));
    assert.deepEqual((await two.scan({ start: b('s'), end: b('t'), limit: 10 })).map((kv) => kv.value), [b('1')]);
    assert.equal(await two.commit({ checks: [{ key: b('s'), value: null }], writes: [{ key: b('s'), value: b('2') }] }), false);
    assert.equal(await two.commit({ checks: [{ key: b('s'), value: b('1') }], writes: [{ key: b('s'), value: null }] }), true);
    assert.equal(await one.get(b('s')), null);
  });

  withPair('racing inserts of one absent key from two instances: exactly one commits', async (one, two) => {
    const round = async (r: number): Promise<void> => {
      const key = b(`absent-${r}`);
      const results = await Promise.all(
        Array.from({ length: 10 }, (_, i) => (i % 2 === 0 ? one : two).commit({ checks: [{ key, value: null }], writes: [{ key, value: b(String(i)) }] })),
      );
      assert.equal(results.filter(Boolean).length, 1, `round ${r}`);
      assert.deepEqual(await one.get(key), b(String(results.indexOf(true))));
    };
    await Promise.all(Array.from({ length: 10 }, (_, r) => round(r)));
  });

  withPair('write skew between two instances: of two commits that each check what the other writes, exactly one commits', async (one, two) => {
    // Snapshot isolation would let both commit (each one's check still holds in its own snapshot). The
    // rounds run at once, so that some pairs overlap inside the database.
    const round = async (i: number): Promise<void> => {
      const [x, y] = [b(`skew-${i}-x`), b(`skew-${i}-y`)];
      await one.commit({ checks: [], writes: [{ key: x, value: b('0') }, { key: y, value: b('0') }] });
      const results = await Promise.all([
        one.commit({ checks: [{ key: x, value: b('0') }], writes: [{ key: y, value: b('1') }] }),
        two.commit({ checks: [{ key: y, value: b('0') }], writes: [{ key: x, value: b('1') }] }),
      ]);
      assert.equal(results.filter(Boolean).length, 1, `round ${i}`);
      const values = [await one.get(x), await one.get(y)].map((v) => v?.toString());
      assert.deepEqual(values.sort(), ['0', '1'], `round ${i}`);
    };
    await Promise.all(Array.from({ length: 40 }, (_, i) => round(i)));
  });

  withPair('read-modify-write loops on one key from two instances lose no update', async (one, two) => {
    const key = b('counter');
    await one.commit({ checks: [], writes: [{ key, value: b('0') }] });
    const increments = 10;
    const loop = async (store: MetaStore): Promise<void> => {
      for (let done = 0; done < increments; ) {
        const current = await store.get(key);
        assert.ok(current);
        if (await store.commit({ checks: [{ key, value: current }], writes: [{ key, value: b(String(Number(current.toString()) + 1)) }] })) done++;
      }
    };
    await Promise.all([one, two, one, two, one, two].map(loop));
    assert.equal((await two.get(key))?.toString(), String(6 * increments));
  });

  withPair('a range scan under concurrent inserts from another instance is ordered, complete and atomic per commit', async (one, two) => {
    const key = (i: number, side: string) => b(`r/${String(i).padStart(4, '0')}/${side}`);
    // Keys present before the scans start; they are never deleted, so every scan must return them.
    await one.commit({ checks: [], writes: Array.from({ length: 100 }, (_, i) => ({ key: key(i * 2, 'a'), value: b('old') })) });
    let inserting = true;
    const inserter = (async () => {
      // Each commit writes a pair of keys: a scan sees both or neither.
      for (let i = 0; inserting && i < 100; i++) {
        await two.commit({ checks: [], writes: [{ key: key(i * 2 + 1, 'a'), value: b('new') }, { key: key(i * 2 + 1, 'b'), value: b('new') }] });
      }
    })();
    try {
      for (let scanCount = 0; scanCount < 20; scanCount++) {
        const all = await one.scan({ start: b('r/'), end: b('r0'), limit: 1000 });
        for (let i = 1; i < all.length; i++) assert.ok(Buffer.compare(all[i - 1]!.key, all[i]!.key) < 0, 'scan out of order');
        const names = new Set(all.map((kv) => kv.key.toString()));
        for (let i = 0; i < 100; i++) assert.ok(names.has(key(i * 2, 'a').toString()), `scan lost ${key(i * 2, 'a').toString()}`);
        for (let i = 0; i < 100; i++) assert.equal(names.has(key(i * 2 + 1, 'a').toString()), names.has(key(i * 2 + 1, 'b').toString()), 'scan saw half a commit');
        // Paging with a small limit, as listings do, still returns every old key once and in order.
        const paged: Buffer[] = [];
        for (let start = b('r/'); ; ) {
          const page = await one.scan({ start, end: b('r0'), limit: 7 });
          paged.push(...page.map((kv) => kv.key));
          if (page.length < 7) break;
          start = Buffer.concat([page[page.length - 1]!.key, Buffer.from([0])]);
        }
        for (let i = 1; i < paged.length; i++) assert.ok(Buffer.compare(paged[i - 1]!, paged[i]!) < 0, 'paged scan out of order or repeated');
        const pagedNames = new Set(paged.map((k) => k.toString()));
        for (let i = 0; i < 100; i++) assert.ok(pagedNames.has(key(i * 2, 'a').toString()), 'paged scan lost an old key');
      }
    } finally {
      inserting = false;
      await inserter;
    }
  });

  withStore('keys and values with every byte value, empty values and long keys keep their bytes and order', async (store) => {
    const every = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
    const singles = Array.from({ length: 256 }, (_, i) => Buffer.from([i]));
    const pairs = Array.from({ length: 256 }, (_, i) => Buffer.from([0x61, i, 0x00]));
    // The longest key the object layer builds is under 2.2 KB: a 1024-byte object key of NULs escaped to
    // 2048 bytes, plus the space byte, bucket, separators and a version key.
    // Its middle is incompressible, as a backend that compresses index entries would meet it at worst.
    let seed = 1;
    const middle = Buffer.from(Array.from({ length: 2198 }, () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) >> 23));
    const long = (last: number) => Buffer.concat([Buffer.from([0x6c]), middle, Buffer.from([last])]);
    const longs = [long(0x00), long(0x01), long(0xff)];
    const writes = [...singles, ...pairs, ...longs].map((key) => ({ key, value: Buffer.concat([every, key]) }));
    assert.equal(await store.commit({ checks: [], writes }), true);
    for (const key of [...singles, ...pairs, ...longs]) assert.deepEqual(await store.get(key), Buffer.concat([every, key]));
    const all = await store.scan({ start: Buffer.alloc(0), end: Buffer.alloc(3000, 0xff), limit: 1000 });
    assert.deepEqual(all.map((kv) => kv.key), [...singles, ...pairs, ...longs].sort(Buffer.compare));
    assert.deepEqual((await store.scan({ start: Buffer.from([0x61, 0x00]), end: Buffer.from([0x61, 0x01]), limit: 10 })).map((kv) => kv.key), [pairs[0]]);
    // A check with the exact bytes holds; one byte off does not.
    assert.equal(await store.commit({ checks: [{ key: longs[1]!, value: Buffer.concat([every, longs[1]!]) }], writes: [{ key: longs[1]!, value: every }] }), true);
    assert.equal(await store.commit({ checks: [{ key: longs[1]!, value: Buffer.concat([every.subarray(1), Buffer.from([0])]) }], writes: [] }), false);

    // An empty value is present, not absent: get gives an empty Buffer, a null check fails on it.
    assert.equal(await store.commit({ checks: [{ key: b('empty'), value: null }], writes: [{ key: b('empty'), value: Buffer.alloc(0) }] }), true);
    const empty = await store.get(b('empty'));
    assert.ok(empty !== null && empty.length === 0, 'an empty value read back as absent');
    assert.equal(await store.commit({ checks: [{ key: b('empty'), value: null }], writes: [] }), false);
    assert.equal(await store.commit({ checks: [{ key: b('empty'), value: Buffer.alloc(0) }], writes: [{ key: b('empty'), value: b('x') }] }), true);
    assert.equal(await store.commit({ checks: [{ key: b('absent-empty'), value: Buffer.alloc(0) }], writes: [] }), false);
    // The empty key is a key too.
    assert.equal(await store.commit({ checks: [], writes: [{ key: Buffer.alloc(0), value: b('root') }] }), true);
    assert.deepEqual(await store.get(Buffer.alloc(0)), b('root'));
    assert.deepEqual((await store.scan({ start: Buffer.alloc(0), end: Buffer.from([0x00]), limit: 10 })).map((kv) => kv.key), [Buffer.alloc(0)]);
  });

  withStore('writes to one key in one commit apply in order: the last one wins', async (store) => {
    assert.equal(await store.commit({ checks: [], writes: [{ key: b('w'), value: b('1') }, { key: b('w'), value: null }] }), true);
    assert.equal(await store.get(b('w')), null);
    assert.equal(await store.commit({ checks: [], writes: [{ key: b('w'), value: null }, { key: b('w'), value: b('2') }, { key: b('w'), value: b('3') }] }), true);
    assert.deepEqual(await store.get(b('w')), b('3'));
  });
  withStore('readMany answers each get and each scan as the single calls do, in the order asked', async (store) => {
    const every = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
    const names = [b('a'), b('a\u0000'), b('ab'), b('b'), Buffer.from([0x00]), Buffer.from([0xff]), every];
    await store.commit({ checks: [], writes: names.map((key, i) => ({ key, value: i === 0 ? Buffer.alloc(0) : Buffer.concat([key, every]) })) });
    const gets = [b('b'), b('absent'), b('a'), every, b('b'), Buffer.from([0xff])];
    const scans = [
      { start: b('a'), end: b('b'), limit: 2 },
      { start: b('a'), end: b('c'), limit: 100 },
      { start: b('x'), end: b('z'), limit: 5 },
      { start: b('b'), end: b('a'), limit: 5 },
      { start: Buffer.alloc(0), end: Buffer.from([0xff, 0xff]), limit: 1 },
    ];
    const result = await store.readMany({ gets, scans });
    assert.deepEqual(result.values, await Promise.all(gets.map((key) => store.get(key))));
    assert.deepEqual(result.values[0], Buffer.concat([b('b'), every]));
    assert.deepEqual(result.values[2], Buffer.alloc(0)); // an empty value is not an absent key
    assert.deepEqual(result.scans, await Promise.all(scans.map((range) => store.scan(range))));
    assert.deepEqual(result.scans[0]!.map((kv) => kv.key), [b('a'), b('a\u0000')]);
    assert.deepEqual(await store.readMany({ gets: [], scans: [] }), { values: [], scans: [] });
    assert.deepEqual(await store.readMany({ gets: [b('absent')], scans: [] }), { values: [null], scans: [] });
  });

  withPair('readMany on a second instance sees a commit at once', async (one, two) => {
    assert.equal(await one.commit({ checks: [], writes: [{ key: b('k'), value: b('1') }, { key: b('k2'), value: b('2') }] }), true);
    const result = await two.readMany({ gets: [b('k')], scans: [{ start: b('k'), end: b('l'), limit: 10 }] });
    assert.deepEqual(result.values, [b('1')]);
    assert.deepEqual(result.scans[0]!.map((kv) => kv.value), [b('1'), b('2')]);
  });

  withStore('adds sum into a counter, absent counting as 0, and only when the commit checks hold', async (store) => {
    const n = b('n');
    assert.equal(await store.commit({ checks: [], writes: [], adds: [{ key: n, delta: 5 }, { key: n, delta: 2 }] }), true);
    assert.equal(counterValue(await store.get(n)), 7);
    assert.equal(await store.commit({ checks: [], writes: [{ key: b('w'), value: b('1') }], adds: [{ key: n, delta: -10 }, { key: b('m'), delta: 2 ** 40 }] }), true);
    assert.equal(counterValue(await store.get(n)), -3);
    assert.equal(counterValue(await store.get(b('m'))), 2 ** 40);
    assert.equal(await store.commit({ checks: [{ key: b('w'), value: b('2') }], writes: [], adds: [{ key: n, delta: 100 }] }), false);
    assert.equal(counterValue(await store.get(n)), -3, 'a commit whose check failed adds nothing');
  });

  withPair('adds from concurrent commits on two instances all count', async (one, two) => {
    const n = b('n');
    const commits = Array.from({ length: 40 }, (_, i) => (i % 2 === 0 ? one : two).commit({ checks: [], writes: [{ key: b(`k${i}`), value: b('v') }], adds: [{ key: n, delta: i + 1 }] }));
    assert.deepEqual(await Promise.all(commits), commits.map(() => true));
    assert.equal(counterValue(await one.get(n)), (40 * 41) / 2);
  });
}
