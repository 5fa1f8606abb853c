// Writes test/fixtures/data-dir-f4ec201.tar.gz: a data directory made by an older Tessera release (BlockRefs
// with explicit targets, drive-set membership and epoch in each drive.json), for the migration test.
// Usage: node scripts/make-data-dir-fixture.mjs <checkout of the old release, built> <out.tar.gz>
// Object contents are a deterministic pattern (contentOf in the test), so the tarball stays small.
import { spawn, execFileSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import {
  S3Client,
  CreateBucketCommand,
  PutObjectCommand,
  PutBucketVersioningCommand,
  CreateMultipartUploadCommand,
  UploadPartCommand,
  CompleteMultipartUploadCommand,
  DeleteObjectCommand,
} from '@aws-sdk/client-s3';

const [oldRoot, out] = process.argv.slice(2);
if (!oldRoot || !out) throw new Error('Usage: make-data-dir-fixture.mjs <old release checkout> <out.tar.gz>');

/** `size` bytes of a pattern with period 4093 (prime, so chunk boundaries do not line up), seeded by `seed`. */
export function contentOf(seed, size) {
  const period = Buffer.alloc(4093);
  let x = seed * 2654435761 >>> 0 || 1;
  for (let i = 0; i < period.length; i++) {
    x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0;
    period[i] = x & 0xff;
  }
  const buf = Buffer.alloc(size);
  for (let i = 0; i < size; i += period.length) period.copy(buf, i, 0, Math.min(period.length, size - i));
  return buf;
}

const work = await mkdtemp(join(tmpdir(), 'tessera-fixture-'));
const dataDir = join(work, 'data');
const drives = Array.from({ length: 6 }, (_, i) => join(dataDir, `d${i}`));
const accessKeyId = 'TESTACCESSKEY0000001';
const secretAccessKey = 'test/secret/key/0000000000000000000000001';
const child = spawn(process.execPath, [join(resolve(oldRoot), 'bin', 'tessera.js'), 'server', '--address', '127.0.0.1:0', '--data', dataDir, '--drives', drives.join(','), '--storage-classes', 'REDUCED_REDUNDANCY=rep:2'], {
  env: { ...process.env, TESSERA_ROOT_ACCESS_KEY: accessKeyId, TESSERA_ROOT_SECRET_KEY: secretAccessKey },
  stdio: ['ignore', 'pipe', 'inherit'],
});
const url = await new Promise((ok, fail) => {
  let text = '';
  child.stdout.on('data', (d) => {
    text += d;
    const m = /endpoint:\s+(\S+)/.exec(text);
    if (m) ok(m[1]);
  });
  child.once('exit', (code) => fail(new Error(`exited ${code}`)));
});
const s3 = new S3Client({ endpoint: url, region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId, secretAccessKey } });
const manifest = [];
const put = async (Bucket, Key, seed, size, extra = {}) => {
  const r = await s3.send(new PutObjectCommand({ Bucket, Key, Body: contentOf(seed, size), ...extra }));
  manifest.push({ bucket: Bucket, key: Key, versionId: r.VersionId ?? null, seed, size });
};
try {
  await s3.send(new CreateBucketCommand({ Bucket: 'plain' }));
  await put('plain', 'small.txt', 1, 1000); // inline in the metadata
  await put('plain', 'one-stripe.bin', 2, 300_000); // one RS 4+2 block
  await put('plain', 'three-stripes.bin', 3, 2_500_000);
  await put('plain', 'copies.bin', 4, 100_000, { StorageClass: 'REDUCED_REDUNDANCY' }); // rep:2
  const mpu = await s3.send(new CreateMultipartUploadCommand({ Bucket: 'plain', Key: 'multipart.bin' }));
  const parts = [];
  for (const [n, seed, size] of [[1, 5, 5 * 1024 * 1024], [2, 6, 70_000]]) {
    const r = await s3.send(new UploadPartCommand({ Bucket: 'plain', Key: 'multipart.bin', UploadId: mpu.UploadId, PartNumber: n, Body: contentOf(seed, size) }));
    parts.push({ PartNumber: n, ETag: r.ETag });
  }
  const done = await s3.send(new CompleteMultipartUploadCommand({ Bucket: 'plain', Key: 'multipart.bin', UploadId: mpu.UploadId, MultipartUpload: { Parts: parts } }));
  manifest.push({ bucket: 'plain', key: 'multipart.bin', versionId: done.VersionId ?? null, parts: [[5, 5 * 1024 * 1024], [6, 70_000]] });
  // An upload left open: its part must still complete after the migration.
  const open = await s3.send(new CreateMultipartUploadCommand({ Bucket: 'plain', Key: 'open-upload.bin' }));
  await s3.send(new UploadPartCommand({ Bucket: 'plain', Key: 'open-upload.bin', UploadId: open.UploadId, PartNumber: 1, Body: contentOf(7, 90_000) }));
  manifest.push({ openUpload: { bucket: 'plain', key: 'open-upload.bin', uploadId: open.UploadId, partNumber: 1, seed: 7, size: 90_000 } });

  await s3.send(new CreateBucketCommand({ Bucket: 'versioned' }));
  await s3.send(new PutBucketVersioningCommand({ Bucket: 'versioned', VersioningConfiguration: { Status: 'Enabled' } }));
  await put('versioned', 'doc.bin', 8, 200_000);
  await put('versioned', 'doc.bin', 9, 150_000);
  await put('versioned', 'doc.bin', 10, 40_000);
  await put('versioned', 'gone.bin', 11, 60_000);
  const marker = await s3.send(new DeleteObjectCommand({ Bucket: 'versioned', Key: 'gone.bin' }));
  manifest.push({ deleteMarker: { bucket: 'versioned', key: 'gone.bin', versionId: marker.VersionId } });
} finally {
  s3.destroy();
  child.kill('SIGTERM');
  await new Promise((ok) => child.once('exit', ok));
}
await writeFile(join(dataDir, 'fixture-manifest.json'), JSON.stringify(manifest, null, 2));
await rm(join(dataDir, 'root-credentials.json'), { force: true });
execFileSync('tar', ['--sort=name', '--owner=0', '--group=0', '--numeric-owner', '-czf', resolve(out), '-C', dataDir, '.']);
await rm(work, { recursive: true, force: true });
console.log(`Wrote ${out}`);
