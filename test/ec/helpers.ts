// Helpers for the erasure-coding integration tests: a server over six temporary drives, the admin CLI,
// and ways to damage drives the way disks fail.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdtemp, readdir, rm, stat, open } from 'node:fs/promises';
import Database from 'better-sqlite3';
import type { Dirent } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTessera, repoRoot, type TesseraProcess } from '../helpers/tessera.js';

const exec = promisify(execFile);

export interface EcServer {
  server: TesseraProcess;
  drives: string[];
  root: string;
  admin(...args: string[]): Promise<string>;
  cleanup(): Promise<void>;
}

export async function startEcServer(driveCount = 6, extraArgs: string[] = []): Promise<EcServer> {
  const root = await mkdtemp(join(tmpdir(), 'tessera-ec-'));
  const drives = Array.from({ length: driveCount }, (_, i) => join(root, `drive${i + 1}`));
  const server = await startEcProcess(root, drives, extraArgs);
  return {
    server,
    drives,
    root,
    admin: async (...args: string[]) => {
      const { stdout } = await exec(process.execPath, [join(repoRoot, 'bin', 'tessera.js'), 'admin', ...args, '--endpoint', server.url], {
        env: { ...process.env, TESSERA_ROOT_ACCESS_KEY: server.accessKeyId, TESSERA_ROOT_SECRET_KEY: server.secretAccessKey },
        timeout: 120_000,
      });
      return stdout;
    },
    cleanup: async () => {
      await server.stop();
      await rm(root, { recursive: true, force: true });
    },
  };
}

/** Starts (or restarts, after a crash) a server over the given drives with fast GC. */
export function startEcProcess(root: string, drives: string[], extraArgs: string[] = []): Promise<TesseraProcess> {
  return startTessera({ dataDir: join(root, 'data'), args: ['--drives', drives.join(','), '--gc-delay', '0', '--gc-interval', '0.2', ...extraArgs] });
}

/** Every shard file under a drive (not the identity file, nor packs/; temporaries only when asked). Packed shards: storedShards(). */
export async function shardFiles(drive: string, options: { withTemporaries?: boolean } = {}): Promise<string[]> {
  const out: string[] = [];
  // The server deletes files while this walks (GC, heal), so entries may vanish between listing and use.
  const walk = async (dir: string): Promise<void> => {
    let entries: Dirent[];
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const entry of entries) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) {
        if (path !== join(drive, 'packs')) await walk(path);
      }
      else if (!entry.name.endsWith('.json') && (options.withTemporaries || !entry.name.includes('.tmp'))) out.push(path);
    }
  };
  await walk(drive);
  return out;
}

/**
 * A shard a drive holds: its own file (offset 0, the whole file), or a record of a pack file (src/blocks/
 * pack-store.ts) at `offset`. Either way the `bytes` at `offset` of `path` are the shard file's format.
 */
export interface StoredShardCopy {
  path: string;
  offset: number;
  bytes: number;
  blockId: string;
  index: number;
  packed: boolean;
}

/** Every shard a drive holds, files (temporaries when asked) and packed records alike. */
export async function storedShards(drive: string, options: { withTemporaries?: boolean } = {}): Promise<StoredShardCopy[]> {
  const out: StoredShardCopy[] = [];
  for (const path of await shardFiles(drive, options)) {
    const size = (await stat(path).catch(() => undefined))?.size;
    if (size === undefined) continue; // deleted while listing
    const [blockId, index] = path.slice(path.lastIndexOf('/') + 1).split('.');
    out.push({ path, offset: 0, bytes: size, blockId: blockId!, index: Number(index), packed: false });
  }
  return out.concat(packedShards(drive));
}

/** The packed shards of a drive, from its packs/index.db (read while the server runs: WAL readers do not block it). */
export function packedShards(drive: string): StoredShardCopy[] {
  let db: Database.Database;
  try {
    db = new Database(join(drive, 'packs', 'index.db'), { fileMustExist: true });
  } catch {
    return [];
  }
  try {
    db.pragma('busy_timeout = 5000');
    const rows = db.prepare('SELECT block_id, shard_index, pack, offset, bytes FROM shards').all() as { block_id: string; shard_index: number; pack: number; offset: number; bytes: number }[];
    return rows.map((r) => ({
      path: join(drive, 'packs', `${String(r.pack).padStart(10, '0')}.pack`),
      offset: r.offset,
      bytes: r.bytes,
      blockId: r.block_id,
      index: r.shard_index,
      packed: true,
    }));
  } finally {
    db.close();
  }
}

/** The shards a drive holds now, as "<block id>.<index>", whether files or packed records. */
export async function storedShardNames(drive: string): Promise<Set<string>> {
  return new Set((await storedShards(drive)).map((s) => `${s.blockId}.${s.index}`));
}

/** How many shards a drive holds: files (temporaries when asked) and packed records. */
export async function shardCount(drive: string, options: { withTemporaries?: boolean } = {}): Promise<number> {
  return (await storedShards(drive, options)).length;
}

/** A stored shard's bytes, in the shard file format whether it is a file or a pack record. */
export async function readStoredShard(shard: StoredShardCopy): Promise<Buffer> {
  const handle = await open(shard.path, 'r');
  try {
    const bytes = Buffer.alloc(shard.bytes);
    const { bytesRead } = await handle.read(bytes, 0, shard.bytes, shard.offset);
    return bytes.subarray(0, bytesRead);
  } finally {
    await handle.close();
  }
}

export async function driveBytes(drive: string): Promise<number> {
  let total = 0;
  for (const shard of await storedShards(drive)) total += shard.bytes;
  return total;
}

/** XORs the bytes of `file` at offsets `at` with 0xff: bitrot in place. */
export async function flipBytes(file: string, at: number[]): Promise<void> {
  const handle = await open(file, 'r+');
  try {
    for (const offset of at) {
      const buf = Buffer.alloc(1);
      await handle.read(buf, 0, 1, offset);
      buf[0] = buf[0]! ^ 0xff;
      await handle.write(buf, 0, 1, offset);
    }
  } finally {
    await handle.close();
  }
}

/** Flips bytes in the middle and at the end of every shard of a drive, files and packed records: bitrot. */
export async function rotDrive(drive: string): Promise<number> {
  const shards = await storedShards(drive);
  for (const shard of shards) await flipBytes(shard.path, [shard.offset + Math.floor(shard.bytes / 2), shard.offset + shard.bytes - 1]);
  return shards.length;
}
