// Scrub under a real server (issue #3): bitrot on a drive is found by the scrubber without any read,
// queued, and healed in the background, so a second scrub finds nothing.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { CreateBucketCommand, GetObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { startEcServer, rotDrive } from './helpers.js';

const ec = await startEcServer(6, ['--scrub-rate', '500', '--scrub-interval', '0']);
after(() => ec.cleanup());
const s3: S3Client = ec.server.client();
after(() => s3.destroy());

interface Status {
  maintenance: { scrub: { running: boolean; damagedFound: number; blocksChecked: number }; queuedDamage: number; healedFromQueue: number };
}

async function status(): Promise<Status> {
  return JSON.parse(await ec.admin('status', '--json')) as Status;
}

async function scrubToEnd(): Promise<Status> {
  await ec.admin('scrub');
  for (let i = 0; i < 200; i++) {
    const s = await status();
    if (!s.maintenance.scrub.running && s.maintenance.queuedDamage === 0) return s;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.fail('scrub did not finish');
}

test('scrub - finds bitrot without reads and the background healer repairs it', async () => {
  await s3.send(new CreateBucketCommand({ Bucket: 'scrub-bucket' }));
  const bodies = [randomBytes(700_000), randomBytes(3_000_000), randomBytes(1_200_000)];
  for (const [i, body] of bodies.entries()) await s3.send(new PutObjectCommand({ Bucket: 'scrub-bucket', Key: `o${i}`, Body: body }));
  const clean = await scrubToEnd();
  assert.equal(clean.maintenance.scrub.damagedFound, 0);
  const rotted = await rotDrive(ec.drives[2]!);
  assert.equal(rotted, bodies.length);
  const first = await scrubToEnd();
  assert.equal(first.maintenance.scrub.damagedFound, bodies.length, 'the scrub found every rotted block');
  assert.ok(first.maintenance.healedFromQueue >= bodies.length, 'the healer repaired what the scrub queued');
  const second = await scrubToEnd();
  assert.equal(second.maintenance.scrub.damagedFound, 0, 'a second scrub finds nothing');
  for (const [i, body] of bodies.entries()) {
    const got = await s3.send(new GetObjectCommand({ Bucket: 'scrub-bucket', Key: `o${i}` }));
    assert.ok(Buffer.from(await got.Body!.transformToByteArray()).equals(body));
  }
});
