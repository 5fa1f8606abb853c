// Choosing the inline threshold: PUT and GET of small objects stored inline in the metadata versus in
// the block store, with 1 drive and with 6 drives at 4+2, in one run (four servers side by side, loads
// interleaved, medians). Inline wins while a metadata row is cheaper than shard files: no per-object
// fsync (commits are grouped) and no file opens on GET; it loses as rows grow (base64 in JSON, read whole).
// Run: npm run build && npx tsx bench/inline.ts [--seconds 2] [--repeats 3] [--sizes 4,16,32,64,128,256] [--client wrk|node] [--src]
import { compare, prepare, type CompareCell, type CompareSize, type Contender } from './lib/compare.js';
import { wrkAvailable, type Driver } from './lib/load.js';
import { describeMachine, loadText, machineInfo, markdownTable, num } from './lib/machine.js';
import { startBenchServer, type BenchServer } from './lib/server.js';

const KiB = 1024;

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

function report(cells: CompareCell[], drives: string): string {
  const rows: string[][] = [];
  const inline = cells.filter((c) => c.contender === `inline, ${drives}`);
  for (const a of inline) {
    const b = cells.find((c) => c.contender === `blocks, ${drives}` && c.op === a.op && c.bytes === a.bytes);
    if (!b) continue;
    rows.push([a.op, a.size, num(a.opsPerSecond), num(a.serverCpuMsPerOp), num(b.opsPerSecond), num(b.serverCpuMsPerOp), (a.opsPerSecond / b.opsPerSecond).toFixed(2)]);
  }
  return markdownTable(['op', 'size', 'inline ops/s', 'inline CPU ms/op', 'blocks ops/s', 'blocks CPU ms/op', 'inline ÷ blocks'], rows);
}

async function main(): Promise<void> {
  const startedMs = Date.now();
  const fromSource = process.argv.includes('--src');
  const driver = (arg('--client') ?? (wrkAvailable() ? 'wrk' : 'node')) as Driver;
  const repeats = Number(arg('--repeats') ?? '3');
  const seconds = Number(arg('--seconds') ?? '2');
  const concurrency = Number(arg('--concurrency') ?? '16');
  const sizes: CompareSize[] = (arg('--sizes') ?? '4,16,32,64,128,256').split(',').map((k) => ({
    label: `${k} KiB`,
    bytes: Number(k) * KiB,
    getObjects: 64,
    putKeys: 512,
  }));
  process.stdout.write(`${describeMachine(machineInfo())}\nclient:  ${driver}, c=${concurrency}, ${seconds} s per run, ${repeats} runs per cell (medians)\n`);
  const everythingInline = Math.max(...sizes.map((s) => s.bytes));
  const servers: BenchServer[] = [];
  try {
    const start = async (options: Parameters<typeof startBenchServer>[0]) => {
      const server = await startBenchServer({ fromSource, ...options });
      servers.push(server);
      return server;
    };
    const contenders: Contender[] = [
      { name: 'inline, 1 drive', server: await start({ inlineBytesMax: everythingInline }) },
      { name: 'blocks, 1 drive', server: await start({ inlineBytesMax: 0 }) },
      { name: 'inline, 6 drives 4+2', server: await start({ inlineBytesMax: everythingInline, drives: 6 }) },
      { name: 'blocks, 6 drives 4+2', server: await start({ inlineBytesMax: 0, drives: 6 }) },
    ];
    await prepare(contenders, sizes);
    process.stdout.write(`objects written (${Math.round((Date.now() - startedMs) / 1000)} s)\n`);
    const cells = await compare({
      contenders,
      sizes,
      ops: ['PUT', 'GET'],
      concurrency: [concurrency],
      repeats,
      seconds,
      driver,
      onProgress: (text) => process.stdout.write(`  done ${text} (${Math.round((Date.now() - startedMs) / 1000)} s, load ${loadText()})\n`),
    });
    process.stdout.write(
      `\n1 drive:\n${report(cells, '1 drive')}\n\n6 drives at 4+2:\n${report(cells, '6 drives 4+2')}\n\n` +
        `load ${loadText()} at end; ${Math.round((Date.now() - startedMs) / 1000)} s total\n`,
    );
  } finally {
    for (const server of servers) await server.stop();
  }
}

await main();
