// A data directory written by release f4ec201 (before the layout lived in the metadata: BlockRefs list
// their drives, drive.json holds the drive set) opens with this release and reads back exactly, and
// new writes place by the stored layout (test/fixtures/data-dir-f4ec201.tar.gz, made by
// scripts/make-data-dir-fixture.mjs).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { promisify } from 'node:util';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CompleteMultipartUploadCommand,
  GetObjectCommand,
  ListObjectVersionsCommand,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { repoRoot, startTessera, type TesseraProcess } from '../helpers/tessera.js';
import { hasShard } from '../../src/blocks/test-helpers.js';
import { SqliteMetaStore } from '../../src/meta/sqlite/sqlite-store.js';
import { loadLayouts } from '../../src/objects/layouts.js';
import { keys } from '../../src/objects/keys.js';
import { decodeRecord } from '../../src/objects/records.js';
import type { BlockRef } from '../../src/blocks/types.js';

/** The fixture's object contents: the same generator as scripts/make-data-dir-fixture.mjs. */
function contentOf(seed: number, size: number): Buffer {
  const period = Buffer.alloc(4093);
  let x = (seed * 2654435761) >>> 0 || 1;
  for (let i = 0; i < period.length; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    period[i] = x & 0xff;
  }
  const buf = Buffer.alloc(size);
  for (let i = 0; i < size; i += period.length) period.copy(buf, i, 0, Math.min(period.length, size - i));
  return buf;
}

type ManifestEntry =
  | { bucket: string; key: string; versionId: string | null; seed: number; size: number }
  | { bucket: string; key: string; versionId: string | null; parts: [number, number][] }
  | { openUpload: { bucket: string; key: string; uploadId: string; partNumber: number; seed: number; size: number } }
  | { deleteMarker: { bucket: string; key: string; versionId: string } };

async function getBytes(s3: S3Client, Bucket: string, Key: string, VersionId?: string): Promise<Buffer> {
  const r = await s3.send(new GetObjectCommand({ Bucket, Key, ...(VersionId ? { VersionId } : {}) }));
  return Buffer.from(await r.Body!.transformToByteArray());
}

/** Every object the old release wrote, read back and compared byte for byte. */
async function checkOldObjects(s3: S3Client, manifest: ManifestEntry[]): Promise<number> {
  let checked = 0;
  for (const entry of manifest) {
    if ('openUpload' in entry || 'deleteMarker' in entry) continue;
    const expected = 'parts' in entry ? Buffer.concat(entry.parts.map(([seed, size]) => contentOf(seed, size))) : contentOf(entry.seed, entry.size);
    const got = await getBytes(s3, entry.bucket, entry.key, entry.versionId ?? undefined);
    assert.equal(got.length, expected.length, `${entry.bucket}/${entry.key} ${entry.versionId}`);
    assert.ok(got.equals(expected), `${entry.bucket}/${entry.key} ${entry.versionId} reads back exactly`);
    checked++;
  }
  return checked;
}

async function blockRefs(dataDir: string): Promise<{ layouts: number; drives: string[]; refs: BlockRef[] }> {
  const meta = await SqliteMetaStore.open(join(dataDir, 'meta', 'tessera.db'));
  try {
    const layouts = await loadLayouts(meta);
    const rows = await meta.scan({ ...keys.blockOwnerRange(), limit: 10_000 });
    return { layouts: layouts.length, drives: layouts[0]!.targets.map((t) => t.id), refs: rows.map((r) => decodeRecord<BlockRef>(r.value)) };
  } finally {
    await meta.close();
  }
}

test('data directory of release f4ec201 - reads back exactly and takes new writes after the layout migration', async () => {
  const root = await mkdtemp(join(tmpdir(), 'tessera-migrate-'));
  let server: TesseraProcess | undefined;
  try {
    execFileSync('tar', ['-xzf', join(repoRoot, 'test', 'fixtures', 'data-dir-f4ec201.tar.gz'), '-C', root]);
    const manifest = JSON.parse(await readFile(join(root, 'fixture-manifest.json'), 'utf8')) as ManifestEntry[];
    const oldRefs = (await blockRefs0(root)).refs;
    assert.ok(oldRefs.length >= 8 && oldRefs.every((r) => r.targets?.length), 'the fixture records explicit targets');
    const driveIds = await Promise.all([0, 1, 2, 3, 4, 5].map(async (i) => JSON.parse(await readFile(join(root, `d${i}`, 'drive.json'), 'utf8')).driveId as string));
    const args = ['--drives', [0, 1, 2, 3, 4, 5].map((i) => join(root, `d${i}`)).join(','), '--storage-classes', 'REDUCED_REDUNDANCY=rep:2'];
    const start = () => startTessera({ dataDir: root, args });
    // Drive d1 comes back wiped: its slot is recovered from the other drives' membership, and heal
    // refills its old shards through the targets the old records list.
    await rm(join(root, 'd1'), { recursive: true });
    await mkdir(join(root, 'd1'));
    const lostShards = oldRefs.flatMap((r) => {
      const i = r.targets!.indexOf(driveIds[1]!);
      return i < 0 ? [] : [{ id: r.id, index: i }];
    });
    assert.ok(lostShards.length >= 5);

    server = await start();
    let s3 = server.client();
    assert.equal(await checkOldObjects(s3, manifest), 9);
    // The delete marker still hides its key, and the version under it still reads.
    await assert.rejects(getBytes(s3, 'versioned', 'gone.bin'), (err: Error) => err.name === 'NoSuchKey');
    const versions = await s3.send(new ListObjectVersionsCommand({ Bucket: 'versioned' }));
    assert.equal(versions.Versions?.length, 4);
    assert.equal(versions.DeleteMarkers?.length, 1);
    // An upload the old release left open completes from its old part.
    const open = manifest.flatMap((e) => ('openUpload' in e ? [e.openUpload] : []))[0]!;
    const listedPart = { PartNumber: 1, ETag: `"${createHash('md5').update(contentOf(open.seed, open.size)).digest('hex')}"` };
    await s3.send(new CompleteMultipartUploadCommand({ Bucket: open.bucket, Key: open.key, UploadId: open.uploadId, MultipartUpload: { Parts: [listedPart] } }));
    assert.ok((await getBytes(s3, open.bucket, open.key)).equals(contentOf(open.seed, open.size)));
    // New writes, EC 4+2 and 2 copies.
    await s3.send(new PutObjectCommand({ Bucket: 'plain', Key: 'new.bin', Body: contentOf(20, 1_500_000) }));
    await s3.send(new PutObjectCommand({ Bucket: 'versioned', Key: 'doc.bin', Body: contentOf(21, 90_000), StorageClass: 'REDUCED_REDUNDANCY' }));
    // Reads reported the missing shards, and the heal queue or this pass rebuilt them where the records say.
    assert.match(await admin(server, 'heal'), /full redundancy restored/);
    // Rebuilt as a file or, for a one-stripe block, as a pack record.
    for (const { id, index } of lostShards) assert.ok(await hasShard(join(root, 'd1'), id, index), `shard ${index} of ${id} was rebuilt on d1`);
    assert.match(await admin(server, 'heal'), /0 shards rebuilt, 0 damaged blocks/);
    s3.destroy();
    await server.stop();

    const after = await blockRefs(root);
    assert.equal(after.layouts, 1, 'one layout epoch, built from the drives once');
    assert.deepEqual([...after.drives].sort(), [...driveIds].sort());
    const fresh = after.refs.filter((r) => !oldRefs.some((o) => o.id === r.id));
    assert.equal(fresh.length, 2);
    for (const ref of fresh) assert.equal(ref.targets, undefined, 'new blocks record their epoch, not drives');

    // A second start reuses the stored layout: everything, old and new, still reads.
    server = await start();
    s3 = server.client();
    assert.equal(await checkOldObjects(s3, manifest), 9);
    assert.ok((await getBytes(s3, 'plain', 'new.bin')).equals(contentOf(20, 1_500_000)));
    assert.ok((await getBytes(s3, 'versioned', 'doc.bin')).equals(contentOf(21, 90_000)));
    assert.ok((await getBytes(s3, open.bucket, open.key)).equals(contentOf(open.seed, open.size)));
    s3.destroy();
    await server.stop();
    assert.equal((await blockRefs(root)).layouts, 1);
  } finally {
    await server?.stop();
    await rm(root, { recursive: true, force: true });
  }
});

async function admin(server: TesseraProcess, ...args: string[]): Promise<string> {
  const { stdout } = await promisify(execFile)(process.execPath, [join(repoRoot, 'bin', 'tessera.js'), 'admin', ...args, '--endpoint', server.url], {
    env: { ...process.env, TESSERA_ROOT_ACCESS_KEY: server.accessKeyId, TESSERA_ROOT_SECRET_KEY: server.secretAccessKey },
    timeout: 120_000,
  });
  return stdout;
}

/** The block refs before any start of this release (no layout stored yet). */
async function blockRefs0(dataDir: string): Promise<{ refs: BlockRef[] }> {
  const meta = await SqliteMetaStore.open(join(dataDir, 'meta', 'tessera.db'));
  try {
    assert.equal((await loadLayouts(meta)).length, 0, 'the old release stored no layout');
    const rows = await meta.scan({ ...keys.blockOwnerRange(), limit: 10_000 });
    return { refs: rows.map((r) => decodeRecord<BlockRef>(r.value)) };
  } finally {
    await meta.close();
  }
}
