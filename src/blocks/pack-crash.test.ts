// kill -9 of a process writing packed shards at concurrency (issue 17): after reopening, every shard whose
// commit had resolved reads back verified, with no repair step. And a power cut, which may also lose the
// index's WAL after its last fdatasync: most groups do not sync it, so their rows must be found again in the
// packs when the drive opens (pack-recovery.ts). The same file is the child (PACK_CRASH_CHILD names its
// drive): it writes until killed, printing "ok <block id>" as each commit resolves, and with PACK_CRASH_WAL
// "synced <bytes>" after each fdatasync of the WAL, <bytes> being its size then (all of it synced or later).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createCipheriv } from 'node:crypto';
import { statSync } from 'node:fs';
import { rm, stat, truncate } from 'node:fs/promises';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { LocalDrive } from './drive.js';
import { newBlockId } from './ids.js';
import { shardBlockBytes } from './limits.js';
import { tempDrives } from './test-helpers.js';

const childPath = fileURLToPath(import.meta.url);

/** The shard bytes of `blockId`, from the id alone, so the parent can check what it reads without being told. */
function crashShardData(blockId: string): Buffer {
  const bytes = 1 + (parseInt(blockId.slice(0, 6), 16) % 200_000);
  const cipher = createCipheriv('aes-128-ctr', Buffer.from(blockId, 'hex'), Buffer.alloc(16));
  return cipher.update(Buffer.alloc(bytes));
}

async function childWriter(drive: LocalDrive): Promise<never> {
  for (;;) {
    const blockId = newBlockId();
    const shard = await drive.createShard({ blockId, shardIndex: 0 }, { blockBytes: shardBlockBytes });
    await shard.append(crashShardData(blockId), { last: true });
    await shard.commit();
    process.stdout.write(`ok ${blockId}\n`);
  }
}

async function runChild(root: string): Promise<void> {
  const drive = await LocalDrive.open(root, { create: true });
  if (process.env.PACK_CRASH_WAL) {
    const packs = drive.packs as unknown as { syncWal: () => Promise<void> };
    const syncWal = packs.syncWal.bind(packs);
    packs.syncWal = async () => {
      await syncWal();
      process.stdout.write(`synced ${statSync(join(root, 'packs', 'index.db-wal')).size}\n`);
    };
  }
  await Promise.all(Array.from({ length: 16 }, () => childWriter(drive)));
}

/** Runs the child until it has acknowledged `count` shards (and a little after), then SIGKILLs it; returns the acknowledged ids. */
async function writeUntilKilled(root: string, count: number, env: Record<string, string> = {}): Promise<string[] & { syncedBytes: number }> {
  const child = spawn(process.execPath, ['--import', 'tsx', childPath], { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, ...env, PACK_CRASH_CHILD: root } });
  const acked = Object.assign([] as string[], { syncedBytes: 0 });
  let buffered = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`The child acknowledged only ${acked.length} shards in time`));
    }, 60_000);
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (text: string) => {
      buffered += text;
      const lines = buffered.split('\n');
      buffered = lines.pop()!;
      for (const line of lines) {
        if (line.startsWith('ok ')) acked.push(line.slice(3));
        if (line.startsWith('synced ')) acked.syncedBytes = Math.max(acked.syncedBytes, Number(line.slice(7)));
      }
      // Killed at a random moment after `count`: mid-write, mid-group or mid-transaction.
      if (acked.length >= count && child.exitCode === null && !child.killed) setTimeout(() => child.kill('SIGKILL'), Math.random() * 20);
    });
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      if (signal !== 'SIGKILL') reject(new Error(`The child exited with ${code ?? signal}`));
      else resolve(acked);
    });
  });
}

/** Opens the drive at `root` as a restarted server would and reads every shard of `blockIds` back, verified. */
async function readsBackAll(root: string, blockIds: string[]): Promise<void> {
  const drive = await LocalDrive.open(root, { create: false });
  try {
    for (const blockId of blockIds) {
      const data = crashShardData(blockId);
      const reader = await drive.openShard({ blockId, shardIndex: 0 }, { shardBytes: data.length });
      try {
        assert.ok(Buffer.concat(await reader.readPieces(0, data.length)).equals(data), `shard of block "${blockId}" read back wrong`);
      } finally {
        await reader.close();
      }
    }
  } finally {
    await drive.close();
  }
}

// As the child it never gets past this line: it writes until it is killed.
if (process.env.PACK_CRASH_CHILD) await runChild(process.env.PACK_CRASH_CHILD);

test('pack crash - every shard whose commit resolved before kill -9 reads back verified after reopen', async () => {
  const dirs = await tempDrives(1);
  try {
    const root = dirs.paths[0]!;
    const first = await writeUntilKilled(root, 300);
    const second = await writeUntilKilled(root, 100); // a second crash, over the first one's leftovers
    await readsBackAll(root, [...first, ...second]);
    assert.ok(first.length >= 300 && second.length >= 100);
  } finally {
    await dirs.cleanup();
  }
});

/** The WAL's header, then frames of a 24-byte header and one 4 KiB page. */
const walHeaderBytes = 32;
const walFrameBytes = 24 + 4096;

test('pack power cut - the WAL cut short after its last fdatasync loses no acknowledged shard: the packs give the rows back', async () => {
  const dirs = await tempDrives(1);
  try {
    const root = dirs.paths[0]!;
    // No checkpoint meanwhile, so that any cut of the WAL at a frame leaves the index as it was at some commit.
    const acked = await writeUntilKilled(root, 300, { PACK_CRASH_WAL: '1', TESSERA_PACK_CHECKPOINT_MS: '3600000' });
    const wal = join(root, 'packs', 'index.db-wal');
    const walBytes = (await stat(wal)).size;
    // What a power cut may keep: every frame up to the last fdatasync (the pack's creation, at least), then
    // any prefix of the rest. Cut somewhere in the first half of the rest.
    const syncedFrames = Math.ceil((acked.syncedBytes - walHeaderBytes) / walFrameBytes);
    const restFrames = Math.floor((walBytes - walHeaderBytes) / walFrameBytes) - syncedFrames;
    const cutFrames = syncedFrames + Math.floor((Math.random() * restFrames) / 2);
    await truncate(wal, walHeaderBytes + cutFrames * walFrameBytes);
    await rm(`${join(root, 'packs', 'index.db')}-shm`, { force: true });
    const db = new Database(join(root, 'packs', 'index.db'), { fileMustExist: true });
    const rowsLeft = (db.prepare('SELECT count(*) AS n FROM shards').get() as { n: number }).n;
    db.close();
    assert.ok(rowsLeft < acked.length, `the cut lost rows (${rowsLeft} left of ${acked.length} acknowledged; cut at frame ${cutFrames} of ${syncedFrames + restFrames})`);

    await readsBackAll(root, acked);
  } finally {
    await dirs.cleanup();
  }
});
