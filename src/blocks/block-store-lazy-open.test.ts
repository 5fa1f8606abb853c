// Reads across layout epochs over stores whose open is lazy, as the node RPC client's is (it finds a
// missing shard only at the first read): a shard not yet moved must be read at its older place, not
// reported as damage (which makes heal rebuild it by decoding while the rebalance would copy it).
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, test } from 'node:test';
import type { Layout } from '../cluster/index.js';
import { LocalBlockStore } from './block-store.js';
import { openDriveSet, type LocalDriveSet } from './drive-set.js';
import { nextLocalLayout } from './local-layout.js';
import type { ShardStore, ShardTargets } from './shard-store.js';
import { collect, piecesOf, tempDrives } from './test-helpers.js';
import type { BlockRef, ShardDamage } from './types.js';

const MiB = 1024 * 1024;

/** `store` with an open that always succeeds and fails at the first read instead, as RemoteShardStore's. */
function lazyOpen(store: ShardStore): ShardStore {
  return new Proxy(store, {
    get(target, prop, receiver) {
      if (prop !== 'openShard') return Reflect.get(target, prop, receiver) as unknown;
      return async (...args: Parameters<ShardStore['openShard']>) => {
        let opened: ReturnType<ShardStore['openShard']> | undefined;
        const open = () => (opened ??= target.openShard(...args));
        return {
          readPieces: async (...a: Parameters<Awaited<ReturnType<ShardStore['openShard']>>['readPieces']>) => (await open()).readPieces(...a),
          readPooled: async (...a: Parameters<Awaited<ReturnType<ShardStore['openShard']>>['readPooled']>) => (await open()).readPooled(...a),
          close: async () => {
            if (opened) await (await opened.catch(() => undefined))?.close();
          },
        };
      };
    },
  });
}

function lazyTargets(set: LocalDriveSet): ShardTargets {
  return { get slots() { return set.slots; }, storeOf: (id) => { const s = set.storeOf(id); return s && lazyOpen(s); }, revive: () => set.revive() };
}

let drives: Awaited<ReturnType<typeof tempDrives>>;
let set: LocalDriveSet;
let before4: LocalBlockStore;
let after6: LocalBlockStore;
const damage: ShardDamage[] = [];

before(async () => {
  drives = await tempDrives(6);
  set = await openDriveSet(drives.paths);
  const ids = set.slots.map((s) => ({ id: s.id, capacity: 1 }));
  const epoch1: Layout = nextLocalLayout(undefined, ids.slice(0, 4), { partitionCount: 256 })!;
  const epoch2: Layout = nextLocalLayout(epoch1, ids)!;
  before4 = new LocalBlockStore({ targets: lazyTargets(set), layouts: [epoch1] });
  after6 = new LocalBlockStore({ targets: lazyTargets(set), layouts: [epoch1, epoch2], onDamage: (d) => damage.push(d) });
});
after(async () => {
  await before4.close();
  await after6.close();
  await drives.cleanup();
});

/** A block written under epoch 1 (RS 2+2) with at least two shards epoch 2 places elsewhere. */
async function oldBlock(size: number): Promise<{ ref: BlockRef; data: Buffer }> {
  for (;;) {
    const data = randomBytes(size);
    const ref = await before4.write(piecesOf(data), { id: before4.newId() });
    if (after6.placesOfRef(ref).filter((p) => p.length > 1).length >= 2) return { ref, data };
    await before4.delete(ref);
  }
}

test('read with lazy opens - shards not moved yet are read at their older place, with no damage reported', async () => {
  const { ref, data } = await oldBlock(3 * MiB + 17);
  assert.deepEqual(await collect(after6.read(ref, { start: 0, end: data.length })), data);
  assert.deepEqual(await collect(after6.read(ref, { start: MiB - 3, end: 2 * MiB })), data.subarray(MiB - 3, 2 * MiB));
  assert.deepEqual(damage, [], 'a shard at its older place was reported as damage');
});

test('scrub with lazy opens - a shard not moved yet is ok, so heal rebuilds nothing', async () => {
  const { ref } = await oldBlock(2 * MiB + 5);
  assert.deepEqual((await after6.scrub(ref)).map((c) => c.state), ref.redundancy.kind === 'rs' ? Array(4).fill('ok') : ['ok', 'ok']);
  assert.deepEqual((await after6.heal(ref)).rebuilt, []);
  const moved = await after6.moveBlock(ref);
  assert.ok(moved.shardsCopied >= 2 && moved.shardsRebuilt === 0, `moved by copy: ${JSON.stringify(moved)}`);
});
