// Heal of packed shards (issue 17): six drives at RS 4+2, one drive wiped, heal, then two OTHER drives
// lost: every object must read back from the four left, one of them the healed drive, so its rebuilt
// shards must be real. The last reads follow a restart, so no descriptor the server kept open on a
// removed drive's packs can stand in for the data.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { CreateBucketCommand } from '@aws-sdk/client-s3';
import {
  KiB, admin, assertObjects, makeDrives, putRandomObjects, restartWithDrivesWiped, startPackServer, wipeDrive,
} from './helpers.js';

const Bucket = 'heal';
const objectCount = 40;

test('packs heal - a wiped drive is rebuilt with real shards: after heal the objects read with two other drives lost, across a restart', { timeout: 180_000 }, async () => {
  const set = await makeDrives(6);
  let server = await startPackServer(set);
  let s3 = server.client();
  try {
    await s3.send(new CreateBucketCommand({ Bucket }));
    const expected = await putRandomObjects(s3, Bucket, 'o', objectCount, 100 * KiB, 900 * KiB);

    await wipeDrive(set.drives[0]!);
    const healed = await admin(server, 'heal');
    assert.match(healed, /full redundancy restored/, healed);
    // One block per object, one shard of each block on every drive at 4+2.
    assert.match(healed, new RegExp(`\\b${objectCount} shards rebuilt`), healed);
    const again = await admin(server, 'heal');
    assert.match(again, /0 shards rebuilt, 0 damaged blocks/, again);

    await rm(set.drives[2]!, { recursive: true, force: true });
    await rm(set.drives[4]!, { recursive: true, force: true });
    await assertObjects(s3, Bucket, expected, 'two other drives removed');

    // Back empty, as replaced disks: the restart formats them, and they hold nothing to read.
    ({ server, s3 } = await restartWithDrivesWiped(server, s3, set, [set.drives[2]!, set.drives[4]!]));
    await assertObjects(s3, Bucket, expected, 'after a restart with two other drives empty');
  } finally {
    s3.destroy();
    await server.stop();
    await set.remove();
  }
});
