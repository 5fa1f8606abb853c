// ListObjectVersions (issue 4): Version and DeleteMarker entries in AWS's order (key ascending in UTF-8
// binary order, newest first within a key) with IsLatest; prefix, delimiter, key-marker,
// version-id-marker, max-keys and encoding-type; pages that join without gaps or duplicates. And
// ListObjects v1/v2, which show only current versions that are not delete markers.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { DeleteObjectCommand, ListObjectsCommand, ListObjectsV2Command, PutObjectCommand } from '@aws-sdk/client-s3';
import { startTesseraForFile } from '../helpers/tessera.js';
import { createBucket, listAllVersionPages, listVersionsPage, rawRequest, setVersioning, type ListedVersion } from './helpers.js';

const { server, s3 } = await startTesseraForFile();

const bucket = 'lov-main';
/** What the bucket holds, newest first per key, as written. */
const model = new Map<string, { kind: ListedVersion['kind']; versionId: string }[]>();

async function put(key: string, body = key): Promise<void> {
  const res = await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body }));
  model.set(key, [{ kind: 'Version', versionId: res.VersionId ?? 'null' }, ...(model.get(key) ?? [])]);
}

async function del(key: string): Promise<void> {
  const res = await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }));
  model.set(key, [{ kind: 'DeleteMarker', versionId: res.VersionId! }, ...(model.get(key) ?? [])]);
}

function expected(filter: (key: string) => boolean = () => true): { kind: string; key: string; versionId: string; isLatest: boolean }[] {
  const keysSorted = [...model.keys()].filter(filter).sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
  return keysSorted.flatMap((key) => model.get(key)!.map((v, i) => ({ kind: v.kind, key, versionId: v.versionId, isLatest: i === 0 })));
}

function strip(entries: ListedVersion[]): { kind: string; key: string; versionId: string; isLatest: boolean }[] {
  return entries.map(({ kind, key, versionId, isLatest }) => ({ kind, key, versionId, isLatest }));
}

before(async () => {
  await createBucket(s3, bucket);
  await put('z'); // the null version, written before versioning
  await setVersioning(s3, bucket, 'Enabled');
  // Interleave writes across keys, so a key's versions are not adjacent in time.
  for (let round = 0; round < 3; round++) {
    for (const key of ['a', 'b/1', 'c d', 'e&<x>', 'ü', 'z', 'b/sub/3']) {
      if (round > 0 && ['c d', 'b/sub/3'].includes(key)) continue;
      await put(key, `${key}-${round}`);
    }
  }
  await put('b/2');
  await del('b/1');
  await del('ü');
  await del('ü');
});

test('list object versions - every entry in key order, newest first, IsLatest on the first', async () => {
  const page = await listVersionsPage(server, bucket);
  assert.equal(page.isTruncated, false);
  assert.deepEqual(strip(page.entries), expected());
  // Delete markers carry no ETag or Size; versions do.
  for (const e of page.entries) assert.equal(e.kind === 'Version', e.etag !== undefined && e.size !== undefined);
  assert.match(page.raw, /<Key>e&amp;&lt;x&gt;<\/Key>/);
});

test('list object versions - pages of every size join without gaps or duplicates', async () => {
  const all = expected();
  for (const maxKeys of [1, 3, 7, 1000]) {
    const pages = await listAllVersionPages(server, bucket, { 'max-keys': String(maxKeys) });
    for (const page of pages) assert.ok(page.entries.length <= maxKeys);
    assert.deepEqual(strip(pages.flatMap((p) => p.entries)), all, `max-keys ${maxKeys}`);
    assert.equal(pages.length, Math.max(1, Math.ceil(all.length / maxKeys)), `max-keys ${maxKeys}: no empty trailing page`);
  }
});

test('list object versions - prefix and delimiter', async () => {
  const byPrefix = await listVersionsPage(server, bucket, { prefix: 'b/' });
  assert.deepEqual(strip(byPrefix.entries), expected((k) => k.startsWith('b/')));
  assert.match(byPrefix.raw, /<Prefix>b\/<\/Prefix>/);

  const top = await listVersionsPage(server, bucket, { delimiter: '/' });
  assert.deepEqual(top.commonPrefixes, ['b/']);
  assert.deepEqual(strip(top.entries), expected((k) => !k.includes('/')));

  const nested = await listVersionsPage(server, bucket, { prefix: 'b/', delimiter: '/' });
  assert.deepEqual(nested.commonPrefixes, ['b/sub/']);
  assert.deepEqual(strip(nested.entries), expected((k) => k === 'b/1' || k === 'b/2'));

  // A common prefix counts once toward max-keys and never repeats across pages.
  const pages = await listAllVersionPages(server, bucket, { delimiter: '/', 'max-keys': '1' });
  assert.deepEqual(pages.flatMap((p) => p.commonPrefixes), ['b/']);
  assert.deepEqual(strip(pages.flatMap((p) => p.entries)), expected((k) => !k.includes('/')));
  const prefixPage = pages.find((p) => p.commonPrefixes.length > 0)!;
  assert.equal(prefixPage.entries.length, 0);
  if (prefixPage.isTruncated) {
    assert.equal(prefixPage.nextKeyMarker, 'b/');
    assert.equal(prefixPage.nextVersionIdMarker, undefined);
  }
});

test('list object versions - key-marker and version-id-marker resume where they say', async () => {
  // key-marker alone: every version of keys after it (regression: it used to list the marker key again).
  const afterA = await listVersionsPage(server, bucket, { 'key-marker': 'a' });
  assert.deepEqual(strip(afterA.entries), expected((k) => k > 'a'));
  const afterMissing = await listVersionsPage(server, bucket, { 'key-marker': 'b/15' });
  assert.deepEqual(strip(afterMissing.entries), expected((k) => Buffer.compare(Buffer.from(k), Buffer.from('b/15')) > 0));

  // key-marker with version-id-marker: the rest of that key's versions, none of them latest.
  const aVersions = model.get('a')!;
  const mid = await listVersionsPage(server, bucket, { 'key-marker': 'a', 'version-id-marker': aVersions[0]!.versionId, 'max-keys': '2' });
  assert.deepEqual(strip(mid.entries), [
    { kind: 'Version', key: 'a', versionId: aVersions[1]!.versionId, isLatest: false },
    { kind: 'Version', key: 'a', versionId: aVersions[2]!.versionId, isLatest: false },
  ]);
  assert.equal(mid.isTruncated, true);
  assert.equal(mid.nextKeyMarker, 'a');
  assert.equal(mid.nextVersionIdMarker, aVersions[2]!.versionId);
  assert.match(mid.raw, new RegExp(`<VersionIdMarker>${aVersions[0]!.versionId}</VersionIdMarker>`));

  // "null" as version-id-marker names the null version: z's oldest, so listing goes on after z.
  assert.equal(model.get('z')!.at(-1)!.versionId, 'null');
  const afterNull = await listVersionsPage(server, bucket, { 'key-marker': 'z', 'version-id-marker': 'null' });
  assert.deepEqual(strip(afterNull.entries), expected((k) => k === 'ü'));

  const noKeyMarker = await rawRequest(server, { path: `/${bucket}`, query: { versions: '', 'version-id-marker': aVersions[0]!.versionId } });
  assert.equal(noKeyMarker.status, 400);
  assert.match(noKeyMarker.body, /<Code>InvalidArgument<\/Code>/);
});

test('list object versions - encoding-type=url encodes keys, prefixes and markers', async () => {
  const page = await listVersionsPage(server, bucket, { 'encoding-type': 'url', 'key-marker': 'c d', 'max-keys': '1' });
  assert.match(page.raw, /<EncodingType>url<\/EncodingType>/);
  assert.match(page.raw, /<KeyMarker>c%20d<\/KeyMarker>/);
  assert.equal(page.entries[0]!.key, 'e%26%3Cx%3E');
  assert.equal(page.nextKeyMarker, 'e%26%3Cx%3E');
  const unicode = await listVersionsPage(server, bucket, { 'encoding-type': 'url', prefix: 'ü' });
  assert.match(unicode.raw, /<Prefix>%C3%BC<\/Prefix>/);
  assert.deepEqual([...new Set(unicode.entries.map((e) => e.key))], ['%C3%BC']);
  const bad = await rawRequest(server, { path: `/${bucket}`, query: { versions: '', 'encoding-type': 'base64' } });
  assert.equal(bad.status, 400);
});

test('list object versions - max-keys is capped at 1000, must be a number, and 0 lists nothing', async () => {
  const page = await listVersionsPage(server, bucket, { 'max-keys': '5000' });
  assert.match(page.raw, /<MaxKeys>1000<\/MaxKeys>/);
  const none = await listVersionsPage(server, bucket, { 'max-keys': '0' });
  assert.deepEqual([none.entries, none.isTruncated], [[], false], 'max-keys=0 is an empty, untruncated page');
  const bad = await rawRequest(server, { path: `/${bucket}`, query: { versions: '', 'max-keys': 'ten' } });
  assert.equal(bad.status, 400);
});

test('list objects - v1 and v2 show current versions only, never deleted keys', async () => {
  const live = expected().filter((e) => e.isLatest && e.kind === 'Version').map((e) => e.key);
  assert.ok(!live.includes('b/1') && !live.includes('ü') && live.includes('a'));
  const v2 = await s3.send(new ListObjectsV2Command({ Bucket: bucket }));
  assert.deepEqual(v2.Contents?.map((o) => o.Key), live);
  assert.equal(v2.Contents?.find((o) => o.Key === 'a')?.Size, 'a-2'.length, 'the current version is listed');
  const v1 = await s3.send(new ListObjectsCommand({ Bucket: bucket }));
  assert.deepEqual(v1.Contents?.map((o) => o.Key), live);
  const folders = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Delimiter: '/' }));
  assert.deepEqual(folders.CommonPrefixes?.map((p) => p.Prefix), ['b/']);
});

test('list objects - pages over many versions and deleted keys hold only live keys', async () => {
  const b = 'lov-many';
  await createBucket(s3, b, 'Enabled');
  const keys = Array.from({ length: 20 }, (_, i) => `k${String(i).padStart(2, '0')}`);
  const live = keys.filter((_, i) => i % 2 === 0);
  // Keys are written in parallel (each key's versions in order); odd keys end with a delete marker.
  await Promise.all(keys.map(async (key, i) => {
    for (let v = 0; v < 3; v++) await s3.send(new PutObjectCommand({ Bucket: b, Key: key, Body: `${key}-${v}` }));
    if (i % 2 === 1) await s3.send(new DeleteObjectCommand({ Bucket: b, Key: key }));
  }));
  // One key with many versions.
  for (let v = 0; v < 60; v++) await s3.send(new PutObjectCommand({ Bucket: b, Key: 'k04', Body: `many-${v}` }));

  const seen: string[] = [];
  let token: string | undefined;
  do {
    const page = await s3.send(new ListObjectsV2Command({ Bucket: b, MaxKeys: 3, ...(token ? { ContinuationToken: token } : {}) }));
    assert.ok((page.KeyCount ?? 0) <= 3);
    seen.push(...(page.Contents ?? []).map((o) => o.Key!));
    token = page.NextContinuationToken;
  } while (token);
  assert.deepEqual(seen, live);

  const seenV1: string[] = [];
  let marker: string | undefined;
  for (;;) {
    const page = await s3.send(new ListObjectsCommand({ Bucket: b, MaxKeys: 4, ...(marker ? { Marker: marker } : {}) }));
    seenV1.push(...(page.Contents ?? []).map((o) => o.Key!));
    if (!page.IsTruncated) break;
    marker = page.Contents!.at(-1)!.Key;
  }
  assert.deepEqual(seenV1, live);

  const pages = await listAllVersionPages(server, b, { 'max-keys': '25', prefix: 'k04' });
  const entries = pages.flatMap((p) => p.entries);
  assert.equal(entries.length, 63);
  assert.equal(new Set(entries.map((e) => e.versionId)).size, 63);
  assert.deepEqual(entries.map((e) => e.isLatest), entries.map((_, i) => i === 0));
});
