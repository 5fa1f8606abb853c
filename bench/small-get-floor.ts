// The floor under a small GET, measured as a ladder in one run: nginx, a bare node:http server answering
// 4 KiB from memory, that server plus Tessera's SigV4 header verification, plus its MetaStore lookup, and
// Tessera as users run it (access log on), optionally also with the access log off. Each rung gets the same
// header-signed wrk c=16 load in turn within each repeat (order reversed every other repeat); the CPU per GET
// of each server's whole process tree (user + system, /proc) says how much of Tessera's cost is Node's HTTP
// stack and where the rest goes.
// Run: npm run build && npx tsx bench/small-get-floor.ts [--repeats 4] [--seconds 3] [--no-log-off]
//   [--only tessera] (Tessera's rung alone) [--profile DIR] (a --cpu-prof file per server process, written at stop)
//   [--workers N] (the bare and SigV4 rungs and Tessera in N processes sharing the port, as `--workers N` serves;
//   the MetaStore rung is left out then: its SQLite is written by one process)
import { randomFillSync } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runLoad, wrkAvailable } from './lib/load.js';
import { loadText, median, processTreeCpuSeconds } from './lib/machine.js';
import { startNginx, startUrlChild } from './lib/nginx.js';
import { benchCredentials, startTesseraBinary } from './lib/server.js';
import { emptySha256Hex, fillBucket, signedHeaders } from './lib/sigv4.js';
import type { Credentials } from './lib/presign.js';
import { parseCommandLine } from './lib/args.js';

const bytes = 4096;
const objectCount = 256;
const bucket = 'bench';

interface Rung {
  name: string;
  url: string;
  pid: number;
  signed: boolean;
  stop(): Promise<void>;
}

function parseArgs(argv: string[]): { repeats: number; seconds: number; logOff: boolean; workers: number; only?: string; profileDir?: string } {
  const { options } = parseCommandLine(argv, { flags: ['--no-log-off'] });
  const only = options.get('--only');
  if (only !== undefined && only !== 'tessera') throw new RangeError(`Unknown --only "${only}": expected tessera`);
  const profileDir = options.get('--profile');
  const workers = Number(options.get('--workers') ?? '1');
  if (!Number.isInteger(workers) || workers < 1) throw new RangeError(`--workers wants a whole number above 0, not "${options.get('--workers')}"`);
  return {
    repeats: Number(options.get('--repeats') ?? '4'), seconds: Number(options.get('--seconds') ?? '3'), logOff: !options.has('--no-log-off'), workers,
    ...(only ? { only } : {}), ...(profileDir ? { profileDir } : {}),
  };
}

function objectBytes(index: number): Buffer {
  const buf = Buffer.allocUnsafe(bytes);
  randomFillSync(buf);
  buf.writeUInt32LE(index, 0);
  return buf;
}

const keyOf = (i: number) => `get-${bytes}-${i}`;

async function startFloorChild(mode: 'bare' | 'sigv4' | 'meta'): Promise<Rung> {
  const dataDir = await mkdtemp(join(tmpdir(), `tessera-floor-${mode}-`));
  const script = join(import.meta.dirname, 'lib', 'floor-child.ts');
  const childArgs = [mode, dataDir, String(objectCount), String(bytes)];
  const child = args.workers === 1
    ? await startUrlChild(script, childArgs, `floor-child ${mode}`, profileArgs)
    : await startUrlChild(join(import.meta.dirname, 'lib', 'cluster-child.ts'), [String(args.workers), script, ...childArgs], `floor-child ${mode}`, profileArgs);
  return {
    name: { bare: 'bare node:http', sigv4: '+ SigV4 header check', meta: '+ MetaStore lookup' }[mode],
    url: child.url,
    pid: child.pid,
    signed: true,
    stop: async () => {
      await child.stop();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

async function startTessera(name: string, env: Record<string, string>): Promise<Rung> {
  const server = await startTesseraBinary({ env: { TESSERA_WORKERS: String(args.workers), ...env }, nodeArgs: profileArgs });
  await fillBucket(server.url, server.credentials, bucket, Array.from({ length: objectCount }, (_, i) => ({ key: keyOf(i), body: objectBytes(i) })));
  return { name, url: server.url, pid: server.pid, signed: true, stop: () => server.stop() };
}

async function startNginxRung(): Promise<Rung> {
  const nginx = await startNginx();
  await mkdir(join(nginx.root, bucket), { recursive: true });
  for (let i = 0; i < objectCount; i++) await writeFile(join(nginx.root, bucket, keyOf(i)), objectBytes(i));
  // nginx ignores the signature headers; they are sent anyway, so every rung parses the same request.
  return { name: 'nginx', url: nginx.url, pid: nginx.pid, signed: true, stop: () => nginx.stop() };
}

async function phase(rung: Rung, seconds: number, credentials: Credentials): Promise<{ rate: number; cpuUsPerOp: number }> {
  const urls = Array.from({ length: objectCount }, (_, i) => `${rung.url}/${bucket}/${keyOf(i)}`);
  const headers = urls.map((url) => signedHeaders({ method: 'GET', url, credentials, payloadSha256Hex: emptySha256Hex }));
  const before = processTreeCpuSeconds(rung.pid);
  const load = await runLoad('wrk', { method: 'GET', urls, headers, concurrency: 16, durationMs: seconds * 1000, expectBytes: bytes });
  const cpuSeconds = processTreeCpuSeconds(rung.pid) - before;
  if (load.errors > 0 || load.ops === 0) throw new Error(`${rung.name}: ${load.ops} GETs, ${load.errors} errors (${load.firstError})`);
  return { rate: load.ops / load.seconds, cpuUsPerOp: (cpuSeconds * 1e6) / load.ops };
}

const args = parseArgs(process.argv.slice(2));
const profileArgs = args.profileDir ? ['--cpu-prof', `--cpu-prof-dir=${args.profileDir}`] : [];
if (!wrkAvailable()) throw new Error('wrk is not installed: apt-get install wrk');
const rungs: Rung[] = [];
try {
  if (!args.only) rungs.push(await startNginxRung());
  if (!args.only) for (const mode of args.workers === 1 ? (['bare', 'sigv4', 'meta'] as const) : (['bare', 'sigv4'] as const)) rungs.push(await startFloorChild(mode));
  rungs.push(await startTessera('Tessera (defaults, access log on)', {}));
  if (args.logOff && !args.only) rungs.push(await startTessera('Tessera, access log off', { TESSERA_LOG_LEVEL: 'warn' }));
  // An unrecorded warm-up phase each, so the JIT has settled before the first recorded one.
  for (const rung of rungs) await phase(rung, 1, benchCredentials);
  process.stdout.write(`date ${new Date().toISOString()}, load ${loadText()} at start, wrk c=16, header-signed GET ${bytes} B, ${args.repeats} × ${args.seconds} s (medians), ${args.workers} process(es) per Node rung\n`);
  const runs = new Map<string, { rate: number; cpuUsPerOp: number }[]>();
  for (let r = 0; r < args.repeats; r++) {
    const order = r % 2 === 0 ? rungs : [...rungs].reverse();
    for (const rung of order) {
      const run = await phase(rung, args.seconds, benchCredentials);
      runs.set(rung.name, [...(runs.get(rung.name) ?? []), run]);
    }
  }
  process.stdout.write('| rung | GET/s | CPU µs/GET (median, range) |\n| --- | --- | --- |\n');
  for (const rung of rungs) {
    const list = runs.get(rung.name)!;
    const cpu = list.map((x) => x.cpuUsPerOp);
    process.stdout.write(`| ${rung.name} | ${Math.round(median(list.map((x) => x.rate)))} | ${median(cpu).toFixed(1)} (${Math.min(...cpu).toFixed(1)}-${Math.max(...cpu).toFixed(1)}) |\n`);
  }
  process.stdout.write(`load ${loadText()} at end\n`);
} finally {
  for (const rung of rungs) await rung.stop();
}
