// The inventory of block ids on a set of drives, merged in id order one fan-out directory at a time,
// so listing a drive of millions of shards never holds more than one directory's names.
import type { LocalDrive, ShardFileInfo } from './drive.js';
import type { StoredBlock } from './types.js';

export async function* listStoredBlocks(drives: LocalDrive[], signal: AbortSignal | undefined): AsyncGenerator<StoredBlock> {
  for (const first of await unionOf(drives.map((d) => d.listPrefixes()))) {
    for (const second of await unionOf(drives.map((d) => d.listPrefixes(first)))) {
      signal?.throwIfAborted();
      const files = (await Promise.all(drives.map((d) => d.listShardFiles(first, second).catch(() => [])))).flat();
      yield* groupById(files);
    }
  }
}

async function unionOf(lists: Promise<string[]>[]): Promise<string[]> {
  const settled = await Promise.allSettled(lists);
  const names = new Set<string>();
  for (const r of settled) if (r.status === 'fulfilled') for (const name of r.value) names.add(name);
  return [...names].sort();
}

function groupById(files: ShardFileInfo[]): StoredBlock[] {
  const byId = new Map<string, StoredBlock>();
  for (const file of files) {
    const block = byId.get(file.blockId) ?? { id: file.blockId, files: 0, bytes: 0, newestMtimeMs: 0 };
    block.files++;
    block.bytes += file.bytes;
    block.newestMtimeMs = Math.max(block.newestMtimeMs, file.mtimeMs);
    byId.set(file.blockId, block);
  }
  return [...byId.values()].sort((a, b) => (a.id < b.id ? -1 : 1));
}
