// The read cache's cost in a shared SQLite MetaStore (issue 17, `--workers N`): get() of a hot key and a
// one-row readMany scan (what GET does) with the cache of a one-process store, with the cache kept coherent
// by PRAGMA data_version (shared), and with no cache; µs of CPU per read on this process's thread, the
// three variants interleaved within each repeat.
// Run: npx tsx bench/meta-shared-read.ts [--reads 50000] [--repeats 5]
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteMetaStore } from '../src/meta/sqlite/sqlite-store.js';
import { median } from './lib/machine.js';

const argv = process.argv.slice(2);
const reads = Number(argv[argv.indexOf('--reads') + 1] || 50_000);
const repeats = Number(argv[argv.indexOf('--repeats') + 1] || 5);
const dir = await mkdtemp(join(tmpdir(), 'tessera-meta-read-'));
try {
  const variants: [string, SqliteMetaStore][] = [
    ['one process, cache', await SqliteMetaStore.open(join(dir, 'a.db'))],
    ['shared, cache + data_version', await SqliteMetaStore.open(join(dir, 'b.db'), { shared: true })],
    ['shared, no cache', await SqliteMetaStore.open(join(dir, 'c.db'), { shared: true, cacheBytes: 0 })],
  ];
  const keys = Array.from({ length: 256 }, (_, i) => Buffer.from(`o\x00bucket\x00key-${i}\x00v`));
  for (const [, store] of variants) await store.commit({ checks: [], writes: keys.map((key) => ({ key, value: Buffer.alloc(300, 7) })) });
  const results = new Map<string, number[]>();
  for (let r = 0; r < repeats; r++) {
    for (const [name, store] of variants) {
      const start = process.cpuUsage();
      for (let i = 0; i < reads; i++) {
        const key = keys[i % keys.length]!;
        await store.get(key);
        await store.readMany({ gets: [], scans: [{ start: key, end: Buffer.concat([key, Buffer.from([0xff])]), limit: 1 }] });
      }
      const used = process.cpuUsage(start);
      results.set(name, [...(results.get(name) ?? []), (used.user + used.system) / reads]);
    }
  }
  process.stdout.write(`${reads} × (get + one-row scan) of 256 hot keys, median of ${repeats}\n`);
  for (const [name, list] of results) process.stdout.write(`${name}: ${median(list).toFixed(2)} µs CPU per get+scan (runs ${list.map((x) => x.toFixed(2)).join(', ')})\n`);
  for (const [, store] of variants) await store.close();
} finally {
  await rm(dir, { recursive: true, force: true });
}
