// Where the server's CPU goes below JavaScript (SQLite, system calls, crypto, GC threads): runs wrk at
// c=16 against a fresh server and records the server process with `perf record -g` (every thread, JIT
// frames named through --perf-basic-prof) or, with --strace, counts its system calls.
// Run: npm run build && npx tsx bench/perf-native.ts [--op GET|PUT] [--size 4096] [--seconds 5]
//      [--warmup 2] [--drives N] [--strace] [--out /tmp/perf.data] [--root CHECKOUT]
// Then: perf report -i /tmp/perf.data --no-children --sort dso,sym   (or -s pid, --tid N per thread)
// Needs Debian's linux-perf (or strace) and wrk.
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { prepare } from './lib/compare.js';
import { runLoad } from './lib/load.js';
import { presignUrl } from './lib/presign.js';
import { startBenchServer } from './lib/server.js';

const argv = process.argv.slice(2);
const value = (name: string) => {
  const i = argv.indexOf(name);
  return i >= 0 ? argv[i + 1] : undefined;
};
const op = value('--op') ?? 'GET';
if (op !== 'GET' && op !== 'PUT') throw new RangeError(`Unknown op "${op}": expected GET or PUT`);
const bytes = Number(value('--size') ?? '4096');
const seconds = Number(value('--seconds') ?? '5');
/** Seconds of load before recording, so the JIT has settled (V8 still optimises a PUT's path after 2 s). */
const warmupSeconds = Number(value('--warmup') ?? '2');
const root = value('--root');
/** Drive directories (0: the one drive inside the data dir); 6 gives RS 4+2. */
const drives = Number(value('--drives') ?? '0');
const out = value('--out') ?? (argv.includes('--strace') ? '/tmp/strace.txt' : '/tmp/perf.data');

const server = await startBenchServer({ ...(root ? { root } : {}), drives, nodeArgs: ['--perf-basic-prof'] });
const bodyDir = await mkdtemp(join(tmpdir(), 'tessera-perf-native-'));
try {
  const size = { label: String(bytes), bytes, getObjects: bytes >= 1024 * 1024 ? 32 : 256, putKeys: 256 };
  await prepare([{ name: 'server', server }], [size]);
  const keys = op === 'GET' ? Array.from({ length: size.getObjects }, (_, i) => `get-${bytes}-${i}`) : Array.from({ length: size.putKeys }, (_, i) => `put-${bytes}-${i}`);
  const urls = keys.map((key) => presignUrl({ endpoint: server.url, credentials: server.credentials, method: op, bucket: 'bench', key }));
  const body = Buffer.alloc(bytes, 7);
  const bodyFile = join(bodyDir, 'body');
  await writeFile(bodyFile, body);
  const load = (durationMs: number) =>
    runLoad('wrk', { method: op, urls, concurrency: 16, durationMs, ...(op === 'PUT' ? { body, bodyFile } : { expectBytes: bytes }) });
  if (warmupSeconds > 0) await load(warmupSeconds * 1000); // warm the JIT before recording
  const recorder = argv.includes('--strace')
    ? spawn('timeout', ['-s', 'INT', String(seconds), 'strace', '-c', '-f', '-p', String(server.pid), '-o', out], { stdio: 'inherit' })
    : spawn('perf', ['record', '-F', '999', '-g', '-p', String(server.pid), '-o', out, '--', 'sleep', String(seconds)], { stdio: 'inherit' });
  const recorded = new Promise((resolve) => recorder.once('exit', resolve));
  const result = await load((seconds + 1) * 1000);
  await recorded;
  if (result.errors > 0) throw new Error(`${result.errors} requests failed: ${result.firstError}`);
  console.log(`${(result.ops / (seconds + 1)).toFixed(0)} ${op}/s while recording; written to ${out}`);
} finally {
  await server.stop();
  await rm(bodyDir, { recursive: true, force: true });
}
