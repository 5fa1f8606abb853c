// Throughput of 1 MiB shard writes (create, append, commit with fsync) and reads (open, read all) on one
// drive: LocalDrive in process versus RemoteShardStore over loopback node RPC to a node server in this
// process (so client and server share one event loop, a pessimistic case), and plain node:http GETs of the same
// bytes as the ceiling of loopback HTTP on this machine. Reports MiB/s and p50/p99.
// Run: npx tsx bench/shard-rpc.ts [--seconds N] [--parallel N] [--shard-kib N] [--dir DIR]
import { randomBytes } from 'node:crypto';
import { Agent, createServer, get } from 'node:http';
import { mkdtemp, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { LocalDrive } from '../src/blocks/drive.js';
import { newBlockId } from '../src/blocks/ids.js';
import { shardBlockBytes } from '../src/blocks/limits.js';
import { RemoteNode } from '../src/blocks/remote-node.js';
import { RemoteShardStore } from '../src/blocks/remote-shard-store.js';
import type { ShardName, ShardStore } from '../src/blocks/shard-store.js';
import { startNodeServer } from '../src/node/node-server.js';
import { createLogger } from '../src/util/log.js';

const { values } = parseArgs({
  options: { dir: { type: 'string' }, seconds: { type: 'string', default: '5' }, parallel: { type: 'string', default: '4' }, 'shard-kib': { type: 'string', default: '1024' } },
});
const phaseMs = Number(values.seconds) * 1000;
const parallel = Number(values.parallel);
const shardBytes = Number(values['shard-kib']) * 1024;
const data = randomBytes(shardBytes);

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

const root = await mkdtemp(join(values.dir ?? tmpdir(), 'tessera-shard-rpc-'));
const drive = await LocalDrive.open(join(root, 'd0'), { create: true });
const secret = randomBytes(32);
const node = await startNodeServer({ address: '127.0.0.1:0', nodeId: 'bench', secret, drives: [drive], log: createLogger({ quiet: true }) });
const remote = new RemoteNode({ url: node.url, nodeId: 'bench', secret });
try {
  console.log(`shard ${shardBytes / 1024} KiB, ${parallel} in parallel, ${phaseMs / 1000} s per phase, load ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
  await run('local', drive);
  await run('rpc', new RemoteShardStore(remote, drive.id));
  await runBare();
  console.log(`load after ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
} finally {
  remote.close();
  await node.close();
  await rm(root, { recursive: true, force: true });
}
