// One direct write of a pack record, alone: the addon's writeDirect (native/file_sync.c) of a 1 MiB shard's
// record (header, 16 blocks of 64 KiB and their CRCs: 1,048,688 bytes, 257 pages padded) from a staging
// buffer in a transparent huge page and from 4 KiB pages (TESSERA_HUGE_PAGES=off), each setting in a child
// process of its own (the addon reads the switch when it loads), alternated. Per write: wall time, and the
// block device's write requests from /proc/diskstats; with --sync, an fdatasync after each write as a
// lone writer's group commit would. Queue depth 1, so the device's time per request shows undiluted.
// Run: npm run build:native && npx tsx bench/direct-write.ts [--writes 200] [--repeats 3] [--sync] [--dir DIR]
import { spawnSync } from 'node:child_process';
import { closeSync, fdatasyncSync, mkdtempSync, openSync, rmSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseCommandLine } from './lib/args.js';
import { diskCounters, diskPerOp, loadText, markdownTable, median } from './lib/machine.js';
import { directWriteAlignBytes, loadNativeFileSync } from '../src/blocks/native-file-sync.js';
import { newBlockId } from '../src/blocks/ids.js';
import { shardBlockBytes } from '../src/blocks/limits.js';
import { shardRecordPieces } from '../src/blocks/shard-file.js';

const { options } = parseCommandLine(process.argv.slice(2), { flags: ['--sync'] });
const writes = Number(options.get('--writes') ?? '200');
const repeats = Number(options.get('--repeats') ?? '3');
const sync = options.has('--sync');
/** A 1 MiB shard's pack record, as pack-store.ts writes it. */
const pieces = shardRecordPieces({ blockId: newBlockId(), shardIndex: 0, blockBytes: shardBlockBytes }, Buffer.alloc(1 << 20, 7));
const recordBytes = pieces.reduce((sum, piece) => sum + piece.length, 0);
const paddedBytes = Math.ceil(recordBytes / directWriteAlignBytes) * directWriteAlignBytes;

interface ChildResult {
  msPerWrite: number;
  requestsPerWrite: number | undefined;
}

if (process.env.DIRECT_WRITE_CHILD) {
  // The child: write `writes` records one after another into a fresh file, report per write.
  const { binding, reason } = loadNativeFileSync();
  if (!binding) throw new Error(`The file-sync addon is not in use: ${reason}`);
  const path = join(process.env.DIRECT_WRITE_CHILD, `records-${process.pid}`);
  const fd = openSync(path, 'w');
  try {
    if (!binding.setDirect(fd, true)) throw new Error(`${process.env.DIRECT_WRITE_CHILD} refuses O_DIRECT`);
    await binding.writeDirect(fd, pieces, 0); // maps this thread's staging buffer
    const before = diskCounters(path);
    const start = performance.now();
    for (let i = 1; i <= writes; i++) {
      await binding.writeDirect(fd, pieces, i * paddedBytes);
      if (sync) fdatasyncSync(fd);
    }
    const ms = performance.now() - start;
    const disk = diskPerOp(before, diskCounters(path), writes);
    const result: ChildResult = { msPerWrite: ms / writes, requestsPerWrite: disk?.writes };
    process.stdout.write(JSON.stringify(result));
  } finally {
    closeSync(fd);
    unlinkSync(path);
  }
} else {
  const dir = mkdtempSync(join(options.get('--dir') ?? tmpdir(), 'tessera-direct-write-'));
  const settings = ['on', 'off'] as const;
  const results = new Map<string, ChildResult[]>(settings.map((s) => [s, []]));
  try {
    process.stdout.write(`load ${loadText()}; ${writes} writes of ${recordBytes} bytes per run${sync ? ', each followed by fdatasync' : ''}, ${repeats} runs per setting under ${dir}\n`);
    for (let r = 0; r < repeats; r++) {
      for (const setting of r % 2 === 0 ? settings : [...settings].reverse()) {
        const child = spawnSync(process.execPath, ['--import', 'tsx', ...process.argv.slice(1)], {
          env: { ...process.env, DIRECT_WRITE_CHILD: dir, TESSERA_HUGE_PAGES: setting },
          encoding: 'utf8',
        });
        if (child.status !== 0) throw new Error(`The child failed: ${child.stderr}`);
        results.get(setting)!.push(JSON.parse(child.stdout) as ChildResult);
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const rows = settings.map((setting) => {
    const runs = results.get(setting)!;
    const requests = runs.map((r) => r.requestsPerWrite).filter((n): n is number => n !== undefined);
    return [
      setting === 'on' ? 'huge page (default)' : '4 KiB pages (TESSERA_HUGE_PAGES=off)',
      runs.map((r) => r.msPerWrite.toFixed(2)).join(', '),
      median(runs.map((r) => r.msPerWrite)).toFixed(2),
      requests.length > 0 ? median(requests).toFixed(2) : '– (no block device)',
    ];
  });
  process.stdout.write(`${markdownTable(['staging buffer', 'ms per write, each run', 'median', 'write requests per write'], rows)}\n`);
}
