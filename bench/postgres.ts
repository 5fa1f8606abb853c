// Tessera on PostgreSQL metadata, in one run: PostgreSQL's own read and commit rates on this machine, the
// metadata round trips each S3 request costs, PUT/GET of 4 KiB and 1 MiB and ListObjectsV2 on
// `tessera server --meta postgres://` next to the SQLite server, and one vs two gateways behind HAProxy
// (docs/benchmarks.md, "PostgreSQL metadata").
// Run: npm run build && npx tsx bench/postgres.ts [--seconds 2] [--rounds 3] [--concurrency 8]
//      [--parts pg,trips,single,cluster,scale] [--json FILE]
// cluster: `tessera dev-cluster --postgres`, one vs two gateways behind HAProxy; scale (not by default): two
// `tessera server --meta` on one PostgreSQL behind HAProxy, inline objects only.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { Agent } from 'node:http';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ListObjectsV2Command, PutObjectCommand, CreateBucketCommand, GetObjectCommand, HeadObjectCommand, DeleteObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { send } from './lib/load.js';
import { readFileSync } from 'node:fs';
import { describeMachine, loadText, machineInfo, markdownTable, median, num, processTreeCpuSeconds } from './lib/machine.js';
import { presignUrl, type Credentials } from './lib/presign.js';
import { repoRoot } from './lib/server.js';
import { startPostgres, type PostgresServer } from '../test/helpers/postgres.js';
import { startTessera, type TesseraProcess } from '../test/helpers/tessera.js';
import { PostgresMetaStore } from '../src/meta/postgres/postgres-store.js';

const KiB = 1024;
const MiB = 1024 * KiB;
const haproxyPath = '/usr/sbin/haproxy';

interface Args {
  seconds: number;
  rounds: number;
  concurrency: number;
  parts: Set<string>;
  json?: string;
}

function parseArgs(argv: string[]): Args {
  const args: Args = { seconds: 2, rounds: 3, concurrency: 8, parts: new Set(['pg', 'trips', 'single', 'cluster']) };
  for (let i = 0; i < argv.length; i++) {
    const value = argv[i + 1];
    switch (argv[i]) {
      case '--seconds': args.seconds = Number(value); i++; break;
      case '--rounds': args.rounds = Number(value); i++; break;
      case '--concurrency': args.concurrency = Number(value); i++; break;
      case '--parts': args.parts = new Set(value!.split(',')); i++; break;
      case '--json': args.json = value; i++; break;
      default: throw new RangeError(`Unknown argument "${argv[i]}"`);
    }
  }
  return args;
}

/**
 * CPU seconds of `pid` and its children, counting children that have exited too (the root's cutime and
 * cstime): PostgreSQL's backends end when a pool closes an idle connection, and their time must stay counted.
 */
function cpuSeconds(pid: number): number {
  let exited = 0;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    exited = (Number(fields[13]) + Number(fields[14])) / 100;
  } catch {
    // gone: nothing more to count
  }
  return processTreeCpuSeconds(pid) + exited;
}

// ---- load ----------------------------------------------------------------------------------------------

interface Phase {
  ops: number;
  opsPerSec: number;
  p50Ms: number;
  errors: number;
  /** CPU seconds per operation of each watched process (tree), by name. */
  cpuMsPerOp: Record<string, number>;
}

/** `concurrency` workers calling `op` back to back for `seconds`; CPU of the `watch` pids is sampled around it. */
async function closedLoop(concurrency: number, seconds: number, op: (i: number) => Promise<void>, watch: Record<string, number[]>): Promise<Phase> {
  const cpuBefore = Object.fromEntries(Object.entries(watch).map(([name, pids]) => [name, pids.reduce((s, p) => s + cpuSeconds(p), 0)]));
  const clientBefore = process.cpuUsage();
  const latencies: number[] = [];
  let next = 0;
  let errors = 0;
  let firstError: unknown;
  const start = performance.now();
  const deadline = start + seconds * 1000;
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (performance.now() < deadline) {
      const t0 = performance.now();
      try {
        await op(next++);
        latencies.push(performance.now() - t0);
      } catch (err) {
        errors++;
        firstError ??= err;
      }
    }
  }));
  const elapsed = (performance.now() - start) / 1000;
  if (errors > 0) console.error(`  ${errors} errors, the first: ${firstError instanceof Error ? firstError.message : String(firstError)}`);
  const ops = latencies.length;
  const cpuMsPerOp: Record<string, number> = {};
  for (const [name, pids] of Object.entries(watch)) cpuMsPerOp[name] = ((pids.reduce((s, p) => s + cpuSeconds(p), 0) - cpuBefore[name]!) * 1000) / Math.max(1, ops);
  const client = process.cpuUsage(clientBefore);
  cpuMsPerOp.client = (client.user + client.system) / 1000 / Math.max(1, ops);
  latencies.sort((a, b) => a - b);
  return { ops, opsPerSec: ops / elapsed, p50Ms: latencies[Math.floor(latencies.length / 2)] ?? NaN, errors, cpuMsPerOp };
}

/** An S3 endpoint as the load sees it: presigned URLs for object requests, an SDK client for listings. */
interface Target {
  name: string;
  url: string;
  s3: S3Client;
  credentials: Credentials;
  /** Pids whose CPU is charged to this target's phases. */
  watch: Record<string, number[]>;
}

function objectUrl(target: Target, method: 'GET' | 'PUT' | 'HEAD' | 'DELETE', bucket: string, key: string): string {
  return presignUrl({ endpoint: target.url, credentials: target.credentials, method, bucket, key });
}

async function expectStatus(result: Promise<{ status: number; bytes: number }>, bytes?: number): Promise<void> {
  const r = await result;
  if (r.status !== 200 || (bytes !== undefined && r.bytes !== bytes)) throw new Error(`Answered ${r.status} with ${r.bytes} bytes`);
}

interface Workload {
  label: string;
  run(target: Target, agent: Agent, concurrency: number, seconds: number): Promise<Phase>;
}

/** PUT, GET and HEAD of `bytes`, and ListObjectsV2 pages of 100, over objects preloaded by prepare(). */
function workloads(bucket: string, sizes: { label: string; bytes: number; objects: number }[], withHead: boolean): { prepare(t: Target): Promise<void>; list: Workload[] } {
  const bodies = new Map(sizes.map((s) => [s.label, randomBytes(s.bytes)]));
  const list: Workload[] = [];
  for (const size of sizes) {
    const body = bodies.get(size.label)!;
    list.push({
      label: `PUT ${size.label}`,
      run: (t, agent, c, s) => {
        const urls = Array.from({ length: 512 }, (_, i) => objectUrl(t, 'PUT', bucket, `put-${size.label}/${i}`));
        return closedLoop(c, s, (i) => expectStatus(send(agent, 'PUT', urls[i % urls.length]!, body)), t.watch);
      },
    });
    list.push({
      label: `GET ${size.label}`,
      run: (t, agent, c, s) => {
        const urls = Array.from({ length: size.objects }, (_, i) => objectUrl(t, 'GET', bucket, `get-${size.label}/${i}`));
        return closedLoop(c, s, (i) => expectStatus(send(agent, 'GET', urls[i % urls.length]!), size.bytes), t.watch);
      },
    });
    if (withHead) {
      list.push({
        label: `HEAD ${size.label}`,
        run: (t, agent, c, s) => {
          const urls = Array.from({ length: size.objects }, (_, i) => objectUrl(t, 'HEAD', bucket, `get-${size.label}/${i}`));
          return closedLoop(c, s, (i) => expectStatus(send(agent, 'HEAD', urls[i % urls.length]!)), t.watch);
        },
      });
    }
  }
  list.push({
    label: 'LIST 100 keys',
    run: (t, _agent, c, s) => {
      const prefix = `get-${sizes[0]!.label}/`;
      return closedLoop(c, s, async () => {
        const page = await t.s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, MaxKeys: 100 }));
        if (page.KeyCount !== 100) throw new Error(`Listed ${page.KeyCount} keys`);
      }, t.watch);
    },
  });
  return {
    async prepare(t) {
      await t.s3.send(new CreateBucketCommand({ Bucket: bucket })).catch((err: { name?: string }) => {
        if (err.name !== 'BucketAlreadyOwnedByYou') throw err;
      });
      const agent = new Agent({ keepAlive: true, maxSockets: 8 });
      for (const size of sizes) {
        const body = bodies.get(size.label)!;
        const keys = Array.from({ length: size.objects }, (_, i) => `get-${size.label}/${i}`);
        for (let i = 0; i < keys.length; i += 8) {
          await Promise.all(keys.slice(i, i + 8).map((k) => expectStatus(send(agent, 'PUT', objectUrl(t, 'PUT', bucket, k), body))));
        }
      }
      agent.destroy();
    },
    list,
  };
}

/**
 * Runs every workload on every target, `rounds` times, the targets in turn within each workload so a
 * change of machine load hits them alike. Returns each phase's results by workload and target.
 */
async function compare(targets: Target[], list: Workload[], args: Args): Promise<Map<string, Map<string, Phase[]>>> {
  const results = new Map<string, Map<string, Phase[]>>();
  for (let round = 0; round < args.rounds; round++) {
    for (const w of list) {
      const order = round % 2 === 0 ? targets : [...targets].reverse();
      for (const t of order) {
        const agent = new Agent({ keepAlive: true, maxSockets: args.concurrency });
        const phase = await w.run(t, agent, args.concurrency, args.seconds);
        agent.destroy();
        const byTarget = results.get(w.label) ?? new Map<string, Phase[]>();
        results.set(w.label, byTarget);
        byTarget.set(t.name, [...(byTarget.get(t.name) ?? []), phase]);
        console.error(`  round ${round + 1} ${w.label} ${t.name}: ${num(phase.opsPerSec)} ops/s, p50 ${num(phase.p50Ms)} ms`);
      }
    }
  }
  return results;
}

function medianPhase(phases: Phase[]): Phase {
  const cpu: Record<string, number> = {};
  for (const name of Object.keys(phases[0]!.cpuMsPerOp)) cpu[name] = median(phases.map((p) => p.cpuMsPerOp[name]!));
  return { ops: median(phases.map((p) => p.ops)), opsPerSec: median(phases.map((p) => p.opsPerSec)), p50Ms: median(phases.map((p) => p.p50Ms)), errors: phases.reduce((s, p) => s + p.errors, 0), cpuMsPerOp: cpu };
}

// ---- processes -----------------------------------------------------------------------------------------

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

async function startHaproxy(backends: string[]): Promise<{ url: string; pid: number; stop(): Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'tessera-haproxy-'));
  const port = await freePort();
  const config = [
    'global',
    '  maxconn 1000',
    'defaults',
    '  mode http',
    '  timeout connect 5s',
    '  timeout client 60s',
    '  timeout server 60s',
    '  option http-keep-alive',
    'frontend s3',
    `  bind 127.0.0.1:${port}`,
    '  default_backend tessera',
    'backend tessera',
    '  balance roundrobin',
    ...backends.map((b, i) => `  server t${i} ${new URL(b).host}`),
    '',
  ].join('\n');
  await writeFile(join(dir, 'haproxy.cfg'), config);
  const child: ChildProcess = spawn(haproxyPath, ['-f', join(dir, 'haproxy.cfg'), '-db'], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  child.stderr!.on('data', (d: Buffer) => (log += d.toString()));
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; ; i++) {
    if (child.exitCode !== null) throw new Error(`HAProxy exited: ${log}`);
    const up = await fetch(`${url}/`).then(() => true, () => false);
    if (up) break;
    if (i > 100) throw new Error(`HAProxy did not listen within 5 s: ${log}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    url,
    pid: child.pid!,
    async stop() {
      if (child.exitCode === null) child.kill('SIGTERM');
      await exited;
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** The bearer token the bench's servers accept for metrics (their metrics listener needs one). */
const metricsToken = 'bench-postgres-metrics-token';

async function startOnPostgres(databaseUrl: string, metricsPort?: number): Promise<TesseraProcess> {
  return startTessera({ args: ['--meta', databaseUrl, ...(metricsPort ? ['--metrics-address', `127.0.0.1:${metricsPort}`] : [])], env: { TESSERA_METRICS_TOKEN: metricsToken } });
}

function targetOf(name: string, server: TesseraProcess, watch: Record<string, number[]>, url = server.url): Target {
  return targetAt(name, url, { accessKeyId: server.accessKeyId, secretAccessKey: server.secretAccessKey, region: server.region }, watch);
}

function targetAt(name: string, url: string, credentials: Credentials, watch: Record<string, number[]>): Target {
  const s3 = new S3Client({ endpoint: url, region: credentials.region, forcePathStyle: true, credentials: { accessKeyId: credentials.accessKeyId, secretAccessKey: credentials.secretAccessKey } });
  return { name, url, s3, credentials, watch };
}

// ---- parts ---------------------------------------------------------------------------------------------

/** PostgreSQL alone through the MetaStore: point reads and one-key commits per second. */
async function partPostgres(pgServer: PostgresServer, args: Args): Promise<string> {
  const store = await PostgresMetaStore.open({ url: await pgServer.createDatabase(), poolConnectionsMax: 16 });
  const watch = { postgres: [pgServer.pid()!] };
  try {
    const value = randomBytes(400); // about a version record with its shard list
    for (let i = 0; i < 1000; i++) await store.commit({ checks: [], writes: [{ key: Buffer.from(`k${i}`), value }] });
    const rows: string[][] = [];
    for (const concurrency of [1, args.concurrency]) {
      const get = await closedLoop(concurrency, args.seconds, (i) => store.get(Buffer.from(`k${i % 1000}`)).then(() => undefined), watch);
      const commit = await closedLoop(concurrency, args.seconds, (i) => store.commit({ checks: [{ key: Buffer.from(`k${i % 1000}`), value }], writes: [{ key: Buffer.from(`k${i % 1000}`), value }] }).then(() => undefined), watch);
      rows.push(['get (one key)', String(concurrency), num(get.opsPerSec), num(get.p50Ms), num(get.cpuMsPerOp.postgres!)]);
      rows.push(['commit (check + put, one key, fsync)', String(concurrency), num(commit.opsPerSec), num(commit.p50Ms), num(commit.cpuMsPerOp.postgres!)]);
    }
    return markdownTable(['PostgreSQL call', 'concurrency', 'calls/s', 'p50 ms', 'PostgreSQL CPU ms/call'], rows);
  } finally {
    await store.close();
  }
}

async function readRoundTrips(metricsPort: number): Promise<Record<string, number>> {
  const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`, { headers: { authorization: `Bearer ${metricsToken}` } })).text();
  const out: Record<string, number> = {};
  for (const m of text.matchAll(/^tessera_meta_round_trips_total\{kind="(\w+)"\} (\d+)$/gm)) out[m[1]!] = Number(m[2]);
  return out;
}

/** Metadata round trips per S3 request on `tessera server --meta`: metrics read around N requests, less what the server does idle for as long. */
async function partRoundTrips(pgServer: PostgresServer): Promise<string> {
  const metricsPort = await freePort();
  const server = await startOnPostgres(await pgServer.createDatabase(), metricsPort);
  const s3 = server.client();
  const bucket = 'trips';
  const n = 40;
  try {
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    const small = randomBytes(4 * KiB);
    const large = randomBytes(MiB);
    for (let i = 0; i < 100; i++) await s3.send(new PutObjectCommand({ Bucket: bucket, Key: `list/${String(i).padStart(3, '0')}`, Body: small }));
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'large', Body: large }));
    const ops: [string, (i: number) => Promise<unknown>][] = [
      ['PUT 4 KiB (new key)', (i) => s3.send(new PutObjectCommand({ Bucket: bucket, Key: `small/${i}`, Body: small }))],
      ['PUT 4 KiB (overwrite)', (i) => s3.send(new PutObjectCommand({ Bucket: bucket, Key: `small/${i}`, Body: small }))],
      ['GET 4 KiB', (i) => s3.send(new GetObjectCommand({ Bucket: bucket, Key: `small/${i}` })).then((r) => r.Body!.transformToByteArray())],
      ['HEAD 4 KiB', (i) => s3.send(new HeadObjectCommand({ Bucket: bucket, Key: `small/${i}` }))],
      ['GET 1 MiB', () => s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'large' })).then((r) => r.Body!.transformToByteArray())],
      ['ListObjectsV2 (page of 100)', () => s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: 'list/', MaxKeys: 100 }))],
      ['DeleteObject', (i) => s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: `small/${i}` }))],
    ];
    const rows: string[][] = [];
    for (const [label, op] of ops) {
      const t0 = performance.now();
      const before = await readRoundTrips(metricsPort);
      for (let i = 0; i < n; i++) await op(i);
      const after = await readRoundTrips(metricsPort);
      const elapsedMs = performance.now() - t0;
      // The background work (layout follower, leases, GC) over as long a quiet time.
      const idleBefore = await readRoundTrips(metricsPort);
      await new Promise((r) => setTimeout(r, elapsedMs));
      const idleAfter = await readRoundTrips(metricsPort);
      const kinds = ['get', 'get_many', 'scan', 'commit'];
      const per = kinds.map((k) => ((after[k] ?? 0) - (before[k] ?? 0) - ((idleAfter[k] ?? 0) - (idleBefore[k] ?? 0))) / n);
      const total = per.reduce((a, b) => a + b, 0);
      rows.push([label, ...per.map((x) => x.toFixed(2)), total.toFixed(2)]);
    }
    return markdownTable(['S3 request', 'get', 'get_many', 'scan', 'commit', 'round trips'], rows);
  } finally {
    s3.destroy();
    await server.cleanup();
  }
}

function tableOf(results: Map<string, Map<string, Phase[]>>, names: string[], cpuNames: string[]): string {
  const rows: string[][] = [];
  for (const [label, byTarget] of results) {
    const medians = names.map((n) => medianPhase(byTarget.get(n)!));
    const cells = medians.flatMap((m) => [num(m.opsPerSec), num(m.p50Ms)]);
    const ratio = medians[1]!.opsPerSec / medians[0]!.opsPerSec;
    const cpu = medians.map((m) => cpuNames.filter((c) => m.cpuMsPerOp[c] !== undefined).map((c) => `${c} ${num(m.cpuMsPerOp[c]!)}`).join(', '));
    rows.push([label, ...cells, ratio.toFixed(2), ...cpu]);
  }
  return markdownTable(['operation', ...names.flatMap((n) => [`${n} ops/s`, `${n} p50 ms`]), 'ratio', ...names.map((n) => `${n} CPU ms/op`)], rows);
}

/** One server on SQLite next to one on PostgreSQL: PUT/GET 4 KiB and 1 MiB, ListObjectsV2. */
async function partSingle(pgServer: PostgresServer, args: Args): Promise<string> {
  const sqlite = await startTessera();
  const onPg = await startOnPostgres(await pgServer.createDatabase());
  const targets = [targetOf('SQLite', sqlite, { tessera: [sqlite.process.pid!] }), targetOf('PostgreSQL', onPg, { tessera: [onPg.process.pid!], postgres: [pgServer.pid()!] })];
  try {
    const w = workloads('bench', [{ label: '4 KiB', bytes: 4 * KiB, objects: 200 }, { label: '1 MiB', bytes: MiB, objects: 16 }], false);
    for (const t of targets) await w.prepare(t);
    return tableOf(await compare(targets, w.list, args), ['SQLite', 'PostgreSQL'], ['tessera', 'postgres', 'client']);
  } finally {
    for (const t of targets) t.s3.destroy();
    await Promise.all([sqlite.cleanup(), onPg.cleanup()]);
  }
}

/**
 * One vs two `tessera server --meta` on one PostgreSQL behind HAProxy. Each server has its own drive,
 * so only objects inline in the metadata (4 KiB) can be read through either: the workloads are those.
 */
async function partScale(pgServer: PostgresServer, args: Args): Promise<string> {
  const databaseUrl = await pgServer.createDatabase();
  const a = await startOnPostgres(databaseUrl);
  const b = await startOnPostgres(databaseUrl);
  const one = await startHaproxy([a.url]);
  const two = await startHaproxy([a.url, b.url]);
  const pg = pgServer.pid()!;
  const targets = [
    targetOf('1 server', a, { tessera: [a.process.pid!, b.process.pid!], postgres: [pg], haproxy: [one.pid] }, one.url),
    targetOf('2 servers', a, { tessera: [a.process.pid!, b.process.pid!], postgres: [pg], haproxy: [two.pid] }, two.url),
  ];
  try {
    const w = workloads('scale', [{ label: '4 KiB', bytes: 4 * KiB, objects: 200 }], true);
    await w.prepare(targets[0]!);
    return tableOf(await compare(targets, w.list, args), ['1 server', '2 servers'], ['tessera', 'postgres', 'haproxy', 'client']);
  } finally {
    for (const t of targets) t.s3.destroy();
    await Promise.all([one.stop(), two.stop()]);
    await Promise.all([a.cleanup(), b.cleanup()]);
  }
}

interface ClusterFile {
  endpoint: string;
  region: string;
  accessKeyId: string;
  secretAccessKey: string;
  processes: { role: string; name: string; address: string; pid: number | null }[];
}

/**
 * `tessera dev-cluster --postgres --gateways 2 --nodes 3`: HAProxy over both gateways, next to a second
 * HAProxy over gateway1 alone, on the same nodes and PostgreSQL, so the two differ only in gateways.
 */
async function partCluster(args: Args): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'tessera-bench-cluster-'));
  const child = spawn(process.execPath, [join(repoRoot, 'bin', 'tessera.js'), 'dev-cluster', '--dir', dir, '--nodes', '3', '--zones', '3', '--gateways', '2', '--postgres', '--address', '127.0.0.1:0'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  let one: Awaited<ReturnType<typeof startHaproxy>> | undefined;
  const targets: Target[] = [];
  try {
    let file: ClusterFile | undefined;
    for (let i = 0; file === undefined; i++) {
      if (child.exitCode !== null) throw new Error(`dev-cluster exited: ${output}`);
      if (i > 1200) throw new Error(`dev-cluster did not start within 120 s: ${output}`);
      await new Promise((r) => setTimeout(r, 100));
      if (!/endpoint/.test(output)) continue;
      file = JSON.parse(await readFile(join(dir, 'cluster.json'), 'utf8').catch(() => 'null')) ?? undefined;
    }
    const pids = (role: string) => file!.processes.filter((p) => p.role === role && p.pid !== null).map((p) => p.pid!);
    const gateway1 = file.processes.find((p) => p.role === 'gateway')!;
    one = await startHaproxy([`http://${gateway1.address}`]);
    const credentials = { accessKeyId: file.accessKeyId, secretAccessKey: file.secretAccessKey, region: file.region };
    const common = { gateways: pids('gateway'), nodes: pids('node'), postgres: pids('postgres') };
    targets.push(targetAt('1 gateway', one.url, credentials, { ...common, haproxy: [one.pid] }));
    targets.push(targetAt('2 gateways', file.endpoint, credentials, { ...common, haproxy: pids('haproxy') }));
    const w = workloads('cluster', [{ label: '4 KiB', bytes: 4 * KiB, objects: 200 }, { label: '1 MiB', bytes: MiB, objects: 16 }], false);
    await w.prepare(targets[0]!);
    return tableOf(await compare(targets, w.list, args), ['1 gateway', '2 gateways'], ['gateways', 'nodes', 'postgres', 'haproxy', 'client']);
  } finally {
    for (const t of targets) t.s3.destroy();
    await one?.stop();
    if (child.exitCode === null) child.kill('SIGTERM');
    await exited;
    await rm(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const report: string[] = [describeMachine(machineInfo()), `seconds per phase: ${args.seconds}, rounds: ${args.rounds}, concurrency: ${args.concurrency}`];
  console.error(report.join('\n'));
  const pgServer = await startPostgres({ durable: true });
  try {
    if (args.parts.has('pg')) report.push('\n### PostgreSQL alone (fsync on)\n', await partPostgres(pgServer, args));
    if (args.parts.has('trips')) report.push('\n### Metadata round trips per S3 request\n', await partRoundTrips(pgServer));
    if (args.parts.has('single')) report.push('\n### One server: SQLite vs PostgreSQL metadata\n', await partSingle(pgServer, args));
    if (args.parts.has('cluster')) report.push('\n### dev-cluster (3 nodes, PostgreSQL): one vs two gateways behind HAProxy\n', await partCluster(args));
    if (args.parts.has('scale')) report.push('\n### One vs two servers on one PostgreSQL behind HAProxy (inline 4 KiB objects)\n', await partScale(pgServer, args));
  } finally {
    await pgServer.cleanup();
  }
  report.push(`\nload: ${loadText()} (1/5/15 min) at end`);
  console.log(report.join('\n'));
  if (args.json) await writeFile(args.json, JSON.stringify({ report }, null, 2));
}

await main();
