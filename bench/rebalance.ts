// Rebalance speed after adding a node (issue 11): a 6-node dev-cluster filled with N MiB of 1 MiB objects,
// client GET/PUT throughput measured alone, then a 7th node assigned and applied while the same client load
// runs; the rebalance's MB/s comes from `tessera admin status` (bytesMoved over the time it kept moving).
// Run: npm run build && npx tsx bench/rebalance.ts [--fill-mib 512] [--seconds 8] [--concurrency 4] [--rate 100] [--bandwidth 32]
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { CreateBucketCommand, GetObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { startCluster } from '../test/helpers/cluster.js';
import { admin, clusterStatus, startExtraNode, type ExtraNode } from '../test/cluster/layout-ops.js';
import { describeMachine, machineInfo } from './lib/machine.js';

const MiB = 1024 * 1024;
const bucket = 'bench';

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(name);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
}

interface Load {
  gets: number;
  puts: number;
  errors: number;
  ms: number;
}

/** `concurrency` clients alternating GET of a random filled object and PUT of a new one (1 MiB each) until `until()` says stop. */
async function clientLoad(s3: S3Client, objects: number, concurrency: number, until: () => boolean): Promise<Load> {
  const body = randomBytes(MiB);
  const load: Load = { gets: 0, puts: 0, errors: 0, ms: 0 };
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (!until()) {
        const i = next++;
        try {
          if (i % 2 === 0) {
            const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: `fill/${i % objects}` }));
            await got.Body!.transformToByteArray();
            load.gets++;
          } else {
            await s3.send(new PutObjectCommand({ Bucket: bucket, Key: `load/${i}`, Body: body }));
            load.puts++;
          }
        } catch {
          load.errors++;
        }
      }
    }),
  );
  load.ms = performance.now() - t0;
  return load;
}

const mbps = (count: number, ms: number) => ((count * MiB) / 1e6 / (ms / 1000)).toFixed(1);

async function main(): Promise<void> {
  const fillMiB = arg('--fill-mib', 512);
  const seconds = arg('--seconds', 8);
  const concurrency = arg('--concurrency', 4);
  const env: Record<string, string> = {};
  if (process.argv.includes('--rate')) env.TESSERA_REBALANCE_RATE = String(arg('--rate', 100));
  if (process.argv.includes('--bandwidth')) env.TESSERA_REBALANCE_BANDWIDTH = String(arg('--bandwidth', 32));
  const cluster = await startCluster({ nodes: 6, env });
  const s3 = cluster.client();
  let node7: ExtraNode | undefined;
  try {
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    const fillBody = randomBytes(MiB);
    let filled = 0;
    const tFill = performance.now();
    await Promise.all(Array.from({ length: 8 }, async () => {
      for (let i = filled++; i < fillMiB; i = filled++) await s3.send(new PutObjectCommand({ Bucket: bucket, Key: `fill/${i}`, Body: fillBody }));
    }));
    process.stderr.write(`filled ${fillMiB} MiB in ${((performance.now() - tFill) / 1000).toFixed(1)} s\n`);

    const stopAt = performance.now() + seconds * 1000;
    const before = await clientLoad(s3, fillMiB, concurrency, () => performance.now() > stopAt);

    node7 = await startExtraNode(cluster, 'node7');
    await admin(cluster, ['layout', 'assign', 'node7', '--address', node7.address, '--zone', 'zone-1']);
    await admin(cluster, ['layout', 'apply', '--epoch', '2']);
    const tApply = performance.now();
    // Moving is over once the first walk has checked every block (later walks only look again).
    let moving = true;
    let lastMovedAt = tApply;
    let bytesMoved = 0;
    const during = clientLoad(s3, fillMiB, concurrency, () => !moving);
    for (;;) {
      const r = (await clusterStatus(cluster)).rebalance;
      if (r && r.toEpoch === 2 && r.bytesMoved > bytesMoved) {
        bytesMoved = r.bytesMoved;
        lastMovedAt = performance.now();
      }
      if (r && r.toEpoch === 2 && (r.state === 'idle' || r.blocksChecked >= r.blocksTotal)) break;
      if (performance.now() - tApply > 300_000) throw new Error('The rebalance did not finish its walk in 300 s');
      await sleep(250);
    }
    moving = false;
    const load = await during;
    const moveMs = lastMovedAt - tApply;
    const machine = machineInfo();
    const out = [
      `Rebalance after adding a 7th node to a 6-node dev-cluster holding ${fillMiB} MiB (1 MiB objects, RS 4+2), ${concurrency} clients of 1 MiB GET/PUT;`,
      `rebalance flags: ${Object.entries(env).map(([k, v]) => `${k}=${v}`).join(' ') || 'defaults'}. ${describeMachine(machine)}`,
      '',
      '| phase | seconds | rebalance MB/s | GET MB/s | PUT MB/s | errors |',
      '|---|---|---|---|---|---|',
      `| before | ${(before.ms / 1000).toFixed(1)} | - | ${mbps(before.gets, before.ms)} | ${mbps(before.puts, before.ms)} | ${before.errors} |`,
      `| during the move | ${(load.ms / 1000).toFixed(1)} | ${(bytesMoved / 1e6 / (moveMs / 1000)).toFixed(1)} (${(bytesMoved / MiB).toFixed(0)} MiB of shards in ${(moveMs / 1000).toFixed(1)} s) | ${mbps(load.gets, load.ms)} | ${mbps(load.puts, load.ms)} | ${load.errors} |`,
    ];
    process.stdout.write(`${out.join('\n')}\n`);
  } finally {
    s3.destroy();
    await node7?.stop();
    await cluster.stop();
  }
}

await main();
