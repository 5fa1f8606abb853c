import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { openBlockStore, type LocalBlockStore } from './index.js';
import { collect, piecesOf, tempDrives } from './test-helpers.js';

const MiB = 1024 * 1024;

// Block writes take their stripe buffers from a per-process pool and give them back when the write is
// over; a buffer back too early would be refilled by another write while its bytes are still going out.
for (const [label, drivesCount] of [['one drive', 1], ['six drives (RS 4+2)', 6]] as const) {
  describe(`Block write stripe pool with ${label}`, () => {
    let drives: Awaited<ReturnType<typeof tempDrives>>;
    let store: LocalBlockStore;
    before(async () => {
      drives = await tempDrives(drivesCount);
      store = await openBlockStore({ drives: drives.paths });
    });
    after(async () => {
      await store.close();
      await drives.cleanup();
    });

    test('write - concurrent writes sharing pooled stripes each store exactly their bytes', async () => {
      for (let round = 0; round < 2; round++) {
        const bodies = Array.from({ length: 8 }, (_, i) => randomBytes(i % 2 === 0 ? 3 * MiB + 1234 : MiB));
        const refs = await Promise.all(bodies.map((data) => store.write(piecesOf(data), { id: store.newId() })));
        for (const [i, ref] of refs.entries()) assert.ok((await collect(store.read(ref, { start: 0, end: ref.size }))).equals(bodies[i]!), `block ${i}`);
      }
    });

    test('write - a source failing mid-block leaves the pool good for the writes after it', async () => {
      async function* failing(): AsyncGenerator<Buffer> {
        yield randomBytes(2 * MiB + 5);
        throw new Error('client went away');
      }
      const good = randomBytes(2 * MiB + 77);
      const [failed, written] = await Promise.allSettled([store.write(failing(), { id: store.newId() }), store.write(piecesOf(good), { id: store.newId() })]);
      assert.equal(failed.status, 'rejected');
      assert.equal(written.status, 'fulfilled');
      const ref = (written as PromiseFulfilledResult<Awaited<ReturnType<LocalBlockStore['write']>>>).value;
      assert.ok((await collect(store.read(ref, { start: 0, end: ref.size }))).equals(good));
      const after = randomBytes(3 * MiB);
      const ref2 = await store.write(piecesOf(after), { id: store.newId() });
      assert.ok((await collect(store.read(ref2, { start: 0, end: ref2.size }))).equals(after));
    });
  });
}
