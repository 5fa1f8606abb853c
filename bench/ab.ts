// A/B of GET (and optionally PUT) of 4 KiB (or 1 MiB) between checkouts or node flags in one run: each
// server is started from its own root's dist/, gets the same objects and the same wrk loads, run after one
// another within each repeat so background load hits all alike; prints the median ops/s and server CPU
// ms/op per checkout.
// Run: npm run build (in every checkout) && npx tsx bench/ab.ts [--ops GET,PUT,HEAD] [--sizes 4k,1m,64m] [--drives 6] [--warmup 0]
//   [--repeats 5] [--seconds 3] [--signing presigned|header] ROOT...
// --signing header: SigV4 Authorization headers over the payload's hash, as an SDK signs.
// --warmup S first runs every load on every server for S seconds unmeasured: in the first ~10 s of load
// V8's optimizing compiler took 15-19 % of a server's CPU samples, 2 % after 30 s (perf, 1 MiB GETs).
// --drives N gives every server N drive directories (6: RS 4+2, the default redundancy there); 64m runs on
// the Node driver, since wrk drops the long requests still in flight at its deadline.
// ROOT is a checkout directory with node_modules and a built dist/, or "this" for this one; naming the same
// root twice is an A/A run, which shows how far apart two identical servers read on this machine.
// ROOT+--flag[+--flag] runs that checkout with extra node flags; ROOT+NAME=value sets an environment
// variable of its server (this+TESSERA_LOG_LEVEL=warn: without the access log).
import { compare, prepare, type Contender } from './lib/compare.js';
import { loadText } from './lib/machine.js';
import { parseRoot, startBenchServer, type BenchServer } from './lib/server.js';
import { wrkAvailable } from './lib/load.js';
import { parseCommandLine } from './lib/args.js';

const sizeSpecs: Record<string, { label: string; bytes: number; getObjects: number; putKeys: number }> = {
  '4k': { label: '4 KiB', bytes: 4096, getObjects: 256, putKeys: 1024 },
  '1m': { label: '1 MiB', bytes: 1024 * 1024, getObjects: 32, putKeys: 256 },
  '64m': { label: '64 MiB', bytes: 64 * 1024 * 1024, getObjects: 4, putKeys: 16 },
};

function parseArgs(argv: string[]): { ops: ('GET' | 'PUT' | 'HEAD')[]; repeats: number; seconds: number; warmupSeconds: number; drives: number; roots: string[]; sizes: (typeof sizeSpecs)[string][]; signing: 'presigned' | 'header' } {
  const { options, positional: roots } = parseCommandLine(argv, { positional: true });
  if (roots.length < 2) throw new RangeError('Cannot compare fewer than two checkouts: name at least two roots (or "this")');
  const ops = (options.get('--ops') ?? 'GET').split(',').map((op) => {
    if (op !== 'GET' && op !== 'PUT' && op !== 'HEAD') throw new RangeError(`Unknown op "${op}": expected GET, PUT or HEAD`);
    return op;
  });
  const sizes = (options.get('--sizes') ?? '4k').split(',').map((name) => {
    const spec = sizeSpecs[name];
    if (!spec) throw new RangeError(`Unknown size "${name}": expected 4k, 1m or 64m`);
    return spec;
  });
  const drives = Number(options.get('--drives') ?? '0');
  if (!Number.isInteger(drives) || drives < 0) throw new RangeError(`Invalid drive count "${options.get('--drives')}"`);
  const warmupSeconds = Number(options.get('--warmup') ?? '0');
  if (!(warmupSeconds >= 0)) throw new RangeError(`Invalid warm-up "${options.get('--warmup')}": expected seconds`);
  const signing = options.get('--signing') ?? 'presigned';
  if (signing !== 'presigned' && signing !== 'header') throw new RangeError(`Unknown signing "${signing}": expected presigned or header`);
  return { ops, repeats: Number(options.get('--repeats') ?? '5'), seconds: Number(options.get('--seconds') ?? '3'), warmupSeconds, drives, roots, sizes, signing };
}

const args = parseArgs(process.argv.slice(2));
const servers: BenchServer[] = [];
try {
  const contenders: Contender[] = [];
  for (const [i, root] of args.roots.entries()) {
    const { nodeArgs, ...where } = parseRoot(root);
    const server = await startBenchServer({ ...where, ...(nodeArgs.length > 0 ? { nodeArgs } : {}), ...(args.drives > 0 ? { drives: args.drives } : {}) });
    servers.push(server);
    contenders.push({ name: `${i}: ${root}`, server });
  }
  const sizes = args.sizes;
  await prepare(contenders, sizes);
  // Without wrk installed the Node driver loads the servers from this process: slower, but alike for all.
  const driver = wrkAvailable() ? 'wrk' : 'node';
  const drivesText = args.drives > 0 ? `${args.drives} drives` : 'one drive';
  process.stdout.write(`date ${new Date().toISOString()}, load ${loadText()} at start, ${drivesText}, ${driver} c=16, ${args.signing === 'header' ? 'header-signed' : 'presigned'}, ${args.warmupSeconds} s warm-up, ${args.repeats} × ${args.seconds} s (medians)\n`);
  if (args.warmupSeconds > 0) await compare({ contenders, sizes, ops: args.ops, concurrency: [16], repeats: 1, seconds: args.warmupSeconds, driver, signing: args.signing });
  const cells = await compare({ contenders, sizes, ops: args.ops, concurrency: [16], repeats: args.repeats, seconds: args.seconds, driver, signing: args.signing });
  for (const c of cells) {
    const perMiB = c.bytes >= 2 ** 20 ? `, ${(c.serverCpuMsPerOp / (c.bytes / 2 ** 20)).toFixed(3)} CPU ms/MiB` : '';
    process.stdout.write(`${c.op} ${c.size}  ${c.contender}: ${Math.round(c.opsPerSecond)} ops/s, ${c.serverCpuMsPerOp.toFixed(3)} CPU ms/op (${(c.serverCpuMsPerOp * 1000).toFixed(1)} µs)${perMiB}\n`);
  }
  process.stdout.write(`load ${loadText()} at end\n`);
} finally {
  for (const server of servers) await server.stop();
}
