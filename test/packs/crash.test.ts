// Pack files under kill -9 (issue 17): small objects PUT at concurrency 16, then SIGKILL of the server and
// all its workers mid-load; after a restart on the same drives every acknowledged PUT reads back
// byte-identical, no listed object is partial, and new PUTs work; the orphan sweep then takes the leftovers
// of the cut PUTs and nothing else, so each drive's inventory is exactly one shard per object. One drive,
// six drives (RS 4+2), and six drives with two worker processes appending to the same drives. And a kill
// while compaction copies live records out of mostly dead packs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CreateBucketCommand, DeleteObjectCommand, ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import {
  KiB, MiB, admin, assertObjects, forEachLimit, makeDrives, md5, packedBytesMax, packedBytesMin, packFiles, packSnapshot, pollUntil, putBody,
  putRandomObjects, randomBody, serverErrorLines, startPackServer,
} from './helpers.js';

const Bucket = 'crash';
const putsInFlight = 16;
/** Acknowledged PUTs to wait for before the kill: enough to have filled and grouped many commits. */
const ackedBeforeKill = 64;
/** After the restart, leftovers of the cut PUTs (written at least this long ago) are swept at once and every second. */
const sweepArgs = ['--orphan-grace', '2', '--orphan-sweep-interval', '1'];

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
  // Small packs, so the load seals packs and starts new ones: the kill may land in either.
  const env = { TESSERA_PACK_BYTES_TARGET: String(4 * MiB) };
  let server = await startPackServer(set, { args, env });
  let s3 = server.client();
  try {
    await s3.send(new CreateBucketCommand({ Bucket }));
    const load = startLoad(s3);
    await pollUntil('PUTs acknowledged before the kill', async () => (load.acked.size >= ackedBeforeKill || load.failedBeforeKill.length > 0 ? true : undefined), 60_000);
    assert.deepEqual(load.failedBeforeKill, [], 'no PUT failed before the kill');
    load.killed = true;
    await server.kill9();
    assert.deepEqual(serverErrorLines(server), [], 'no request was answered 5xx before the kill');
    await load.done;
    s3.destroy();

    server = await startPackServer(set, { args: [...args, ...sweepArgs], env });
    s3 = server.client();
    await assertObjects(s3, Bucket, load.acked, 'after kill -9');
    // A PUT cut by the kill may or may not have committed; if it is listed it must be whole.
    const listed = await listAll(s3);
    for (const key of load.acked.keys()) assert.ok(listed.has(key), `acknowledged "${key}" is listed`);
    const unacked = new Map([...listed.keys()].filter((k) => !load.acked.has(k)).map((k) => [k, load.attempted.get(k)!]));
    for (const [key, sum] of unacked) assert.ok(sum, `listed "${key}" was sent by this test`);
    await assertObjects(s3, Bucket, unacked, 'listed but cut by the kill');

    const after = await putRandomObjects(s3, Bucket, 'after', 24, packedBytesMin, packedBytesMax);
    await assertObjects(s3, Bucket, after, 'written after the restart');

    // Every object here is one block with one shard on each drive (one stripe, all shards awaited).
    const blocks = listed.size + after.size;
    let counts: number[] = [];
    await pollUntil('the orphan sweep to leave one shard per object on each drive', async () => {
      counts = (JSON.parse(await admin(server, 'status', '--json')) as { drives: { shardFiles: number }[] }).drives.map((d) => d.shardFiles);
      return counts.length === driveCount && counts.every((c) => c === blocks) ? true : undefined;
    }, 20_000, () => `shards per drive ${counts.join(', ')}, objects ${blocks}`);
    await assertObjects(s3, Bucket, new Map([...load.acked, ...unacked, ...after]), 'after the orphan sweep');
  } finally {
    s3.destroy();
    await server.stop();
    await set.remove();
  }
}

test('packs crash - acknowledged small objects survive kill -9 mid-load on one drive', { timeout: 120_000 }, () => crashAndRecover(1, 1));

test('packs crash - acknowledged small objects survive kill -9 mid-load on six drives (RS 4+2)', { timeout: 120_000 }, () => crashAndRecover(6, 1));

test('packs crash - acknowledged small objects survive kill -9 of the server and both its workers on six drives', { timeout: 120_000 }, () => crashAndRecover(6, 2));

test('packs crash - kill -9 while compaction copies live records loses none of them and lists each once', { timeout: 120_000 }, async () => {
  const set = await makeDrives(1);
  const env = { TESSERA_PACK_BYTES_TARGET: String(4 * MiB) };
  let server = await startPackServer(set, { env });
  let s3 = server.client();
  try {
    await s3.send(new CreateBucketCommand({ Bucket }));
    // Alternating large and small bodies, the large ones deleted: every sealed pack falls to about 30 % live.
    const bodies = new Map(Array.from({ length: 60 }, (_, i) => [`o${i}`, i % 2 === 0 ? randomBody(690 * KiB, 710 * KiB) : randomBody(290 * KiB, 310 * KiB)]));
    await forEachLimit([...bodies], 4, ([key, body]) => putBody(s3, Bucket, key, body));
    const survivors = new Map([...bodies].filter((_, i) => i % 2 === 1).map(([key, body]) => [key, md5(body)]));
    const before = await packSnapshot(set.drives[0]!);
    assert.ok((await packFiles(set.drives[0]!)).length >= 4, `the objects filled several packs (${before})`);
    await forEachLimit([...bodies.keys()].filter((k) => !survivors.has(k)), 8, async (Key) => void (await s3.send(new DeleteObjectCommand({ Bucket, Key }))));
    // Deletes touch only the index; the first change to the packs is compaction at work. Kill it there.
    const deadline = Date.now() + 20_000;
    while ((await packSnapshot(set.drives[0]!)) === before) {
      if (Date.now() > deadline) assert.fail(`No compaction began within 20 s of the deletes: packs ${before}`);
      await new Promise((r) => setTimeout(r, 5));
    }
    await server.kill9();
    s3.destroy();

    server = await startPackServer(set, { env, args: sweepArgs });
    s3 = server.client();
    await assertObjects(s3, Bucket, survivors, 'after kill -9 during compaction');
    let counts: number[] = [];
    await pollUntil('one shard per surviving object in the inventory', async () => {
      counts = (JSON.parse(await admin(server, 'status', '--json')) as { drives: { shardFiles: number }[] }).drives.map((d) => d.shardFiles);
      return counts[0] === survivors.size ? true : undefined;
    }, 20_000, () => `shards ${counts.join(', ')}, objects ${survivors.size}`);
    await assertObjects(s3, Bucket, survivors, 'after the orphan sweep');
  } finally {
    s3.destroy();
    await server.stop();
    await set.remove();
  }
});
