// Data of removed versions is freed (issue 4): deleting a version by id, or overwriting the null version
// in a Suspended bucket, hands its blocks to GC, and the drive's used bytes go down once GC has run. A
// delete marker frees nothing. The server runs GC with no delay, every 0.2 s.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { DeleteObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { startTesseraForFile } from '../helpers/tessera.js';
import { createBucket, eventually, readText, setVersioning, usedBytes } from './helpers.js';

const { server, s3 } = await startTesseraForFile({ args: ['--gc-delay', '0', '--gc-interval', '0.2'] });
const drive = join(server.dataDir, 'drive');

const objectBytes = 256 * 1024; // well above the inline threshold, so each version owns a block

async function put(bucket: string, key: string, fill: string): Promise<string | undefined> {
  return (await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: Buffer.alloc(objectBytes, fill) }))).VersionId;
}

/** Waits for GC to settle, then returns the drive's used bytes. */
async function settledUsage(): Promise<number> {
  let last = await usedBytes(drive);
  await eventually(async () => {
    await new Promise((r) => setTimeout(r, 400));
    const now = await usedBytes(drive);
    const stable = now === last;
    last = now;
    return stable;
  });
  return last;
}

test('gc - deleting a version by id frees its data; a delete marker frees nothing', async () => {
  await createBucket(s3, 'gc-versions', 'Enabled');
  const v1 = await put('gc-versions', 'k', 'a');
  const v2 = await put('gc-versions', 'k', 'b');
  const v3 = await put('gc-versions', 'k', 'c');
  const full = await settledUsage();
  assert.ok(full >= 3 * objectBytes, `three versions take at least ${3 * objectBytes} bytes, found ${full}`);

  await s3.send(new DeleteObjectCommand({ Bucket: 'gc-versions', Key: 'k' }));
  assert.ok((await settledUsage()) >= full, 'a delete marker keeps every version\'s data');

  await s3.send(new DeleteObjectCommand({ Bucket: 'gc-versions', Key: 'k', VersionId: v2 }));
  const freed = await eventually(async () => (await usedBytes(drive)) <= full - objectBytes);
  assert.ok(freed, `used bytes went from ${full} to ${await usedBytes(drive)}, expected a drop of ${objectBytes}`);
  // The other versions' data is untouched.
  assert.equal((await readText(s3, 'gc-versions', 'k', v1)).length, objectBytes);
  assert.equal((await readText(s3, 'gc-versions', 'k', v3)).length, objectBytes);

  await s3.send(new DeleteObjectCommand({ Bucket: 'gc-versions', Key: 'k', VersionId: v1 }));
  await s3.send(new DeleteObjectCommand({ Bucket: 'gc-versions', Key: 'k', VersionId: v3 }));
  assert.ok(await eventually(async () => (await usedBytes(drive)) <= full - 3 * objectBytes), 'every version\'s data is freed');
});

test('gc - overwriting the null version in a Suspended bucket frees the old data', async () => {
  await createBucket(s3, 'gc-null', 'Enabled');
  const kept = await put('gc-null', 'k', 'v');
  await setVersioning(s3, 'gc-null', 'Suspended');
  await put('gc-null', 'k', 'n');
  const before = await settledUsage();
  await put('gc-null', 'k', 'm');
  // One null version's worth comes and one goes: usage returns to where it was.
  assert.ok(await eventually(async () => (await usedBytes(drive)) <= before), `used bytes ${await usedBytes(drive)}, expected at most ${before}`);
  assert.equal((await readText(s3, 'gc-null', 'k', 'null'))[0], 'm');
  assert.equal((await readText(s3, 'gc-null', 'k', kept))[0], 'v');
  // A DELETE replaces the null version with a null marker, which frees its data too.
  await s3.send(new DeleteObjectCommand({ Bucket: 'gc-null', Key: 'k' }));
  assert.ok(await eventually(async () => (await usedBytes(drive)) <= before - objectBytes), 'the null version\'s data is freed');
  assert.equal((await readText(s3, 'gc-null', 'k', kept))[0], 'v');
});
