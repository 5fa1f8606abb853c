// What one durable small shard costs the process, by how it is stored: as a file of its own (the shard
// file's sequence: create a temporary, write, fsync, close, rename, fsync the directory), the same
// without the two fsyncs (the inode work alone), or appended to one shared file at a reserved offset with
// a group fdatasync (a pack). 16 writers at once, as a drive sees at c=16; CPU is the whole process's
// user + system time (the threadpool and the kernel work it does included) per shard.
// Run: npx tsx bench/shard-commit.ts [--sizes 256k,1m] [--modes file,file-nosync,pack] [--seconds 3]
//      [--repeats 3] [--dir DIR]
import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp, open, rename, rm, type FileHandle } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

type Mode = 'file' | 'file-nosync' | 'pack';

interface Phase {
  mode: Mode;
  bytes: number;
  shardsPerSecond: number;
  cpuMsPerShard: number;
  syncsPerShard: number;
}

const writers = 16;
const fanOut = 256;

/** utime + stime of this process (every thread), in ms. */
function processCpuMs(): number {
  const fields = readFileSync('/proc/self/stat', 'utf8').split(') ')[1]!.split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100; // clock ticks of 10 ms
}

async function fileWriter(dir: string, data: Buffer, endMs: number, sync: boolean): Promise<number> {
  let done = 0;
  while (performance.now() < endMs) {
    const id = randomBytes(16).toString('hex');
    const sub = join(dir, id.slice(0, 2));
    const final = join(sub, id);
    const tmp = `${final}.tmp`;
    const handle = await open(tmp, 'wx');
    await handle.writev([data], 0);
    if (sync) await handle.sync();
    await handle.close();
    await rename(tmp, final);
    if (sync) {
      const dirHandle = await open(sub, 'r');
      await dirHandle.sync();
      await dirHandle.close();
    }
    done++;
  }
  return done;
}

/** One shared file: each shard reserves its offset, writes, then waits for a sync that began after its write. */
class GroupSync {
  syncs = 0;
  private waiting: (() => void)[] = [];
  private running = false;

  constructor(private readonly handle: FileHandle) {}

  durable(): Promise<void> {
    return new Promise((resolve) => {
      this.waiting.push(resolve);
      if (!this.running) void this.run();
    });
  }

  private async run(): Promise<void> {
    this.running = true;
    while (this.waiting.length > 0) {
      const group = this.waiting;
      this.waiting = [];
      this.syncs++;
      await this.handle.datasync();
      for (const resolve of group) resolve();
    }
    this.running = false;
  }
}

async function packWriter(handle: FileHandle, group: GroupSync, next: { offset: number }, data: Buffer, endMs: number): Promise<number> {
  let done = 0;
  const slotBytes = Math.ceil(data.length / 4096) * 4096;
  while (performance.now() < endMs) {
    const offset = next.offset;
    next.offset += slotBytes;
    await handle.writev([data], offset);
    await group.durable();
    done++;
  }
  return done;
}

async function runPhase(root: string, mode: Mode, bytes: number, seconds: number): Promise<Phase> {
  const dir = join(root, `${mode}-${bytes}`);
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  for (let i = 0; i < fanOut; i++) await mkdir(join(dir, i.toString(16).padStart(2, '0')));
  const data = randomBytes(bytes);
  let pack: { handle: FileHandle; group: GroupSync } | undefined;
  if (mode === 'pack') {
    const handle = await open(join(dir, 'shards.pack'), 'w+');
    pack = { handle, group: new GroupSync(handle) };
  }
  const cpu0 = processCpuMs();
  const t0 = performance.now();
  const endMs = t0 + seconds * 1000;
  const next = { offset: 0 };
  const counts = await Promise.all(
    Array.from({ length: writers }, () =>
      pack ? packWriter(pack.handle, pack.group, next, data, endMs) : fileWriter(dir, data, endMs, mode === 'file'),
    ),
  );
  const elapsedMs = performance.now() - t0;
  const cpuMs = processCpuMs() - cpu0;
  const shards = counts.reduce((a, b) => a + b, 0);
  await pack?.handle.close();
  await rm(dir, { recursive: true, force: true });
  return {
    mode,
    bytes,
    shardsPerSecond: (shards * 1000) / elapsedMs,
    cpuMsPerShard: cpuMs / shards,
    syncsPerShard: mode === 'file' ? 2 : mode === 'pack' ? (pack?.group.syncs ?? 0) / shards : 0,
  };
}

function parseSize(text: string): number {
  const match = /^(\d+)([km]?)$/i.exec(text.trim());
  if (!match) throw new Error(`Cannot read size "${text}"`);
  const unit = match[2]!.toLowerCase();
  return Number(match[1]) * (unit === 'k' ? 1024 : unit === 'm' ? 1024 * 1024 : 1);
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      sizes: { type: 'string', default: '256k,1m' },
      modes: { type: 'string', default: 'file,file-nosync,pack' },
      seconds: { type: 'string', default: '3' },
      repeats: { type: 'string', default: '3' },
      dir: { type: 'string' },
    },
  });
  const sizes = values.sizes.split(',').map(parseSize);
  const modes = values.modes.split(',') as Mode[];
  for (const mode of modes) if (!['file', 'file-nosync', 'pack'].includes(mode)) throw new Error(`Unknown mode "${mode}"`);
  const seconds = Number(values.seconds);
  const repeats = Number(values.repeats);
  const root = values.dir ?? (await mkdtemp(join(tmpdir(), 'tessera-shard-commit-')));
  console.log(`# ${writers} writers, ${seconds} s per phase, ${repeats} repeats (modes alternate), dir ${root}, UV_THREADPOOL_SIZE=${process.env.UV_THREADPOOL_SIZE ?? '4'}`);
  try {
    for (const bytes of sizes) {
      const phases = new Map<Mode, Phase[]>(modes.map((m) => [m, []]));
      await runPhase(root, modes[0]!, bytes, 1); // unmeasured: JIT and the first directory entries
      for (let r = 0; r < repeats; r++) {
        const order = r % 2 === 0 ? modes : [...modes].reverse();
        for (const mode of order) phases.get(mode)!.push(await runPhase(root, mode, bytes, seconds));
      }
      for (const [mode, list] of phases) {
        console.log(
          `${(bytes / 1024).toFixed(0).padStart(5)} KiB  ${mode.padEnd(12)} ${median(list.map((p) => p.shardsPerSecond)).toFixed(0).padStart(6)} shards/s  ` +
            `${median(list.map((p) => p.cpuMsPerShard)).toFixed(3)} CPU ms/shard  ${median(list.map((p) => p.syncsPerShard)).toFixed(2)} syncs/shard`,
        );
      }
    }
  } finally {
    if (!values.dir) await rm(root, { recursive: true, force: true });
  }
}

await main();
