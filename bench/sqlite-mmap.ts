// What mapping the database file costs a SQLite reader when commits land between its reads (issue 17):
// a writer connection fills a WITHOUT ROWID table like the MetaStore's kv, then a read-only connection
// does a point get and a one-row range scan (what a PUT reads before its commit) and 1,000-row scans (a
// listing page), with a small commit before each read or every fourth, or none. Each configuration is run
// twice, alternating. A second thread spins meanwhile unless --no-spin, since a munmap in a process whose
// other threads run costs a TLB shootdown on their cores, as in the server.
// Run: npx tsx bench/sqlite-mmap.ts [--rows 200000] [--reads 20000] [--no-spin]
import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';

const argv = process.argv.slice(2);
const option = (name: string, fallback: number) => {
  const i = argv.indexOf(name);
  return i >= 0 ? Number(argv[i + 1]) : fallback;
};
const rows = option('--rows', 200_000);
const reads = option('--reads', 20_000);
const listPages = 300;

const dir = mkdtempSync(join(tmpdir(), 'tessera-sqlite-mmap-'));
const path = join(dir, 'kv.db');
const spinner = argv.includes('--no-spin') ? undefined : new Worker('for (;;) {}', { eval: true });
const writer = new Database(path);
writer.pragma('journal_mode = WAL');
writer.pragma('synchronous = NORMAL'); // the cost measured is the reader's, not the disk's
writer.exec('CREATE TABLE kv (k BLOB PRIMARY KEY, v BLOB NOT NULL) WITHOUT ROWID');
const put = writer.prepare('INSERT OR REPLACE INTO kv VALUES (?, ?)');
const keyOf = (i: number) => Buffer.from(`key/${String(i % rows).padStart(8, '0')}`);
writer.transaction(() => {
  for (let i = 0; i < rows; i++) put.run(keyOf(i), Buffer.alloc(150, i & 255));
})();
writer.pragma('wal_checkpoint(TRUNCATE)');
const commit = (i: number, puts: number) =>
  writer.transaction(() => {
    for (let j = 0; j < puts; j++) put.run(keyOf(i * 7919 + j * 104_729), Buffer.alloc(150, 1));
  })();

interface Reader {
  name: string;
  pragmas: string[];
}
const readers: Reader[] = [
  { name: 'mapped (mmap_size 256 MiB)', pragmas: ['mmap_size = 268435456'] },
  { name: 'pread, 2 MiB page cache', pragmas: [] },
  { name: 'pread, 16 MiB page cache', pragmas: ['cache_size = -16384'] },
];

function measure(reader: Reader, commitEvery: number): string {
  const db = new Database(path, { readonly: true });
  for (const pragma of reader.pragmas) db.pragma(pragma);
  const get = db.prepare('SELECT v FROM kv WHERE k = ?');
  const scan = db.prepare('SELECT k, v FROM kv WHERE k >= ? AND k < ? ORDER BY k LIMIT ?');
  const end = Buffer.from('key/~');
  let started = process.hrtime.bigint();
  let committing = 0n;
  for (let i = 0; i < reads; i++) {
    if (commitEvery > 0 && i % commitEvery === 0) {
      const t = process.hrtime.bigint();
      commit(i, 4);
      committing += process.hrtime.bigint() - t;
    }
    get.get(keyOf(i * 31_337));
    scan.all(keyOf(i * 7777), end, 1);
  }
  const pointUs = Number(process.hrtime.bigint() - started - committing) / reads / 1000;
  started = process.hrtime.bigint();
  committing = 0n;
  for (let i = 0; i < listPages; i++) {
    if (commitEvery > 0 && i % commitEvery === 0) {
      const t = process.hrtime.bigint();
      commit(i, 1);
      committing += process.hrtime.bigint() - t;
    }
    scan.all(keyOf((i * 555) % (rows - 2000)), end, 1000);
  }
  const listUs = Number(process.hrtime.bigint() - started - committing) / listPages / 1000;
  db.close();
  return `${pointUs.toFixed(1)} µs per get + one-row scan, ${listUs.toFixed(0)} µs per 1,000-row scan`;
}

process.stdout.write(`${rows} rows, ${reads} reads, ${listPages} listing scans, commit time excluded${spinner ? ', a second thread spinning' : ''}\n`);
try {
  for (const commitEvery of [0, 1, 4]) {
    for (let round = 0; round < 2; round++) {
      for (const reader of readers) {
        process.stdout.write(`commit ${commitEvery === 0 ? 'never' : `before every ${commitEvery === 1 ? '' : `${commitEvery}th `}read`}, ${reader.name}: ${measure(reader, commitEvery)}\n`);
      }
    }
  }
} finally {
  writer.close();
  await spinner?.terminate();
  rmSync(dir, { recursive: true, force: true });
}
