// CPU per MiB of large PUTs (issue 17): the server process's CPU time, every thread plus the kernel (utime +
// stime of /proc/PID/stat), divided by the MiB it accepted, next to MiB/s. Bodies are sent the two ways an
// SDK sends them: a header-signed payload (x-amz-content-sha256 = the body's SHA-256) and the SDK's default
// for a streamed body, aws-chunked with an unsigned CRC32 trailer. The bodies and their hashes are made
// before a phase starts, so the client does little besides signing headers and writing the bytes. Several checkouts (ROOT...) are measured
// in turn within each repeat (A/B on a noisy machine: compare medians and ratios, not single runs).
// Run: npm run build && npx tsx bench/put.ts [--sizes 1m,64m] [--drives 1,6] [--modes signed,chunked]
//        [--seconds 4] [--repeats 3] [--concurrency 16] [--threads] [--perf DIR] [--strace DIR] [--src] [ROOT...]
// The drives get every shards/ab/cd directory first, as a drive in service has; --new-drives skips that.
// --src runs each checkout's src/ through tsx instead of its dist/ (no build needed for a quick A/B).
// ROOT: a built checkout, default "this"; ROOT+--flag[+--flag] adds node flags (e.g. this+--perf-basic-prof),
// ROOT+NAME=VALUE sets the server's environment (e.g. this+UV_THREADPOOL_SIZE=64).
// --threads splits the CPU into the main thread, the hashing thread (where the checkout says which it is)
// and the others (libuv threadpool, V8's GC); with the MD5 lanes addon each row also says how many lanes
// the hashing thread's calls had;
// --strace DIR counts the server's system calls per PUT (strace -c -f; slows the phase, so its rates are off).
// --perf DIR records `perf record -g` of the server per measured phase into DIR (root's only, with kernel stacks).
// Each row also says what the data directory's block device did per PUT (/proc/diskstats: MiB written,
// write requests, cache flushes) and how much of the phase it was busy: where the disk bounds the rate.
// Each checkout first gets one unmeasured second of the same load (JIT warm-up).
import { createHash, createHmac, randomFillSync } from 'node:crypto';
import { crc32 } from 'node:zlib';
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { Agent, request } from 'node:http';
import { diskCounters, diskPerOp, diskPerOpText, loadText, median, type DiskPerOp } from './lib/machine.js';
import { parseRoot, startBenchServer, type BenchServer } from './lib/server.js';
import { presignUrl } from './lib/presign.js';
import { parseCommandLine } from './lib/args.js';

const sizeBytes: Record<string, number> = { '1m': 2 ** 20, '4m': 4 * 2 ** 20, '16m': 16 * 2 ** 20, '64m': 64 * 2 ** 20 };
type Mode = 'signed' | 'chunked';
const bucket = 'bench';
const awsChunkBytes = 64 * 1024; // what the SDK's aws-chunked stream frames from a file stream

function parseArgs(argv: string[]) {
  const { options, positional: roots } = parseCommandLine(argv, { flags: ['--threads', '--src', '--new-drives'], positional: true });
  const list = (name: string, fallback: string) => (options.get(name) ?? fallback).split(',');
  const sizes = list('--sizes', '1m,64m').map((s) => {
    if (!(s in sizeBytes)) throw new RangeError(`Unknown size "${s}": expected one of ${Object.keys(sizeBytes).join(', ')}`);
    return s;
  });
  const modes = list('--modes', 'signed,chunked').map((m) => {
    if (m !== 'signed' && m !== 'chunked') throw new RangeError(`Unknown mode "${m}": expected signed or chunked`);
    return m as Mode;
  });
  return {
    roots: roots.length > 0 ? roots : ['this'],
    sizes,
    modes,
    drives: list('--drives', '1,6').map(Number),
    seconds: Number(options.get('--seconds') ?? '4'),
    repeats: Number(options.get('--repeats') ?? '3'),
    concurrency: Number(options.get('--concurrency') ?? '16'),
    threads: options.has('--threads'),
    fromSource: options.has('--src'),
    fanOut: !options.has('--new-drives'),
    perfDir: madeDir(options.get('--perf')),
    straceDir: madeDir(options.get('--strace')),
  };
}

/** The output directory of --perf or --strace, made if missing. */
function madeDir(dir: string | undefined): string | undefined {
  if (dir !== undefined) mkdirSync(dir, { recursive: true });
  return dir;
}

// ---- signing (header SigV4, as the SDK signs a PutObject) -------------------------------------------

const hmac = (key: Buffer | string, data: string) => createHmac('sha256', key).update(data, 'utf8').digest();
const sha256Hex = (data: Buffer | string) => createHash('sha256').update(data).digest('hex');

function signedHeaders(server: BenchServer, path: string, extra: Record<string, string>): Record<string, string> {
  const { accessKeyId, secretAccessKey, region } = server.credentials;
  const amzDate = new Date().toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');
  const scope = `${amzDate.slice(0, 8)}/${region}/s3/aws4_request`;
  const headers: Record<string, string> = { host: new URL(server.url).host, 'x-amz-date': amzDate, ...extra };
  const names = Object.keys(headers).sort();
  const canonical = ['PUT', path, '', names.map((n) => `${n}:${headers[n]}\n`).join(''), names.join(';'), headers['x-amz-content-sha256']!].join('\n');
  const toSign = ['AWS4-HMAC-SHA256', amzDate, scope, sha256Hex(canonical)].join('\n');
  const key = hmac(hmac(hmac(hmac(`AWS4${secretAccessKey}`, amzDate.slice(0, 8)), region), 's3'), 'aws4_request');
  const signature = createHmac('sha256', key).update(toSign).digest('hex');
  return { ...headers, authorization: `AWS4-HMAC-SHA256 Credential=${accessKeyId}/${scope}, SignedHeaders=${names.join(';')}, Signature=${signature}` };
}

interface Body {
  wire: Buffer;
  /** Headers besides the signature's own; x-amz-content-sha256 is signed. */
  headers: Record<string, string>;
}

function bodyFor(mode: Mode, data: Buffer): Body {
  if (mode === 'signed') return { wire: data, headers: { 'x-amz-content-sha256': sha256Hex(data), 'content-length': String(data.length) } };
  const parts: Buffer[] = [];
  for (let offset = 0; offset < data.length; offset += awsChunkBytes) {
    const chunk = data.subarray(offset, offset + awsChunkBytes);
    parts.push(Buffer.from(`${chunk.length.toString(16)}\r\n`), chunk, Buffer.from('\r\n'));
  }
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(data));
  parts.push(Buffer.from(`0\r\nx-amz-checksum-crc32:${crc.toString('base64')}\r\n\r\n`));
  const wire = Buffer.concat(parts);
  return {
    wire,
    headers: {
      'x-amz-content-sha256': 'STREAMING-UNSIGNED-PAYLOAD-TRAILER',
      'content-encoding': 'aws-chunked',
      'x-amz-decoded-content-length': String(data.length),
      'x-amz-trailer': 'x-amz-checksum-crc32',
      'content-length': String(wire.length),
    },
  };
}

// ---- load -------------------------------------------------------------------------------------------

function put(agent: Agent, url: string, headers: Record<string, string>, wire: Buffer): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'PUT', agent, headers }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(wire);
  });
}

/** utime + stime of the process (every thread) in ms, and per thread name. */
function cpuOf(pid: number, hashingThreadId?: number): { totalMs: number; threads: Map<string, number> } {
  const tick = 10; // USER_HZ = 100 on Linux
  const fields = (text: string) => text.slice(text.lastIndexOf(')') + 2).split(' ');
  const all = fields(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  const threads = new Map<string, number>();
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      const text = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      const name = tid === String(pid) ? 'main' : tid === String(hashingThreadId) ? 'hashing thread' : 'other threads';
      const f = fields(text);
      threads.set(name, (threads.get(name) ?? 0) + (Number(f[11]) + Number(f[12])) * tick);
    } catch {
      // the thread ended while listing
    }
  }
  // Fields 14 and 15 of stat (utime, stime) count every thread of the process, those that ended too.
  return { totalMs: (Number(all[11]) + Number(all[12])) * tick, threads };
}

/** The calls of `strace -c` output that matter to a PUT's durability and data path, per PUT. */
function syscallsPerPut(file: string, puts: number): string {
  const wanted = /^(fsync|fdatasync|sync_file_range|rename|renameat2?|openat|close|pwrite64|pwritev2?|write|writev|mkdir|unlink|read|futex|epoll_wait|fstat|statx|newfstatat|io_uring_enter)$/;
  const counts: string[] = [];
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    const f = line.trim().split(/\s+/);
    const name = f[f.length - 1] ?? '';
    if (f.length >= 5 && wanted.test(name)) counts.push(`${name} ${(Number(f[3]) / puts).toFixed(1)}`);
  }
  return counts.join(', ');
}

interface Result {
  mibPerSecond: number;
  cpuMsPerMib: number;
  errors: number;
  threads: Map<string, number>;
  /** The hashing thread's MD5 calls in the phase, per lanes in a call (empty before the lanes addon). */
  md5Lanes: { lanes: number; calls: number; bytes: number }[];
  /** What the data directory's block device did per PUT (every process's I/O on it, this server's mostly). */
  disk: DiskPerOp | undefined;
}

let phaseCount = 0;
/** Each server's hashing thread, by server pid, once a phase has told it. */
const hashingThreadIds = new Map<number, number>();

/**
 * Creates every shards/ab/cd directory on the server's drives, as on a drive in service (a few hundred
 * thousand objects use all 65,536): on a new drive nearly every PUT would also make two directories and
 * fsync their parents, which is not what a PUT costs in steady state.
 */
function fillFanOut(dataDir: string): void {
  const hex = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));
  const find = (dir: string, depth: number): string[] =>
    readdirSync(dir, { withFileTypes: true }).flatMap((e) => (!e.isDirectory() ? [] : e.name === 'shards' ? [join(dir, e.name)] : depth > 0 ? find(join(dir, e.name), depth - 1) : []));
  const roots = find(dataDir, 2);
  if (roots.length === 0) throw new Error(`No shards directory under "${dataDir}"`);
  for (const shards of roots) {
    for (const a of hex) {
      mkdirSync(join(shards, a), { recursive: true });
      for (const b of hex) mkdirSync(join(shards, a, b), { recursive: true });
    }
  }
}

async function phase(server: BenchServer, size: number, mode: Mode, body: Body, args: ReturnType<typeof parseArgs>, seconds = args.seconds): Promise<Result> {
  // Every PUT writes a new key: overwrites would leave the old versions' blocks to the server's GC, whose
  // deletes then land in whichever phase (of either checkout) runs a few seconds later.
  const phaseId = `${process.pid}-${phaseCount++}`;
  const agent = new Agent({ keepAlive: true, maxSockets: args.concurrency });
  const measured = seconds === args.seconds;
  const traceFile = `${args.straceDir}/${server.pid}-${mode}-${size}.txt`;
  const perf =
    measured && args.perfDir
      ? spawn('perf', ['record', '-q', '-g', '-F', '499', '-p', String(server.pid), '-o', `${args.perfDir}/${server.pid}-${mode}-${size}.data`], { stdio: 'ignore' })
      : measured && args.straceDir
        ? spawn('strace', ['-c', '-f', '-p', String(server.pid), '-o', traceFile], { stdio: 'ignore' })
        : undefined;
  // perf and strace exit at once when they cannot write their file; the wait below must not then hang.
  const perfExited = perf ? new Promise<number | null>((r) => perf.once('exit', r)) : undefined;
  if (perf) await new Promise((r) => setTimeout(r, 300));
  // The unmeasured phase is marked and read too, with no label (no profile), to learn the hashing thread's id.
  await server.mark(measured ? `${mode}-${size}` : undefined);
  const stdoutBefore = server.stdout();
  const before = cpuOf(server.pid, hashingThreadIds.get(server.pid));
  const diskBefore = diskCounters(server.dataDir);
  const startMs = performance.now();
  const deadlineMs = startMs + seconds * 1000;
  let done = 0;
  let errors = 0;
  let next = 0;
  const worker = async () => {
    while (performance.now() < deadlineMs) {
      const path = `/${bucket}/put-${mode}-${size}-${phaseId}-${next++}`;
      const status = await put(agent, `${server.url}${path}`, signedHeaders(server, path, body.headers), body.wire).catch(() => 0);
      if (status === 200) done++;
      else errors++;
    }
  };
  await Promise.all(Array.from({ length: args.concurrency }, worker));
  const elapsedSeconds = (performance.now() - startMs) / 1000;
  const after = cpuOf(server.pid, hashingThreadIds.get(server.pid));
  const disk = diskPerOp(diskBefore, diskCounters(server.dataDir), done);
  agent.destroy();
  const { hashing } = await server.read();
  if (hashing?.threadId) hashingThreadIds.set(server.pid, hashing.threadId);
  if (perf) {
    perf.kill('SIGINT');
    const code = await perfExited;
    if (code !== 0 && code !== null) process.stdout.write(`    (${perf.spawnfile} exited with ${code}: nothing recorded)\n`);
    if (args.straceDir && measured) process.stdout.write(`    syscalls per PUT: ${syscallsPerPut(traceFile, done)}\n`);
  }
  const mib = (done * size) / 2 ** 20;
  // The allocation profile (TESSERA_BENCH_HEAP_PROFILE_DIR) covers the measured phase: say how many PUTs it holds.
  if (measured && process.env.TESSERA_BENCH_HEAP_PROFILE_DIR) process.stdout.write(`    PUTs in the profiled phase: ${done}\n`);
  // With the node flag --trace-gc (ROOT+--trace-gc), how many collections of each kind the phase had.
  const gcText = server.stdout().slice(stdoutBefore.length);
  const majors = gcText.match(/Mark-Compact/g)?.length ?? 0;
  const minors = gcText.match(/Scavenge/g)?.length ?? 0;
  if (measured && majors + minors > 0) {
    process.stdout.write(`    GCs per 100 PUTs: ${((majors * 100) / done).toFixed(1)} mark-compact, ${((minors * 100) / done).toFixed(1)} scavenge\n`);
    if (process.env.PUT_BENCH_GC_LINES) process.stdout.write(gcText.split('\n').filter((l) => /Mark-Compact/.test(l)).slice(0, 4).join('\n') + '\n');
    // With --trace-incremental-marking as well: why each major GC began (old generation limit, external memory...).
    const starts = new Map<string, number>();
    for (const m of gcText.matchAll(/\[IncrementalMarking\] Start \(([^)]*)\)/g)) starts.set(m[1]!, (starts.get(m[1]!) ?? 0) + 1);
    if (starts.size > 0) process.stdout.write(`    major GCs began by: ${[...starts].map(([why, n]) => `${why} ${n}`).join(', ')}\n`);
  }
  const threads = new Map<string, number>();
  for (const [name, ms] of after.threads) threads.set(name, (ms - (before.threads.get(name) ?? 0)) / mib);
  return { mibPerSecond: mib / elapsedSeconds, cpuMsPerMib: (after.totalMs - before.totalMs) / mib, errors, threads, md5Lanes: hashing?.md5Lanes ?? [], disk };
}

/** How full the hashing thread's MD5 calls were over the repeats: the mean lanes per call and per byte, and the byte shares. */
function lanesText(uses: { lanes: number; calls: number; bytes: number }[]): string | undefined {
  const calls = uses.reduce((n, u) => n + u.calls, 0);
  const bytes = uses.reduce((n, u) => n + u.bytes, 0);
  if (calls === 0) return undefined;
  const perLanes = new Map<number, number>();
  for (const use of uses) perLanes.set(use.lanes, (perLanes.get(use.lanes) ?? 0) + use.bytes);
  const meanPerCall = uses.reduce((n, u) => n + u.lanes * u.calls, 0) / calls;
  const meanPerByte = uses.reduce((n, u) => n + u.lanes * u.bytes, 0) / bytes;
  const shares = [...perLanes].sort((a, b) => a[0] - b[0]).map(([lanes, b]) => `${lanes}: ${((b * 100) / bytes).toFixed(0)} %`);
  return `mean ${meanPerCall.toFixed(2)} per call, ${meanPerByte.toFixed(2)} per byte hashed; bytes by lanes in their call: ${shares.join(', ')}`;
}

async function createBucket(server: BenchServer): Promise<void> {
  const agent = new Agent();
  const status = await put(agent, presignUrl({ endpoint: server.url, credentials: server.credentials, method: 'PUT', bucket, key: '' }), {}, Buffer.alloc(0));
  agent.destroy();
  if (status !== 200) throw new Error(`CreateBucket answered ${status}`);
}

// The server children inherit this environment: give them the threadpool bin/tessera.js gives `tessera
// server` (startServer() alone would run on libuv's default of 4 threads).
process.env.UV_THREADPOOL_SIZE ??= '16';
const args = parseArgs(process.argv.slice(2));
process.stdout.write(`date ${new Date().toISOString()}, load ${loadText()}, c=${args.concurrency}, ${args.repeats} × ${args.seconds} s, medians\n`);
const rows: string[] = [];
for (const drives of args.drives) {
  const servers: BenchServer[] = [];
  try {
    for (const root of args.roots) {
      // NAME=VALUE extras set the server's environment (e.g. this+UV_THREADPOOL_SIZE=64), the rest are node flags.
      const { nodeArgs, ...where } = parseRoot(root);
      const server = await startBenchServer({ drives: drives === 1 ? 0 : drives, ...where, ...(nodeArgs.length > 0 ? { nodeArgs } : {}), fromSource: args.fromSource });
      servers.push(server);
      if (args.fanOut) fillFanOut(server.dataDir);
      await createBucket(server);
    }
    for (const sizeName of args.sizes) {
      const data = Buffer.allocUnsafe(sizeBytes[sizeName]!);
      randomFillSync(data);
      for (const mode of args.modes) {
        const body = bodyFor(mode, data);
        const results: Result[][] = args.roots.map(() => []);
        // A short unmeasured run first, so that JIT compilation and first-touch allocations are behind us.
        for (const server of servers) await phase(server, data.length, mode, body, args, 1);
        for (let r = 0; r < args.repeats; r++) {
          for (const [i, server] of servers.entries()) results[i]!.push(await phase(server, data.length, mode, body, args));
        }
        for (const [i, root] of args.roots.entries()) {
          const rs = results[i]!;
          const errors = rs.reduce((n, x) => n + x.errors, 0);
          const cpu = rs.map((x) => x.cpuMsPerMib.toFixed(2)).join(' ');
          let line = `${drives} drive(s) PUT ${sizeName} ${mode.padEnd(7)} ${root}: ${median(rs.map((x) => x.mibPerSecond)).toFixed(0)} MiB/s, ${median(rs.map((x) => x.cpuMsPerMib)).toFixed(2)} CPU ms/MiB (runs: ${cpu})${errors ? `, ${errors} errors` : ''}`;
          if (args.threads) {
            const names = [...new Set(rs.flatMap((x) => [...x.threads.keys()]))];
            const parts = names.map((n) => [n, median(rs.map((x) => x.threads.get(n) ?? 0))] as const).filter(([, ms]) => ms >= 0.05);
            line += `\n    per thread (ms/MiB): ${parts.sort((a, b) => b[1] - a[1]).map(([n, ms]) => `${n} ${ms.toFixed(2)}`).join(', ')}`;
          }
          const disk = diskPerOpText(rs.map((x) => x.disk), 'PUT');
          if (disk) line += `\n    disk: ${disk}`;
          const lanes = lanesText(rs.flatMap((x) => x.md5Lanes));
          if (lanes) line += `\n    MD5 lanes per call: ${lanes}`;
          rows.push(line);
          process.stdout.write(`${line}\n`);
        }
      }
    }
  } finally {
    for (const server of servers) await server.stop();
  }
}
process.stdout.write(`load ${loadText()} at end\n`);
