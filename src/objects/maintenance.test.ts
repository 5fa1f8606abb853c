// The damage queue lives in the MetaStore (issue 11): damage one process's reads report is healed by
// whichever process runs the maintenance worker, here a second Maintenance over the same stores.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { SqliteMetaStore } from '../meta/sqlite/sqlite-store.js';
import { flipShardByte, hasShard, piecesOf, tempStore } from '../blocks/test-helpers.js';
import { Maintenance } from './maintenance.js';
import { keys } from './keys.js';
import { encodeRecord } from './records.js';
import type { ObjectContext } from './context.js';

const dir = await mkdtemp(join(tmpdir(), 'tessera-maintenance-'));
const meta = await SqliteMetaStore.open(join(dir, 'meta.db'));
const blocks = await tempStore(6);
const ctx: ObjectContext = { meta, blocks: blocks.store, nowMs: () => Date.now(), gcDelayMs: 0, inlineBytesMax: 0, region: 'us-east-1' };
after(async () => {
  await meta.close();
  await blocks.close();
  await rm(dir, { recursive: true, force: true });
});

test('Maintenance - damage reported in one process is queued in the MetaStore and healed by another', async () => {
  const ref = await blocks.store.write(piecesOf(randomBytes(300_000)), { id: blocks.store.newId(), redundancy: { kind: 'rs', data: 4, parity: 2 } });
  await meta.commit({ checks: [], writes: [{ key: keys.blockOwner(ref.id), value: encodeRecord(ref) }] });
  let corrupted = 0;
  for (const drive of blocks.drives.paths) {
    if (await hasShard(drive, ref.id, 5)) {
      await flipShardByte(drive, ref.id, 5, 100);
      corrupted++;
    }
  }
  assert.equal(corrupted, 1);

  const reporter = new Maintenance(ctx, blocks.store);
  assert.equal((await blocks.store.scrub(ref)).filter((c) => c.state === 'corrupt').length, 1);
  await reporter.close(); // writes the pending batch
  assert.ok(await meta.get(keys.damage(ref.id)), 'the damage is in the MetaStore');

  const healer = new Maintenance(ctx, blocks.store);
  try {
    assert.equal((await healer.stats()).queuedDamage, 1);
    assert.equal(await healer.step(), 'heal');
    const stats = await healer.stats();
    assert.equal(stats.queuedDamage, 0);
    assert.equal(stats.healedFromQueue, 1);
    assert.ok((await blocks.store.scrub(ref)).every((c) => c.state === 'ok'));
    assert.equal(await healer.step(), 'idle');
  } finally {
    await healer.close();
  }
});

test('Maintenance - a heal pass heals its blocks as one walk of the block store, and a new pass as another', async () => {
  for (let i = 0; i < 2; i++) {
    const ref = await blocks.store.write(piecesOf(randomBytes(50_000)), { id: blocks.store.newId() });
    await meta.commit({ checks: [], writes: [{ key: keys.blockOwner(ref.id), value: encodeRecord(ref) }] });
  }
  let clockMs = Date.now();
  const maintenance = new Maintenance({ ...ctx, nowMs: () => clockMs++ }, blocks.store);
  const walks: (string | undefined)[][] = [];
  const heal = blocks.store.heal.bind(blocks.store);
  blocks.store.heal = async (ref, options) => {
    walks[walks.length - 1]!.push(options?.walk);
    return heal(ref, options);
  };
  try {
    for (let pass = 0; pass < 2; pass++) {
      walks.push([]);
      await maintenance.startHeal();
      while ((await maintenance.step()) !== 'idle');
    }
  } finally {
    blocks.store.heal = heal;
    await maintenance.close();
  }
  // A walk rechecks a suspect node once itself, rather than trust a recheck made before it began.
  const [first, second] = walks as [(string | undefined)[], (string | undefined)[]];
  assert.ok(first.length >= 2 && second.length === first.length, `healed ${first.length} then ${second.length} blocks`);
  assert.equal(new Set(first).size, 1);
  assert.equal(new Set(second).size, 1);
  assert.equal(typeof first[0], 'string');
  assert.notEqual(first[0], second[0]);
});
