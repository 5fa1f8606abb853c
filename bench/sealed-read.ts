// The encrypted GET's data path alone, no HTTP or TLS: CPU per MiB of reading 1 MiB objects from a one-drive
// block store as leases (what GET sends), plain (readDataLeased) against sealed (readSealedLeased), for one
// or more built checkouts in one process, phases interleaved so load changes hit them alike.
// Run: npm run build && npx tsx bench/sealed-read.ts [--roots DIR_A,DIR_B] [--size-kib 1024] [--objects 32]
//        [--seconds 2] [--repeats 5] [--concurrency 4]      (run it twice, A,B then B,A, for both orders)
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { loadText, median } from './lib/machine.js';
import { repoRoot } from './lib/server.js';

const MiB = 2 ** 20;
const argv = process.argv.slice(2);
const option = (name: string, fallback: string) => (argv.includes(name) ? argv[argv.indexOf(name) + 1]! : fallback);
const roots = option('--roots', repoRoot).split(',').map((r) => resolve(r));
const sizeBytes = Number(option('--size-kib', '1024')) * 1024;
const objects = Number(option('--objects', '32'));
const seconds = Number(option('--seconds', '2'));
const repeats = Number(option('--repeats', '5'));
const concurrency = Number(option('--concurrency', '4'));

interface Lease { pieces: readonly Buffer[]; release(): void }
interface Checkout {
  name: string;
  read(sealed: boolean, i: number): AsyncIterable<Lease>;
  close(): Promise<void>;
}

async function openCheckout(root: string): Promise<Checkout> {
  const dist = (path: string) => import(pathToFileURL(join(root, 'dist', path)).href);
  const { openBlockStore } = await dist('blocks/index.js');
  const data = await dist('objects/data.js');
  const dir = await mkdtemp(join(tmpdir(), 'tessera-bench-sealed-read-'));
  const store = await openBlockStore({ drives: [join(dir, 'd0')], onDamage: () => undefined });
  const ctx = { blocks: store, inlineBytesMax: 0, nowMs: () => Date.now() };
  const dataKey = randomBytes(32);
  const key = { dataKey, partNumber: 0, chunkBytes: 65536 };
  const plainRefs: unknown[] = [];
  const sealedRefs: unknown[] = [];
  const body = randomBytes(sizeBytes);
  async function* once(): AsyncGenerator<Buffer> {
    yield body;
  }
  for (let i = 0; i < objects; i++) {
    plainRefs.push((await data.ingest(ctx, once(), { size: sizeBytes, forceBlock: true })).block);
    sealedRefs.push((await data.ingest(ctx, once(), { size: sizeBytes, forceBlock: true, seal: key })).block);
  }
  return {
    name: basename(root),
    read: (sealed, i) => sealed
      ? data.readSealedLeased(ctx, { data: { blocks: [sealedRefs[i]] }, size: sizeBytes, chunkBytes: 65536, dataKey }, 0, sizeBytes)
      : data.readDataLeased(ctx, { blocks: [plainRefs[i]] }, 0, sizeBytes),
    close: async () => {
      await store.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** CPU ms per MiB (every thread of this process) of reading the objects in turn for `seconds`. */
async function phase(checkout: Checkout, sealed: boolean): Promise<number> {
  const cpu = process.cpuUsage();
  const deadline = performance.now() + seconds * 1000;
  let bytes = 0;
  let next = 0;
  const worker = async () => {
    while (performance.now() < deadline) {
      const i = next++ % objects;
      for await (const lease of checkout.read(sealed, i)) {
        for (const piece of lease.pieces) bytes += piece.length;
        lease.release();
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  const used = process.cpuUsage(cpu);
  return (used.user + used.system) / 1000 / (bytes / MiB);
}

const checkouts: Checkout[] = [];
try {
  for (const root of roots) checkouts.push(await openCheckout(root));
  process.stdout.write(`date ${new Date().toISOString()}, load ${loadText()}, ${objects} × ${sizeBytes / 1024} KiB, c=${concurrency}, ${repeats} × ${seconds} s per phase, medians\n`);
  for (const c of checkouts) for (const sealed of [false, true]) await phase(c, sealed); // warm-up
  const results = new Map<string, number[]>();
  for (let r = 0; r < repeats; r++) {
    for (const c of checkouts) {
      for (const sealed of [false, true]) {
        const name = `${c.name} ${sealed ? 'sealed' : 'plain'}`;
        results.set(name, [...(results.get(name) ?? []), await phase(c, sealed)]);
      }
    }
  }
  for (const [name, cpus] of results) process.stdout.write(`${name.padEnd(24)} ${median(cpus).toFixed(2)} CPU ms/MiB (runs: ${cpus.map((x) => x.toFixed(2)).join(' ')})\n`);
} finally {
  for (const c of checkouts) await c.close();
}
process.stdout.write(`load ${loadText()} at end\n`);
