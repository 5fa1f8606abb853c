// The pack index's WAL stays bounded under writes that never pause (issue 17): pack-checkpoint.ts restarts it
// once it holds TESSERA_PACK_WAL_RESTART_FRAMES, and the writer's journal_size_limit cuts the file back.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { open, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { LocalDrive } from './drive.js';
import { newBlockId } from './ids.js';
import { shardBlockBytes } from './limits.js';
import { packCheckpointIntervalMs, packWalBytesKept } from './pack-checkpoint.js';
import { tempDrives } from './test-helpers.js';

// Read when this process's checkpoint thread starts and when an index opens: set before the first drive.
process.env.TESSERA_PACK_WAL_RESTART_FRAMES = '64';

const dirs = await tempDrives(1);
after(() => dirs.cleanup());

async function putWhole(drive: LocalDrive, blockId: string, data: Buffer): Promise<void> {
  const writer = await drive.createShard({ blockId, shardIndex: 0 }, { blockBytes: shardBlockBytes });
  await writer.append(data, { last: true });
  await writer.commit();
}

/** The WAL header's checkpoint sequence number: SQLite counts one up each time the WAL starts over. */
async function walRestarts(path: string): Promise<number> {
  const file = await open(path, 'r');
  try {
    const header = Buffer.alloc(32);
    await file.read(header, 0, 32, 0);
    return header.readUInt32BE(12);
  } finally {
    await file.close();
  }
}

test('pack index - the WAL starts over under writes that never pause, and is cut back to its kept size', async () => {
  const drive = await LocalDrive.open(dirs.paths[0]!, { create: true });
  try {
    const wal = join(drive.root, 'packs', 'index.db-wal');
    const data = randomBytes(4096);
    const written: string[] = [];
    let writing = true;
    // Sixteen writers keep a group committing at all times, so no write ever begins on a WAL a PASSIVE
    // checkpoint had emptied: without the RESTART the WAL only grows (30 MB a minute per drive was measured).
    const writers = Array.from({ length: 16 }, async () => {
      while (writing) {
        const id = newBlockId();
        await putWhole(drive, id, data);
        written.push(id);
      }
    });
    await sleep(200);
    const first = await walRestarts(wal);
    let largest = 0;
    for (let waited = 0; waited < 4 * packCheckpointIntervalMs() + 500; waited += 100) {
      await sleep(100);
      largest = Math.max(largest, (await stat(wal)).size);
    }
    const during = await walRestarts(wal);
    writing = false;
    await Promise.all(writers);
    assert.ok(largest > packWalBytesKept(), `the writes filled more than the kept size (${largest} bytes at most)`);
    assert.ok(during - first >= 2, `the WAL started over ${during - first} times in four checkpoint intervals of steady writes`);

    // Once a checkpoint ran on the idle index, the next commit starts the WAL over and cuts it back.
    await sleep(packCheckpointIntervalMs() + 500);
    await putWhole(drive, newBlockId(), data);
    const size = (await stat(wal)).size;
    assert.ok(size <= packWalBytesKept(), `WAL of ${size} bytes after the cut, kept ${packWalBytesKept()}`);

    // Every acknowledged shard still has its row, through all the restarts.
    for (const blockId of written) assert.ok(await drive.statShard({ blockId, shardIndex: 0 }), `shard of ${blockId}`);
  } finally {
    await drive.close();
  }
});
