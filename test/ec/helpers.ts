// Helpers for the erasure-coding integration tests: a server over six temporary drives, the admin CLI,
// and ways to damage drives the way disks fail.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdtemp, readdir, rm, stat, open } from 'node:fs/promises';
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

/** Every shard file under a drive (not the identity file; temporaries only when asked). */
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
      if (entry.isDirectory()) await walk(path);
      else if (!entry.name.endsWith('.json') && (options.withTemporaries || !entry.name.includes('.tmp'))) out.push(path);
    }
  };
  await walk(drive);
  return out;
}

export async function driveBytes(drive: string): Promise<number> {
  let total = 0;
  for (const file of await shardFiles(drive)) total += (await stat(file).catch(() => ({ size: 0 }))).size;
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

/** Flips bytes in the middle of every shard file of a drive: bitrot. */
export async function rotDrive(drive: string): Promise<number> {
  const files = await shardFiles(drive);
  for (const file of files) {
    const { size } = await stat(file);
    await flipBytes(file, [Math.floor(size / 2), size - 1]);
  }
  return files.length;
}
