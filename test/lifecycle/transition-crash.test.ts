// Kill-safety of a transition (issue 15): kill -9 the server while the lifecycle pass re-encodes objects
// into a new storage class, restart it on the same data, and every object reads back exactly, under the
// old class or the new; a second pass finishes the job, and the crash's half-written copies are reclaimed.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateBucketCommand, GetObjectCommand, PutBucketLifecycleConfigurationCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { startTessera, withClient, type TesseraProcess } from '../helpers/tessera.js';
import { raw } from '../s3/raw-http.js';

const root = await mkdtemp(join(tmpdir(), 'tessera-transition-crash-'));
const drives = [0, 1, 2].map((i) => join(root, `d${i}`));
const args = ['--drives', drives.join(','), '--storage-classes', 'GLACIER_IR=rep:3', '--lifecycle-interval', '0', '--gc-delay', '0', '--gc-interval', '1', '--orphan-grace', '2'];
after(() => rm(root, { recursive: true, force: true }));

const keys = ['a', 'b', 'c'];
const bodyOf = (key: string): Buffer => {
  const seed = createHash('sha256').update(key).digest();
  const out = Buffer.alloc(12 * 1024 * 1024);
  for (let i = 0; i < out.length; i += seed.length) seed.copy(out, i);
  return out;
};

/** Distinct block ids with shard files on the drives. */
async function blockIds(): Promise<Set<string>> {
  const ids = new Set<string>();
  for (const drive of drives) {
    for (const entry of await readdir(join(drive, 'shards'), { recursive: true, withFileTypes: true }).catch(() => [])) {
      const m = /^([0-9a-f]{8,})\.\d+$/.exec(entry.name);
      if (entry.isFile() && m) ids.add(m[1]!);
    }
  }
  return ids;
}

async function readBack(s3: S3Client, key: string): Promise<{ storageClass: string; same: boolean }> {
  const got = await s3.send(new GetObjectCommand({ Bucket: 'cold', Key: key }));
  const bytes = Buffer.from(await got.Body!.transformToByteArray());
  return { storageClass: got.StorageClass ?? 'STANDARD', same: bytes.equals(bodyOf(key)) };
}

async function runToEnd(server: TesseraProcess): Promise<void> {
  assert.equal((await raw(server, { method: 'POST', path: '/_tessera/admin/lifecycle' })).status, 202);
  for (let i = 0; i < 1200; i++) {
    if (!(JSON.parse((await raw(server, { path: '/_tessera/admin/lifecycle' })).body.toString()) as { running: boolean }).running) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('The lifecycle pass did not finish within two minutes');
}

test('transition - a kill -9 mid-transition leaves every object readable, and a later pass finishes and reclaims the copies', async () => {
  const first = await startTessera({ dataDir: join(root, 'data'), args });
  const before = await withClient(first, async (s3) => {
    await s3.send(new CreateBucketCommand({ Bucket: 'cold' }));
    for (const Key of keys) await s3.send(new PutObjectCommand({ Bucket: 'cold', Key, Body: bodyOf(Key) }));
    await s3.send(new PutBucketLifecycleConfigurationCommand({
      Bucket: 'cold',
      LifecycleConfiguration: { Rules: [{ ID: 'cold', Status: 'Enabled', Filter: { Prefix: '' }, Transitions: [{ Date: new Date('2020-01-01T00:00:00Z'), StorageClass: 'GLACIER_IR' }] }] },
    }));
    return blockIds();
  });
  assert.equal(before.size, keys.length);
  await raw(first, { method: 'POST', path: '/_tessera/admin/lifecycle' });
  // Kill as soon as a copy's first shard lands: the transition is then between its copy and its swap.
  for (let i = 0; i < 3000 && [...(await blockIds())].every((id) => before.has(id)); i++) await new Promise((r) => setTimeout(r, 5));
  await first.kill9();
  assert.ok([...(await blockIds())].some((id) => !before.has(id)), 'the kill came after a copy had started');

  const second = await startTessera({ dataDir: join(root, 'data'), args });
  try {
    await withClient(second, async (s3) => {
      for (const key of keys) {
        const read = await readBack(s3, key);
        assert.ok(read.same, `object "${key}" reads back exactly after the crash`);
        assert.ok(['STANDARD', 'GLACIER_IR'].includes(read.storageClass));
      }
      await runToEnd(second);
      for (const key of keys) assert.deepEqual(await readBack(s3, key), { storageClass: 'GLACIER_IR', same: true });
    });
    // GC takes the old blocks; the orphan sweep (once its grace has passed after the start) the crash's copy.
    let ids = await blockIds();
    for (let i = 0; i < 300 && ids.size !== keys.length; i++) {
      await new Promise((r) => setTimeout(r, 100));
      ids = await blockIds();
    }
    assert.equal(ids.size, keys.length, 'only the new blocks are left on the drives');
    assert.ok([...ids].every((id) => !before.has(id)));
  } finally {
    await second.stop();
  }
});
