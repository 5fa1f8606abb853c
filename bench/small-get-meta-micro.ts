// Micro-benchmark of a small GET's metadata reads in process: resolveVersionAndBucket() of the current
// version over a SQLite MetaStore opened `shared` as a worker of `tessera server --workers N` opens it (the
// PRAGMA data_version check before each read), every read a read-cache hit, as on a hot small object.
// Run: npx tsx bench/small-get-meta-micro.ts
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteMetaStore } from '../src/meta/sqlite/sqlite-store.js';
import { tempStore } from '../src/blocks/test-helpers.js';
import { createBucket } from '../src/objects/buckets.js';
import { putObject } from '../src/objects/put-object.js';
import { resolveVersionAndBucket } from '../src/objects/get-object.js';
import type { ObjectContext } from '../src/objects/context.js';

const objectCount = 256;
const dir = await mkdtemp(join(tmpdir(), 'tessera-meta-micro-'));
const meta = await SqliteMetaStore.open(join(dir, 'meta.db'), { shared: true });
const blocks = await tempStore(1);
const ctx: ObjectContext = { meta, blocks: blocks.store, nowMs: () => Date.now(), gcDelayMs: 0, inlineBytesMax: 128 * 1024, region: 'us-east-1' };
try {
  await createBucket(ctx, 'bench', 'owner');
  const body = Buffer.alloc(4096, 0x61);
  for (let i = 0; i < objectCount; i++) {
    await putObject(ctx, { bucket: 'bench', key: `obj-${String(i).padStart(6, '0')}`, owner: 'owner', body: (async function* () { yield body; })(), size: body.length, headers: {}, storageClass: 'STANDARD' });
  }
  const names = Array.from({ length: objectCount }, (_, i) => `obj-${String(i).padStart(6, '0')}`);
  const run = async (iterations: number): Promise<number> => {
    const start = process.cpuUsage();
    for (let i = 0; i < iterations; i++) await resolveVersionAndBucket(ctx, 'bench', names[i % objectCount]!);
    const used = process.cpuUsage(start);
    return (used.user + used.system) / iterations;
  };
  await run(20_000); // warm up the JIT and the read cache
  const samples: number[] = [];
  for (let i = 0; i < 5; i++) samples.push(await run(50_000));
  samples.sort((a, b) => a - b);
  console.log(`resolveVersionAndBucket, current version, cached: ${samples[2]!.toFixed(2)} µs/op (min ${samples[0]!.toFixed(2)}, max ${samples[4]!.toFixed(2)})`);
} finally {
  await meta.close();
  await blocks.close();
  await rm(dir, { recursive: true, force: true });
}
