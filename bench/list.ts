// Server CPU per LIST page between checkouts in one run (issue 17): each server gets the same 1,000
// one-byte keys under dir/ and the same closed-loop load of ListObjectsV2 pages (prefix=dir/, 1,000 keys
// each, or v1 with --v1), run after one another within each repeat so background load hits all alike;
// prints the median pages/s and server process CPU (all threads) in ms per page.
// Run: npm run build (in every checkout) && npx tsx bench/list.ts [--repeats 5] [--seconds 3] [--v1] [--profile DIR] ROOT...
// ROOT is a checkout directory with node_modules and a built dist/, or "this" for this one; naming the same
// root twice is an A/A run; ROOT+--flag adds node flags, ROOT+NAME=value sets the server's environment.
// Each server gets one unmeasured second of the load first. --profile DIR writes a CPU profile of each
// server's main thread over its first repeat into DIR (read it with bench/profile.ts).
import { Agent } from 'node:http';
import { loadText, median } from './lib/machine.js';
import { parseRoot, startBenchServer, type BenchServer } from './lib/server.js';
import { runLoad, send, wrkAvailable } from './lib/load.js';
import { presignUrl } from './lib/presign.js';
import { parseCommandLine } from './lib/args.js';

const bucket = 'bench';
const listKeys = 1000;

function parseArgs(argv: string[]): { repeats: number; seconds: number; v1: boolean; profileDir?: string; roots: string[] } {
  const { options, positional: roots } = parseCommandLine(argv, { flags: ['--v1'], positional: true });
  if (roots.length < 1) throw new RangeError('Cannot measure without a checkout: name at least one root (or "this")');
  const profileDir = options.get('--profile');
  return { repeats: Number(options.get('--repeats') ?? '5'), seconds: Number(options.get('--seconds') ?? '3'), v1: options.has('--v1'), ...(profileDir ? { profileDir } : {}), roots };
}

/** The bucket and its 1,000 keys dir/0000 ... dir/0999, one byte each. */
async function prepareKeys(server: BenchServer): Promise<void> {
  const agent = new Agent({ keepAlive: true, maxSockets: 8 });
  try {
    const made = await send(agent, 'PUT', presignUrl({ endpoint: server.url, credentials: server.credentials, method: 'PUT', bucket, key: '' }));
    if (made.status !== 200) throw new Error(`CreateBucket answered ${made.status}`);
    const body = Buffer.from('x');
    for (let i = 0; i < listKeys; i += 8) {
      await Promise.all(Array.from({ length: 8 }, async (_, j) => {
        const url = presignUrl({ endpoint: server.url, credentials: server.credentials, method: 'PUT', bucket, key: `dir/${String(i + j).padStart(4, '0')}` });
        const put = await send(agent, 'PUT', url, body);
        if (put.status !== 200) throw new Error(`PUT answered ${put.status}`);
      }));
    }
  } finally {
    agent.destroy();
  }
}

const args = parseArgs(process.argv.slice(2));
const servers: { name: string; server: BenchServer }[] = [];
try {
  for (const [i, root] of args.roots.entries()) {
    const { nodeArgs, ...where } = parseRoot(root);
    const server = await startBenchServer({ ...where, ...(nodeArgs.length > 0 ? { nodeArgs } : {}), ...(args.profileDir ? { profileDir: args.profileDir } : {}) });
    servers.push({ name: `${i}: ${root}`, server });
    await prepareKeys(server);
  }
  const driver = wrkAvailable() ? 'wrk' : 'node';
  const query: Record<string, string> = args.v1 ? { prefix: 'dir/' } : { 'list-type': '2', prefix: 'dir/' };
  process.stdout.write(`date ${new Date().toISOString()}, load ${loadText()} at start, ${driver} c=16, ${args.v1 ? 'ListObjects' : 'ListObjectsV2'} of ${listKeys} keys, ${args.repeats} × ${args.seconds} s (medians)\n`);
  const runs = new Map<string, { rate: number; cpuMs: number }[]>();
  // One unmeasured second each first, so JIT warm-up falls on no measured repeat.
  for (const { server } of servers) {
    const url = presignUrl({ endpoint: server.url, credentials: server.credentials, method: 'GET', bucket, key: '', query });
    await runLoad(driver, { method: 'GET', urls: [url], concurrency: 16, durationMs: 1000 });
  }
  for (let r = 0; r < args.repeats; r++) {
    for (const { name, server } of servers) {
      const url = presignUrl({ endpoint: server.url, credentials: server.credentials, method: 'GET', bucket, key: '', query });
      await server.mark(args.profileDir && r === 0 ? `list-${name.replace(/[^a-z0-9]+/gi, '-')}` : undefined);
      const load = await runLoad(driver, { method: 'GET', urls: [url], concurrency: 16, durationMs: args.seconds * 1000 });
      const stats = await server.read();
      if (load.errors > 0 || load.ops === 0) throw new Error(`${name} LIST: ${load.ops} ops, ${load.errors} errors (${load.firstError})`);
      const rate = load.ops / load.seconds;
      runs.set(name, [...(runs.get(name) ?? []), { rate, cpuMs: (stats.cpuCores * 1000) / rate }]);
    }
  }
  for (const [name, list] of runs) {
    process.stdout.write(`LIST ${listKeys}  ${name}: ${Math.round(median(list.map((x) => x.rate)))} pages/s, ${median(list.map((x) => x.cpuMs)).toFixed(3)} CPU ms/page (runs ${list.map((x) => x.cpuMs.toFixed(2)).join(', ')} ms)\n`);
  }
  process.stdout.write(`load ${loadText()} at end\n`);
} finally {
  for (const { server } of servers) await server.stop();
}
