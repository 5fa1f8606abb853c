// `tessera server --workers N` side by side in one run (issue 17): each worker count gets the same PUT, GET
// and LIST loads (wrk, c=16, presigned URLs), after one another within each repeat so background load
// hits all alike; prints the median ops/s and the CPU of the whole process tree (primary, workers and
// their threads) per op.
// Run: npm run build && npx tsx bench/workers.ts [--workers 1,2] [--ops PUT,GET,LIST] [--sizes 4k,1m] [--repeats 3] [--seconds 3]
// Keep one invocation under a minute on a shared machine: split --ops or --sizes across runs.
import { Agent } from 'node:http';
import { compare, prepare, type Contender } from './lib/compare.js';
import { loadText, median, processTreeCpuSeconds } from './lib/machine.js';
import { startTesseraBinary, type BenchServer, type BinaryServer } from './lib/server.js';
import { runLoad, send, wrkAvailable } from './lib/load.js';
import { presignUrl } from './lib/presign.js';

const sizeSpecs: Record<string, { label: string; bytes: number; getObjects: number; putKeys: number }> = {
  '4k': { label: '4 KiB', bytes: 4096, getObjects: 256, putKeys: 1024 },
  '1m': { label: '1 MiB', bytes: 1024 * 1024, getObjects: 32, putKeys: 256 },
};
const listKeys = 1000;

function parseArgs(argv: string[]) {
  const options = new Map<string, string>();
  for (let i = 0; i < argv.length; i += 2) options.set(argv[i]!, argv[i + 1] ?? '');
  const ops = (options.get('--ops') ?? 'PUT,GET,LIST').split(',');
  for (const op of ops) if (!['PUT', 'GET', 'LIST'].includes(op)) throw new RangeError(`Unknown op "${op}": expected PUT, GET or LIST`);
  const sizes = (options.get('--sizes') ?? '4k').split(',').map((name) => {
    const spec = sizeSpecs[name];
    if (!spec) throw new RangeError(`Unknown size "${name}": expected 4k or 1m`);
    return spec;
  });
  return {
    workers: (options.get('--workers') ?? '1,2').split(',').map(Number),
    ops,
    sizes,
    repeats: Number(options.get('--repeats') ?? '3'),
    seconds: Number(options.get('--seconds') ?? '3'),
  };
}

/** mark()/read() over /proc: the CPU of the server's process and its children (the workers), every thread counted. */
function measured(server: BinaryServer): BenchServer {
  let cpuMark = 0;
  let timeMark = 0;
  return {
    ...server,
    mark: async () => {
      cpuMark = processTreeCpuSeconds(server.pid);
      timeMark = performance.now();
    },
    read: async () => ({
      cpuCores: (processTreeCpuSeconds(server.pid) - cpuMark) / ((performance.now() - timeMark) / 1000),
      eld: { p50Ms: NaN, p99Ms: NaN, maxMs: NaN, meanMs: NaN },
      metaCommits: 0,
      metaBatches: 0,
    }),
    stdout: () => '',
  };
}

/** 1,000 small keys under list/, so a listing page is full. */
async function prepareList(server: BenchServer): Promise<void> {
  const agent = new Agent({ keepAlive: true, maxSockets: 8 });
  const body = Buffer.alloc(16, 1);
  for (let i = 0; i < listKeys; i += 8) {
    await Promise.all(Array.from({ length: 8 }, async (_, j) => {
      const url = presignUrl({ endpoint: server.url, credentials: server.credentials, method: 'PUT', bucket: 'bench', key: `list/${String(i + j).padStart(4, '0')}` });
      const put = await send(agent, 'PUT', url, body);
      if (put.status !== 200) throw new Error(`PUT answered ${put.status}`);
    }));
  }
  agent.destroy();
}

const args = parseArgs(process.argv.slice(2));
const servers: BinaryServer[] = [];
try {
  const contenders: Contender[] = [];
  for (const n of args.workers) {
    const server = await startTesseraBinary({ env: { TESSERA_WORKERS: String(n) } });
    servers.push(server);
    contenders.push({ name: `${n} worker${n === 1 ? '' : 's'}`, server: measured(server) });
  }
  await prepare(contenders, args.sizes);
  const driver = wrkAvailable() ? 'wrk' : 'node';
  process.stdout.write(`date ${new Date().toISOString()}, load ${loadText()} at start, ${driver} c=16, ${args.repeats} × ${args.seconds} s (medians)\n`);
  const ops = args.ops.filter((op): op is 'PUT' | 'GET' => op !== 'LIST');
  if (ops.length > 0) {
    const cells = await compare({ contenders, sizes: args.sizes, ops, concurrency: [16], repeats: args.repeats, seconds: args.seconds, driver });
    for (const c of cells) process.stdout.write(`${c.op} ${c.size}  ${c.contender}: ${Math.round(c.opsPerSecond)} ops/s (${c.mibPerSecond.toFixed(1)} MiB/s), ${c.serverCpuMsPerOp.toFixed(3)} CPU ms/op, p99 ${c.p99Ms.toFixed(1)} ms\n`);
  }
  if (args.ops.includes('LIST')) {
    for (const { server } of contenders) await prepareList(server);
    const runs = new Map<string, { rate: number; cpuMsPerOp: number }[]>();
    for (let r = 0; r < args.repeats; r++) {
      for (const { name, server } of contenders) {
        // GET /bench: ListObjects, a page of 1,000 keys (the first 1,000 under list/ with prefix).
        const url = `${presignUrl({ endpoint: server.url, credentials: server.credentials, method: 'GET', bucket: 'bench', key: '' })}`;
        await server.mark();
        const load = await runLoad(driver, { method: 'GET', urls: [url], concurrency: 16, durationMs: args.seconds * 1000 });
        const stats = await server.read();
        if (load.errors > 0 || load.ops === 0) throw new Error(`${name} LIST: ${load.ops} ops, ${load.errors} errors (${load.firstError})`);
        const rate = load.ops / load.seconds;
        runs.set(name, [...(runs.get(name) ?? []), { rate, cpuMsPerOp: (stats.cpuCores * 1000) / rate }]);
      }
    }
    for (const [name, list] of runs) process.stdout.write(`LIST 1000  ${name}: ${Math.round(median(list.map((x) => x.rate)))} ops/s, ${median(list.map((x) => x.cpuMsPerOp)).toFixed(3)} CPU ms/op (runs ${list.map((x) => Math.round(x.rate)).join(', ')})\n`);
  }
} finally {
  for (const server of servers) await server.stop();
}
