// Bitrot inside pack files (issue 17): bytes flipped all through the `*.pack` files of one drive of six.
// GETs still return the exact bytes from the other shards; a scrub finds the damage of the objects no GET
// touched, the healer repairs every damaged block, a second scrub finds nothing, and the objects then read
// with two other drives lost (after a restart), so the repaired shards are real and not shadowed by the
// rotten records.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CreateBucketCommand } from '@aws-sdk/client-s3';
import type { TesseraProcess } from '../helpers/tessera.js';
import { flipBytes } from '../ec/helpers.js';
import {
  KiB, admin, assertObjects, makeDrives, packFiles, pollUntil, putRandomObjects, restartWithDrivesWiped, startPackServer,
} from './helpers.js';

const Bucket = 'bitrot';
const objectCount = 30;
/**
 * A byte flipped every this many bytes of a pack: less than the smallest record here (a 100 KiB object's
 * shard at 4+2 is 25 KiB), so every record is hit wherever records start, without knowing the format.
 */
const flipStrideBytes = 3001;

interface Status {
  maintenance: { scrub: { running: boolean; damagedFound: number }; queuedDamage: number; healedFromQueue: number };
}

async function status(server: TesseraProcess): Promise<Status> {
  return JSON.parse(await admin(server, 'status', '--json')) as Status;
}

/** Starts a scrub and waits until it has ended and the damage queue is empty, as test/ec/scrub.test.ts does. */
async function scrubToEnd(server: TesseraProcess): Promise<Status> {
  await admin(server, 'scrub');
  return pollUntil('the scrub to end with an empty damage queue', async () => {
    const s = await status(server);
    return !s.maintenance.scrub.running && s.maintenance.queuedDamage === 0 ? s : undefined;
  }, 30_000);
}

test('packs bitrot - flipped bytes in one drive\'s packs are read around, found by scrub and repaired for real', { timeout: 180_000 }, async () => {
  const set = await makeDrives(6);
  let server = await startPackServer(set, { args: ['--scrub-rate', '500', '--scrub-interval', '0'] });
  let s3 = server.client();
  try {
    await s3.send(new CreateBucketCommand({ Bucket }));
    const expected = await putRandomObjects(s3, Bucket, 'o', objectCount, 100 * KiB, 900 * KiB);
    assert.equal((await scrubToEnd(server)).maintenance.scrub.damagedFound, 0, 'nothing is damaged before the bitrot');

    const packs = await packFiles(set.drives[3]!);
    assert.ok(packs.length > 0, `drive 4 holds pack files (${set.drives[3]}/packs/*.pack)`);
    let flipped = 0;
    for (const pack of packs) {
      const at = Array.from({ length: Math.floor(pack.sizeBytes / flipStrideBytes) }, (_, i) => Math.floor(flipStrideBytes / 2) + i * flipStrideBytes);
      await flipBytes(pack.path, at);
      flipped += at.length;
    }
    assert.ok(flipped >= objectCount, `${flipped} bytes flipped`);

    // Half the objects are read with the damage in place; the other half only the scrub can find.
    const [read, unread] = [[...expected].filter((_, i) => i % 2 === 0), [...expected].filter((_, i) => i % 2 === 1)];
    await assertObjects(s3, Bucket, new Map(read), 'read with one drive rotten');
    const first = await scrubToEnd(server);
    assert.ok(first.maintenance.scrub.damagedFound >= unread.length, `the scrub found the damaged blocks no GET read (${first.maintenance.scrub.damagedFound} of at least ${unread.length})`);
    assert.ok(first.maintenance.scrub.damagedFound <= objectCount, `the scrub found no more damaged blocks than there are (${first.maintenance.scrub.damagedFound})`);
    assert.ok(first.maintenance.healedFromQueue >= objectCount, `every damaged block was repaired (${first.maintenance.healedFromQueue} of ${objectCount})`);
    const second = await scrubToEnd(server);
    assert.equal(second.maintenance.scrub.damagedFound, 0, 'a second scrub finds nothing');
    await assertObjects(s3, Bucket, expected, 'after the repair');

    ({ server, s3 } = await restartWithDrivesWiped(server, s3, set, [set.drives[0]!, set.drives[5]!]));
    await assertObjects(s3, Bucket, expected, 'repaired drive and three others left');
  } finally {
    s3.destroy();
    await server.stop();
    await set.remove();
  }
});
