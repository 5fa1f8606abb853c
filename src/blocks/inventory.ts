// The inventory of block ids on a set of targets, merged in id order one fan-out directory at a time,
// so listing a target of millions of shards never holds more than one directory's names.
import type { ShardCallOptions, ShardStore, StoredShard } from './shard-store.js';
import type { StoredBlock } from './types.js';

export async function* listStoredBlocks(stores: ShardStore[], signal: AbortSignal | undefined): AsyncGenerator<StoredBlock> {
  for (const first of await unionOf(stores.map((s) => s.listPrefixes(undefined)))) {
    for (const second of await unionOf(stores.map((s) => s.listPrefixes(first)))) {
      signal?.throwIfAborted();
      const files = (await Promise.all(stores.map((s) => s.listShards(first, second).catch(() => [])))).flat();
      yield* groupById(files);
    }
  }
}

/** Committed shard files and their bytes on one target (tmp files of unfinished writes left out). */
export async function countShards(store: ShardStore, options?: ShardCallOptions): Promise<{ shardFiles: number; bytes: number }> {
  let shardFiles = 0;
  let bytes = 0;
  for (const first of await store.listPrefixes(undefined, options)) {
    for (const second of await store.listPrefixes(first, options)) {
      for (const file of await store.listShards(first, second, options)) {
        if (file.tmp) continue;
        shardFiles++;
        bytes += file.bytes;
      }
    }
  }
  return { shardFiles, bytes };
}

async function unionOf(lists: Promise<string[]>[]): Promise<string[]> {
  const settled = await Promise.allSettled(lists);
  const names = new Set<string>();
  for (const r of settled) if (r.status === 'fulfilled') for (const name of r.value) names.add(name);
  return [...names].sort();
}

function groupById(files: StoredShard[]): StoredBlock[] {
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
