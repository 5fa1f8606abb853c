// Throughput of 1 MiB shard writes (create, append, commit with fsync) and reads (open, read all) on one
// drive: LocalDrive in process versus RemoteShardStore over loopback node RPC to a node server in this
// process (so client and server share one event loop, a pessimistic case), and plain node:http GETs of the same
// bytes as the ceiling of loopback HTTP on this machine. Reports MiB/s and p50/p99 per round, then the median
// MiB/s over the rounds and each phase's ratio to the local drive's.
// --baseline DIR also runs the node RPC (client and server) of another checkout's src/ (e.g. a `git archive`
// of the previous commit), in the same process and rounds, for a before/after comparison in one run.
// Run: npx tsx bench/shard-rpc.ts [--seconds N] [--parallel N] [--shard-kib N] [--rounds N] [--baseline DIR] [--dir DIR]
import { randomBytes } from 'node:crypto';
import { Agent, createServer, get } from 'node:http';
import { mkdtemp, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { LocalDrive } from '../src/blocks/drive.js';
import { newBlockId } from '../src/blocks/ids.js';
import { shardBlockBytes } from '../src/blocks/limits.js';
import type { ShardName, ShardStore } from '../src/blocks/shard-store.js';
import { createLogger } from '../src/util/log.js';

const { values } = parseArgs({
  options: {
    dir: { type: 'string' },
    seconds: { type: 'string', default: '5' },
    parallel: { type: 'string', default: '4' },
    'shard-kib': { type: 'string', default: '1024' },
    rounds: { type: 'string', default: '1' },
    baseline: { type: 'string' },
  },
});
const phaseMs = Number(values.seconds) * 1000;
const parallel = Number(values.parallel);
const shardBytes = Number(values['shard-kib']) * 1024;
const data = randomBytes(shardBytes);
const rounds = Number(values.rounds);
/** MiB/s and p50 latency (ms) of each phase, one entry per round. */
const results = new Map<string, number[]>();
const p50s = new Map<string, number[]>();

async function phase(name: string, op: (i: number) => Promise<void>): Promise<void> {
  const samples: number[] = [];
  const startMs = Date.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: parallel }, async () => {
      while (Date.now() - startMs < phaseMs) {
        const t0 = process.hrtime.bigint();
        await op(next++);
        samples.push(Number(process.hrtime.bigint() - t0) / 1e6);
      }
    }),
  );
  const elapsedS = (Date.now() - startMs) / 1000;
  samples.sort((a, b) => a - b);
  const pct = (p: number) => samples[Math.min(samples.length - 1, Math.floor(p * samples.length))]!.toFixed(1);
  const mibS = (samples.length * shardBytes) / 2 ** 20 / elapsedS;
  results.set(name, [...(results.get(name) ?? []), mibS]);
  p50s.set(name, [...(p50s.get(name) ?? []), Number(pct(0.5))]);
  console.log(`${name.padEnd(14)} ${String(samples.length).padStart(6)} ops  ${mibS.toFixed(1).padStart(7)} MiB/s  p50 ${pct(0.5)} ms  p99 ${pct(0.99)} ms`);
}

async function run(label: string, store: ShardStore): Promise<void> {
  const written: ShardName[] = [];
  await phase(`${label} write`, async () => {
    const shard = { blockId: newBlockId(), shardIndex: 0 };
    const writer = await store.createShard(shard, { blockBytes: shardBlockBytes });
    await writer.append(data);
    await writer.commit();
    written.push(shard);
  });
  await phase(`${label} read`, async (i) => {
    const reader = await store.openShard(written[i % written.length]!, { shardBytes });
    await reader.readPieces(0, shardBytes);
    await reader.close();
  });
}

/** The ceiling: plain node:http GETs of the same bytes from memory over the same loopback, no disk, no checks. */
async function runBare(): Promise<void> {
  const server = createServer((_req, res) => res.end(data));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const agent = new Agent({ keepAlive: true });
  const port = (server.address() as { port: number }).port;
  await phase('bare-http get', () => new Promise<void>((resolve, reject) => {
    get({ host: '127.0.0.1', port, agent }, (res) => {
      res.on('data', () => undefined);
      res.on('end', resolve);
      res.on('error', reject);
    }).on('error', reject);
  }));
  agent.destroy();
  await new Promise<void>((resolve) => server.close(() => resolve()));
}

/** A node server over `drive` and a RemoteShardStore of it, built from the src/ at `src`. */
async function rpcStore(src: string, drive: LocalDrive, nodeId: string): Promise<{ store: ShardStore; close(): Promise<void> }> {
  const { startNodeServer: start } = (await import(join(src, 'node', 'node-server.js'))) as typeof import('../src/node/node-server.js');
  const { RemoteNode: Node } = (await import(join(src, 'blocks', 'remote-node.js'))) as typeof import('../src/blocks/remote-node.js');
  const { RemoteShardStore: Store } = (await import(join(src, 'blocks', 'remote-shard-store.js'))) as typeof import('../src/blocks/remote-shard-store.js');
  const secret = randomBytes(32);
  const node = await start({ address: '127.0.0.1:0', nodeId, secret, drives: [drive], log: createLogger({ quiet: true }) });
  const remote = new Node({ url: node.url, nodeId, secret });
  return {
    store: new Store(remote, drive.id),
    close: async () => {
      remote.close();
      await node.close();
    },
  };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

const root = await mkdtemp(join(values.dir ?? tmpdir(), 'tessera-shard-rpc-'));
const drive = await LocalDrive.open(join(root, 'd0'), { create: true });
const current = await rpcStore(join(import.meta.dirname, '..', 'src'), drive, 'bench');
// The baseline opens the same drive with its own LocalDrive class, so its shard code is the baseline's too.
const baselineDrive = values.baseline ? await (await import(join(resolve(values.baseline), 'src', 'blocks', 'drive.js'))).LocalDrive.open(join(root, 'd1'), { create: true }) : undefined;
const baseline = values.baseline ? await rpcStore(join(resolve(values.baseline), 'src'), baselineDrive, 'baseline') : undefined;
try {
  console.log(`shard ${shardBytes / 1024} KiB, ${parallel} in parallel, ${phaseMs / 1000} s per phase, ${rounds} rounds, load ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
  for (let round = 0; round < rounds; round++) {
    await run('local', drive);
    // Alternate which RPC goes first, so neither always meets the other's leftover load.
    const order: [string, ShardStore][] = baseline ? [['rpc', current.store], ['rpc-baseline', baseline.store]] : [['rpc', current.store]];
    for (const [label, store] of round % 2 ? order.reverse() : order) await run(label, store);
    await runBare();
  }
  console.log(`load after ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
  console.log(`medians over ${rounds} rounds: MiB/s (ratio to local), p50 ms`);
  for (const kind of ['write', 'read']) {
    const local = median(results.get(`local ${kind}`)!);
    for (const label of ['local', 'rpc', 'rpc-baseline']) {
      const mibs = results.get(`${label} ${kind}`);
      if (mibs) console.log(`  ${`${label} ${kind}`.padEnd(20)} ${median(mibs).toFixed(1).padStart(7)}  (${(median(mibs) / local).toFixed(2)}x)  p50 ${median(p50s.get(`${label} ${kind}`)!).toFixed(1)}`);
    }
  }
  console.log(`  bare-http get        ${median(results.get('bare-http get')!).toFixed(1).padStart(7)}  p50 ${median(p50s.get('bare-http get')!).toFixed(1)}`);
} finally {
  await current.close();
  await baseline?.close();
  await rm(root, { recursive: true, force: true });
}
