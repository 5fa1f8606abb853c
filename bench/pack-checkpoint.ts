// Where the pack index's checkpoints run (issue 17): event-loop delay while 16 writers put whole small shards
// into one drive's packs, with the checkpoints on pack-checkpoint.ts's worker thread (what the drive does)
// or on the event loop (SQLite's automatic checkpoint every 1,000 WAL pages, as a connection does by default).
// Run: npx tsx bench/pack-checkpoint.ts [--seconds 10] [--shard-kib 256] [--dir DIR]
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { LocalDrive } from '../src/blocks/drive.js';
import { newBlockId } from '../src/blocks/ids.js';
import { shardBlockBytes } from '../src/blocks/limits.js';
import { loadText } from './lib/machine.js';

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1]! : fallback;
}

const seconds = Number(arg('--seconds', '10'));
const shardBytes = Number(arg('--shard-kib', '256')) * 1024;
const writers = 16;

async function run(mode: 'worker' | 'event-loop'): Promise<void> {
  const root = await mkdtemp(join(arg('--dir', tmpdir()), 'tessera-packckpt-'));
  const drive = await LocalDrive.open(root, { create: true });
  // The drive's index connection: autocheckpoint back on puts the checkpoint (and its fsync of index.db) on this thread.
  const index = (drive.packs as unknown as { indexValue: { db: { pragma(s: string): unknown } } }).indexValue;
  if (mode === 'event-loop') index.db.pragma('wal_autocheckpoint = 1000');
  const data = randomBytes(shardBytes);
  const eld = monitorEventLoopDelay({ resolution: 1 });
  const untilMs = Date.now() + seconds * 1000;
  let shards = 0;
  eld.enable();
  await Promise.all(
    Array.from({ length: writers }, async () => {
      while (Date.now() < untilMs) {
        const writer = await drive.createShard({ blockId: newBlockId(), shardIndex: 0 }, { blockBytes: shardBlockBytes });
        await writer.append(data, { last: true });
        await writer.commit();
        shards++;
      }
    }),
  );
  eld.disable();
  const ms = (ns: number) => Math.max(0, ns / 1e6 - 1).toFixed(2);
  process.stdout.write(
    `${mode.padEnd(10)} ${(shards / seconds).toFixed(0).padStart(6)} shards/s  loop delay p50 ${ms(eld.percentile(50))} p99 ${ms(eld.percentile(99))} p99.9 ${ms(eld.percentile(99.9))} max ${ms(eld.max)} ms\n`,
  );
  await drive.close();
  await rm(root, { recursive: true, force: true });
}

process.stdout.write(`${writers} writers, ${shardBytes / 1024} KiB shards, ${seconds} s each, load ${loadText()}\n`);
for (const mode of ['worker', 'event-loop', 'event-loop', 'worker'] as const) await run(mode);
