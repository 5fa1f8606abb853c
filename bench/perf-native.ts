// Native profile (perf) of the server under a wrk GET load: where the CPU goes below JavaScript
// (SQLite, syscalls, crypto). Run: npx tsx bench/perf-native.ts [--size 4096] [--root DIR] [--seconds 5]
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { compare, prepare } from './lib/compare.js';
import { runLoad } from './lib/load.js';
import { presignUrl } from './lib/presign.js';
import { startBenchServer } from './lib/server.js';

const argv = process.argv.slice(2);
const value = (name: string) => { const i = argv.indexOf(name); return i >= 0 ? argv[i + 1] : undefined; };
const bytes = Number(value('--size') ?? '4096');
const seconds = Number(value('--seconds') ?? '5');
const root = value('--root');
const out = value('--out') ?? '/tmp/perf.data';
const op = (value('--op') ?? 'GET') as 'GET' | 'PUT';
void compare;
const server = await startBenchServer({ ...(root ? { root } : {}), nodeArgs: ['--perf-basic-prof'] });
try {
  const size = { label: String(bytes), bytes, getObjects: bytes >= 1 << 20 ? 32 : 256, putKeys: 0 };
  await prepare([{ name: 'x', server }], [size]);
  const urls = Array.from({ length: op === 'GET' ? size.getObjects : 256 }, (_, i) =>
    presignUrl({ endpoint: server.url, credentials: server.credentials, method: op, bucket: 'bench', key: `${op === 'GET' ? 'get' : 'put'}-${bytes}-${i}` }));
  const body = Buffer.alloc(bytes, 7);
  const bodyFile = '/tmp/perf-native-body';
  writeFileSync(bodyFile, body);
  const load = (durationMs: number) =>
    runLoad('wrk', { method: op, urls, concurrency: 16, durationMs, ...(op === 'PUT' ? { body, bodyFile } : { expectBytes: bytes }) });
  await load(2000);
  const perf = argv.includes('--strace')
    ? spawn('timeout', ['-s', 'INT', String(seconds), 'strace', '-c', '-f', '-p', String(server.pid), '-o', out], { stdio: 'inherit' })
    : spawn('perf', ['record', '-F', '999', '-g', '-p', String(server.pid), '-o', out, '--', 'sleep', String(seconds)], { stdio: 'inherit' });
  const result = await load((seconds + 1) * 1000);
  await new Promise((r) => perf.once('exit', r));
  console.log(`${(result.ops / (seconds + 1)).toFixed(0)} ${op}/s`);
} finally {
  await server.stop();
}
