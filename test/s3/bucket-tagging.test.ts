// PutBucketTagging, GetBucketTagging and DeleteBucketTagging (issue 10): NoSuchTagSet without tags, AWS's
// limits (50 tags, key and value lengths, no repeats, no "aws:" keys) and MalformedXML.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CreateBucketCommand, DeleteBucketCommand, DeleteBucketTaggingCommand, GetBucketTaggingCommand, PutBucketTaggingCommand, type Tag } from '@aws-sdk/client-s3';
import { startTesseraForFile } from '../helpers/tessera.js';
import { assertS3Error, raw, sdkError } from './raw-http.js';

const { server, s3 } = await startTesseraForFile();
const Bucket = 'tagged-bucket';
await s3.send(new CreateBucketCommand({ Bucket }));

function tagging(tags: Tag[]): string {
  return `<Tagging><TagSet>${tags.map((t) => `<Tag><Key>${t.Key}</Key><Value>${t.Value}</Value></Tag>`).join('')}</TagSet></Tagging>`;
}

test('GetBucketTagging - a bucket without tags gets 404 NoSuchTagSet', async () => {
  await assert.rejects(s3.send(new GetBucketTaggingCommand({ Bucket })), sdkError('NoSuchTagSet', 404));
});

test('PutBucketTagging - the tag set is stored, read back, replaced whole and removed by DeleteBucketTagging (ceph s3-tests test_set_bucket_tagging)', async () => {
  const put = await s3.send(new PutBucketTaggingCommand({ Bucket, Tagging: { TagSet: [{ Key: 'Hello', Value: 'World' }, { Key: 'empty', Value: '' }] } }));
  assert.equal(put.$metadata.httpStatusCode, 204);
  const got = await s3.send(new GetBucketTaggingCommand({ Bucket }));
  assert.deepEqual(got.TagSet, [{ Key: 'Hello', Value: 'World' }, { Key: 'empty', Value: '' }]);
  await s3.send(new PutBucketTaggingCommand({ Bucket, Tagging: { TagSet: [{ Key: 'only', Value: 'one' }] } }));
  assert.deepEqual((await s3.send(new GetBucketTaggingCommand({ Bucket }))).TagSet, [{ Key: 'only', Value: 'one' }]);
  const deleted = await s3.send(new DeleteBucketTaggingCommand({ Bucket }));
  assert.equal(deleted.$metadata.httpStatusCode, 204);
  await assert.rejects(s3.send(new GetBucketTaggingCommand({ Bucket })), sdkError('NoSuchTagSet', 404));
});

test('PutBucketTagging - 50 tags are taken, 51 get InvalidTag', async () => {
  const tags = Array.from({ length: 51 }, (_, i) => ({ Key: `k${i}`, Value: `v${i}` }));
  await s3.send(new PutBucketTaggingCommand({ Bucket, Tagging: { TagSet: tags.slice(0, 50) } }));
  assert.equal((await s3.send(new GetBucketTaggingCommand({ Bucket }))).TagSet?.length, 50);
  await assert.rejects(s3.send(new PutBucketTaggingCommand({ Bucket, Tagging: { TagSet: tags } })), sdkError('InvalidTag', 400));
  assert.equal((await s3.send(new GetBucketTaggingCommand({ Bucket }))).TagSet?.length, 50, 'a refused tag set changes nothing');
});

test('PutBucketTagging - a key too long, empty or starting with aws:, a value too long, or a repeated key gets InvalidTag', async () => {
  const cases: Tag[][] = [
    [{ Key: 'k'.repeat(129), Value: 'v' }],
    [{ Key: '', Value: 'v' }],
    [{ Key: 'aws:cloudformation', Value: 'v' }],
    [{ Key: 'k', Value: 'v'.repeat(257) }],
    [{ Key: 'same', Value: '1' }, { Key: 'same', Value: '2' }],
  ];
  for (const tags of cases) {
    assertS3Error(await raw(server, { method: 'PUT', path: `/${Bucket}`, query: { tagging: null }, body: tagging(tags) }), 400, 'InvalidTag');
  }
  await s3.send(new PutBucketTaggingCommand({ Bucket, Tagging: { TagSet: [{ Key: 'k'.repeat(128), Value: 'v'.repeat(256) }] } }));
});

test('PutBucketTagging - malformed XML, an undefined entity or a DOCTYPE gets MalformedXML', async () => {
  for (const body of ['<Tagging><TagSet>', '<Tagging><TagSet><Tag><Key>k</Key><Value>&xxe;</Value></Tag></TagSet></Tagging>',
    '<!DOCTYPE t [<!ENTITY x "y">]><Tagging><TagSet><Tag><Key>k</Key><Value>&x;</Value></Tag></TagSet></Tagging>', '<Other/>']) {
    assertS3Error(await raw(server, { method: 'PUT', path: `/${Bucket}`, query: { tagging: null }, body }), 400, 'MalformedXML');
  }
});

test('Bucket tagging - a missing bucket gets NoSuchBucket; a deleted and re-created bucket has no tags', async () => {
  for (const method of ['GET', 'PUT', 'DELETE']) {
    const res = await raw(server, { method, path: '/no-such-tag-bucket', query: { tagging: null }, ...(method === 'PUT' ? { body: tagging([{ Key: 'a', Value: 'b' }]) } : {}) });
    assertS3Error(res, 404, 'NoSuchBucket');
  }
  await s3.send(new CreateBucketCommand({ Bucket: 'tags-reborn' }));
  await s3.send(new PutBucketTaggingCommand({ Bucket: 'tags-reborn', Tagging: { TagSet: [{ Key: 'a', Value: 'b' }] } }));
  await s3.send(new DeleteBucketCommand({ Bucket: 'tags-reborn' }));
  await s3.send(new CreateBucketCommand({ Bucket: 'tags-reborn' }));
  await assert.rejects(s3.send(new GetBucketTaggingCommand({ Bucket: 'tags-reborn' })), sdkError('NoSuchTagSet', 404));
});
