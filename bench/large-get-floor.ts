// The floor under a large GET, measured as a ladder in one run (issue 17, "GET 1 MiB at 0.8× nginx"): nginx
// (sendfile, no pass over the bytes in user space); a C server (bench/floor/verified-get.c, built here with cc
// against ISA-L) sending the same files the same way; the C server checking every 64 KiB block's CRC32 of a
// file in Tessera's shard format, as Tessera does, before it writes the data (pread + CRC32 + writev), and
// with the check followed by sendfile instead of writev; and Tessera itself, with one worker and with its
// default (one per core). Every rung gets the same wrk c=16 load of header-signed GETs over 32 objects in
// turn within each repeat (order reversed every other repeat); CPU per MiB is each server's process tree
// (user + system, /proc), and wrk's own CPU per MiB is given too, since the client shares the two cores.
// Run: npm run build && npx tsx bench/large-get-floor.ts [--repeats 4] [--seconds 3] [--size 1m|4m]
// Needs nginx, wrk, cc and libisal-dev (bash bench/setup.sh; libisal-dev is what npm install builds with).
import { spawnSync } from 'node:child_process';
import { randomBytes, randomFillSync } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseCommandLine } from './lib/args.js';
import { runLoad, wrkAvailable } from './lib/load.js';
import { exitedChildrenCpuSeconds, loadText, median, processTreeCpuSeconds } from './lib/machine.js';
import { startNginx, startUrlCommand } from './lib/nginx.js';
import { benchCredentials, startTesseraBinary } from './lib/server.js';
import { emptySha256Hex, fillBucket, signedHeaders } from './lib/sigv4.js';
import { shardRecordPieces } from '../src/blocks/shard-file.js';

const MiB = 2 ** 20;
const objectCount = 32;
const bucket = 'bench';
const blockBytes = 65536;

interface Rung {
  name: string;
  url: string;
  pid: number;
  stop(): Promise<void>;
}

const { options } = parseCommandLine(process.argv.slice(2));
const repeats = Number(options.get('--repeats') ?? '4');
const seconds = Number(options.get('--seconds') ?? '3');
const sizes: Record<string, number> = { '1m': MiB, '4m': 4 * MiB };
const bytes = sizes[options.get('--size') ?? '1m'];
if (bytes === undefined) throw new RangeError(`Unknown --size "${options.get('--size')}": expected 1m or 4m`);

const keyOf = (i: number) => `get-${bytes}-${i}`;
const bodies = Array.from({ length: objectCount }, () => randomFillSync(Buffer.allocUnsafe(bytes)));

/** A body as Tessera writes it to a shard file: its header, then each 64 KiB block and its CRC32. */
function shardFile(body: Buffer): Buffer {
  return Buffer.concat(shardRecordPieces({ blockId: randomBytes(16).toString('hex'), shardIndex: 0, blockBytes }, body));
}

function buildFloorServer(dir: string): string {
  const binary = join(dir, 'verified-get');
  const built = spawnSync('cc', ['-O2', '-pthread', '-o', binary, join(import.meta.dirname, 'floor', 'verified-get.c'), '-lisal'], { encoding: 'utf8' });
  if (built.error || built.status !== 0) throw new Error(`cc failed (needs cc and libisal-dev): ${built.error?.message ?? built.stderr.trim()}`);
  return binary;
}

async function startFloorServer(binary: string, mode: 'plain' | 'verify' | 'verify-sendfile', root: string, name: string): Promise<Rung> {
  return { name, ...(await startUrlCommand(binary, [mode, root], `verified-get ${mode}`)) };
}

async function startTessera(name: string, workers: string): Promise<Rung> {
  const server = await startTesseraBinary({ env: { TESSERA_WORKERS: workers } });
  await fillBucket(server.url, server.credentials, bucket, bodies.map((body, i) => ({ key: keyOf(i), body })));
  return { name, url: server.url, pid: server.pid, stop: () => server.stop() };
}

interface Run {
  mibPerSecond: number;
  cpuMsPerMiB: number;
  wrkMsPerMiB: number;
}

async function phase(rung: Rung, phaseSeconds: number): Promise<Run> {
  const urls = Array.from({ length: objectCount }, (_, i) => `${rung.url}/${bucket}/${keyOf(i)}`);
  // Signed just before each phase, and sent to every rung, so all parse the same request.
  const headers = urls.map((url) => signedHeaders({ method: 'GET', url, credentials: benchCredentials, payloadSha256Hex: emptySha256Hex }));
  const before = processTreeCpuSeconds(rung.pid);
  const wrkBefore = exitedChildrenCpuSeconds();
  const load = await runLoad('wrk', { method: 'GET', urls, headers, concurrency: 16, durationMs: phaseSeconds * 1000, expectBytes: bytes });
  const cpuSeconds = processTreeCpuSeconds(rung.pid) - before;
  const wrkSeconds = exitedChildrenCpuSeconds() - wrkBefore;
  if (load.errors > 0 || load.ops === 0) throw new Error(`${rung.name}: ${load.ops} GETs, ${load.errors} errors (${load.firstError})`);
  const mib = (load.ops * bytes) / MiB;
  return { mibPerSecond: mib / load.seconds, cpuMsPerMiB: (cpuSeconds * 1000) / mib, wrkMsPerMiB: (wrkSeconds * 1000) / mib };
}

if (!wrkAvailable()) throw new Error('wrk is not installed: apt-get install wrk');
const work = await mkdtemp(join(tmpdir(), 'tessera-large-get-floor-'));
const rungs: Rung[] = [];
try {
  const binary = buildFloorServer(work);
  const shards = join(work, 'shards', bucket);
  await mkdir(shards, { recursive: true });
  for (let i = 0; i < objectCount; i++) await writeFile(join(shards, keyOf(i)), shardFile(bodies[i]!));
  const nginx = await startNginx();
  rungs.push({ name: 'nginx (sendfile)', url: nginx.url, pid: nginx.pid, stop: () => nginx.stop() });
  await mkdir(join(nginx.root, bucket), { recursive: true });
  for (let i = 0; i < objectCount; i++) await writeFile(join(nginx.root, bucket, keyOf(i)), bodies[i]!);
  rungs.push(await startFloorServer(binary, 'plain', join(nginx.root, bucket), 'C, sendfile, no check'));
  rungs.push(await startFloorServer(binary, 'verify', shards, 'C, pread + CRC32 + writev'));
  rungs.push(await startFloorServer(binary, 'verify-sendfile', shards, 'C, pread + CRC32, then sendfile'));
  rungs.push(await startTessera('Tessera, --workers 1', '1'));
  rungs.push(await startTessera('Tessera, --workers auto', 'auto'));
  // An unrecorded warm-up each (the JIT, the page cache), then the recorded phases.
  for (const rung of rungs) await phase(rung, 3);
  process.stdout.write(`date ${new Date().toISOString()}, load ${loadText()} at start, wrk c=16, header-signed GET of ${bytes / MiB} MiB, ${repeats} × ${seconds} s (medians)\n`);
  const runs = new Map<string, Run[]>();
  for (let r = 0; r < repeats; r++) {
    for (const rung of r % 2 === 0 ? rungs : [...rungs].reverse()) {
      const run = await phase(rung, seconds);
      runs.set(rung.name, [...(runs.get(rung.name) ?? []), run]);
      process.stdout.write(`  ${rung.name}: ${run.mibPerSecond.toFixed(0)} MiB/s, ${run.cpuMsPerMiB.toFixed(3)} CPU ms/MiB, wrk ${run.wrkMsPerMiB.toFixed(3)}\n`);
    }
  }
  const nginxRate = median(runs.get(rungs[0]!.name)!.map((x) => x.mibPerSecond));
  process.stdout.write('| rung | MiB/s | × nginx | CPU ms/MiB (median, range) | wrk CPU ms/MiB |\n| --- | --- | --- | --- | --- |\n');
  for (const rung of rungs) {
    const list = runs.get(rung.name)!;
    const rate = median(list.map((x) => x.mibPerSecond));
    const cpu = list.map((x) => x.cpuMsPerMiB);
    process.stdout.write(`| ${rung.name} | ${rate.toFixed(0)} | ${(rate / nginxRate).toFixed(2)} | ${median(cpu).toFixed(3)} (${Math.min(...cpu).toFixed(3)}-${Math.max(...cpu).toFixed(3)}) | ${median(list.map((x) => x.wrkMsPerMiB)).toFixed(3)} |\n`);
  }
  process.stdout.write(`load ${loadText()} at end\n`);
} finally {
  for (const rung of rungs) await rung.stop();
  await rm(work, { recursive: true, force: true });
}
