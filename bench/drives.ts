// PUT and GET throughput with 1 drive and with 6 drives at Reed-Solomon 4+2 (the default from 6 drives),
// in one run: two servers side by side, loads interleaved, medians of repeats. All drives are
// directories on one disk here, so this measures the software cost of erasure coding (6 shard files,
// 1.5× the bytes, encode, 6 fsyncs per object), not the parallelism of six real disks.
// Run: npm run build && npx tsx bench/drives.ts [--seconds 3] [--repeats 3] [--concurrency 1,16] [--client wrk|node] [--src]
import { compare, prepare, type CompareCell, type CompareSize, type Contender } from './lib/compare.js';
import { wrkAvailable, type Driver } from './lib/load.js';
import { describeMachine, loadText, machineInfo, markdownTable, num } from './lib/machine.js';
import { startBenchServer } from './lib/server.js';

const KiB = 1024;
const MiB = 1024 * KiB;

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

const sizes: CompareSize[] = [
  { label: '4 KiB', bytes: 4 * KiB, getObjects: 256, putKeys: 1024 },
  { label: '1 MiB', bytes: MiB, getObjects: 32, putKeys: 256 },
  { label: '64 MiB', bytes: 64 * MiB, getObjects: 4, putKeys: 64 },
];

function report(cells: CompareCell[]): string {
  const rows: string[][] = [];
  for (const cell of cells.filter((c) => c.contender === '1 drive')) {
    const ec = cells.find((c) => c.contender === '6 drives 4+2' && c.op === cell.op && c.bytes === cell.bytes && c.concurrency === cell.concurrency);
    if (!ec) continue;
    rows.push([
      cell.op,
      cell.size,
      String(cell.concurrency),
      num(cell.opsPerSecond),
      num(cell.mibPerSecond),
      num(cell.serverCpuMsPerOp),
      num(ec.opsPerSecond),
      num(ec.mibPerSecond),
      num(ec.serverCpuMsPerOp),
      (ec.opsPerSecond / cell.opsPerSecond).toFixed(2),
      `${num(cell.eldP99Ms)} / ${num(ec.eldP99Ms)}`,
    ]);
  }
  return markdownTable(
    ['op', 'size', 'c', '1 drive ops/s', '1 drive MiB/s', '1 drive CPU ms/op', '4+2 ops/s', '4+2 MiB/s', '4+2 CPU ms/op', '4+2 ÷ 1 drive', 'loop delay p99 ms (1 / 4+2)'],
    rows,
  );
}

async function main(): Promise<void> {
  const startedMs = Date.now();
  const fromSource = process.argv.includes('--src');
  const driver = (arg('--client') ?? (wrkAvailable() ? 'wrk' : 'node')) as Driver;
  const repeats = Number(arg('--repeats') ?? '3');
  const seconds = Number(arg('--seconds') ?? '3');
  const concurrency = (arg('--concurrency') ?? '16').split(',').map(Number);
  process.stdout.write(`${describeMachine(machineInfo())}\nclient:  ${driver}, ${seconds} s per run, ${repeats} runs per cell (medians), concurrency ${concurrency.join(',')}\n`);
  const one = await startBenchServer({ fromSource });
  const six = await startBenchServer({ fromSource, drives: 6 });
  const contenders: Contender[] = [
    { name: '1 drive', server: one },
    { name: '6 drives 4+2', server: six },
  ];
  try {
    await prepare(contenders, sizes);
    process.stdout.write(`objects written (${Math.round((Date.now() - startedMs) / 1000)} s)\n`);
    const cells = await compare({
      contenders,
      sizes,
      ops: ['PUT', 'GET'],
      concurrency,
      repeats,
      seconds,
      driver,
      onProgress: (text) => process.stdout.write(`  done ${text} (${Math.round((Date.now() - startedMs) / 1000)} s, load ${loadText()})\n`),
    });
    process.stdout.write(
      `\n${report(cells)}\n\nload ${loadText()} at end; ${Math.round((Date.now() - startedMs) / 1000)} s total. 4 KiB objects are stored inline in\n` +
        'the metadata whatever the drives (see bench/inline.ts), so that row compares metadata paths only.\n',
    );
  } finally {
    await one.stop();
    await six.stop();
  }
}

await main();
