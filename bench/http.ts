// HTTP throughput of Tessera next to nginx serving the same bytes as plain files, in one run: PUT and
// GET of 4 KiB, 1 MiB and 64 MiB at concurrency 1 and 16, with ops/s, MiB/s, p50/p99 latency, the GET
// ratio to nginx, the server's CPU per operation and its event-loop delay, and the disk's raw fsync rate.
// Run: npm run build && npx tsx bench/http.ts [--seconds 3] [--repeats 3] [--client wrk|node] [--src]
//      [--sizes 4k,1m,64m] [--concurrency 1,16] [--json FILE] [--profile DIR] [--no-baseline]
// --profile writes a CPU profile of the server's main thread per Tessera run (read with bench/profile.ts).
import { createHash, randomFillSync } from 'node:crypto';
import { Agent } from 'node:http';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { measureFsync, measureGroupCommit, type FsyncResult, type GroupCommitResult } from './fsync.js';
import { runLoad, send, wrkAvailable, type Driver, type LoadResult } from './lib/load.js';
import { describeMachine, loadText, machineInfo, markdownTable, median, num, processTreeCpuSeconds } from './lib/machine.js';
import { startNginx, startNodeBaseline, type Baseline, type Nginx } from './lib/nginx.js';
import { presignUrl } from './lib/presign.js';
import { startBenchServer, type BenchServer, type LoopStats } from './lib/server.js';

const KiB = 1024;
const MiB = 1024 * KiB;
const bucket = 'bench';

interface SizeSpec {
  label: string;
  bytes: number;
  /** Distinct objects GETs rotate over. */
  getObjects: number;
  /** Distinct keys PUTs rotate over: enough that two writers in flight never race on one key. */
  putKeys: number;
}

const allSizes: Record<string, SizeSpec> = {
  '4k': { label: '4 KiB', bytes: 4 * KiB, getObjects: 256, putKeys: 1024 },
  '1m': { label: '1 MiB', bytes: MiB, getObjects: 32, putKeys: 256 },
  '64m': { label: '64 MiB', bytes: 64 * MiB, getObjects: 4, putKeys: 64 },
};

interface Args {
  seconds: number;
  repeats: number;
  driver: Driver;
  fromSource: boolean;
  sizes: SizeSpec[];
  concurrency: number[];
  json?: string;
  profileDir?: string;
  /** Also measure a bare node:http file server (--no-baseline skips it). */
  baseline: boolean;
}

function parseArgs(argv: string[]): Args {
  const value = (name: string) => {
    const i = argv.indexOf(name);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const driver = (value('--client') ?? (wrkAvailable() ? 'wrk' : 'node')) as Driver;
  if (driver !== 'wrk' && driver !== 'node') throw new RangeError(`Cannot use client "${driver}": expected wrk or node`);
  if (driver === 'wrk' && !wrkAvailable()) throw new Error('wrk is not installed: apt-get install wrk, or pass --client node');
  const sizes = (value('--sizes') ?? '4k,1m,64m').split(',').map((s) => {
    const spec = allSizes[s.trim().toLowerCase()];
    if (!spec) throw new RangeError(`Unknown size "${s}": expected 4k, 1m or 64m`);
    return spec;
  });
  const json = value('--json');
  const profileDir = value('--profile');
  return {
    seconds: Number(value('--seconds') ?? '3'),
    repeats: Number(value('--repeats') ?? '3'),
    driver,
    fromSource: argv.includes('--src'),
    baseline: !argv.includes('--no-baseline'),
    sizes,
    concurrency: (value('--concurrency') ?? '1,16').split(',').map(Number),
    ...(json ? { json } : {}),
    ...(profileDir ? { profileDir } : {}),
  };
}

/** Random bytes for object `index`; objects differ so nothing could dedupe or cache one answer for all. */
function objectBytes(bytes: number, index: number): Buffer {
  const buf = Buffer.allocUnsafe(bytes);
  randomFillSync(buf);
  buf.writeUInt32LE(index, 0);
  return buf;
}

interface Row {
  op: 'PUT' | 'GET';
  size: string;
  bytes: number;
  concurrency: number;
  driver: Driver;
  opsPerSecond: number;
  mibPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  nginxOpsPerSecond?: number;
  ratioToNginx?: number;
  nodeOpsPerSecond?: number;
  serverCpuMsPerOp: number;
  nginxCpuMsPerOp?: number;
  nodeCpuMsPerOp?: number;
  eldP99Ms: number;
  eldMaxMs: number;
  controlEldP99Ms: number;
  commitsPerFsync?: number;
  errors: number;
  runs: number;
}

function check(result: LoadResult, what: string): LoadResult {
  if (result.errors > 0) throw new Error(`${what} had ${result.errors} errors: ${result.firstError}`);
  if (result.ops === 0) throw new Error(`${what} completed no request`);
  return result;
}

// A control for the server's event-loop delay: this process's own loop, idle while wrk runs. On a
// shared machine a descheduled process sees delays it did not cause; the control shows how much.
const controlEld = monitorEventLoopDelay({ resolution: 1 });
controlEld.enable();

interface Measured {
  load: LoadResult;
  stats: LoopStats;
  controlEldP99Ms: number;
}

async function measured(server: BenchServer, label: string, run: () => Promise<LoadResult>): Promise<Measured> {
  await server.mark(label);
  controlEld.reset();
  const load = await run();
  const controlEldP99Ms = load.driver === 'wrk' ? Math.max(0, controlEld.percentile(99) / 1e6 - 1) : NaN;
  return { load, stats: await server.read(), controlEldP99Ms };
}

type Timed = LoadResult & { cpuSeconds: number };

/** Runs a load and notes the CPU the serving process tree used meanwhile. */
async function withCpu(pid: number, run: () => Promise<LoadResult>): Promise<Timed> {
  const before = processTreeCpuSeconds(pid);
  const load = await run();
  return { ...load, cpuSeconds: processTreeCpuSeconds(pid) - before };
}

function summarise(
  op: Row['op'],
  size: SizeSpec,
  concurrency: number,
  driver: Driver,
  runs: Measured[],
  nginx?: Timed[],
  node?: Timed[],
): Row {
  const rate = (r: LoadResult) => r.ops / r.seconds;
  const opsPerSecond = median(runs.map((r) => rate(r.load)));
  const row: Row = {
    op,
    size: size.label,
    bytes: size.bytes,
    concurrency,
    driver,
    opsPerSecond,
    mibPerSecond: (opsPerSecond * size.bytes) / MiB,
    p50Ms: median(runs.map((r) => r.load.p50Ms)),
    p99Ms: median(runs.map((r) => r.load.p99Ms)),
    serverCpuMsPerOp: median(runs.map((r) => (r.stats.cpuCores * 1000) / rate(r.load))),
    eldP99Ms: median(runs.map((r) => r.stats.eld.p99Ms)),
    eldMaxMs: Math.max(...runs.map((r) => r.stats.eld.maxMs)),
    controlEldP99Ms: median(runs.map((r) => r.controlEldP99Ms)),
    errors: runs.reduce((n, r) => n + r.load.errors, 0),
    runs: runs.length,
  };
  const batches = runs.reduce((n, r) => n + r.stats.metaBatches, 0);
  if (op === 'PUT' && batches > 0) row.commitsPerFsync = runs.reduce((n, r) => n + r.stats.metaCommits, 0) / batches;
  if (nginx) {
    row.nginxOpsPerSecond = median(nginx.map(rate));
    // The ratio of each interleaved pair, then the median: both saw about the same background load.
    row.ratioToNginx = median(runs.map((r, i) => rate(r.load) / rate(nginx[i]!)));
    row.nginxCpuMsPerOp = median(nginx.map((r) => (r.cpuSeconds * 1000) / r.ops));
  }
  if (node && node.length > 0) {
    row.nodeOpsPerSecond = median(node.map(rate));
    row.nodeCpuMsPerOp = median(node.map((r) => (r.cpuSeconds * 1000) / r.ops));
  }
  return row;
}

async function prepareObjects(server: BenchServer, nginx: Nginx, sizes: SizeSpec[], bodyDir: string): Promise<Map<SizeSpec, string>> {
  const agent = new Agent({ keepAlive: true, maxSockets: 4 });
  const bodyFiles = new Map<SizeSpec, string>();
  await mkdir(join(nginx.root, bucket));
  try {
    const made = await send(agent, 'PUT', presignUrl({ endpoint: server.url, credentials: server.credentials, method: 'PUT', bucket, key: '' }));
    if (made.status !== 200) throw new Error(`CreateBucket answered ${made.status}`);
    for (const size of sizes) {
      const writeOne = async (i: number) => {
        const body = objectBytes(size.bytes, i);
        const key = `get-${size.bytes}-${i}`;
        const put = await send(agent, 'PUT', presignUrl({ endpoint: server.url, credentials: server.credentials, method: 'PUT', bucket, key }), body);
        if (put.status !== 200) throw new Error(`PUT ${key} answered ${put.status}`);
        await writeFile(join(nginx.root, bucket, key), body);
        if (i === 0) await verifySame(server, nginx, key, body);
      };
      for (let i = 0; i < size.getObjects; i += 4) {
        await Promise.all([i, i + 1, i + 2, i + 3].filter((j) => j < size.getObjects).map(writeOne));
      }
      const bodyFile = join(bodyDir, `put-${size.bytes}`);
      await writeFile(bodyFile, objectBytes(size.bytes, 1_000_000));
      bodyFiles.set(size, bodyFile);
    }
  } finally {
    agent.destroy();
  }
  return bodyFiles;
}

/** Both servers return the very bytes written (checked once per size, by sha256). */
async function verifySame(server: BenchServer, nginx: Nginx, key: string, body: Buffer): Promise<void> {
  const want = createHash('sha256').update(body).digest('hex');
  for (const url of [presignUrl({ endpoint: server.url, credentials: server.credentials, method: 'GET', bucket, key }), `${nginx.url}/${bucket}/${key}`]) {
    const res = await fetch(url);
    const got = createHash('sha256').update(Buffer.from(await res.arrayBuffer())).digest('hex');
    if (res.status !== 200 || got !== want) throw new Error(`GET ${url} returned other bytes (status ${res.status})`);
  }
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const startedMs = Date.now();
  const info = machineInfo();
  process.stdout.write(`${describeMachine(info)}\nclient:  ${args.driver}, ${args.seconds} s per run, ${args.repeats} runs per cell (medians)\n\n`);

  const fsync = await measureFsync({ durationMs: 1000 });
  const group = await measureGroupCommit({ durationMs: 1500, committers: 16 });
  process.stdout.write(
    `raw fsync (4 KiB append + fsync): ${num(fsync.fsyncPerSecond)}/s one file, ${num(fsync.fsyncParallel4PerSecond)}/s over 4 files, ` +
      `${num(fsync.fdatasyncInPlacePerSecond)}/s fdatasync in place; MetaStore alone, 16 committers: ${num(group.commitsPerSecond)} commits/s, ` +
      `${group.commitsPerSync.toFixed(1)} per sync\n`,
  );

  if (args.profileDir) await mkdir(args.profileDir, { recursive: true });
  const server = await startBenchServer({ fromSource: args.fromSource, ...(args.profileDir ? { profileDir: args.profileDir } : {}) });
  const nginx = await startNginx();
  const bodyDir = await mkdtemp(join(tmpdir(), 'tessera-bodies-'));
  const rows: Row[] = [];
  const failures: string[] = [];
  let baseline: Baseline | undefined;
  try {
    process.stdout.write(`tessera: ${server.url} (${args.fromSource ? 'src via tsx' : 'dist'}), ${nginx.version}: ${nginx.url}\n`);
    const bodyFiles = await prepareObjects(server, nginx, args.sizes, bodyDir);
    process.stdout.write(`objects written and verified (${Math.round((Date.now() - startedMs) / 1000)} s)\n`);
    if (args.baseline) baseline = await startNodeBaseline(nginx.root);
    const durationMs = args.seconds * 1000;
    for (const size of args.sizes) {
      const presign = (method: 'GET' | 'PUT', key: string) => presignUrl({ endpoint: server.url, credentials: server.credentials, method, bucket, key });
      const putUrls = Array.from({ length: size.putKeys }, (_, i) => presign('PUT', `put-${size.bytes}-${i}`));
      const getKeys = Array.from({ length: size.getObjects }, (_, i) => `get-${size.bytes}-${i}`);
      const getUrls = getKeys.map((key) => presign('GET', key));
      const nginxUrls = getKeys.map((key) => `${nginx.url}/${bucket}/${key}`);
      const body = objectBytes(size.bytes, 1_000_000);
      // wrk drops the requests still in flight at its deadline; with 64 MiB bodies at c=16 those are most
      // of a short run. The Node driver lets them finish and divides by the time they took instead.
      const driver: Driver = size.bytes > 8 * MiB ? 'node' : args.driver;
      for (const concurrency of args.concurrency) {
        const common = { concurrency, durationMs };
        const cell = async (op: Row['op'], work: () => Promise<Row>) => {
          try {
            rows.push(await work());
          } catch (err) {
            failures.push(`${op} ${size.label} c=${concurrency}: ${err instanceof Error ? err.message : String(err)}`);
          }
        };
        await cell('PUT', async () => {
          const puts = [];
          for (let r = 0; r < args.repeats; r++) {
            const run = () => runLoad(driver, { ...common, method: 'PUT', urls: putUrls, body, bodyFile: bodyFiles.get(size)! });
            puts.push(await measured(server, `put-${size.bytes}-c${concurrency}-r${r}`, async () => check(await run(), `PUT ${size.label} c=${concurrency}`)));
          }
          return summarise('PUT', size, concurrency, driver, puts);
        });
        await cell('GET', async () => {
          const gets = [];
          const nginxGets = [];
          const nodeGets = [];
          for (let r = 0; r < args.repeats; r++) {
            const load = (urls: string[]) => runLoad(driver, { ...common, method: 'GET', urls, expectBytes: size.bytes });
            gets.push(await measured(server, `get-${size.bytes}-c${concurrency}-r${r}`, async () => check(await load(getUrls), `GET ${size.label} c=${concurrency}`)));
            nginxGets.push(await withCpu(nginx.pid, async () => check(await load(nginxUrls), `nginx GET ${size.label} c=${concurrency}`)));
            if (baseline) {
              const urls = getKeys.map((key) => `${baseline!.url}/${bucket}/${key}`);
              nodeGets.push(await withCpu(baseline.pid, async () => check(await load(urls), `node:http GET ${size.label}`)));
            }
          }
          return summarise('GET', size, concurrency, driver, gets, nginxGets, nodeGets);
        });
        process.stdout.write(`  done ${size.label} c=${concurrency} (${Math.round((Date.now() - startedMs) / 1000)} s, load ${loadText()})\n`);
      }
    }
  } finally {
    await baseline?.stop();
    await nginx.stop();
    await server.stop();
    await rm(bodyDir, { recursive: true, force: true });
  }
  await report(rows, failures, fsync, group, args, startedMs);
  if (failures.length > 0) process.exitCode = 1;
}

async function report(rows: Row[], failures: string[], fsync: FsyncResult, group: GroupCommitResult, args: Args, startedMs: number): Promise<void> {
  const table = markdownTable(
    ['op', 'size', 'c', 'client', 'ops/s', 'MiB/s', 'p50 ms', 'p99 ms', 'nginx ops/s', '× nginx', 'bare node ops/s', 'CPU ms/op tessera / nginx / node', 'loop delay p99 / max ms', 'idle control p99 ms', 'commits/fsync'],
    rows.map((r) => [
      r.op,
      r.size,
      String(r.concurrency),
      r.driver,
      num(r.opsPerSecond),
      num(r.mibPerSecond),
      num(r.p50Ms),
      num(r.p99Ms),
      r.nginxOpsPerSecond !== undefined ? num(r.nginxOpsPerSecond) : '',
      r.ratioToNginx !== undefined ? r.ratioToNginx.toFixed(2) : '',
      r.nodeOpsPerSecond !== undefined ? num(r.nodeOpsPerSecond) : '',
      [r.serverCpuMsPerOp, r.nginxCpuMsPerOp, r.nodeCpuMsPerOp].filter((v) => v !== undefined).map((v) => num(v!)).join(' / '),
      `${num(r.eldP99Ms)} / ${num(r.eldMaxMs)}`,
      num(r.controlEldP99Ms),
      r.commitsPerFsync !== undefined ? r.commitsPerFsync.toFixed(1) : '',
    ]),
  );
  const get = (size: string) => rows.filter((r) => r.op === 'GET' && r.size === size && r.concurrency === 16)[0];
  const put4k = rows.find((r) => r.op === 'PUT' && r.size === '4 KiB' && r.concurrency === 16);
  const verdict = (ok: boolean) => (ok ? 'met' : 'MISSED');
  const targets: string[] = [];
  const g1 = get('1 MiB');
  if (g1?.ratioToNginx !== undefined) targets.push(`GET 1 MiB c=16 ≥ 0.6× nginx: ${g1.ratioToNginx.toFixed(2)}× → ${verdict(g1.ratioToNginx >= 0.6)}`);
  const g4 = get('4 KiB');
  if (g4?.ratioToNginx !== undefined) targets.push(`GET 4 KiB c=16 ≥ 0.25× nginx: ${g4.ratioToNginx.toFixed(2)}× → ${verdict(g4.ratioToNginx >= 0.25)}`);
  if (put4k?.commitsPerFsync !== undefined) {
    // Not fsync-bound means the commits share syncs whenever they wait on the disk (the MetaStore alone,
    // 16 committers, must batch), and the HTTP PUTs either share syncs too or leave the disk's sync rate
    // unused: the syncs they take per second stay well below what the disk does, so something else (CPU)
    // bounds them and batching has nothing to wait for. A faster CPU brings PUT/s near the raw sync rate
    // with the disk still half idle, which the old "PUT/s < half the sync rate" test called bound.
    const syncRate = Math.min(fsync.fsyncPerSecond, fsync.fdatasyncInPlacePerSecond);
    const syncsUsedPerSecond = put4k.opsPerSecond / Math.max(1, put4k.commitsPerFsync);
    const notBound = group.commitsPerSync > 1.5 && (put4k.commitsPerFsync > 1.5 || syncsUsedPerSecond < 0.8 * syncRate);
    targets.push(
      `PUT 4 KiB c=16 not bound by one fsync per request: ${num(put4k.opsPerSecond)} PUT/s at ${put4k.commitsPerFsync.toFixed(1)} commits ` +
        `per fsync (${num(syncsUsedPerSecond)} syncs/s), ${num(put4k.serverCpuMsPerOp)} ms server CPU per PUT; raw fsync ${num(fsync.fsyncPerSecond)}/s; MetaStore alone ` +
        `batches ${group.commitsPerSync.toFixed(1)} commits per sync at 16 committers → ${verdict(notBound)}`,
    );
  }
  process.stdout.write(
    `\n${table}\n\nraw fsync/s on this filesystem: ${num(fsync.fsyncPerSecond)} (one file), ${num(fsync.fdatasyncPerSecond)} fdatasync, ` +
      `${num(fsync.fsyncParallel4PerSecond)} (4 files at once)\n` +
      `targets (c=16):\n${targets.map((t) => `  ${t}`).join('\n')}\n` +
      (failures.length > 0 ? `FAILED cells:\n${failures.map((f) => `  ${f}`).join('\n')}\n` : '') +
      `load ${loadText()} at end; ${Math.round((Date.now() - startedMs) / 1000)} s total\n` +
      'Medians of interleaved runs; × nginx is the median of per-pair ratios. "bare node" is a node:http server\n' +
      'answering the same files with no S3 work (the Node ceiling). "loop delay" is the server\'s\n' +
      'event-loop delay (perf_hooks, 1 ms resolution) during the run; "idle control" is an idle Node process\'s\n' +
      'delay at the same time (scheduling noise of a shared machine). CPU ms/op counts every thread of the\n' +
      'serving process (nginx: master and workers), user and system, from /proc: it varies less with\n' +
      'background load than ops/s does.\n',
  );
  if (args.json) await writeFile(args.json, JSON.stringify({ rows, fsync, group, machine: machineInfo() }, null, 2));
}

await main();
