// The multi-lane MD5 addon alone, no server: MiB/s and CPU ms/MiB of 1 to 16 streams hashed together
// (256 KiB per stream per call, the hashing thread's batch) on each path this CPU has, next to node:crypto's
// MD5 (one stream; more streams on one thread only take turns). CPU is this process's user + system time.
// Run: npx tsx bench/md5-lanes.ts [--mib 256] [--repeats 3]   (about 30 s at the defaults)
import { createHash, randomBytes } from 'node:crypto';
import { loadText, markdownTable, median } from './lib/machine.js';
import { loadMd5Lanes } from '../src/util/md5-lanes.js';

const MiB = 2 ** 20;
const batchBytes = 256 * 1024;
const argv = process.argv.slice(2);
const flag = (name: string, fallback: number) => (argv.includes(name) ? Number(argv[argv.indexOf(name) + 1]) : fallback);
const totalMib = flag('--mib', 256);
const repeats = flag('--repeats', 3);

const { binding, reason } = loadMd5Lanes('');
const batch = randomBytes(batchBytes);

/** Wall MiB/s and CPU ms/MiB of `step` (which hashes `stepBytes`) run for totalMib, the medians of the repeats. */
function measure(stepBytes: number, step: () => void): [string, string] {
  const steps = Math.ceil((totalMib * MiB) / stepBytes);
  const rates: number[] = [];
  const cpus: number[] = [];
  step(); // warm-up
  for (let r = 0; r < repeats; r++) {
    const cpu = process.cpuUsage();
    const start = performance.now();
    for (let i = 0; i < steps; i++) step();
    const used = process.cpuUsage(cpu);
    const mib = (steps * stepBytes) / MiB;
    rates.push(mib / ((performance.now() - start) / 1000));
    cpus.push((used.user + used.system) / 1000 / mib);
  }
  return [median(rates).toFixed(0), median(cpus).toFixed(3)];
}

const rows: string[][] = [];
const md5 = createHash('md5');
rows.push(['node:crypto', '1', ...measure(batchBytes, () => md5.update(batch))]);
if (binding) {
  for (const path of binding.paths) {
    for (const lanes of [1, 2, 3, 4, 6, 8, 12, 16]) {
      const contexts = Array.from({ length: lanes }, () => binding.create());
      const inputs = contexts.map(() => batch);
      rows.push([`lanes ${path}`, String(lanes), ...measure(lanes * batchBytes, () => binding.update(contexts, inputs, path))]);
    }
  }
} else {
  console.log(`The lanes addon did not load: ${reason ?? 'unknown'} (npm run build:native)`);
}
console.log(`MD5, ${totalMib} MiB per run, median of ${repeats}; load average ${loadText()}`);
console.log(markdownTable(['implementation', 'streams at once', 'MiB/s', 'CPU ms/MiB'], rows));
