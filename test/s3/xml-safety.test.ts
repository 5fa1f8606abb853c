// Issue 10 (outside review with ceph/s3-tests): every XML answer stays well-formed XML 1.0 whatever keys
// hold, keys XML cannot carry are refused when written, and request documents with undefined entities
// or DTDs get MalformedXML.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CreateBucketCommand, CreateMultipartUploadCommand, ListObjectsV2Command, ListObjectsCommand, ListObjectVersionsCommand, ListMultipartUploadsCommand,
} from '@aws-sdk/client-s3';
import { XMLValidator } from 'fast-xml-parser';
import { startTessera, startTesseraForFile, withClient } from '../helpers/tessera.js';
import { assertS3Error, md5Base64, objectPath, raw, type RawResponse } from './raw-http.js';
import { SqliteMetaStore } from '../../src/meta/sqlite/sqlite-store.js';
import { openBlockStore } from '../../src/blocks/index.js';
import { createBucket } from '../../src/objects/buckets.js';
import { putObject } from '../../src/objects/put-object.js';
import type { ObjectContext } from '../../src/objects/context.js';

const { server, s3 } = await startTesseraForFile();
const Bucket = 'xml-safety';
await s3.send(new CreateBucketCommand({ Bucket }));

/** XML 1.0 well-formedness as lxml and expat judge it, which fast-xml-parser's validator does not check fully. */
function assertXml10(text: string): void {
  assert.equal(XMLValidator.validate(text), true, text);
  assert.doesNotMatch(text, /[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]/, `raw character XML 1.0 forbids: ${JSON.stringify(text)}`);
  for (const m of text.matchAll(/&#(x[0-9a-fA-F]+|[0-9]+);/g)) {
    const code = m[1]!.startsWith('x') ? parseInt(m[1]!.slice(1), 16) : Number(m[1]);
    const ok = code === 0x9 || code === 0xa || code === 0xd || (code >= 0x20 && code <= 0xd7ff) || (code >= 0xe000 && code <= 0xfffd) || code >= 0x10000;
    assert.ok(ok, `reference to a character XML 1.0 forbids: ${m[0]}`);
  }
}

function put(key: string, body = 'x'): Promise<RawResponse> {
  return raw(server, { method: 'PUT', path: objectPath(Bucket, key), body });
}

test('PutObject - a key with NUL, U+FFFF or U+FFFE is refused with InvalidArgument (issue 10)', async () => {
  for (const wire of ['nul%00key', 'ffff%EF%BF%BF', 'fffe%EF%BF%BE']) {
    assertS3Error(await raw(server, { method: 'PUT', path: `/${Bucket}/${wire}`, body: 'x' }), 400, 'InvalidArgument');
  }
  const listed = await raw(server, { path: `/${Bucket}`, query: { 'list-type': '2', prefix: 'nul' } });
  assert.doesNotMatch(listed.text, /<Key>/);
});

test('CopyObject and CreateMultipartUpload - a target key with NUL is refused with InvalidArgument (issue 10)', async () => {
  assert.equal((await put('copy-source')).status, 200);
  const copy = await raw(server, { method: 'PUT', path: `/${Bucket}/copied%00key`, headers: { 'x-amz-copy-source': `/${Bucket}/copy-source` } });
  assertS3Error(copy, 400, 'InvalidArgument');
  assertS3Error(await raw(server, { method: 'POST', path: `/${Bucket}/mpu%00key`, query: { uploads: null } }), 400, 'InvalidArgument');
});

test('ListObjectsV2 - a page with a C0 control in a key is answered url-encoded, saying so, and parses (issue 10)', async () => {
  for (const key of ['ctl/a\u0001b', 'ctl/plain key', 'ctl/z\u001f']) assert.equal((await put(key)).status, 200);
  const res = await raw(server, { path: `/${Bucket}`, query: { 'list-type': '2', prefix: 'ctl/' } });
  assert.equal(res.status, 200);
  assertXml10(res.text);
  assert.match(res.text, /<EncodingType>url<\/EncodingType>/);
  assert.match(res.text, /<Key>ctl\/a%01b<\/Key>/);
  const out = await s3.send(new ListObjectsV2Command({ Bucket, Prefix: 'ctl/' }));
  assert.equal(out.EncodingType, 'url');
  assert.deepEqual(out.Contents?.map((c) => decodeURIComponent(c.Key!)), ['ctl/a\u0001b', 'ctl/plain key', 'ctl/z\u001f']);
  // Pages without such a key are answered as asked.
  const plain = await raw(server, { path: `/${Bucket}`, query: { 'list-type': '2', prefix: 'ctl/p' } });
  assert.doesNotMatch(plain.text, /EncodingType/);
  assert.match(plain.text, /<Key>ctl\/plain key<\/Key>/);
});

test('ListObjects v1, ListObjectVersions and ListMultipartUploads - a C0 control in a key gives a url-encoded page that parses (issue 10)', async () => {
  assert.equal((await put('ctl2/a\u0002b')).status, 200);
  const v1 = await s3.send(new ListObjectsCommand({ Bucket, Prefix: 'ctl2/' }));
  assert.equal(v1.EncodingType, 'url');
  assert.deepEqual(v1.Contents?.map((c) => c.Key), ['ctl2/a%02b']);
  const versions = await s3.send(new ListObjectVersionsCommand({ Bucket, Prefix: 'ctl2/' }));
  assert.equal(versions.EncodingType, 'url');
  assert.deepEqual(versions.Versions?.map((v) => v.Key), ['ctl2/a%02b']);
  await s3.send(new CreateMultipartUploadCommand({ Bucket, Key: 'ctl3/u\u0003p' }));
  const uploads = await s3.send(new ListMultipartUploadsCommand({ Bucket, Prefix: 'ctl3/' }));
  assert.equal(uploads.EncodingType, 'url');
  assert.deepEqual(uploads.Uploads?.map((u) => u.Key), ['ctl3/u%03p']);
  for (const query of [{}, { versions: null }, { uploads: null }] as Record<string, string | null>[]) {
    const res = await raw(server, { path: `/${Bucket}`, query: { ...query, prefix: 'ctl' } });
    assert.equal(res.status, 200);
    assertXml10(res.text);
  }
});

test('Error bodies and DeleteObjects results - a key with a C0 control still gives well-formed XML (issue 10)', async () => {
  const missing = await raw(server, { path: `/${Bucket}/gone%01key` });
  assertS3Error(missing, 404, 'NoSuchKey');
  assertXml10(missing.text);
  assert.equal((await put('del/a\u0004b')).status, 200);
  const body = '<Delete><Object><Key>del/a\u0004b</Key></Object><Object><Key>del/cr&#13;key</Key></Object></Delete>';
  const res = await raw(server, { method: 'POST', path: `/${Bucket}`, query: { delete: null }, headers: { 'content-md5': md5Base64(body) }, body });
  assert.equal(res.status, 200, res.text);
  assertXml10(res.text);
  assert.match(res.text, /<Key>del\/cr&#xD;key<\/Key>/);
  const left = await raw(server, { path: `/${Bucket}`, query: { 'list-type': '2', prefix: 'del/' } });
  assert.doesNotMatch(left.text, /<Key>/, 'the key named with a raw control character is deleted');
});

test('CreateMultipartUpload and ListParts - a key with a C0 control gives well-formed XML (issue 10)', async () => {
  const created = await raw(server, { method: 'POST', path: objectPath(Bucket, 'mpu/a\u0005b'), query: { uploads: null } });
  assert.equal(created.status, 200, created.text);
  assertXml10(created.text);
  const uploadId = /<UploadId>([^<]+)<\/UploadId>/.exec(created.text)![1]!;
  const parts = await raw(server, { path: objectPath(Bucket, 'mpu/a\u0005b'), query: { uploadId } });
  assert.equal(parts.status, 200, parts.text);
  assertXml10(parts.text);
});

test('PutObjectTagging and DeleteObjects - an undefined entity gets MalformedXML (issue 10)', async () => {
  assert.equal((await put('tagged')).status, 200);
  const tagging = '<Tagging><TagSet><Tag><Key>k</Key><Value>&xxe;</Value></Tag></TagSet></Tagging>';
  assertS3Error(await raw(server, { method: 'PUT', path: `/${Bucket}/tagged`, query: { tagging: null }, body: tagging }), 400, 'MalformedXML');
  const get = await raw(server, { path: `/${Bucket}/tagged`, query: { tagging: null } });
  assert.doesNotMatch(get.text, /xxe/);
  const del = '<Delete><Object><Key>&xxe;</Key></Object></Delete>';
  const res = await raw(server, { method: 'POST', path: `/${Bucket}`, query: { delete: null }, headers: { 'content-md5': md5Base64(del) }, body: del });
  assertS3Error(res, 400, 'MalformedXML');
});

test('PutObjectTagging - a DOCTYPE with entity declarations (billion laughs, external entity) gets MalformedXML', async () => {
  const laughs = '<?xml version="1.0"?><!DOCTYPE t [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>'
    + '<Tagging><TagSet><Tag><Key>k</Key><Value>&b;</Value></Tag></TagSet></Tagging>';
  const external = '<!DOCTYPE t [<!ENTITY x SYSTEM "file:///etc/passwd">]><Tagging><TagSet><Tag><Key>k</Key><Value>&x;</Value></Tag></TagSet></Tagging>';
  for (const body of [laughs, external]) {
    assertS3Error(await raw(server, { method: 'PUT', path: `/${Bucket}/tagged`, query: { tagging: null }, body }), 400, 'MalformedXML');
  }
});

test('ListObjectsV2 - a key stored with NUL before such keys were refused lists as well-formed XML and can be deleted (issue 10)', async () => {
  // Seed the data directory through the object layer, as an older Tessera that took the key would have.
  const dataDir = await mkdtemp(join(tmpdir(), 'tessera-test-'));
  const meta = await SqliteMetaStore.open(join(dataDir, 'meta', 'tessera.db'));
  const blocks = await openBlockStore({ drives: [join(dataDir, 'drive')] });
  const ctx: ObjectContext = { meta, blocks, nowMs: () => Date.now(), gcDelayMs: 60_000, inlineBytesMax: 32 * 1024, region: 'us-east-1', redundancyFor: () => undefined };
  await createBucket(ctx, 'legacy', server.accessKeyId);
  for (const key of ['old/nul\u0000key', 'old/plain']) {
    await putObject(ctx, { bucket: 'legacy', key, owner: server.accessKeyId, body: [Buffer.from('x')].values() as unknown as AsyncIterable<Buffer>, size: 1, headers: {}, storageClass: 'STANDARD' });
  }
  await blocks.close();
  await meta.close();
  const legacy = await startTessera({ dataDir });
  try {
    await withClient(legacy, async (client) => {
      const out = await client.send(new ListObjectsV2Command({ Bucket: 'legacy' }));
      assert.equal(out.EncodingType, 'url');
      assert.deepEqual(out.Contents?.map((c) => decodeURIComponent(c.Key!)), ['old/nul\u0000key', 'old/plain']);
    });
    for (const query of [{ 'list-type': '2' }, {}, { versions: null }] as Record<string, string | null>[]) {
      const res = await raw(legacy, { path: '/legacy', query });
      assert.equal(res.status, 200);
      assertXml10(res.text);
    }
    assert.equal((await raw(legacy, { path: '/legacy/old/nul%00key' })).status, 200);
    assert.equal((await raw(legacy, { method: 'DELETE', path: '/legacy/old/nul%00key' })).status, 204);
    const after = await raw(legacy, { path: '/legacy', query: { 'list-type': '2' } });
    assert.deepEqual([...after.text.matchAll(/<Key>([^<]*)<\/Key>/g)].map((m) => m[1]), ['old/plain']);
  } finally {
    await legacy.cleanup();
  }
});
