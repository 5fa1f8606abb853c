// What an encrypted GET pays per request to open its object's data key (objects/sse.ts openDataKey), beside
// the chunks: SSE-S3 (the key service's unwrap, master key cached) and SSE-C (the customer key's MAC checked,
// the data key unwrapped under it). CPU µs per call, sequential, SQLite in process; medians of --repeats.
// Run: npx tsx bench/sse-open-key.ts [--calls 20000] [--repeats 3]
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteMetaStore } from '../src/meta/sqlite/sqlite-store.js';
import { LocalKeyService } from '../src/kms/local-key-service.js';
import { newSealing, openDataKey } from '../src/objects/sse.js';
import type { ObjectContext } from '../src/objects/context.js';
import { loadText, median } from './lib/machine.js';

const argv = process.argv.slice(2);
const flag = (name: string, fallback: number) => (argv.includes(name) ? Number(argv[argv.indexOf(name) + 1]) : fallback);
const calls = flag('--calls', 20_000);
const repeats = flag('--repeats', 3);

const dir = await mkdtemp(join(tmpdir(), 'tessera-bench-sse-open-key-'));
const meta = await SqliteMetaStore.open(join(dir, 'meta.db'));
try {
  const kms = new LocalKeyService(meta, randomBytes(32), { region: 'us-east-1' });
  await kms.create({ keyId: 'tessera-sse-s3' }).catch(() => undefined);
  const ctx = { meta, kms } as unknown as ObjectContext;
  const customerKey = randomBytes(32);
  const modes = [
    { name: 'SSE-S3', encryption: (await newSealing(ctx, 'bucket', 'key', { mode: 'AES256' })).encryption, key: undefined },
    { name: 'SSE-C', encryption: (await newSealing(ctx, 'bucket', 'key', { mode: 'customer', customerKey })).encryption, key: customerKey },
  ];
  process.stdout.write(`date ${new Date().toISOString()}, load ${loadText()}, ${calls} calls × ${repeats}\n`);
  for (const { name, encryption, key } of modes) {
    const runs: number[] = [];
    for (let r = 0; r <= repeats; r++) {
      const cpu = process.cpuUsage();
      for (let i = 0; i < calls; i++) await openDataKey(ctx, 'bucket', 'key', encryption, key);
      const used = process.cpuUsage(cpu);
      if (r > 0) runs.push((used.user + used.system) / calls); // the first is warm-up
    }
    process.stdout.write(`${name.padEnd(7)} ${median(runs).toFixed(1)} CPU µs per openDataKey (runs: ${runs.map((x) => x.toFixed(1)).join(' ')})\n`);
  }
} finally {
  await meta.close();
  await rm(dir, { recursive: true, force: true });
}
