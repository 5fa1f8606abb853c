// Pack files under kill -9 (issue 17): small objects PUT at concurrency 16, then SIGKILL of the server and
// all its workers mid-load; after a restart on the same drives every acknowledged PUT reads back
// byte-identical, no listed object is partial, and new PUTs work. One drive, six drives (RS 4+2), and six
// drives with two worker processes appending to the same drives.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CreateBucketCommand, ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import {
  assertObjects, forEachLimit, makeDrives, md5, packedBytesMax, packedBytesMin, pollUntil, putBody, randomBody, startPackServer,
} from './helpers.js';

const Bucket = 'crash';
const putsInFlight = 16;
/** Acknowledged PUTs to wait for before the kill: enough to have filled and grouped many commits. */
const ackedBeforeKill = 64;

interface Load {
  /** key → MD5 of every PUT sent, acknowledged or not. */
  attempted: Map<string, string>;
  /** key → MD5 of every PUT answered 200. */
  acked: Map<string, string>;
  /** Errors of PUTs that failed before the kill: a healthy server must not fail any. */
  failedBeforeKill: unknown[];
  killed: boolean;
  done: Promise<void>;
}

function startLoad(s3: S3Client): Load {
  const load: Load = { attempted: new Map(), acked: new Map(), failedBeforeKill: [], killed: false, done: Promise.resolve() };
  let n = 0;
  const lane = async () => {
    while (!load.killed) {
      const key = `k${n++}`;
      const body = randomBody(packedBytesMin, packedBytesMax);
      const sum = md5(body);
      load.attempted.set(key, sum);
      try {
        await putBody(s3, Bucket, key, body);
        load.acked.set(key, sum);
      } catch (err) {
        if (!load.killed) load.failedBeforeKill.push(err);
        return; // the server died under us
      }
    }
  };
  load.done = Promise.all(Array.from({ length: putsInFlight }, lane)).then(() => undefined);
  return load;
}

async function listAll(s3: S3Client): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  let token: string | undefined;
  do {
    const page = await s3.send(new ListObjectsV2Command({ Bucket, ContinuationToken: token }));
    for (const o of page.Contents ?? []) out.set(o.Key!, o.Size!);
    token = page.NextContinuationToken;
  } while (token);
  return out;
}

async function crashAndRecover(driveCount: number, workers: number): Promise<void> {
  const set = await makeDrives(driveCount);
  const args = ['--workers', String(workers)];
  let server = await startPackServer(set, { args });
  let s3 = server.client();
  try {
    await s3.send(new CreateBucketCommand({ Bucket }));
    const load = startLoad(s3);
    await pollUntil('PUTs acknowledged before the kill', async () => (load.acked.size >= ackedBeforeKill || load.failedBeforeKill.length > 0 ? true : undefined), 60_000);
    assert.deepEqual(load.failedBeforeKill, [], 'no PUT failed before the kill');
    load.killed = true;
    await server.kill9();
    await load.done;
    s3.destroy();

    server = await startPackServer(set, { args });
    s3 = server.client();
    await assertObjects(s3, Bucket, load.acked, 'after kill -9');
    // A PUT cut by the kill may or may not have committed; if it is listed it must be whole.
    const listed = await listAll(s3);
    for (const key of load.acked.keys()) assert.ok(listed.has(key), `acknowledged "${key}" is listed`);
    const unacked = new Map([...listed.keys()].filter((k) => !load.acked.has(k)).map((k) => [k, load.attempted.get(k)!]));
    for (const [key, sum] of unacked) assert.ok(sum, `listed "${key}" was sent by this test`);
    await assertObjects(s3, Bucket, unacked, 'listed but cut by the kill');

    const after = new Map<string, string>();
    await forEachLimit(Array.from({ length: 24 }, (_, i) => `after${i}`), 8, async (key) => {
      const body = randomBody(packedBytesMin, packedBytesMax);
      await putBody(s3, Bucket, key, body);
      after.set(key, md5(body));
    });
    await assertObjects(s3, Bucket, after, 'written after the restart');
  } finally {
    s3.destroy();
    await server.stop();
    await set.remove();
  }
}

test('packs crash - acknowledged small objects survive kill -9 mid-load on one drive', { timeout: 120_000 }, () => crashAndRecover(1, 1));

test('packs crash - acknowledged small objects survive kill -9 mid-load on six drives (RS 4+2)', { timeout: 120_000 }, () => crashAndRecover(6, 1));

test('packs crash - acknowledged small objects survive kill -9 of the server and both its workers on six drives', { timeout: 120_000 }, () => crashAndRecover(6, 2));
