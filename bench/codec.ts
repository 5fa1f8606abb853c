// Codec throughput: encode, and rebuild of 2 lost data shards, for RS 4+2 and 8+3 on 1 MiB stripes,
// with the codec Tessera ships (rs-ronomon-v1) next to ISA-L measured in the same run by a small C
// program (bench/isal/isal-bench.c, built here against Debian's libisal-dev; skipped if absent).
// GB/s counts logical (data) bytes per second, 1 GB = 1e9 bytes; each figure is the median of runs.
// Run: npx tsx bench/codec.ts [--runs 7] [--stripes 200]
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomBytes } from 'node:crypto';
import { allocStripe, codecFor, type Codec, type StripeBuffers } from '../src/blocks/codec/index.js';
import { describeMachine, loadText, machineInfo, markdownTable, median, num } from './lib/machine.js';

const MiB = 1024 * 1024;
const settings = [
  { k: 4, m: 2 },
  { k: 8, m: 3 },
] as const;

function argNumber(name: string, fallback: number): number {
  const at = process.argv.indexOf(`--${name}`);
  return at >= 0 ? Number(process.argv[at + 1]) : fallback;
}
const runs = argNumber('runs', 7);
const stripes = argNumber('stripes', 200);
const threadpool = Number(process.env.UV_THREADPOOL_SIZE ?? 4);

interface Row {
  setting: string;
  engine: string;
  encode: number;
  rebuild2: number;
}

/** GB/s of `stripes` operations kept `inFlight` at a time, median of `runs`. */
async function measure(op: (stripe: StripeBuffers) => Promise<void>, buffers: StripeBuffers[], inFlight: number): Promise<number> {
  const results: number[] = [];
  const dataBytes = buffers[0]?.data.length ?? 0;
  for (let run = 0; run < runs; run++) {
    const started = process.hrtime.bigint();
    let next = 0;
    await Promise.all(
      Array.from({ length: inFlight }, async (_, lane) => {
        while (next < stripes) {
          next++;
          await op(buffers[lane] as StripeBuffers);
        }
      }),
    );
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    results.push((dataBytes * stripes) / seconds / 1e9);
  }
  return median(results);
}

async function ronomonRow(k: number, m: number, inFlight: number): Promise<Row> {
  const codec: Codec = codecFor({ kind: 'rs', data: k, parity: m });
  const buffers = Array.from({ length: inFlight }, () => {
    const stripe = allocStripe(codec, MiB / k);
    randomBytes(stripe.data.length).copy(stripe.data);
    return stripe;
  });
  for (const b of buffers) await codec.encode(b);
  const present = Array.from({ length: k }, (_, i) => i + 2); // shards 0 and 1 lost
  const encode = await measure((s) => codec.encode(s), buffers, inFlight);
  const rebuild2 = await measure((s) => codec.reconstruct(s, present, [0, 1]), buffers, inFlight);
  const engine = `@ronomon/reed-solomon, ${inFlight} in flight${inFlight > 1 ? ` (threadpool ${threadpool})` : ''}`;
  return { setting: `${k}+${m}`, engine, encode, rebuild2 };
}

/** Builds and runs the ISA-L program; undefined (with a message) when ISA-L is not installed. */
async function isalRows(): Promise<Row[] | undefined> {
  if (!existsSync('/usr/include/isa-l/erasure_code.h')) {
    console.log('ISA-L skipped: /usr/include/isa-l/erasure_code.h not found (apt-get install libisal-dev)');
    return undefined;
  }
  const dir = await mkdtemp(join(tmpdir(), 'tessera-isal-'));
  try {
    const source = join(dirname(fileURLToPath(import.meta.url)), 'isal', 'isal-bench.c');
    const binary = join(dir, 'isal-bench');
    const built = spawnSync('cc', ['-O2', '-o', binary, source, '-lisal'], { encoding: 'utf8' });
    if (built.status !== 0) {
      console.log(`ISA-L skipped: cc failed: ${built.stderr.trim()}`);
      return undefined;
    }
    return settings.map(({ k, m }) => {
      const run = spawnSync(binary, [String(k), String(m), String(MiB / k), String(stripes), String(runs)], { encoding: 'utf8' });
      if (run.status !== 0) throw new Error(`isal-bench ${k}+${m} failed: ${run.stderr}`);
      const result = JSON.parse(run.stdout) as { encode: number[]; rebuild2: number[] };
      return { setting: `${k}+${m}`, engine: 'ISA-L (libisal, C, 1 thread)', encode: median(result.encode), rebuild2: median(result.rebuild2) };
    });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  console.log(describeMachine(machineInfo()));
  console.log(`stripe:  1 MiB (chunk = 1 MiB / k), ${stripes} stripes per run, median of ${runs} runs\n`);
  const rows: Row[] = [];
  for (const { k, m } of settings) {
    rows.push(await ronomonRow(k, m, 1));
    rows.push(await ronomonRow(k, m, threadpool));
  }
  rows.push(...((await isalRows()) ?? []));
  rows.sort((a, b) => a.setting.localeCompare(b.setting));
  const table = markdownTable(
    ['RS', 'engine', 'encode GB/s', 'rebuild 2 GB/s'],
    rows.map((r) => [r.setting, r.engine, num(r.encode), num(r.rebuild2)]),
  );
  console.log(table);
  console.log(`\nload:    ${loadText()} (1/5/15 min) at end`);
}

await main();
