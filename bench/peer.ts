// Tessera side by side with an S3 peer (Ceph RGW, bench/lib/ceph-rgw.ts) and nginx serving the same bytes as
// static files, in one run (issue 17): PUT and GET of 4 KiB, 1 MiB and 64 MiB and LIST of 1,000-key pages at
// one concurrency, every S3 request header-signed with its payload's SHA-256 (as an SDK signs a hashed
// body). Within each repeat the servers take turns on the same load, so background load on this shared
// machine hits all alike; each cell is the median over repeats, and the ratio is the median of the
// per-repeat ratios. CPU counts every thread and the kernel time of the whole server: Tessera's process
// tree, radosgw + OSD + monitor, nginx's master and workers.
// Run: npm run build && npx tsx bench/peer.ts [--peer auto|ceph|none] [--seconds 2] [--repeats 3]
//      [--loads put-4k,get-4k,put-1m,get-1m,put-64m,get-64m,list] [--concurrency 16] [--workers auto] [--drives 0]
//      [--warmup 20] [--settle 2] [--ceph-ec 4+2]
// --workers is Tessera's (auto, its default: one per core); --drives 6 gives it six drive directories on the
// same disk, so RS 4+2 (0: one drive in its data directory). --ceph-ec K+M gives Ceph K+M OSDs on the same
// disk and an erasure-coded K+M data pool, the like of Tessera's six drives (default: one OSD, no redundancy).
// Each server first gets --warmup seconds of each load unmeasured (JIT, caches), as bench/put.ts does. 20 s by
// default: a server in service is warm, and Tessera's 1 MiB PUTs took about 20 s to settle (CPU per MiB in
// 5 s repeats from a fresh server, two workers: 3.90, 3.79, 3.49, 3.26, 3.10, 3.25; docs/benchmarks.md "With
// 20 s of warm-up per load"), so the 5 s used before measured part of the warm-up. Ceph's daemons and nginx get the same. The progress
// lines give each repeat's rate and CPU per operation, so `--warmup 0 --repeats 6` shows the settling.
// --settle S gives each server S more seconds of the load, unmeasured, right before each of its measured
// repeats: without it a server's first repeat comes straight after the other servers' whole warm-ups, and
// Tessera's first repeat was its slowest in every load (docs/benchmarks.md "On a quiet machine, with RGW's
// garbage collection on Tessera's schedule"). After a PUT load, what the disk under tmpdir() did per PUT
// for each server (written MiB, write requests, cache flushes) and how busy it was: on a slow virtual disk
// the PUT rates are the disk's more than the CPU's.
import { createHash, randomFillSync } from 'node:crypto';
import { Agent } from 'node:http';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cephMissingTool, startCephRgw, type CephRgw } from './lib/ceph-rgw.js';
import { runLoad, send, wrkAvailable, type Driver, type LoadResult } from './lib/load.js';
import { describeMachine, diskCounters, diskPerOp, diskPerOpText, loadText, machineInfo, markdownTable, median, num, processTreeCpuSeconds, type DiskPerOp } from './lib/machine.js';
import { startNginx, type Nginx } from './lib/nginx.js';
import type { Credentials } from './lib/presign.js';
import { startTesseraBinary, type BinaryServer } from './lib/server.js';
import { emptySha256Hex, signedHeaders } from './lib/sigv4.js';
import { parseCommandLine } from './lib/args.js';
import { removeOnBenchExit } from './lib/exit-guard.js';

const KiB = 1024;
const MiB = 1024 * KiB;
const bucket = 'bench';
const listBucket = 'bench-list';
const listKeys = 3000;
const listPageKeys = 1000;

interface Load {
  name: string;
  op: 'PUT' | 'GET' | 'LIST';
  bytes: number;
  /** Distinct keys the load rotates over (GET: objects written beforehand). */
  keys: number;
}

const allLoads: Record<string, Load> = {
  'put-4k': { name: 'PUT 4 KiB', op: 'PUT', bytes: 4 * KiB, keys: 1024 },
  'get-4k': { name: 'GET 4 KiB', op: 'GET', bytes: 4 * KiB, keys: 256 },
  'put-1m': { name: 'PUT 1 MiB', op: 'PUT', bytes: MiB, keys: 256 },
  'get-1m': { name: 'GET 1 MiB', op: 'GET', bytes: MiB, keys: 32 },
  'put-64m': { name: 'PUT 64 MiB', op: 'PUT', bytes: 64 * MiB, keys: 64 },
  'get-64m': { name: 'GET 64 MiB', op: 'GET', bytes: 64 * MiB, keys: 4 },
  list: { name: 'LIST (1,000-key pages)', op: 'LIST', bytes: 0, keys: listKeys / listPageKeys },
};

function parseArgs(argv: string[]) {
  const { options } = parseCommandLine(argv);
  const loads = (options.get('--loads') ?? Object.keys(allLoads).join(',')).split(',').map((name) => {
    const load = allLoads[name];
    if (!load) throw new RangeError(`Unknown load "${name}": expected one of ${Object.keys(allLoads).join(', ')}`);
    return load;
  });
  const peer = options.get('--peer') ?? 'auto';
  if (!['auto', 'ceph', 'none'].includes(peer)) throw new RangeError(`Unknown peer "${peer}": expected auto, ceph or none`);
  if (!wrkAvailable()) throw new Error('wrk is not installed: apt-get install wrk');
  return {
    peer: peer === 'auto' ? (cephMissingTool() ? 'none' : 'ceph') : peer,
    loads,
    seconds: Number(options.get('--seconds') ?? '2'),
    warmupSeconds: Number(options.get('--warmup') ?? '20'),
    settleSeconds: Number(options.get('--settle') ?? '2'),
    repeats: Number(options.get('--repeats') ?? '3'),
    concurrency: Number(options.get('--concurrency') ?? '16'),
    workers: options.get('--workers') ?? 'auto',
    drives: Number(options.get('--drives') ?? '0'),
    cephErasure: parseErasure(options.get('--ceph-ec')),
  };
}

function parseErasure(text: string | undefined): { k: number; m: number } | undefined {
  if (text === undefined) return undefined;
  const match = /^(\d+)\+(\d+)$/.exec(text);
  if (!match || Number(match[1]) < 2 || Number(match[2]) < 1) throw new RangeError(`Unknown --ceph-ec "${text}": expected K+M, e.g. 4+2`);
  return { k: Number(match[1]), m: Number(match[2]) };
}

/** One server under test. S3 targets take every load; nginx only GETs of the same bytes. */
interface Target {
  name: string;
  url: string;
  credentials?: Credentials;
  cpuSeconds(): number;
}

function objectBytes(bytes: number, index: number): Buffer {
  const buf = Buffer.allocUnsafe(bytes);
  randomFillSync(buf);
  if (bytes >= 4) buf.writeUInt32LE(index, 0);
  return buf;
}

const sha256Hex = (data: Buffer) => createHash('sha256').update(data).digest('hex');

/** URL and signed headers of one S3 request (no headers for nginx). */
function request(target: Target, method: 'GET' | 'PUT', path: string, payloadSha256Hex = emptySha256Hex): { url: string; headers: Record<string, string> } {
  const url = `${target.url}${path}`;
  if (!target.credentials) return { url, headers: {} };
  return { url, headers: signedHeaders({ method, url, credentials: target.credentials, payloadSha256Hex }) };
}

async function putAll(agent: Agent, target: Target, bucketName: string, keys: string[], bodyOf: (i: number) => Buffer): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < keys.length) {
      const i = next++;
      const body = bodyOf(i);
      const { url, headers } = request(target, 'PUT', `/${bucketName}/${keys[i]}`, sha256Hex(body));
      const put = await send(agent, 'PUT', url, body, undefined, headers);
      if (put.status !== 200) throw new Error(`${target.name}: PUT ${keys[i]} answered ${put.status}`);
    }
  };
  await Promise.all(Array.from({ length: 8 }, worker));
}

/** Buckets, the GET objects (same bytes everywhere, checked by SHA-256 once per size) and the LIST keys. */
async function prepare(s3: Target[], nginx: Nginx, loads: Load[]): Promise<void> {
  const agent = new Agent({ keepAlive: true, maxSockets: 8 });
  try {
    for (const target of s3) {
      for (const name of [bucket, listBucket]) {
        const { url, headers } = request(target, 'PUT', `/${name}`);
        const made = await send(agent, 'PUT', url, undefined, undefined, headers);
        if (made.status !== 200) throw new Error(`${target.name}: CreateBucket ${name} answered ${made.status}`);
      }
    }
    await mkdir(join(nginx.root, bucket));
    for (const load of loads.filter((l) => l.op === 'GET')) {
      const bodies = Array.from({ length: load.keys }, (_, i) => objectBytes(load.bytes, i));
      const keys = bodies.map((_, i) => `get-${load.bytes}-${i}`);
      for (const target of s3) await putAll(agent, target, bucket, keys, (i) => bodies[i]!);
      for (const [i, key] of keys.entries()) await writeFile(join(nginx.root, bucket, key), bodies[i]!);
      const nginxTarget: Target = { name: 'nginx', url: nginx.url, cpuSeconds: () => 0 };
      for (const target of [...s3, nginxTarget]) {
        const { url, headers } = request(target, 'GET', `/${bucket}/${keys[0]}`);
        const res = await fetch(url, { headers });
        const got = sha256Hex(Buffer.from(await res.arrayBuffer()));
        if (res.status !== 200 || got !== sha256Hex(bodies[0]!)) throw new Error(`${target.name}: GET ${keys[0]} returned other bytes (status ${res.status})`);
      }
    }
    if (loads.some((l) => l.op === 'LIST')) {
      const keys = Array.from({ length: listKeys }, (_, i) => `k-${String(i).padStart(4, '0')}`);
      const body = Buffer.alloc(16, 1);
      for (const target of s3) {
        await putAll(agent, target, listBucket, keys, () => body);
        for (const path of listPaths()) {
          const { url, headers } = request(target, 'GET', path);
          const text = await (await fetch(url, { headers })).text();
          const count = text.match(/<Key>/g)?.length ?? 0;
          if (count !== listPageKeys) throw new Error(`${target.name}: ${path} listed ${count} keys, expected ${listPageKeys}`);
        }
      }
    }
  } finally {
    agent.destroy();
  }
}

/** ListObjectsV2 pages of 1,000 keys, each starting where the one before ended. */
function listPaths(): string[] {
  return Array.from({ length: listKeys / listPageKeys }, (_, p) => {
    const after = p === 0 ? '' : `&start-after=k-${String(p * listPageKeys - 1).padStart(4, '0')}`;
    return `/${listBucket}?list-type=2&max-keys=${listPageKeys}${after}`;
  });
}

interface Run {
  rate: number;
  cpuSeconds: number;
  ops: number;
  p99Ms: number;
  /** What the block device under the data directories (every server's, tmpdir()) did per operation. */
  disk: DiskPerOp | undefined;
}

/** One phase of `load` against `target`, signed just before it starts. */
async function phase(target: Target, load: Load, args: ReturnType<typeof parseArgs>, seconds: number, bodyFile: string, body: Buffer | undefined, bodyHash: string): Promise<Run> {
  const paths =
    load.op === 'LIST' ? listPaths() : Array.from({ length: load.keys }, (_, i) => `/${bucket}/${load.op === 'PUT' ? 'put' : 'get'}-${load.bytes}-${i}`);
  const method = load.op === 'PUT' ? 'PUT' : 'GET';
  const requests = paths.map((p) => request(target, method, p, load.op === 'PUT' ? bodyHash : emptySha256Hex));
  // wrk drops the requests in flight at its deadline, most of a short 64 MiB run; the Node driver lets them finish.
  const driver: Driver = load.bytes > 8 * MiB ? 'node' : 'wrk';
  const before = target.cpuSeconds();
  const diskBefore = diskCounters(tmpdir());
  const result: LoadResult = await runLoad(driver, {
    method,
    urls: requests.map((r) => r.url),
    headers: requests.map((r) => r.headers),
    concurrency: args.concurrency,
    durationMs: seconds * 1000,
    ...(load.op === 'PUT' ? { body: body!, bodyFile } : load.op === 'GET' ? { expectBytes: load.bytes } : {}),
  });
  const cpuSeconds = target.cpuSeconds() - before;
  const disk = diskPerOp(diskBefore, diskCounters(tmpdir()), result.ops);
  if (result.errors > 0 || result.ops === 0) throw new Error(`${target.name} ${load.name}: ${result.ops} ops, ${result.errors} errors (${result.firstError})`);
  return { rate: result.ops / result.seconds, cpuSeconds, ops: result.ops, p99Ms: result.p99Ms, disk };
}

interface Cell {
  load: Load;
  runs: Map<string, Run[]>;
}

async function measure(targets: Target[], args: ReturnType<typeof parseArgs>): Promise<Cell[]> {
  const cells: Cell[] = [];
  const bodyDir = await mkdtemp(join(tmpdir(), 'tessera-peer-'));
  const unhook = removeOnBenchExit(bodyDir);
  try {
    for (const load of args.loads) {
      const body = load.op === 'PUT' ? objectBytes(load.bytes, 1_000_000) : undefined;
      const bodyFile = join(bodyDir, `body-${load.bytes}`);
      if (body) await writeFile(bodyFile, body);
      const bodyHash = body ? sha256Hex(body) : emptySha256Hex;
      const runs = new Map<string, Run[]>();
      const takers = targets.filter((t) => t.credentials || load.op === 'GET');
      if (args.warmupSeconds > 0) for (const target of takers) await phase(target, load, args, args.warmupSeconds, bodyFile, body, bodyHash);
      for (let r = 0; r < args.repeats; r++) {
        for (const target of takers) {
          if (args.settleSeconds > 0) await phase(target, load, args, args.settleSeconds, bodyFile, body, bodyHash);
          const run = await phase(target, load, args, args.seconds, bodyFile, body, bodyHash);
          runs.set(target.name, [...(runs.get(target.name) ?? []), run]);
        }
      }
      cells.push({ load, runs });
      const perOp = (x: Run) => (load.bytes >= MiB ? `${num((x.cpuSeconds * 1000 * MiB) / (x.ops * load.bytes))} ms/MiB` : `${num((x.cpuSeconds * 1e6) / x.ops)} µs`);
      process.stdout.write(
        `  ${load.name}: ${[...runs].map(([n, rs]) => `${n} ${rs.map((x) => `${num(x.rate)}/s ${perOp(x)}`).join(', ')}`).join('; ')} (load ${loadText()})\n`,
      );
      // A PUT's disk work: where the device is busy most of the phase, it bounds the rate more than the CPU does.
      if (load.op === 'PUT') {
        for (const [n, rs] of runs) {
          const disk = diskPerOpText(rs.map((x) => x.disk), 'PUT');
          if (disk) process.stdout.write(`    ${n} disk: ${disk}\n`);
        }
      }
    }
  } finally {
    unhook();
    await rm(bodyDir, { recursive: true, force: true });
  }
  return cells;
}

function report(cells: Cell[], names: string[]): string {
  const perMiB = (load: Load) => load.bytes >= MiB;
  const rateText = (load: Load, runs?: Run[]) => {
    if (!runs) return '–';
    const rate = median(runs.map((r) => r.rate));
    return perMiB(load) ? `${num((rate * load.bytes) / MiB)} MiB/s` : `${num(rate)}/s`;
  };
  // CPU per MiB for the large sizes, per operation (in µs) for 4 KiB and LIST.
  const cpuText = (load: Load, runs?: Run[]) => {
    if (!runs) return '–';
    const perOpMs = median(runs.map((r) => (r.cpuSeconds * 1000) / r.ops));
    return perMiB(load) ? `${num(perOpMs / (load.bytes / MiB))} ms/MiB` : `${num(perOpMs * 1000)} µs/op`;
  };
  const ratio = (a?: Run[], b?: Run[]) => (a && b ? `${median(a.map((x, i) => x.rate / b[i]!.rate)).toFixed(2)}×` : '–');
  const [tessera, peer, nginx] = names;
  return markdownTable(
    ['load', ...names, ...(peer && peer !== 'nginx' ? [`Tessera / ${peer}`] : []), 'Tessera / nginx', `CPU ${names.join(' / ')}`],
    cells.map(({ load, runs }) => [
      load.name,
      ...names.map((n) => rateText(load, runs.get(n))),
      ...(peer && peer !== 'nginx' ? [ratio(runs.get(tessera!), runs.get(peer))] : []),
      ratio(runs.get(tessera!), runs.get(nginx ?? 'nginx')),
      names.map((n) => cpuText(load, runs.get(n))).join(' / '),
    ]),
  );
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const startedMs = Date.now();
  process.stdout.write(`${describeMachine(machineInfo())}\nclient:  wrk (node for 64 MiB), c=${args.concurrency}, ${args.warmupSeconds} s warm-up then ${args.repeats} × ${args.seconds} s per cell (medians)${args.settleSeconds > 0 ? `, each after ${args.settleSeconds} s unmeasured` : ''}, header-signed payloads\n`);
  let tessera: BinaryServer | undefined;
  let ceph: CephRgw | undefined;
  let nginx: Nginx | undefined;
  try {
    tessera = await startTesseraBinary({ drives: args.drives, env: { TESSERA_WORKERS: args.workers } });
    const tesseraPid = tessera.pid;
    const targets: Target[] = [{ name: 'Tessera', url: tessera.url, credentials: tessera.credentials, cpuSeconds: () => processTreeCpuSeconds(tesseraPid) }];
    if (args.peer === 'ceph') {
      ceph = await startCephRgw({ ...(args.cephErasure ? { erasure: args.cephErasure } : {}), log: (line) => process.stdout.write(`${line} (${Math.round((Date.now() - startedMs) / 1000)} s)\n`) });
      targets.push({ name: 'Ceph RGW', url: ceph.url, credentials: ceph.credentials, cpuSeconds: ceph.cpuSeconds });
      process.stdout.write(`peer:    ${ceph.version}, BlueStore on sparse files (device class ${ceph.deviceClass}), ${ceph.dataPool}, cephx, beast\n`);
    } else process.stdout.write('peer:    none (install radosgw, ceph-mon and ceph-osd for Ceph RGW)\n');
    nginx = await startNginx();
    const nginxPid = nginx.pid;
    targets.push({ name: 'nginx', url: nginx.url, cpuSeconds: () => processTreeCpuSeconds(nginxPid) });
    process.stdout.write(`tessera: ${tessera.url} (--workers ${args.workers}, ${args.drives > 0 ? `${args.drives} drives` : 'one drive'}), ${nginx.version}: ${nginx.url}\n`);
    await prepare(targets.filter((t) => t.credentials), nginx, args.loads);
    process.stdout.write(`objects written and verified (${Math.round((Date.now() - startedMs) / 1000)} s)\n`);
    const cephBefore = ceph?.cpuSecondsByDaemon();
    const cells = await measure(targets, args);
    const cephAfter = ceph?.cpuSecondsByDaemon();
    process.stdout.write(`\n${report(cells, targets.map((t) => t.name))}\n`);
    if (cephBefore && cephAfter) {
      const share = (k: 'mon' | 'osd' | 'rgw') => num(cephAfter[k] - cephBefore[k]);
      process.stdout.write(`Ceph CPU seconds over all phases: radosgw ${share('rgw')}, OSD ${share('osd')}, monitor ${share('mon')}\n`);
    }
    process.stdout.write(`load ${loadText()} at end, ${Math.round((Date.now() - startedMs) / 1000)} s in all\n`);
  } finally {
    await nginx?.stop();
    await ceph?.stop();
    await tessera?.stop();
  }
}

await main();
