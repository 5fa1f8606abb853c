// Helpers shared by the block layer's tests: temporary drive directories and stores, stream collection.
import { mkdtemp, open, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { after, before } from 'node:test';
import { openBlockStore, type LocalBlockStore, type ShardDamage } from './index.js';

/** Makes `count` empty drive directories under one temp root; `cleanup` removes them all. */
export async function tempDrives(count: number): Promise<{ root: string; paths: string[]; cleanup: () => Promise<void> }> {
  const root = await mkdtemp(join(tmpdir(), 'tessera-blocks-'));
  const paths = Array.from({ length: count }, (_, i) => join(root, `d${i}`));
  return { root, paths, cleanup: () => rm(root, { recursive: true, force: true }) };
}

export interface TempStore {
  drives: Awaited<ReturnType<typeof tempDrives>>;
  store: LocalBlockStore;
  /** Every damage report the store made, in order. */
  damage: ShardDamage[];
  /** Closes the store and removes its drives. */
  close(): Promise<void>;
}

/** A store over `count` fresh drives that records the damage it reports. */
export async function tempStore(count: number): Promise<TempStore> {
  const drives = await tempDrives(count);
  const damage: ShardDamage[] = [];
  const store = await openBlockStore({ drives: drives.paths, onDamage: (d) => damage.push(d) });
  return {
    drives,
    store,
    damage,
    close: async () => {
      await store.close();
      await drives.cleanup();
    },
  };
}

/** One tempStore for the enclosing suite: opened before its first test (handed to `opened`), closed after its last. */
export function suiteStore(count: number, opened: (fixture: TempStore) => void): void {
  let fixture: TempStore | undefined;
  before(async () => {
    fixture = await tempStore(count);
    opened(fixture);
  });
  after(() => fixture?.close());
}

export async function collect(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** Yields `data` in pieces of `pieceBytes`, as a network body would arrive. */
export async function* piecesOf(data: Buffer, pieceBytes = 64 * 1024 + 7): AsyncGenerator<Buffer> {
  for (let at = 0; at < data.length; at += pieceBytes) yield data.subarray(at, at + pieceBytes);
}

/** Path of shard `index` of block `id` on the drive at `drive`, as drive.ts names it. */
export function shardFile(drive: string, id: string, index: number): string {
  return join(drive, 'shards', id.slice(0, 2), id.slice(2, 4), `${id}.${index}`);
}

/** Inverts one byte of a file in place: simulated bitrot. */
export async function flipByte(path: string, offset: number): Promise<void> {
  const handle = await open(path, 'r+');
  try {
    const one = Buffer.alloc(1);
    await handle.read(one, 0, 1, offset);
    one[0] = (one[0] as number) ^ 0xff;
    await handle.write(one, 0, 1, offset);
  } finally {
    await handle.close();
  }
}
