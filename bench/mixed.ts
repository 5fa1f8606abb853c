// Small GETs while writes go on, against servers of several processes (`--workers`): the case where a
// commit in one worker used to empty the other worker's whole read cache (issue 17). wrk GETs 256 × 4 KiB
// objects at c=--get-clients while a second wrk PUTs --put-size objects under other keys at c=--put-clients;
// server CPU (every process and thread, from /proc) per request of either kind. Contenders alternate within
// each repeat; medians of the repeats.
// Run: npm run build (in every checkout) && npx tsx bench/mixed.ts [--workers 2] [--get-clients 16]
//   [--put-clients 1] [--put-size 4k|1m] [--seconds 4] [--repeats 3] [--warmup 8] ROOT...
// ROOT is a checkout with node_modules and a built dist/, or "this"; ROOT+NAME=value sets an environment
// variable of its server (this+TESSERA_WORKERS=1 overrides --workers). --put-clients 0 is the GET-only reference, --get-clients 0 a PUT-only load (the
// workers' shared metadata commits).
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { prepare } from './lib/compare.js';
import { runLoad, wrkAvailable } from './lib/load.js';
import { describeMachine, loadText, machineInfo, median, processTreeCpuSeconds } from './lib/machine.js';
import { presignUrl } from './lib/presign.js';
import { parseRoot, startTesseraBinary, type BinaryServer } from './lib/server.js';
import { parseCommandLine } from './lib/args.js';

const { options, positional: roots } = parseCommandLine(process.argv.slice(2), { positional: true });
const numberOption = (name: string, fallback: number): number => {
  const value = Number(options.get(name) ?? fallback);
  if (!Number.isInteger(value) || value < 0) throw new RangeError(`Cannot use ${name} ${options.get(name)}: expected a whole number`);
  return value;
};
const workers = numberOption('--workers', 2);
const getClients = numberOption('--get-clients', 16);
const putClients = numberOption('--put-clients', 1);
const putSizes: Record<string, number> = { '4k': 4096, '1m': 1024 * 1024 };
const putSize = options.get('--put-size') ?? '4k';
if (!(putSize in putSizes)) throw new RangeError(`Cannot use --put-size ${putSize}: expected 4k or 1m`);
if (getClients + putClients === 0) throw new RangeError('Nothing to run: --get-clients and --put-clients are both 0');
const seconds = numberOption('--seconds', 4);
const repeats = numberOption('--repeats', 3);
const warmupSeconds = numberOption('--warmup', 8);
if (roots.length === 0) roots.push('this');
if (!wrkAvailable()) throw new Error('wrk is needed: apt-get install wrk');

interface Run {
  gets: number;
  puts: number;
  cpuUsPerOp: number;
}

const objects = 256;
const body = Buffer.alloc(putSizes[putSize]!, 7);
const bodyDir = await mkdtemp(join(tmpdir(), 'tessera-mixed-'));
const bodyFile = join(bodyDir, 'body');
await writeFile(bodyFile, body);
const servers: { spec: string; server: BinaryServer; getUrls: string[]; putUrls: string[] }[] = [];
try {
  console.log(describeMachine(machineInfo()));
  console.log(`load: wrk GET 4 KiB c=${getClients} beside wrk PUT ${putSize} c=${putClients}, ${workers} workers, ${warmupSeconds} s warm-up, ${repeats} × ${seconds} s`);
  for (const spec of roots) {
    const { root, env, nodeArgs } = parseRoot(spec);
    const server = await startTesseraBinary({ ...(root ? { root } : {}), ...(nodeArgs.length > 0 ? { nodeArgs } : {}), env: { TESSERA_WORKERS: String(workers), ...env } });
    const url = (method: 'GET' | 'PUT', key: string) => presignUrl({ endpoint: server.url, credentials: server.credentials, method, bucket: 'bench', key });
    servers.push({
      spec,
      server,
      getUrls: Array.from({ length: objects }, (_, i) => url('GET', `get-4096-${i}`)),
      putUrls: Array.from({ length: 64 }, (_, i) => url('PUT', `mixed-put-${i}`)),
    });
    await prepare([{ server }], [{ label: '4 KiB', bytes: 4096, getObjects: objects, putKeys: 0 }]);
  }
  const phase = async (s: (typeof servers)[number], durationMs: number): Promise<Run> => {
    const cpuBefore = processTreeCpuSeconds(s.server.pid);
    const [got, put] = await Promise.all([
      getClients > 0 ? runLoad('wrk', { method: 'GET', urls: s.getUrls, concurrency: getClients, durationMs, expectBytes: 4096 }) : undefined,
      putClients > 0 ? runLoad('wrk', { method: 'PUT', urls: s.putUrls, concurrency: putClients, durationMs, body, bodyFile }) : undefined,
    ]);
    const cpu = processTreeCpuSeconds(s.server.pid) - cpuBefore;
    for (const result of [got, put]) if (result && result.errors > 0) throw new Error(`${s.spec}: ${result.errors} requests failed: ${result.firstError}`);
    const ops = (got?.ops ?? 0) + (put?.ops ?? 0);
    return { gets: (got?.ops ?? 0) / (durationMs / 1000), puts: (put?.ops ?? 0) / (durationMs / 1000), cpuUsPerOp: (cpu * 1e6) / ops };
  };
  if (warmupSeconds > 0) for (const s of servers) await phase(s, warmupSeconds * 1000);
  const runs = new Map<string, Run[]>(servers.map((s) => [s.spec, []]));
  for (let r = 0; r < repeats; r++) {
    const order = r % 2 === 0 ? servers : [...servers].reverse();
    for (const s of order) {
      const run = await phase(s, seconds * 1000);
      runs.get(s.spec)!.push(run);
      console.log(`  ${s.spec}: GET ${run.gets.toFixed(0)}/s, PUT ${run.puts.toFixed(0)}/s, ${run.cpuUsPerOp.toFixed(0)} µs CPU/request (load ${loadText()})`);
    }
  }
  console.log('\n| server | GET/s | PUT/s | CPU µs per request |\n| --- | --- | --- | --- |');
  for (const [spec, list] of runs) {
    console.log(`| ${spec} | ${median(list.map((x) => x.gets)).toFixed(0)} | ${median(list.map((x) => x.puts)).toFixed(0)} | ${median(list.map((x) => x.cpuUsPerOp)).toFixed(0)} |`);
  }
} finally {
  for (const { server } of servers) await server.stop();
  await rm(bodyDir, { recursive: true, force: true });
}
