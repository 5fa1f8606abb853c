// What the key service adds to an SSE GET (one data key unwrapped) on SQLite and on PostgreSQL: wall µs per
// decryptDataKey with the key read from the MetaStore and its material opened each time (a cold cache: what
// every call cost before the cache), and with the key cached. Sequential calls, as one request makes one.
// Run: npx tsx bench/kms-key-micro.ts [--calls 2000] [--pg]   (--pg starts a throwaway PostgreSQL)
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { SqliteMetaStore } from '../src/meta/sqlite/sqlite-store.js';
import { PostgresMetaStore } from '../src/meta/postgres/postgres-store.js';
import type { MetaStore } from '../src/meta/types.js';
import { LocalKeyService } from '../src/kms/local-key-service.js';
import { startPostgres } from '../test/helpers/postgres.js';

const argv = process.argv.slice(2);
const calls = argv.includes('--calls') ? Number(argv[argv.indexOf('--calls') + 1]) : 2000;

async function measure(name: string, meta: MetaStore): Promise<void> {
  const kms = new LocalKeyService(meta, randomBytes(32), { region: 'us-east-1' });
  await kms.create({ keyId: 'bench' });
  const context = { 'aws:s3:arn': 'arn:aws:s3:::bucket/key' };
  const { wrapped } = await kms.generateDataKey('bench', context);
  const run = async (cold: boolean) => {
    const start = process.hrtime.bigint();
    for (let i = 0; i < calls; i++) {
      // A change seen: the cache is emptied, so the call reads the record and opens the material again.
      if (cold) (kms as unknown as { forget(): void }).forget();
      await kms.decryptDataKey('bench', wrapped, context);
    }
    return Number(process.hrtime.bigint() - start) / 1000 / calls;
  };
  await run(true);
  await run(false);
  const cold = [await run(true), await run(true), await run(true)].sort((a, b) => a - b)[1]!;
  const warm = [await run(false), await run(false), await run(false)].sort((a, b) => a - b)[1]!;
  console.log(`${name}: decryptDataKey ${cold.toFixed(1)} µs uncached (record read + material opened), ${warm.toFixed(1)} µs cached`);
}

const dir = await mkdtemp(join(tmpdir(), 'tessera-kms-bench-'));
try {
  const sqlite = await SqliteMetaStore.open(join(dir, 'meta'));
  await measure('SQLite', sqlite);
  await sqlite.close();
  if (argv.includes('--pg')) {
    const pg = await startPostgres();
    try {
      const store = await PostgresMetaStore.open({ url: await pg.createDatabase() });
      await measure('PostgreSQL (loopback)', store);
      await store.close();
    } finally {
      await pg.cleanup();
    }
  }
} finally {
  await rm(dir, { recursive: true, force: true });
}
