// Latency of single shard operations on one local drive, to choose the drive operation timeout
// (docs/architecture.md): create, append, commit (fsync → rename → fsync dir), open and read, delete,
// probe, with `--parallel` writers at once as PUTs would. Reports p50/p99/p99.9/max per operation.
// Run: npx tsx bench/shard-ops.ts [--dir DIR] [--seconds N] [--parallel N] [--shard-kib N]
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { LocalDrive } from '../src/blocks/drive.js';
import { newBlockId } from '../src/blocks/ids.js';
import { shardBlockBytes } from '../src/blocks/limits.js';

const { values } = parseArgs({
  options: { dir: { type: 'string' }, seconds: { type: 'string', default: '20' }, parallel: { type: 'string', default: '6' }, 'shard-kib': { type: 'string', default: '256' } },
});
const durationMs = Number(values.seconds) * 1000;
const shardBytes = Number(values['shard-kib']) * 1024;
const root = await mkdtemp(join(values.dir ?? tmpdir(), 'tessera-shard-ops-'));
const drive = await LocalDrive.open(join(root, 'd0'), { create: true });
const samples = new Map<string, number[]>();
const timed = async <T>(op: string, work: () => Promise<T>): Promise<T> => {
  const startNs = process.hrtime.bigint();
  try {
    return await work();
  } finally {
    const list = samples.get(op) ?? [];
    list.push(Number(process.hrtime.bigint() - startNs) / 1e6);
    samples.set(op, list);
  }
};

const data = randomBytes(shardBytes);
const endMs = Date.now() + durationMs;
async function loop(): Promise<void> {
  while (Date.now() < endMs) {
    const shard = { blockId: newBlockId(), shardIndex: 0 };
    const writer = await timed('create', () => drive.createShard(shard, { blockBytes: shardBlockBytes }));
    await timed('append', () => writer.append(data));
    await timed('commit', () => writer.commit());
    const reader = await timed('open', () => drive.openShard(shard, { shardBytes }));
    await timed('read', () => reader.readPieces(0, shardBytes));
    await reader.close();
    await timed('probe', () => drive.probe());
    await timed('delete', () => drive.deleteShard(shard));
  }
}
await Promise.all(Array.from({ length: Number(values.parallel) }, loop));
await rm(root, { recursive: true, force: true });

const quantile = (sorted: number[], q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;
console.log(`${values.parallel} writers, ${shardBytes / 1024} KiB shards, ${values.seconds} s, on ${values.dir ?? tmpdir()}`);
console.log('op      count   p50 ms   p99 ms  p99.9 ms   max ms');
for (const [op, list] of samples) {
  const sorted = [...list].sort((a, b) => a - b);
  const cells = [0.5, 0.99, 0.999].map((q) => quantile(sorted, q).toFixed(2).padStart(8));
  console.log(`${op.padEnd(7)} ${String(list.length).padStart(5)} ${cells.join(' ')} ${(sorted.at(-1) ?? 0).toFixed(2).padStart(8)}`);
}
