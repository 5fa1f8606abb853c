// Rate limits (issue 14), two measurements:
// - cost: the small-GET rate (4 KiB, c=16) of one server with no limits, then with limits configured for every
//   key, bucket and IP but never reached (requests only; requests and bytes), phases interleaved in one run;
// - fair: a polite client (4 KiB GETs, c=1, root key) alone, then beside a greedy one (1 MiB GETs, c=16, its own
//   key, waiting out each SlowDown's Retry-After as the SDKs do), on a server without limits and on one that limits the greedy key to 20 requests/s.
// - check: the limiter's own work per request, without HTTP.
// Run: npm run build && npx tsx bench/rate-limits.ts [--part check|cost|fair|both] [--repeats 3] [--seconds 3] [--reverse]
import { prepare } from './lib/compare.js';
import { loadText, median } from './lib/machine.js';
import { fork } from 'node:child_process';
import { Agent, request } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { runLoad, wrkAvailable, type Driver, type LoadOptions, type LoadResult } from './lib/load.js';
import { presignUrl, type Credentials } from './lib/presign.js';
import { startBenchServer, type BenchServer } from './lib/server.js';
import type { RateLimitConfig } from '../src/util/rate-limits.js';
import { RateLimiter } from '../src/util/rate-limiter.js';
import { signRequest } from '../src/s3/sigv4/sign.js';

const greedyLimitPerSec = 20;
const small = { label: '4 KiB', bytes: 4096, getObjects: 64, putKeys: 0 };
const large = { label: '1 MiB', bytes: 1024 * 1024, getObjects: 8, putKeys: 0 };

function option(name: string, fallback: string): string {
  const i = process.argv.indexOf(name);
  return i < 0 ? fallback : process.argv[i + 1] ?? fallback;
}

const part = option('--part', 'both');
const repeats = Number(option('--repeats', '3'));
const seconds = Number(option('--seconds', '3'));
const servers: BenchServer[] = [];
const driver: Driver = wrkAvailable() ? 'wrk' : 'node';

/**
 * The greedy load runs in a child process, so its client work does not delay the polite client's event
 * loop and show up as the server's fault.
 */
async function loadInChild(options: LoadOptions): Promise<LoadResult> {
  const child = fork(import.meta.filename, ['--child'], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  return new Promise<LoadResult>((resolve, reject) => {
    child.once('message', (m: { ready?: true }) => {
      if (m.ready) {
        child.send(options);
        child.once('message', (result: LoadResult) => resolve(result));
      }
    });
    child.once('exit', (code) => code !== 0 && reject(new Error(`The greedy client exited with ${code}`)));
  });
}

/**
 * The greedy client: `concurrency` connections, back to back, each waiting out a SlowDown's Retry-After as
 * the SDKs do (they retry after it) before its next request. Counts 200s as ops and 503s as errors.
 */
async function greedyLoop(options: LoadOptions): Promise<LoadResult> {
  const agent = new Agent({ keepAlive: true, maxSockets: options.concurrency });
  const latencies: number[] = [];
  let refused = 0;
  let next = 0;
  const startMs = performance.now();
  const deadlineMs = startMs + options.durationMs;
  const one = (url: string) => new Promise<{ status: number; retryAfterSec: number }>((resolve, reject) => {
    request(url, { agent }, (res) => {
      res.on('data', () => undefined);
      res.on('end', () => resolve({ status: res.statusCode ?? 0, retryAfterSec: Number(res.headers['retry-after'] ?? '0') }));
      res.on('error', reject);
    }).on('error', reject).end();
  });
  await Promise.all(Array.from({ length: options.concurrency }, async () => {
    while (performance.now() < deadlineMs) {
      const t0 = performance.now();
      const { status, retryAfterSec } = await one(options.urls[next++ % options.urls.length]!);
      if (status === 200) latencies.push(performance.now() - t0);
      else if (status === 503) {
        refused++;
        await sleep(Math.min(retryAfterSec * 1000, Math.max(0, deadlineMs - performance.now())));
      } else throw new Error(`The greedy GET answered ${status}`);
    }
  }));
  agent.destroy();
  latencies.sort((a, b) => a - b);
  const at = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor((p / 100) * latencies.length))] ?? NaN;
  return { ops: latencies.length, seconds: (performance.now() - startMs) / 1000, p50Ms: at(50), p99Ms: at(99), errors: refused, driver: 'node' };
}

if (process.argv.includes('--child')) {
  process.once('message', (options: LoadOptions) => {
    void greedyLoop(options).then((result) => process.send!(result, () => process.exit(0)));
  });
  process.send!({ ready: true });
}

async function start(rateLimits?: RateLimitConfig): Promise<BenchServer> {
  const server = await startBenchServer(rateLimits ? { rateLimits } : {});
  servers.push(server);
  return server;
}

async function cost(): Promise<void> {
  const unreached = { requestsPerSec: 1e6 };
  const bytesToo = { requestsPerSec: 1e6, bytesPerSec: 1e12 };
  // One server, its limits replaced through the admin API before each phase: two servers read up to 2x
  // apart on this shared machine for the same load, far more than the cost looked for.
  const phases: [string, RateLimitConfig][] = [
    ['no limits', {}],
    ['requests/s limits per key, bucket and IP, not reached', { key: { '*': unreached }, bucket: { '*': unreached }, ip: { '*': unreached } }],
    ['requests/s and bytes/s limits per key, bucket and IP, not reached', { key: { '*': bytesToo }, bucket: { '*': bytesToo }, ip: { '*': bytesToo } }],
  ];
  if (process.argv.includes('--reverse')) phases.reverse();
  const server = await start();
  await prepare([{ name: 'server', server }], [small]);
  const getUrls = urls(server, server.credentials, small);
  process.stdout.write(`cost: date ${new Date().toISOString()}, load ${loadText()} at start, GET 4 KiB, ${driver} c=16, ${repeats} rounds × ${seconds} s (medians)\n`);
  const results = phases.map(() => ({ opsPerSec: [] as number[], cpuMsPerOp: [] as number[], p99Ms: [] as number[] }));
  for (let round = 0; round < repeats; round++) {
    for (const [i, [, limits]] of phases.entries()) {
      await setLimits(server, limits);
      await server.mark();
      const load = await runLoad(driver, { method: 'GET', urls: getUrls, concurrency: 16, durationMs: seconds * 1000, expectBytes: small.bytes });
      const stats = await server.read();
      if (load.errors > 0) throw new Error(`${phases[i]![0]}: ${load.errors} errors (${load.firstError})`);
      const rate = load.ops / load.seconds;
      results[i]!.opsPerSec.push(rate);
      results[i]!.cpuMsPerOp.push((stats.cpuCores * 1000) / rate);
      results[i]!.p99Ms.push(load.p99Ms);
    }
  }
  for (const [i, [name]] of phases.entries()) {
    const r = results[i]!;
    process.stdout.write(`  ${name}: ${Math.round(median(r.opsPerSec))} ops/s, ${median(r.cpuMsPerOp).toFixed(3)} CPU ms/op, p99 ${median(r.p99Ms).toFixed(1)} ms\n`);
  }
  process.stdout.write(`  load ${loadText()} at end\n`);
}

/** The limiter's own work per request, in process: the two admissions the S3 endpoint makes (IP, then key and bucket). */
function check(): void {
  const unreached = { requestsPerSec: 1e6 };
  const bytesToo = { requestsPerSec: 1e6, bytesPerSec: 1e12 };
  process.stdout.write('check: the limiter alone, 1,000,000 requests, best of 3\n');
  for (const [name, limit] of [['requests/s limits', unreached], ['requests/s and bytes/s limits', bytesToo]] as const) {
    const limiter = new RateLimiter({ key: { '*': limit }, bucket: { '*': limit }, ip: { '*': limit } });
    let bestNs = Infinity;
    for (let r = 0; r < 3; r++) {
      const t0 = process.hrtime.bigint();
      for (let i = 0; i < 1_000_000; i++) {
        limiter.admit({ ip: limiter.clientIp('127.0.0.1', undefined) });
        limiter.admit({ key: 'BENCHACCESSKEY000001', bucket: `bench${i & 7}` });
      }
      bestNs = Math.min(bestNs, Number(process.hrtime.bigint() - t0) / 1_000_000);
    }
    process.stdout.write(`  ${name} per key, bucket and IP: ${(bestNs / 1000).toFixed(2)} µs per request\n`);
  }
}

function urls(server: BenchServer, credentials: Credentials, size: typeof small): string[] {
  return Array.from({ length: size.getObjects }, (_, i) => presignUrl({ endpoint: server.url, credentials, method: 'GET', bucket: 'bench', key: `get-${size.bytes}-${i}` }));
}

/** The median of each figure over the rounds. */
function medianLoad(runs: LoadResult[]): LoadResult {
  const m = (f: (r: LoadResult) => number) => median(runs.map(f));
  return { ops: m((r) => r.ops / r.seconds), seconds: 1, p50Ms: m((r) => r.p50Ms), p99Ms: m((r) => r.p99Ms), errors: m((r) => r.errors / r.seconds), driver: runs[0]!.driver };
}

function line(name: string, r: LoadResult): string {
  return `${name} ${Math.round(r.ops / r.seconds)} ok/s (p50 ${r.p50Ms.toFixed(1)} ms, p99 ${r.p99Ms.toFixed(1)} ms)${r.errors > 0 ? `, ${Math.round(r.errors / r.seconds)} refused/s` : ''}`;
}

/** A call of the admin API signed with the root key; the answer's JSON. */
async function admin(server: BenchServer, method: string, path: string, config: unknown): Promise<unknown> {
  const url = new URL(`/_tessera/admin/${path}`, server.url);
  const body = Buffer.from(JSON.stringify(config));
  const res = await fetch(url, { method, headers: signRequest({ method, url, body, ...server.credentials }), body });
  if (res.status !== 200 && res.status !== 201) throw new Error(`Admin ${method} ${path} answered ${res.status}: ${await res.text()}`);
  return res.json() as Promise<unknown>;
}

/** Replaces the server's limits through the admin API, as `tessera admin limits set --file` does. */
async function setLimits(server: BenchServer, config: RateLimitConfig): Promise<void> {
  await admin(server, 'PUT', 'limits', config);
}

/** A user allowed everything, with one access key: the greedy client's own key, as an operator would make it. */
async function createGreedyUser(server: BenchServer): Promise<Credentials> {
  const userName = 'greedy';
  const document = JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 's3:*', Resource: '*' }] });
  await admin(server, 'POST', 'iam/users/create', { userName });
  await admin(server, 'POST', 'iam/policies/attach', { userName, policyName: 'allow-all', document });
  const key = (await admin(server, 'POST', 'iam/keys/create', { userName })) as { accessKeyId: string; secretAccessKey: string };
  return { accessKeyId: key.accessKeyId, secretAccessKey: key.secretAccessKey, region: 'us-east-1' };
}

async function fair(): Promise<void> {
  // One server for every phase, its limits changed at run time between them: two servers read up to 2x
  // apart on this shared machine for the same load.
  const server = await start();
  await prepare([{ name: 'server', server }], [small, large]);
  const greedy = await createGreedyUser(server);
  const open: RateLimitConfig = {};
  const limited: RateLimitConfig = { key: { [greedy.accessKeyId]: { requestsPerSec: greedyLimitPerSec } } };
  const durationMs = seconds * 1000;
  const politeLoad = () => runLoad(driver, { method: 'GET', urls: urls(server, server.credentials, small), concurrency: 1, durationMs, expectBytes: small.bytes });
  const greedyLoad = () => loadInChild({ method: 'GET', urls: urls(server, greedy, large), concurrency: 16, durationMs, expectBytes: large.bytes });
  process.stdout.write(`fair: date ${new Date().toISOString()}, load ${loadText()} at start, ${repeats} rounds × ${seconds} s per phase (medians); polite: GET 4 KiB, ${driver} c=1 (root key); greedy: GET 1 MiB, c=16 in another process (its own key, waiting out Retry-After as the SDKs do)\n`);
  const phases = [['polite alone, no limits', open, false], ['polite + greedy, no limits', open, true], [`polite alone, greedy key limited to ${greedyLimitPerSec}/s`, limited, false], [`polite + greedy, greedy key limited to ${greedyLimitPerSec}/s`, limited, true]] as const;
  const results = phases.map(() => ({ polite: [] as LoadResult[], greedy: [] as LoadResult[], cpuCores: [] as number[] }));
  // Rounds interleave the phases, so a burst of load from elsewhere on the machine hits them alike.
  for (let round = 0; round < repeats; round++) {
    for (const [i, [, limits, withGreedy]] of phases.entries()) {
      await setLimits(server, limits);
      await server.mark();
      const [polite, hog] = await Promise.all([politeLoad(), withGreedy ? greedyLoad() : Promise.resolve(undefined)]);
      const stats = await server.read();
      results[i]!.polite.push(polite);
      if (hog) results[i]!.greedy.push(hog);
      results[i]!.cpuCores.push(stats.cpuCores);
    }
  }
  for (const [i, [name]] of phases.entries()) {
    const r = results[i]!;
    const greedyText = r.greedy.length > 0 ? `; ${line('greedy', medianLoad(r.greedy))}` : '';
    process.stdout.write(`  ${name}: ${line('polite', medianLoad(r.polite))}${greedyText}; server CPU ${median(r.cpuCores).toFixed(2)} cores\n`);
  }
  process.stdout.write(`  load ${loadText()} at end\n`);
}

if (!process.argv.includes('--child')) {
  try {
    if (part === 'check' || part === 'both') check();
    if (part === 'cost' || part === 'both') await cost();
    if (part === 'fair' || part === 'both') await fair();
  } finally {
    for (const server of servers) await server.stop();
  }
}
