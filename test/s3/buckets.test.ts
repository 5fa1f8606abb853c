// Bucket operations through the SDK and raw HTTP: ListBuckets, CreateBucket (naming rules, location
// constraint, re-creation), HeadBucket, DeleteBucket (BucketNotEmpty) and GetBucketLocation.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  S3Client, CreateBucketCommand, CreateMultipartUploadCommand, AbortMultipartUploadCommand, DeleteBucketCommand, DeleteObjectCommand,
  GetBucketLocationCommand, HeadBucketCommand, ListBucketsCommand, PutObjectCommand,
} from '@aws-sdk/client-s3';
import { startTessera, startTesseraForFile } from '../helpers/tessera.js';
import { assertS3Error, raw, sdkError } from './raw-http.js';

const { server, s3 } = await startTesseraForFile();

test('ListBuckets - lists created buckets by name with creation dates', async () => {
  for (const name of ['list-c', 'list-a', 'list-b']) await s3.send(new CreateBucketCommand({ Bucket: name }));
  const out = await s3.send(new ListBucketsCommand({}));
  const names = (out.Buckets ?? []).map((b) => b.Name).filter((n) => n?.startsWith('list-'));
  assert.deepEqual(names, ['list-a', 'list-b', 'list-c']);
  for (const b of out.Buckets ?? []) assert.ok(b.CreationDate instanceof Date && !Number.isNaN(b.CreationDate.getTime()));
  assert.ok(out.Owner?.ID);
});

test('CreateBucket - valid names of every allowed form are accepted', async () => {
  for (const name of ['abc', 'a.b-c.d', '0123456789', 'x'.repeat(63), 'my-bucket.2024']) {
    await s3.send(new CreateBucketCommand({ Bucket: name }));
    await s3.send(new HeadBucketCommand({ Bucket: name }));
  }
});

test('CreateBucket - invalid names get InvalidBucketName', async () => {
  const invalid = [
    'ab', // too short
    'x'.repeat(64), // too long
    'Upper', // uppercase
    'under_score',
    '-leading-dash',
    'trailing-dash-',
    '.leading-dot',
    'double..dot',
    'dot-.dash',
    '192.168.1.1', // IP address form
    'xn--punycode',
    'name-s3alias',
    'sp%20ace',
  ];
  for (const name of invalid) {
    const res = await raw(server, { method: 'PUT', path: `/${name}` });
    assertS3Error(res, 400, 'InvalidBucketName');
  }
  const list = await s3.send(new ListBucketsCommand({}));
  for (const b of list.Buckets ?? []) assert.ok(!invalid.includes(b.Name!), `bucket "${b.Name}" was created`);
});

test('CreateBucket - us-east-1 takes no LocationConstraint and refuses a different one', async () => {
  await s3.send(new CreateBucketCommand({ Bucket: 'loc-none' }));
  const wrong = await raw(server, {
    method: 'PUT', path: '/loc-wrong',
    body: '<CreateBucketConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><LocationConstraint>eu-west-1</LocationConstraint></CreateBucketConfiguration>',
  });
  assertS3Error(wrong, 400, 'IllegalLocationConstraintException');
  await assert.rejects(s3.send(new HeadBucketCommand({ Bucket: 'loc-wrong' })), sdkError('NotFound', 404));
  await assert.rejects(
    s3.send(new CreateBucketCommand({ Bucket: 'loc-wrong2', CreateBucketConfiguration: { LocationConstraint: 'ap-south-1' } })),
    sdkError('IllegalLocationConstraintException', 400),
  );
});

test('CreateBucket - a server in another region requires its own LocationConstraint', async () => {
  const regional = await startTessera({ args: ['--region', 'eu-west-1'] });
  const client = new S3Client({
    endpoint: regional.url, region: 'eu-west-1', forcePathStyle: true,
    credentials: { accessKeyId: regional.accessKeyId, secretAccessKey: regional.secretAccessKey },
  });
  try {
    await client.send(new CreateBucketCommand({ Bucket: 'in-eu', CreateBucketConfiguration: { LocationConstraint: 'eu-west-1' } }));
    const location = await client.send(new GetBucketLocationCommand({ Bucket: 'in-eu' }));
    assert.equal(location.LocationConstraint, 'eu-west-1');
    const head = await client.send(new HeadBucketCommand({ Bucket: 'in-eu' }));
    assert.equal(head.BucketRegion, 'eu-west-1');
    // The SDK fills in its own region as the constraint, so an unspecified one needs a raw request.
    const unspecified = await raw({ ...regional, region: 'eu-west-1' }, { method: 'PUT', path: '/unspecified' });
    assertS3Error(unspecified, 400, 'IllegalLocationConstraintException');
    await assert.rejects(
      client.send(new CreateBucketCommand({ Bucket: 'elsewhere', CreateBucketConfiguration: { LocationConstraint: 'us-west-2' } })),
      sdkError('IllegalLocationConstraintException', 400),
    );
  } finally {
    client.destroy();
    await regional.cleanup();
  }
});

test('CreateBucket - malformed CreateBucketConfiguration gets MalformedXML', async () => {
  const res = await raw(server, { method: 'PUT', path: '/bad-config', body: '<CreateBucketConfiguration><LocationConstraint>' });
  assertS3Error(res, 400, 'MalformedXML');
});

test('CreateBucket - creating a bucket you own again gets BucketAlreadyOwnedByYou', async () => {
  await s3.send(new CreateBucketCommand({ Bucket: 'owned-twice' }));
  await assert.rejects(s3.send(new CreateBucketCommand({ Bucket: 'owned-twice' })), sdkError('BucketAlreadyOwnedByYou', 409));
});

test('HeadBucket - answers 200 with the region for a bucket and 404 for a missing one', async () => {
  await s3.send(new CreateBucketCommand({ Bucket: 'head-me' }));
  const out = await s3.send(new HeadBucketCommand({ Bucket: 'head-me' }));
  assert.equal(out.$metadata.httpStatusCode, 200);
  assert.equal(out.BucketRegion, 'us-east-1');
  await assert.rejects(s3.send(new HeadBucketCommand({ Bucket: 'no-such-bucket-here' })), sdkError('NotFound', 404));
  const res = await raw(server, { method: 'HEAD', path: '/no-such-bucket-here' });
  assert.equal(res.status, 404);
  assert.ok(res.headers['x-amz-request-id']);
});

test('GetBucketLocation - us-east-1 answers an empty LocationConstraint', async () => {
  await s3.send(new CreateBucketCommand({ Bucket: 'where-am-i' }));
  const out = await s3.send(new GetBucketLocationCommand({ Bucket: 'where-am-i' }));
  assert.ok(out.LocationConstraint === undefined || (out.LocationConstraint as string) === '');
  const res = await raw(server, { path: '/where-am-i', query: { location: '' } });
  assert.equal(res.status, 200);
  assert.match(res.text, /<LocationConstraint xmlns="http:\/\/s3.amazonaws.com\/doc\/2006-03-01\/"><\/LocationConstraint>/);
  await assert.rejects(s3.send(new GetBucketLocationCommand({ Bucket: 'nowhere-bucket' })), sdkError('NoSuchBucket', 404));
});

test('DeleteBucket - refuses a bucket with an object or an upload, then deletes it once empty', async () => {
  await s3.send(new CreateBucketCommand({ Bucket: 'full-bucket' }));
  await s3.send(new PutObjectCommand({ Bucket: 'full-bucket', Key: 'k', Body: 'x' }));
  await assert.rejects(s3.send(new DeleteBucketCommand({ Bucket: 'full-bucket' })), sdkError('BucketNotEmpty', 409));
  await s3.send(new DeleteObjectCommand({ Bucket: 'full-bucket', Key: 'k' }));
  const upload = await s3.send(new CreateMultipartUploadCommand({ Bucket: 'full-bucket', Key: 'mp' }));
  await assert.rejects(s3.send(new DeleteBucketCommand({ Bucket: 'full-bucket' })), sdkError('BucketNotEmpty', 409));
  await s3.send(new AbortMultipartUploadCommand({ Bucket: 'full-bucket', Key: 'mp', UploadId: upload.UploadId }));
  // The bucket still works after a refused delete.
  await s3.send(new PutObjectCommand({ Bucket: 'full-bucket', Key: 'again', Body: 'y' }));
  await s3.send(new DeleteObjectCommand({ Bucket: 'full-bucket', Key: 'again' }));
  const out = await s3.send(new DeleteBucketCommand({ Bucket: 'full-bucket' }));
  assert.equal(out.$metadata.httpStatusCode, 204);
  await assert.rejects(s3.send(new HeadBucketCommand({ Bucket: 'full-bucket' })), sdkError('NotFound', 404));
  await assert.rejects(s3.send(new DeleteBucketCommand({ Bucket: 'full-bucket' })), sdkError('NoSuchBucket', 404));
  // The name is free again.
  await s3.send(new CreateBucketCommand({ Bucket: 'full-bucket' }));
});

test('Bucket operations - a missing bucket gets NoSuchBucket with the bucket in the body', async () => {
  const res = await raw(server, { path: '/absent-bucket', query: { 'list-type': '2' } });
  const body = assertS3Error(res, 404, 'NoSuchBucket');
  assert.equal(body.BucketName, 'absent-bucket');
  assert.equal(body.Resource, '/absent-bucket');
  await assert.rejects(s3.send(new PutObjectCommand({ Bucket: 'absent-bucket', Key: 'k', Body: 'x' })), sdkError('NoSuchBucket', 404));
});
