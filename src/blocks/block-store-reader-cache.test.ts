// The open-shard cache of LocalBlockStore at the working set of a small 6-drive store: GETs cycling over
// more shard files than the cache held opened every file on every read (an LRU misses all of a cycle
// larger than itself), four files per 1 MiB stripe at RS 4+2 (issue 17).
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, test } from 'node:test';
import { LocalBlockStore } from './block-store.js';
import { openDriveSet, type LocalDriveSet } from './drive-set.js';
import { nextLocalLayout } from './local-layout.js';
import type { ShardStore, ShardTargets } from './shard-store.js';
import { piecesOf, tempDrives } from './test-helpers.js';
import type { BlockRef } from './types.js';

let drives: Awaited<ReturnType<typeof tempDrives>>;
let set: LocalDriveSet;
let store: LocalBlockStore;
let opens = 0;

/** `store`, counting the shard files opened through it. */
function countingOpens(inner: ShardStore): ShardStore {
  return new Proxy(inner, {
    get(target, prop, receiver) {
      if (prop !== 'openShard') return Reflect.get(target, prop, receiver) as unknown;
      return (...args: Parameters<ShardStore['openShard']>) => {
        opens++;
        return target.openShard(...args);
      };
    },
  });
}

before(async () => {
  drives = await tempDrives(6);
  set = await openDriveSet(drives.paths);
  const layout = nextLocalLayout(undefined, set.slots.map((s) => ({ id: s.id, capacity: 1 })), { partitionCount: 256 })!;
  const targets: ShardTargets = {
    get slots() {
      return set.slots;
    },
    storeOf: (id) => {
      const s = set.storeOf(id);
      return s && countingOpens(s);
    },
    revive: () => set.revive(),
  };
  store = new LocalBlockStore({ targets, layouts: [layout] });
});
after(async () => {
  await store.close();
  await drives.cleanup();
});

async function readAll(ref: BlockRef): Promise<Buffer> {
  const out: Buffer[] = [];
  for await (const lease of store.readLeased(ref, { start: 0, end: ref.size })) {
    out.push(Buffer.concat(lease.pieces));
    lease.release();
  }
  return Buffer.concat(out);
}

test('LocalBlockStore - GETs cycling over 30 objects at RS 4+2 open each of their 120 data shards once', async () => {
  const blocks: { ref: BlockRef; data: Buffer }[] = [];
  for (let i = 0; i < 30; i++) {
    const data = randomBytes(64 * 1024);
    blocks.push({ ref: await store.write(piecesOf(data), { id: store.newId(), redundancy: { kind: 'rs', data: 4, parity: 2 } }), data });
  }
  opens = 0;
  for (let round = 0; round < 3; round++) {
    for (const { ref, data } of blocks) assert.ok((await readAll(ref)).equals(data));
  }
  assert.equal(opens, 30 * 4, 'every round after the first read through open shards');
});
