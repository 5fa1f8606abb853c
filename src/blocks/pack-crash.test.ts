// kill -9 of a process writing packed shards at concurrency (issue 17): after reopening, every shard whose
// commit had resolved reads back verified, with no repair step. The same file is the child (PACK_CRASH_CHILD
// names its drive): it writes until killed, printing "ok <block id>" as each commit resolves.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createCipheriv } from 'node:crypto';
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
  await Promise.all(Array.from({ length: 16 }, () => childWriter(drive)));
}

/** Runs the child until it has acknowledged `count` shards (and a little after), then SIGKILLs it; returns the acknowledged ids. */
async function writeUntilKilled(root: string, count: number): Promise<string[]> {
  const child = spawn(process.execPath, ['--import', 'tsx', childPath], { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, PACK_CRASH_CHILD: root } });
  const acked: string[] = [];
  let buffered = '';
  return new Promise<string[]>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`The child acknowledged only ${acked.length} shards in time`));
    }, 60_000);
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (text: string) => {
      buffered += text;
      const lines = buffered.split('\n');
      buffered = lines.pop()!;
      for (const line of lines) if (line.startsWith('ok ')) acked.push(line.slice(3));
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

// As the child it never gets past this line: it writes until it is killed.
if (process.env.PACK_CRASH_CHILD) await runChild(process.env.PACK_CRASH_CHILD);

test('pack crash - every shard whose commit resolved before kill -9 reads back verified after reopen', async () => {
  const dirs = await tempDrives(1);
  try {
    const root = dirs.paths[0]!;
    const first = await writeUntilKilled(root, 300);
    const second = await writeUntilKilled(root, 100); // a second crash, over the first one's leftovers
    const drive = await LocalDrive.open(root, { create: false });
    try {
      for (const blockId of [...first, ...second]) {
        const data = crashShardData(blockId);
        const reader = await drive.openShard({ blockId, shardIndex: 0 }, { shardBytes: data.length });
        try {
          assert.ok(Buffer.concat(await reader.readPieces(0, data.length)).equals(data), `shard of block "${blockId}" read back wrong`);
        } finally {
          await reader.close();
        }
      }
      assert.ok(first.length >= 300 && second.length >= 100);
    } finally {
      await drive.close();
    }
  } finally {
    await dirs.cleanup();
  }
});
