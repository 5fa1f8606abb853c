// A 6-node loopback cluster (`tessera dev-cluster`: 6 node processes and a gateway) next to one `tessera
// server` with 6 drives, in one run: PUT and GET of 4 KiB, 1 MiB and 64 MiB, loads interleaved within
// each round, medians of the rounds, and the ratio cluster ÷ single. Both run the built CLI as users do,
// with default settings, and both store RS 4+2 over 6 drive directories on this machine's one disk.
// Run: npm run build && npx tsx bench/cluster.ts [--seconds 2] [--repeats 3] [--concurrency 4] [--sizes 4k,1m,64m] [--client wrk|node]
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compare, prepare, type CompareCell, type CompareSize, type Contender } from './lib/compare.js';
import { wrkAvailable, type Driver } from './lib/load.js';
import { describeMachine, loadText, machineInfo, markdownTable, median, num, processTreeCpuSeconds } from './lib/machine.js';
import { checkBuild, type BenchServer, type LoopStats } from './lib/server.js';
import { startCluster, type Cluster } from '../test/helpers/cluster.js';
import { startTessera, type TesseraProcess } from '../test/helpers/tessera.js';

const KiB = 1024;
const MiB = 1024 * KiB;

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

const allSizes: Record<string, CompareSize> = {
  '4k': { label: '4 KiB', bytes: 4 * KiB, getObjects: 64, putKeys: 256 },
  '1m': { label: '1 MiB', bytes: MiB, getObjects: 16, putKeys: 64 },
  '64m': { label: '64 MiB', bytes: 64 * MiB, getObjects: 3, putKeys: 8 },
};

/**
 * compare()'s view of a contender: CPU is read from /proc for the process and its direct children (the
 * cluster: dev-cluster, its 6 nodes and the gateway), so both sides are measured the same way. No
 * event-loop figures: they would need an agent inside each process.
 */
function contender(options: { url: string; pid: number; dataDir: string; credentials: BenchServer['credentials']; stop: () => Promise<void>; logs: () => string }): BenchServer {
  let markedCpuS = 0;
  let markedAtMs = 0;
  return {
    url: options.url,
    pid: options.pid,
    dataDir: options.dataDir,
    credentials: options.credentials,
    mark: async () => {
      markedCpuS = processTreeCpuSeconds(options.pid);
      markedAtMs = performance.now();
    },
    read: async (): Promise<LoopStats> => ({
      eld: { p50Ms: NaN, p99Ms: NaN, maxMs: NaN, meanMs: NaN },
      cpuCores: (processTreeCpuSeconds(options.pid) - markedCpuS) / ((performance.now() - markedAtMs) / 1000),
      metaCommits: NaN,
      metaBatches: NaN,
    }),
    stderr: options.logs,
    stdout: () => '',
    stop: options.stop,
  };
}

async function startSingle(): Promise<{ bench: BenchServer; server: TesseraProcess }> {
  const dataDir = await mkdtemp(join(tmpdir(), 'tessera-bench-single-'));
  const drives = Array.from({ length: 6 }, (_, i) => join(dataDir, `drive${i + 1}`));
  for (const d of drives) await mkdir(d);
  const server = await startTessera({ dataDir, args: ['--drives', drives.join(',')] });
  server.process.stdout!.resume();
  const bench = contender({
    url: server.url,
    pid: server.process.pid!,
    dataDir,
    credentials: { accessKeyId: server.accessKeyId, secretAccessKey: server.secretAccessKey, region: server.region },
    stop: () => server.cleanup(),
    logs: () => server.logs(),
  });
  return { bench, server };
}

/** Per measured phase of the cluster, in compare()'s order: the share of the cluster's CPU its gateway used. */
const gatewayShares: number[] = [];

function clusterContender(cluster: Cluster): BenchServer {
  const info = cluster.info();
  const bench = contender({
    url: info.endpoint,
    pid: cluster.supervisorPid!,
    dataDir: cluster.dir,
    credentials: { accessKeyId: info.accessKeyId, secretAccessKey: info.secretAccessKey, region: info.region },
    stop: () => cluster.stop(),
    logs: () => cluster.logs(),
  });
  // Where the cluster's CPU goes: the gateway (S3, metadata, coding, the RPC client) or the nodes.
  const gatewayPid = info.processes.find((p) => p.role === 'gateway')!.pid!;
  const cpu = () => ({ gateway: processTreeCpuSeconds(gatewayPid), all: processTreeCpuSeconds(cluster.supervisorPid!) });
  let marked = cpu();
  return {
    ...bench,
    mark: async () => {
      marked = cpu();
      await bench.mark();
    },
    read: async () => {
      const stats = await bench.read();
      const now = cpu();
      gatewayShares.push((now.gateway - marked.gateway) / Math.max(1e-9, now.all - marked.all));
      return stats;
    },
  };
}

/** The median gateway share of each cell, given compare()'s loop order (size, concurrency, op, round). */
function gatewayShareOf(sizes: CompareSize[], concurrency: number[], repeats: number): Map<string, number> {
  const shares = new Map<string, number>();
  let i = 0;
  for (const size of sizes)
    for (const c of concurrency)
      for (const op of ['PUT', 'GET'])
        shares.set(`${op} ${size.bytes} ${c}`, median(gatewayShares.slice(i, (i += repeats))));
  return shares;
}

function report(cells: CompareCell[], shares: Map<string, number>): string {
  const rows: string[][] = [];
  for (const single of cells.filter((c) => c.contender === 'single')) {
    const cl = cells.find((c) => c.contender === 'cluster' && c.op === single.op && c.bytes === single.bytes && c.concurrency === single.concurrency);
    if (!cl) continue;
    rows.push([
      single.op,
      single.size,
      String(single.concurrency),
      num(single.opsPerSecond),
      num(single.mibPerSecond),
      num(single.p50Ms),
      num(single.serverCpuMsPerOp),
      num(cl.opsPerSecond),
      num(cl.mibPerSecond),
      num(cl.p50Ms),
      num(cl.serverCpuMsPerOp),
      `${Math.round((shares.get(`${single.op} ${single.bytes} ${single.concurrency}`) ?? NaN) * 100)} %`,
      (cl.opsPerSecond / single.opsPerSecond).toFixed(2),
    ]);
  }
  return markdownTable(
    ['op', 'size', 'c', 'single ops/s', 'single MiB/s', 'single p50 ms', 'single CPU ms/op', 'cluster ops/s', 'cluster MiB/s', 'cluster p50 ms', 'cluster CPU ms/op', 'gateway share of cluster CPU', 'cluster ÷ single'],
    rows,
  );
}

async function main(): Promise<void> {
  const startedMs = Date.now();
  const elapsed = () => `${Math.round((Date.now() - startedMs) / 1000)} s`;
  const driver = (arg('--client') ?? (wrkAvailable() ? 'wrk' : 'node')) as Driver;
  const repeats = Number(arg('--repeats') ?? '3');
  const seconds = Number(arg('--seconds') ?? '2');
  const concurrency = (arg('--concurrency') ?? '4').split(',').map(Number);
  const sizes = (arg('--sizes') ?? '4k,1m,64m').split(',').map((s) => {
    const size = allSizes[s];
    if (!size) throw new RangeError(`Cannot use size "${s}": expected one of ${Object.keys(allSizes).join(', ')}`);
    return size;
  });
  await checkBuild();
  process.stdout.write(`${describeMachine(machineInfo())}\nclient:  ${driver}, ${seconds} s per phase, ${repeats} rounds (medians), concurrency ${concurrency.join(',')}\n`);
  const single = await startSingle();
  let cluster: Cluster | undefined;
  try {
    cluster = await startCluster({ nodes: 6 });
    process.stdout.write(`started: single server and a 6-node cluster (${elapsed()})\n`);
    const contenders: Contender[] = [
      { name: 'single', server: single.bench },
      { name: 'cluster', server: clusterContender(cluster) },
    ];
    await prepare(contenders, sizes);
    process.stdout.write(`objects written (${elapsed()})\n`);
    const cells = await compare({
      contenders,
      sizes,
      ops: ['PUT', 'GET'],
      concurrency,
      repeats,
      seconds,
      driver,
      onProgress: (text) => process.stdout.write(`  done ${text} (${elapsed()}, load ${loadText()})\n`),
    });
    process.stdout.write(
      `\n${report(cells, gatewayShareOf(sizes, concurrency, repeats))}\n\nload ${loadText()} at end; ${elapsed()} total. CPU ms/op counts every process of a side (the cluster:\n` +
        'gateway and 6 nodes). 4 KiB objects live inline in the metadata on both sides, so that row compares the\n' +
        'gateway with the server and never reaches a node.\n',
    );
  } finally {
    await cluster?.stop();
    await single.bench.stop();
  }
}

await main();
