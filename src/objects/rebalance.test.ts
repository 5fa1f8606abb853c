// The rebalance's walk over the MetaStore (issue 11): cursor, settling, restarts towards a newer epoch,
// retries after failures, resuming in another process, and GC of blocks released while they moved. The
// walk's block store is a fake (moving shards for real is tested in blocks/ and test/rebalance/); the
// orphan sweep's test runs over real drives.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { SqliteMetaStore } from '../meta/sqlite/sqlite-store.js';
import type { BlockRebalancing, BlockRef, BlockWalkOptions, MoveResult } from '../blocks/types.js';
import { keys } from './keys.js';
import { decodeRecord, encodeRecord } from './records.js';
import { Rebalance, readRebalanceProgress } from './rebalance.js';
import { sweepOrphans } from './gc.js';
import type { ObjectContext } from './context.js';
import { LocalBlockStore } from '../blocks/block-store.js';
import { openDriveSet } from '../blocks/drive-set.js';
import { nextLocalLayout } from '../blocks/local-layout.js';
import { rebalanceMovesInFlight } from '../constants.js';
import { piecesOf, readShardBytes, shardFile, tempDrives } from '../blocks/test-helpers.js';

const dir = await mkdtemp(join(tmpdir(), 'tessera-rebalance-'));
after(() => rm(dir, { recursive: true, force: true }));
let dbs = 0;

class FakeBlocks implements BlockRebalancing {
  epochs = [1];
  settled = 0;
  moved: string[] = [];
  failing = new Set<string>();
  /** Blocks the newest epoch is too narrow for: one shard each stays on a drained node. */
  blocked = new Set<string>();
  onMove: (ref: BlockRef) => Promise<void> = async () => undefined;
  layoutEpochs(): number[] {
    return this.epochs;
  }
  setSettledEpoch(epoch: number): void {
    this.settled = epoch;
  }
  /** The walk each move named (BlockWalkOptions.walk), in order. */
  walks: (string | undefined)[] = [];
  async moveBlock(ref: BlockRef, options?: BlockWalkOptions): Promise<MoveResult> {
    this.moved.push(ref.id);
    this.walks.push(options?.walk);
    await this.onMove(ref);
    if (this.blocked.has(ref.id)) return { shardsMoved: 0, shardsCopied: 0, shardsRebuilt: 0, bytesMoved: 0, shardsFailed: 0, shardsBlocked: 1 };
    const failed = this.failing.has(ref.id) ? 1 : 0;
    return { shardsMoved: 1 - failed, shardsCopied: 1 - failed, shardsRebuilt: 0, bytesMoved: (1 - failed) * 100, shardsFailed: failed, shardsBlocked: 0 };
  }
}

async function setup(blockCount: number) {
  const meta = await SqliteMetaStore.open(join(dir, `meta-${++dbs}.db`));
  after(() => meta.close());
  const ids = Array.from({ length: blockCount }, (_, i) => i.toString(16).padStart(32, '0'));
  const writes = ids.map((id) => ({ key: keys.blockOwner(id), value: encodeRecord({ id, codec: 'rs-ronomon-v1', redundancy: { kind: 'rs', data: 2, parity: 2 }, size: 10, stripeBytes: 10, epoch: 1 } satisfies BlockRef) }));
  await meta.commit({ checks: [], writes });
  const blocks = new FakeBlocks();
  let nowMs = 1_000_000;
  const clock = { now: () => nowMs, advance: (ms: number) => (nowMs += ms) };
  const rebalance = (options: { writeGraceMs?: number } = {}) => new Rebalance({ meta, blocks, nowMs: clock.now, retryDelayMs: 60_000, gcDelayMs: 5_000, ...options });
  return { meta, ids, blocks, clock, rebalance };
}

/** Steps until the walk reports idle; returns how many steps it took. */
async function walk(rebalance: Rebalance, blocksMax = 4): Promise<number> {
  for (let steps = 1; steps < 1000; steps++) {
    if ((await rebalance.step({ blocksMax, bytesMax: Number.POSITIVE_INFINITY, lookMax: blocksMax })).state === 'idle') return steps;
  }
  throw new Error('The walk never ended');
}

test('Rebalance - idle and settled on the oldest epoch when no layout change happened', async () => {
  const { meta, blocks, rebalance } = await setup(3);
  const result = await rebalance().step({ blocksMax: 4, bytesMax: 1e9 });
  assert.equal(result.state, 'idle');
  assert.equal(result.progress.settledEpoch, 1);
  assert.deepEqual(blocks.moved, []);
  assert.equal(await readRebalanceProgress(meta), undefined, 'nothing stored while nothing happens');
});

test('Rebalance - walks every block in id order, then settles the newest epoch and tells the block store', async () => {
  const { meta, ids, blocks, rebalance } = await setup(10);
  blocks.epochs = [1, 2];
  await walk(rebalance());
  assert.deepEqual(blocks.moved, ids);
  const progress = await readRebalanceProgress(meta);
  assert.deepEqual(
    { settled: progress?.settledEpoch, to: progress?.toEpoch, state: progress?.state, checked: progress?.blocksChecked, total: progress?.blocksTotal, moved: progress?.blocksMoved, bytes: progress?.bytesMoved },
    { settled: 2, to: 2, state: 'idle', checked: 10, total: 10, moved: 10, bytes: 1000 },
  );
  assert.equal(blocks.settled, 2);
  assert.equal(Object.hasOwn(progress!, 'cursor'), false, 'readRebalanceProgress gives the progress only');
});

test('Rebalance - the moves of one walk name it to the block store, and the next walk is another', async () => {
  const { blocks, clock, rebalance } = await setup(10);
  blocks.epochs = [1, 2];
  await walk(rebalance());
  clock.advance(1000);
  blocks.epochs = [1, 2, 3];
  await walk(rebalance());
  // A walk rechecks a suspect node once itself, rather than trust a recheck made before it began.
  const [first, second] = [blocks.walks.slice(0, 10), blocks.walks.slice(10)];
  assert.equal(second.length, 10);
  assert.equal(new Set(first).size, 1);
  assert.equal(new Set(second).size, 1);
  assert.equal(typeof first[0], 'string');
  assert.notEqual(first[0], second[0]);
});

test('Rebalance - shards no epoch can move (a drain narrower than their blocks) are counted as blocked, and a new walk counts them afresh', async () => {
  const { meta, ids, blocks, rebalance } = await setup(10);
  blocks.epochs = [1, 2];
  for (const id of ids.slice(0, 3)) blocks.blocked.add(id);
  await walk(rebalance());
  const progress = await readRebalanceProgress(meta);
  assert.deepEqual(
    { settled: progress?.settledEpoch, state: progress?.state, moved: progress?.blocksMoved, failed: progress?.shardsFailed, blocked: progress?.shardsBlocked, blockedBlocks: progress?.blocksBlocked },
    { settled: 2, state: 'idle', moved: 7, failed: 0, blocked: 3, blockedBlocks: 3 },
    'settled (reads know where those blocks are), but not done: three shards stay blocked',
  );
  blocks.epochs = [1, 2, 3]; // a node assigned: the next walk can move them
  blocks.blocked.clear();
  await walk(rebalance());
  assert.equal((await readRebalanceProgress(meta))?.shardsBlocked, 0);
});

test('Rebalance - a walk cut short resumes from its cursor in another process', async () => {
  const { ids, blocks, rebalance } = await setup(10);
  blocks.epochs = [1, 2];
  const first = rebalance();
  await first.step({ blocksMax: 4, bytesMax: 1e9 }); // starts the walk
  await first.step({ blocksMax: 4, bytesMax: 1e9, lookMax: 4 });
  assert.deepEqual(blocks.moved, ids.slice(0, 4));
  await walk(rebalance()); // a new process, the same MetaStore
  assert.deepEqual(blocks.moved, ids, 'no block moved twice, none skipped');
  assert.equal(blocks.settled, 2);
});

test('Rebalance - a step stops early once it moved its bytes, after the window of moves that passed them', async () => {
  const { blocks, rebalance } = await setup(10);
  blocks.epochs = [1, 2];
  const r = rebalance();
  await r.step({ blocksMax: 8, bytesMax: 250 });
  const result = await r.step({ blocksMax: 8, bytesMax: 250 });
  assert.equal(result.blocks, rebalanceMovesInFlight);
  assert.equal(result.bytes, rebalanceMovesInFlight * 100);
  assert.equal(result.progress.blocksChecked, rebalanceMovesInFlight);
});

test('Rebalance - a step moves several blocks at once, and its cursor passes only blocks whose moves ended', async () => {
  const { ids, blocks, rebalance } = await setup(10);
  blocks.epochs = [1, 2];
  let inFlight = 0;
  let most = 0;
  blocks.onMove = async (ref) => {
    most = Math.max(most, ++inFlight);
    await new Promise((resolve) => setTimeout(resolve, ref.id === ids[1] ? 30 : 5));
    inFlight--;
  };
  const r = rebalance();
  await r.step({ blocksMax: 8, bytesMax: 1e9 });
  const result = await r.step({ blocksMax: 8, bytesMax: 1e9 });
  assert.equal(most, rebalanceMovesInFlight);
  assert.equal(result.blocks, 8);
  assert.equal(result.progress.blocksChecked, 8);
  // The next step takes up from the ninth block: nothing skipped, nothing moved twice.
  await r.step({ blocksMax: 8, bytesMax: 1e9 });
  assert.deepEqual([...blocks.moved].sort(), [...ids].sort());
});

test('Rebalance - a newer epoch applied mid-walk restarts the walk towards it, and settled stays', async () => {
  const { meta, ids, blocks, rebalance } = await setup(10);
  blocks.epochs = [1, 2];
  const r = rebalance();
  await r.step({ blocksMax: 4, bytesMax: 1e9 });
  await r.step({ blocksMax: 4, bytesMax: 1e9, lookMax: 4 });
  blocks.epochs = [1, 2, 3];
  const restarted = await r.step({ blocksMax: 4, bytesMax: 1e9 });
  assert.deepEqual({ to: restarted.progress.toEpoch, settled: restarted.progress.settledEpoch, checked: restarted.progress.blocksChecked }, { to: 3, settled: 1, checked: 0 });
  blocks.moved = [];
  await walk(r);
  assert.deepEqual(blocks.moved, ids, 'the whole walk again, from the start');
  assert.equal((await readRebalanceProgress(meta))?.settledEpoch, 3);
});

test('Rebalance - a walk with failed shards keeps the epoch unsettled and walks again after the retry delay', async () => {
  const { meta, ids, blocks, clock, rebalance } = await setup(5);
  blocks.epochs = [1, 2];
  blocks.failing.add(ids[2]!);
  const r = rebalance();
  await walk(r);
  let progress = await readRebalanceProgress(meta);
  assert.deepEqual({ settled: progress?.settledEpoch, state: progress?.state, failed: progress?.shardsFailed }, { settled: 1, state: 'idle', failed: 1 });
  blocks.moved = [];
  assert.equal((await r.step({ blocksMax: 4, bytesMax: 1e9 })).state, 'idle');
  assert.deepEqual(blocks.moved, [], 'no walk before the retry delay');
  blocks.failing.clear();
  clock.advance(60_001);
  await walk(r);
  assert.deepEqual(blocks.moved, ids);
  progress = await readRebalanceProgress(meta);
  assert.deepEqual({ settled: progress?.settledEpoch, failed: progress?.shardsFailed }, { settled: 2, failed: 0 });
});

test('Rebalance - a walk that ends within the write grace walks again before it settles', async () => {
  const { meta, blocks, clock, rebalance } = await setup(3);
  blocks.epochs = [1, 2];
  const r = rebalance({ writeGraceMs: 30_000 });
  await walk(r);
  assert.equal((await readRebalanceProgress(meta))?.settledEpoch, 1, 'a write placed by epoch 1 may still be on its way');
  clock.advance(30_000);
  blocks.moved = [];
  await walk(r);
  assert.equal(blocks.moved.length, 3, 'walked again');
  assert.equal((await readRebalanceProgress(meta))?.settledEpoch, 2);
});

test('Rebalance - a block released while its shards moved is queued for GC again, so no copy outlives it', async () => {
  const { meta, ids, blocks, rebalance } = await setup(3);
  blocks.epochs = [1, 2];
  const released = ids[1]!;
  blocks.onMove = async (ref) => {
    if (ref.id === released) await meta.commit({ checks: [], writes: [{ key: keys.blockOwner(ref.id), value: null }] });
  };
  await walk(rebalance());
  const queued = await meta.scan({ ...keys.gcDueRange(Number.MAX_SAFE_INTEGER / 2), limit: 10 });
  assert.deepEqual(queued.map((kv) => decodeRecord<BlockRef>(kv.value).id), [released]);
});

test('Rebalance - a process that has not loaded the newest epoch neither moves nor settles', async () => {
  const { meta, blocks, rebalance } = await setup(4);
  blocks.epochs = [1, 2, 3];
  await rebalance().step({ blocksMax: 2, bytesMax: 1e9 }); // another process starts a walk towards 3
  const lagging = new FakeBlocks();
  lagging.epochs = [1, 2];
  const behind = new Rebalance({ meta, blocks: lagging });
  for (let i = 0; i < 5; i++) assert.equal((await behind.step({ blocksMax: 2, bytesMax: 1e9 })).state, 'idle');
  assert.deepEqual(lagging.moved, []);
  const progress = await readRebalanceProgress(meta);
  assert.deepEqual({ to: progress?.toEpoch, settled: progress?.settledEpoch, state: progress?.state }, { to: 3, settled: 1, state: 'running' });
});

test('Rebalance - a step looks past blocks with nothing to move, and stops at blocksMax blocks moved', async () => {
  const { ids, blocks, rebalance } = await setup(30);
  blocks.epochs = [1, 2];
  const staying = new Set(ids.slice(0, 20));
  const moveBlock = blocks.moveBlock.bind(blocks);
  blocks.moveBlock = async (ref) => (staying.has(ref.id) ? { shardsMoved: 0, shardsCopied: 0, shardsRebuilt: 0, bytesMoved: 0, shardsFailed: 0, shardsBlocked: 0 } : moveBlock(ref));
  const r = rebalance();
  await r.step({ blocksMax: 4, bytesMax: 1e9 });
  const result = await r.step({ blocksMax: 4, bytesMax: 1e9 });
  assert.deepEqual({ blocks: result.blocks, checked: result.progress.blocksChecked }, { blocks: 4, checked: 24 });
});

test('orphan sweep - a shard copy that lands after GC deleted its block is an orphan the sweep removes from every drive', async () => {
  const meta = await SqliteMetaStore.open(join(dir, `meta-${++dbs}.db`));
  after(() => meta.close());
  const drives = await tempDrives(6);
  after(() => drives.cleanup());
  const set = await openDriveSet(drives.paths);
  const ids = set.slots.map((s) => ({ id: s.id, capacity: 1 }));
  const epoch1 = nextLocalLayout(undefined, ids.slice(0, 4), { partitionCount: 256 })!;
  const epoch2 = nextLocalLayout(epoch1, ids)!;
  const store = new LocalBlockStore({ targets: set, layouts: [epoch1, epoch2] });
  after(() => store.close());
  const writer = new LocalBlockStore({ targets: set, layouts: [epoch1] });
  let ref: BlockRef;
  let moving: number;
  do {
    ref = await writer.write(piecesOf(randomBytes(5000)), { id: writer.newId() });
    moving = store.placesOfRef(ref).findIndex((p) => p.length > 1);
    if (moving < 0) await writer.delete(ref); // a block none of whose shards moves would be a second orphan
  } while (moving < 0);
  await writer.close();
  const places = store.placesOfRef(ref)[moving]!;
  const pathOf = (target: string) => shardFile(set.slots.find((s) => s.id === target)!.where, ref.id, moving);
  const shard = await readShardBytes(set.slots.find((s) => s.id === places[1]!)!.where, ref.id, moving);
  await store.delete(ref); // GC, the block's owner gone long before
  // The rebalance's copy, begun before the delete, commits after it.
  await mkdir(dirname(pathOf(places[0]!)), { recursive: true });
  await writeFile(pathOf(places[0]!), shard);
  const ctx: ObjectContext = { meta, blocks: store, nowMs: () => Date.now(), gcDelayMs: 0, inlineBytesMax: 0, region: 'us-east-1' };
  const swept = await sweepOrphans(ctx, store, 0);
  assert.equal(swept.orphansDeleted, 1);
  await assert.rejects(readFile(pathOf(places[0]!)), { code: 'ENOENT' });
});
