// What server-side encryption costs (issue 16: encrypted PUT and GET at ≥ 0.8× plain): PUT and GET of 1 MiB
// and 64 MiB objects, plain vs SSE-S3 vs SSE-C, against one `tessera server` over HTTPS (SSE-C needs it, and
// every mode pays the same TLS). The modes alternate within each repeat, so a load change on the shared
// machine hits them alike; each row is the median of the repeats: throughput, and the server's CPU per MiB
// (utime + stime of /proc/PID/stat, every thread, as bench/put.ts reads it).
// Run: npm run build && npx tsx bench/sse.ts [--sizes 1m,64m] [--modes plain,sse-s3,sse-c] [--seconds 2]
//        [--repeats 3] [--concurrency 4] [--min-requests 2] [--drives 0|6] [--cpu-prof DIR] [--ciphers native,node]
//        [--roots DIR_A,DIR_B] [--ops PUT,GET] [--warmup S]
// --ciphers starts one server per AES-GCM implementation (TESSERA_NATIVE_CIPHER on/off) and alternates them
// too, for a before/after in one run; without it one server uses whatever the environment says. --roots
// does the same for checkouts (each built: its bin/tessera.js and dist/), named by their directory, in the
// order given: run it twice, A,B then B,A, for an A/B in both orders. --ops GET skips the measured PUTs
// (the unmeasured warm-up still writes every key the GETs read).
// --warmup S runs each measured op and mode unmeasured for S seconds first: V8's optimising compiler takes
// 10-30 s of load to settle (docs/benchmarks.md "Large GET"), and without it the first repeat's GETs were
// the slowest of every mode. A phase lasts --seconds and at least --min-requests requests per worker. Keep a run under a minute on a
// shared machine: one size per run, e.g. --sizes 1m, then --sizes 64m --concurrency 1 --seconds 1 --min-requests 1.
import { createHash, createHmac, randomBytes, randomFillSync } from 'node:crypto';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { Agent, request } from 'node:https';
import { tmpdir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { loadText, median } from './lib/machine.js';
import { benchCredentials, checkBuild, repoRoot } from './lib/server.js';
import { waitForEndpoint } from '../test/helpers/tessera.js';
import { parseCommandLine } from './lib/args.js';

const MiB = 2 ** 20;
const sizeBytes: Record<string, number> = { '1m': MiB, '4m': 4 * MiB, '64m': 64 * MiB };
const modeNames = ['plain', 'sse-s3', 'sse-c'] as const;
type Mode = (typeof modeNames)[number];
const bucket = 'bench';
/** TESSERA_NATIVE_CIPHER for each --ciphers name. */
const cipherEnv: Record<string, string> = { native: 'on', node: 'off' };
const customerKey = randomBytes(32);

function parseArgs(argv: string[]) {
  const { options } = parseCommandLine(argv);
  const list = (name: string, fallback: string) => (options.get(name) ?? fallback).split(',');
  const sizes = list('--sizes', '1m');
  for (const s of sizes) if (!(s in sizeBytes)) throw new RangeError(`Unknown size "${s}": expected one of ${Object.keys(sizeBytes).join(', ')}`);
  const modes = list('--modes', modeNames.join(','));
  for (const m of modes) if (!modeNames.includes(m as Mode)) throw new RangeError(`Unknown mode "${m}": expected one of ${modeNames.join(', ')}`);
  const ciphers = options.has('--ciphers') ? list('--ciphers', '') : [];
  for (const c of ciphers) if (!(c in cipherEnv)) throw new RangeError(`Unknown cipher "${c}": expected native or node`);
  const roots = options.has('--roots') ? list('--roots', '').map((r) => resolve(r)) : [];
  if (roots.length > 0 && ciphers.length > 0) throw new RangeError('Give --roots or --ciphers, not both');
  const ops = list('--ops', 'PUT,GET');
  for (const o of ops) if (o !== 'PUT' && o !== 'GET') throw new RangeError(`Unknown op "${o}": expected PUT or GET`);
  return {
    sizes,
    ciphers,
    roots,
    ops: ops as ('PUT' | 'GET')[],
    modes: modes as Mode[],
    seconds: Number(options.get('--seconds') ?? '2'),
    repeats: Number(options.get('--repeats') ?? '3'),
    concurrency: Number(options.get('--concurrency') ?? '4'),
    minRequests: Number(options.get('--min-requests') ?? '2'),
    warmupSeconds: Number(options.get('--warmup') ?? '0'),
    drives: Number(options.get('--drives') ?? '0'),
    /** Write a V8 CPU profile of the server's main thread into this directory when it stops. */
    cpuProfDir: options.get('--cpu-prof'),
  };
}

// ---- the server ---------------------------------------------------------------------------------------

interface Server {
  url: string;
  pid: number;
  ca: Buffer;
  stop(): Promise<void>;
}

async function startServer(drives: number, cpuProfDir: string | undefined, cipher: string | undefined, checkout = repoRoot): Promise<Server> {
  if (checkout === repoRoot) await checkBuild();
  const root = await mkdtemp(join(tmpdir(), 'tessera-bench-sse-'));
  const tessera = join(checkout, 'bin', 'tessera.js');
  const tlsDir = join(root, 'tls');
  await new Promise<void>((resolve, reject) => {
    const made = spawn(process.execPath, [tessera, 'tls', 'init', '--dir', tlsDir, '--hosts', '127.0.0.1'], { stdio: 'ignore' });
    made.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`tessera tls init exited with ${code}`))));
  });
  const driveDirs = Array.from({ length: drives }, (_, i) => join(root, `drive${i + 1}`));
  for (const d of driveDirs) await mkdir(d);
  // Each PUT phase overwrites a few keys per worker: the replaced blocks are deleted at once, not piled up.
  const child = spawn(process.execPath, [...(cpuProfDir ? ['--cpu-prof', `--cpu-prof-dir=${cpuProfDir}`] : []), tessera, 'server', '--address', '127.0.0.1:0', '--data', join(root, 'data'), '--gc-delay', '0', '--gc-interval', '0.5', '--workers', '1',
    '--log-level', 'warn', '--tls-cert', join(tlsDir, 'server.pem'), '--tls-key', join(tlsDir, 'server.key'), ...(drives > 0 ? ['--drives', driveDirs.join(',')] : [])], {
    env: { ...process.env, TESSERA_ROOT_ACCESS_KEY: benchCredentials.accessKeyId, TESSERA_ROOT_SECRET_KEY: benchCredentials.secretAccessKey, ...(cipher ? { TESSERA_NATIVE_CIPHER: cipherEnv[cipher]! } : {}) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-64 * 1024)));
  const url = await waitForEndpoint(child, 60_000, () => stderr);
  child.stdout!.resume();
  return {
    url,
    pid: child.pid!,
    ca: await readFile(join(tlsDir, 'ca.pem')),
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        await exited;
      }
      await rm(root, { recursive: true, force: true });
    },
  };
}

/** utime + stime of the process, every thread, in ms (USER_HZ = 100). */
function cpuMsOf(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

// ---- requests (SigV4 header signing with an unsigned payload: TLS protects the body) -------------------

const hmac = (key: Buffer | string, data: string) => createHmac('sha256', key).update(data, 'utf8').digest();

function signed(method: string, path: string, extra: Record<string, string>, host: string): Record<string, string> {
  const { accessKeyId, secretAccessKey, region } = benchCredentials;
  const amzDate = new Date().toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');
  const scope = `${amzDate.slice(0, 8)}/${region}/s3/aws4_request`;
  const headers: Record<string, string> = { host, 'x-amz-date': amzDate, 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD', ...extra };
  const names = Object.keys(headers).filter((n) => n === 'host' || n.startsWith('x-amz-')).sort();
  const canonical = [method, path, '', names.map((n) => `${n}:${headers[n]}\n`).join(''), names.join(';'), 'UNSIGNED-PAYLOAD'].join('\n');
  const toSign = ['AWS4-HMAC-SHA256', amzDate, scope, createHash('sha256').update(canonical).digest('hex')].join('\n');
  const key = hmac(hmac(hmac(hmac(`AWS4${secretAccessKey}`, amzDate.slice(0, 8)), region), 's3'), 'aws4_request');
  return { ...headers, authorization: `AWS4-HMAC-SHA256 Credential=${accessKeyId}/${scope}, SignedHeaders=${names.join(';')}, Signature=${createHmac('sha256', key).update(toSign).digest('hex')}` };
}

function sseHeaders(mode: Mode, forWrite: boolean): Record<string, string> {
  if (mode === 'sse-s3') return forWrite ? { 'x-amz-server-side-encryption': 'AES256' } : {};
  if (mode === 'sse-c') {
    return {
      'x-amz-server-side-encryption-customer-algorithm': 'AES256',
      'x-amz-server-side-encryption-customer-key': customerKey.toString('base64'),
      'x-amz-server-side-encryption-customer-key-md5': createHash('md5').update(customerKey).digest('base64'),
    };
  }
  return {};
}

/** One request; resolves with the status and how many body bytes came back (read and dropped). */
function send(server: Server, agent: Agent, method: string, path: string, headers: Record<string, string>, body?: Buffer): Promise<{ status: number; bytes: number }> {
  return new Promise((resolve, reject) => {
    const host = new URL(server.url).host;
    const req = request(`${server.url}${path}`, { method, agent, headers: { ...signed(method, path, headers, host), ...(body ? { 'content-length': String(body.length) } : {}) } }, (res) => {
      let bytes = 0;
      res.on('data', (d: Buffer) => (bytes += d.length));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, bytes }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

// ---- phases -------------------------------------------------------------------------------------------

interface Result {
  mibPerSecond: number;
  cpuMsPerMib: number;
  errors: number;
  /** Status of each failed request (0: the connection failed), as "status×count". */
  errorStatuses: Map<number, number>;
}

const keysPerWorker = 2;

async function phase(server: Server, agent: Agent, op: 'PUT' | 'GET', mode: Mode, data: Buffer, args: ReturnType<typeof parseArgs>, seconds: number, minRequests = args.minRequests): Promise<Result> {
  const before = cpuMsOf(server.pid);
  const startMs = performance.now();
  const deadlineMs = startMs + seconds * 1000;
  let bytes = 0;
  let errors = 0;
  const errorStatuses = new Map<number, number>();
  const worker = async (w: number) => {
    for (let i = 0; performance.now() < deadlineMs || i < minRequests; i++) {
      const path = `/${bucket}/${mode}-${data.length}-${w}-${i % keysPerWorker}`;
      const r = op === 'PUT'
        ? await send(server, agent, 'PUT', path, sseHeaders(mode, true), data).catch(() => ({ status: 0, bytes: 0 }))
        : await send(server, agent, 'GET', path, sseHeaders(mode, false)).catch(() => ({ status: 0, bytes: 0 }));
      if (r.status === 200 && (op === 'PUT' || r.bytes === data.length)) bytes += data.length;
      else {
        errors++;
        errorStatuses.set(r.status, (errorStatuses.get(r.status) ?? 0) + 1);
      }
    }
  };
  await Promise.all(Array.from({ length: args.concurrency }, (_, w) => worker(w)));
  const mib = bytes / MiB;
  return { mibPerSecond: mib / ((performance.now() - startMs) / 1000), cpuMsPerMib: (cpuMsOf(server.pid) - before) / mib, errors, errorStatuses };
}

const args = parseArgs(process.argv.slice(2));
process.env.UV_THREADPOOL_SIZE ??= '16';
/** One server per --ciphers name (one unnamed server without the flag), each with its own agent. */
const targets: { label: string; server: Server; agent: Agent }[] = [];
try {
  for (const cipher of args.ciphers.length > 0 ? args.ciphers : [undefined]) {
    for (const checkout of args.roots.length > 0 ? args.roots : [undefined]) {
      const server = await startServer(args.drives, args.cpuProfDir, cipher, checkout);
      const label = cipher ? ` ${cipher}` : checkout ? ` ${basename(checkout)}` : '';
      targets.push({ label, server, agent: new Agent({ keepAlive: true, maxSockets: args.concurrency, ca: server.ca }) });
    }
  }
  const alternating = args.ciphers.length ? `, ciphers ${args.ciphers.join(' and ')} alternating` : args.roots.length ? `, checkouts ${args.roots.join(' then ')} alternating` : '';
  process.stdout.write(`date ${new Date().toISOString()}, load ${loadText()}, c=${args.concurrency}, ${args.repeats} × ${args.seconds} s per phase, ${args.drives || 1} drive(s), HTTPS, medians${alternating}\n`);
  for (const { server, agent } of targets) {
    const created = await send(server, agent, 'PUT', `/${bucket}`, {});
    if (created.status !== 200) throw new Error(`CreateBucket answered ${created.status}`);
  }
  for (const sizeName of args.sizes) {
    const data = Buffer.allocUnsafe(sizeBytes[sizeName]!);
    randomFillSync(data);
    const results = new Map<string, Result[]>();
    // Unmeasured: JIT warm-up, and every key a GET phase reads is written.
    for (const { server, agent } of targets) for (const mode of args.modes) await phase(server, agent, 'PUT', mode, data, args, 0, keysPerWorker);
    if (args.warmupSeconds > 0) {
      for (const { server, agent } of targets) for (const mode of args.modes) for (const op of args.ops) await phase(server, agent, op, mode, data, args, args.warmupSeconds);
    }
    for (let r = 0; r < args.repeats; r++) {
      for (const { label, server, agent } of targets) {
        for (const mode of args.modes) {
          for (const op of args.ops) {
            const key = `${op} ${mode}${label}`;
            results.set(key, [...(results.get(key) ?? []), await phase(server, agent, op, mode, data, args, args.seconds)]);
          }
        }
      }
    }
    for (const op of args.ops) for (const { label } of targets) report(results, op, sizeName, label);
  }
} finally {
  for (const { server, agent } of targets) {
    agent.destroy();
    await server.stop();
  }
}
process.stdout.write(`load ${loadText()} at end\n`);

/** One row per mode of one server: median throughput, its ratio to the same server's plain, CPU per MiB. */
function report(results: Map<string, Result[]>, op: 'PUT' | 'GET', sizeName: string, label: string): void {
  const plain = median((results.get(`${op} plain${label}`) ?? []).map((x) => x.mibPerSecond));
  for (const mode of args.modes) {
    const rs = results.get(`${op} ${mode}${label}`)!;
    const rate = median(rs.map((x) => x.mibPerSecond));
    const errors = rs.reduce((n, x) => n + x.errors, 0);
    const statuses = new Map<number, number>();
    for (const x of rs) for (const [status, n] of x.errorStatuses) statuses.set(status, (statuses.get(status) ?? 0) + n);
    const errorText = [...statuses].map(([status, n]) => `${status}×${n}`).join(' ');
    const ratio = mode !== 'plain' && Number.isFinite(plain) ? ` (${(rate / plain).toFixed(2)}× plain)` : '';
    process.stdout.write(`${op} ${sizeName.padEnd(3)} ${`${mode}${label}`.padEnd(13)}: ${rate.toFixed(0).padStart(4)} MiB/s${ratio}, ${median(rs.map((x) => x.cpuMsPerMib)).toFixed(2)} CPU ms/MiB ` +
      `(runs: ${rs.map((x) => x.mibPerSecond.toFixed(0)).join(' ')} MiB/s)${errors ? `, ${errors} errors (status ${errorText})` : ''}\n`);
  }
}
