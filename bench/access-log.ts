// The access log's cost (issue 14: metrics and request logs on must keep small and 1 MiB GETs within 5%):
// one server whose logger switches between info (an access line per request) and warn (none) between
// phases, interleaved within each round, GET 4 KiB and 1 MiB at c=16. Two servers read further apart on
// this shared machine than the cost looked for, so the comparison is within one process. Metrics are
// always on (they cannot be turned off), in both phases. The server also times its logger's info() calls
// and stderr writes: the log's own cost, read directly, for when the difference is lost in the noise.
// Run: npm run build && npx tsx bench/access-log.ts [--repeats 4] [--seconds 3] [--sizes 4k,1m]
import { prepare } from './lib/compare.js';
import { loadText, median } from './lib/machine.js';
import { runLoad, wrkAvailable, type Driver } from './lib/load.js';
import { presignUrl } from './lib/presign.js';
import { startBenchServer, type BenchServer } from './lib/server.js';

function option(name: string, fallback: string): string {
  const i = process.argv.indexOf(name);
  return i < 0 ? fallback : process.argv[i + 1] ?? fallback;
}

const sizeSpecs: Record<string, { label: string; bytes: number; getObjects: number; putKeys: number }> = {
  '4k': { label: '4 KiB', bytes: 4096, getObjects: 64, putKeys: 0 },
  '1m': { label: '1 MiB', bytes: 1024 * 1024, getObjects: 8, putKeys: 0 },
};
const repeats = Number(option('--repeats', '4'));
const seconds = Number(option('--seconds', '3'));
const sizes = option('--sizes', '4k,1m').split(',').map((name) => {
  const spec = sizeSpecs[name];
  if (!spec) throw new RangeError(`Unknown size "${name}": expected 4k or 1m`);
  return spec;
});
const driver: Driver = wrkAvailable() ? 'wrk' : 'node';
const phases = ['info', 'warn'] as const;

let server: BenchServer | undefined;
try {
  server = await startBenchServer({ switchableLog: true });
  await prepare([{ name: 'server', server }], sizes);
  process.stdout.write(`date ${new Date().toISOString()}, load ${loadText()} at start, ${driver} c=16, ${repeats} rounds × ${seconds} s, phases alternating in order (medians)\n`);
  for (const size of sizes) {
    const urls = Array.from({ length: size.getObjects }, (_, i) => presignUrl({ endpoint: server!.url, credentials: server!.credentials, method: 'GET', bucket: 'bench', key: `get-${size.bytes}-${i}` }));
    // A first, unrecorded run warms the JIT and the caches: the first round read several times the rest.
    await runLoad(driver, { method: 'GET', urls, concurrency: 16, durationMs: seconds * 1000, expectBytes: size.bytes });
    const results = { info: { ops: [] as number[], cpu: [] as number[], logUs: [] as number[] }, warn: { ops: [] as number[], cpu: [] as number[], logUs: [] as number[] } };
    for (let round = 0; round < repeats; round++) {
      // Odd rounds run the phases the other way round, so a drift in background load hits both alike.
      for (const level of round % 2 === 0 ? phases : [...phases].reverse()) {
        await server.setLogLevel!(level);
        await server.mark();
        const load = await runLoad(driver, { method: 'GET', urls, concurrency: 16, durationMs: seconds * 1000, expectBytes: size.bytes });
        const stats = await server.read();
        if (load.errors > 0) throw new Error(`GET ${size.label}: ${load.errors} errors (${load.firstError})`);
        const rate = load.ops / load.seconds;
        results[level].ops.push(rate);
        results[level].cpu.push((stats.cpuCores * 1000) / rate);
        results[level].logUs.push(((stats.logMs ?? 0) * 1000) / load.ops);
      }
    }
    const on = { ops: median(results.info.ops), cpu: median(results.info.cpu) };
    const off = { ops: median(results.warn.ops), cpu: median(results.warn.cpu) };
    process.stdout.write(`GET ${size.label}: access log on ${Math.round(on.ops)} ops/s, ${on.cpu.toFixed(3)} CPU ms/op; off ${Math.round(off.ops)} ops/s, ${off.cpu.toFixed(3)} CPU ms/op; `
      + `on/off: ops ${(on.ops / off.ops).toFixed(3)}, CPU per op ${(on.cpu / off.cpu).toFixed(3)}\n`);
    const logUs = median(results.info.logUs);
    process.stdout.write(`  time in the logger (info() and stderr writes) with the log on: ${logUs.toFixed(1)} µs per request, ${((logUs / 1000 / on.cpu) * 100).toFixed(1)}% of the server CPU per request\n`);
    process.stdout.write(`  per round, on: ${results.info.cpu.map((c) => c.toFixed(3)).join(' ')}; off: ${results.warn.cpu.map((c) => c.toFixed(3)).join(' ')} CPU ms/op\n`);
  }
  process.stdout.write(`load ${loadText()} at end\n`);
} finally {
  await server?.stop();
}
