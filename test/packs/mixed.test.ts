// Pack files beside shard files (issue 17): objects written with packs on still read after a restart with
// TESSERA_PACKS=off (which writes files) and again with packs on; and objects whose blocks are partly packed
// and partly files (a multipart upload with a small last part), copies, and a versioned key's old versions
// all read back exactly, also after deletes have let GC and compaction run.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  CompleteMultipartUploadCommand, CopyObjectCommand, CreateBucketCommand, CreateMultipartUploadCommand, DeleteObjectCommand,
  GetObjectCommand, PutBucketVersioningCommand, PutObjectCommand, UploadPartCommand, type S3Client,
} from '@aws-sdk/client-s3';
import {
  KiB, MiB, assertObjects, forEachLimit, makeDrives, md5, packBytes, packedBytesMax, packedBytesMin, packFiles, pollUntil, putBody, putRandomObjects,
  randomBody, shardFileCount, startPackServer,
} from './helpers.js';

const Bucket = 'mixed';

/** Objects above the inline limit and within one stripe (packedBytesMin..Max): packed when packs are on. */
function putMany(s3: S3Client, prefix: string, count: number): Promise<Map<string, string>> {
  return putRandomObjects(s3, Bucket, prefix, count, packedBytesMin, packedBytesMax);
}

test('packs switch - packed objects read with TESSERA_PACKS=off, which writes files, and all read with packs on again', { timeout: 120_000 }, async () => {
  const set = await makeDrives(6);
  let server = await startPackServer(set);
  let s3 = server.client();
  try {
    await s3.send(new CreateBucketCommand({ Bucket }));
    const packed = await putMany(s3, 'packed', 16);
    const packedBytes = await Promise.all(set.drives.map((d) => packBytes(d)));
    assert.ok(packedBytes.every((b) => b > 0), `every drive holds packs (${packedBytes.join(', ')})`);
    s3.destroy();
    await server.stop();

    server = await startPackServer(set, { env: { TESSERA_PACKS: 'off' } });
    s3 = server.client();
    await assertObjects(s3, Bucket, packed, 'packed, read with packs off');
    const filed = await putMany(s3, 'filed', 16);
    for (const [i, drive] of set.drives.entries()) {
      assert.equal(await shardFileCount(drive), filed.size, `${drive} holds a shard file per object written with packs off`);
      assert.equal(await packBytes(drive), packedBytes[i], `${drive}'s packs did not grow with packs off`);
    }
    s3.destroy();
    await server.stop();

    server = await startPackServer(set);
    s3 = server.client();
    await assertObjects(s3, Bucket, new Map([...packed, ...filed]), 'packed and filed, read with packs on');
  } finally {
    s3.destroy();
    await server.stop();
    await set.remove();
  }
});

test('packs mixed - a multipart object with a small last part, copies and old versions read back, also after deletes and GC', { timeout: 120_000 }, async () => {
  const set = await makeDrives(6);
  const server = await startPackServer(set, { env: { TESSERA_PACK_BYTES_TARGET: String(4 * MiB) } });
  const s3 = server.client();
  try {
    await s3.send(new CreateBucketCommand({ Bucket }));
    await s3.send(new PutBucketVersioningCommand({ Bucket, VersioningConfiguration: { Status: 'Enabled' } }));
    const expected = new Map<string, string>();

    // Part 1 spans stripes (shard files), part 2 is one small stripe (a packed shard).
    const parts = [randomBody(5 * MiB, 5 * MiB + 100 * KiB), randomBody(40 * KiB, 300 * KiB)];
    const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket, Key: 'multipart' }));
    const etags: string[] = [];
    for (const [i, Body] of parts.entries()) etags.push((await s3.send(new UploadPartCommand({ Bucket, Key: 'multipart', UploadId, PartNumber: i + 1, Body }))).ETag!);
    await s3.send(new CompleteMultipartUploadCommand({ Bucket, Key: 'multipart', UploadId, MultipartUpload: { Parts: etags.map((ETag, i) => ({ ETag, PartNumber: i + 1 })) } }));
    expected.set('multipart', md5(Buffer.concat(parts)));

    // Five versions of one key; each old one must stay readable by its version id.
    const versions = new Map<string, string>();
    for (let i = 0; i < 5; i++) {
      const body = randomBody(100 * KiB, 900 * KiB);
      versions.set((await s3.send(new PutObjectCommand({ Bucket, Key: 'versioned', Body: body }))).VersionId!, md5(body));
    }
    const source = randomBody(100 * KiB, 900 * KiB);
    await putBody(s3, Bucket, 'source', source);
    await s3.send(new CopyObjectCommand({ Bucket, Key: 'copy', CopySource: `${Bucket}/source` }));
    expected.set('copy', md5(source));

    // Fill and empty some packs so GC and compaction run around the objects above.
    const churn = await putMany(s3, 'churn', 40);
    const before = await Promise.all(set.drives.map(async (d) => (await packFiles(d)).map((p) => p.path)));
    assert.ok(before.every((paths) => paths.length >= 2), `every drive filled a pack (${before.map((p) => p.length).join(', ')})`);
    await s3.send(new DeleteObjectCommand({ Bucket, Key: 'versioned' }));
    await s3.send(new DeleteObjectCommand({ Bucket, Key: 'source' }));
    // Versioned: a delete only adds a marker. Delete the churn's versions themselves so their data goes.
    await forEachLimit([...churn.keys()], 8, async (Key) => {
      const head = await s3.send(new GetObjectCommand({ Bucket, Key, Range: 'bytes=0-0' }));
      await s3.send(new DeleteObjectCommand({ Bucket, Key, VersionId: head.VersionId }));
    });
    // The first pack of each drive holds the objects above among the churn: compacted, it is removed.
    await pollUntil('the first pack of every drive to be compacted away', async () => {
      const now = await Promise.all(set.drives.map(async (d) => new Set((await packFiles(d)).map((p) => p.path))));
      return before.every((paths, i) => !now[i]!.has(paths[0]!)) ? true : undefined;
    }, 20_000);

    await assertObjects(s3, Bucket, expected, 'after the churn');
    for (const [VersionId, sum] of versions) {
      const got = await s3.send(new GetObjectCommand({ Bucket, Key: 'versioned', VersionId }));
      assert.equal(md5(await got.Body!.transformToByteArray()), sum, `version ${VersionId} reads back`);
    }
  } finally {
    s3.destroy();
    await server.stop();
    await set.remove();
  }
});
