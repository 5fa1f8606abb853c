import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { openBlockStore } from './index.js';
import { collect, piecesOf, tempDrives } from './test-helpers.js';
import type { StoredBlock } from './types.js';

test('storedBlocks - lists every block id once, in order, with its files; deleteStored removes an orphan', async () => {
  const drives = await tempDrives(3);
  const store = await openBlockStore({ drives: drives.paths });
  try {
    const refs = [];
    for (let i = 0; i < 20; i++) refs.push(await store.write(piecesOf(randomBytes(1000 + i)), { id: store.newId() }));
    const listed: StoredBlock[] = [];
    for await (const block of store.storedBlocks()) listed.push(block);
    assert.deepEqual(listed.map((b) => b.id), refs.map((r) => r.id).sort());
    assert.ok(listed.every((b) => b.files === 3 && b.bytes > 0 && b.newestMtimeMs > 0));
    const orphan = refs[7] as (typeof refs)[number];
    assert.equal(await store.deleteStored(orphan.id), 3);
    await assert.rejects(collect(store.read(orphan, { start: 0, end: orphan.size })));
    const after: string[] = [];
    for await (const block of store.storedBlocks()) after.push(block.id);
    assert.ok(!after.includes(orphan.id));
    assert.equal(after.length, 19);
  } finally {
    await store.close();
    await drives.cleanup();
  }
});
