// Routing: every S3 sub-resource we do not implement answers 501 NotImplemented and changes nothing, an
// unknown bare query parameter never falls through to another operation, and the query parameters
// clients legitimately send (SDK x-id, presigned X-Amz-*, response-* overrides, list options) still work.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import {
  CreateBucketCommand, GetObjectCommand, HeadBucketCommand, HeadObjectCommand, PutObjectCommand,
} from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { startTesseraForFile } from '../helpers/tessera.js';
import { assertS3Error, objectPath, raw } from './raw-http.js';

const { server, s3 } = await startTesseraForFile();
const Bucket = 'routing';
const EmptyBucket = 'routing-empty';
const Key = 'kept';
before(async () => {
  await s3.send(new CreateBucketCommand({ Bucket }));
  await s3.send(new CreateBucketCommand({ Bucket: EmptyBucket }));
  await s3.send(new PutObjectCommand({ Bucket, Key, Body: 'original' }));
});

async function assertUnchanged(): Promise<void> {
  await s3.send(new HeadBucketCommand({ Bucket: EmptyBucket }));
  const got = await s3.send(new GetObjectCommand({ Bucket, Key }));
  assert.equal(await got.Body!.transformToString(), 'original');
}

// Every sub-resource of the S3 API (the AWS SDK's request URIs), with the methods AWS serves on it.
const bucketSubresources: Record<string, string[]> = {
  abac: ['GET', 'PUT'], accelerate: ['GET', 'PUT'], analytics: ['GET', 'PUT', 'DELETE'],
  'intelligent-tiering': ['GET', 'PUT', 'DELETE'],
  inventory: ['GET', 'PUT', 'DELETE'], logging: ['GET', 'PUT'],
  metadataAnnotationTable: ['PUT'], metadataConfiguration: ['GET', 'POST', 'DELETE'], metadataInventoryTable: ['PUT'],
  metadataJournalTable: ['PUT'], metadataTable: ['GET', 'POST', 'DELETE'], metrics: ['GET', 'PUT', 'DELETE'],
  notification: ['GET', 'PUT'],
  // policy, policyStatus, publicAccessBlock, acl, ownershipControls, cors, lifecycle, object-lock and encryption are served.
  replication: ['GET', 'PUT', 'DELETE'], requestPayment: ['GET', 'PUT'], session: ['GET'], website: ['GET', 'PUT', 'DELETE'],
};
const objectSubresources: Record<string, string[]> = {
  annotation: ['GET', 'PUT', 'DELETE'], encryption: ['PUT'],
  renameObject: ['PUT'], restore: ['POST'], select: ['POST'],
};

test('Routing - every unimplemented bucket sub-resource gets 501 NotImplemented and changes nothing', async () => {
  for (const [name, methods] of Object.entries(bucketSubresources)) {
    for (const method of [...methods, 'HEAD']) {
      const res = await raw(server, { method, path: `/${EmptyBucket}`, query: { [name]: null }, body: method === 'PUT' || method === 'POST' ? '<x/>' : undefined });
      if (method === 'HEAD') assert.equal(res.status, 501, `HEAD ?${name}`);
      else assertS3Error(res, 501, 'NotImplemented');
    }
  }
  await assertUnchanged();
});

test('Routing - every unimplemented object sub-resource gets 501 NotImplemented and changes nothing', async () => {
  for (const [name, methods] of Object.entries(objectSubresources)) {
    for (const method of [...methods, 'HEAD']) {
      const res = await raw(server, { method, path: objectPath(Bucket, Key), query: { [name]: null }, body: method === 'PUT' || method === 'POST' ? 'replacement' : undefined });
      if (method === 'HEAD') assert.equal(res.status, 501, `HEAD ${Key}?${name}`);
      else assertS3Error(res, 501, 'NotImplemented');
    }
  }
  await assertUnchanged();
});

test('Routing - DeleteBucketMetadataConfiguration does not delete the bucket', async () => {
  const res = await raw(server, { method: 'DELETE', path: `/${EmptyBucket}`, query: { metadataConfiguration: null } });
  assertS3Error(res, 501, 'NotImplemented');
  await assertUnchanged();
});

test('Routing - DeleteObjectAnnotation and PutObjectAnnotation leave the object alone', async () => {
  assertS3Error(await raw(server, { method: 'DELETE', path: objectPath(Bucket, Key), query: { annotation: null, annotationName: 'a' } }), 501, 'NotImplemented');
  assertS3Error(await raw(server, { method: 'PUT', path: objectPath(Bucket, Key), query: { annotation: null, annotationName: 'a' }, body: 'note' }), 501, 'NotImplemented');
  await assertUnchanged();
});

test('Routing - GetBucketAbac gets 501 NotImplemented, not a listing', async () => {
  assertS3Error(await raw(server, { method: 'GET', path: `/${Bucket}`, query: { abac: null } }), 501, 'NotImplemented');
});

test('Routing - an unknown bare query parameter gets 501 NotImplemented when it could name a sub-resource', async () => {
  for (const method of ['GET', 'PUT', 'POST', 'DELETE']) {
    const body = method === 'PUT' || method === 'POST' ? 'replacement' : undefined;
    assertS3Error(await raw(server, { method, path: objectPath(Bucket, Key), query: { someFutureThing: null }, body }), 501, 'NotImplemented');
    assertS3Error(await raw(server, { method, path: `/${EmptyBucket}`, query: { someFutureThing: null }, body }), 501, 'NotImplemented');
  }
  await assertUnchanged();
});

test('Routing - an unknown query parameter with a value is refused on a write and ignored on a read', async () => {
  for (const method of ['PUT', 'DELETE']) {
    const body = method === 'PUT' ? 'replacement' : undefined;
    assertS3Error(await raw(server, { method, path: objectPath(Bucket, Key), query: { someFutureThing: 'x' }, body }), 501, 'NotImplemented');
  }
  assertS3Error(await raw(server, { method: 'DELETE', path: `/${EmptyBucket}`, query: { someFutureThing: 'x' } }), 501, 'NotImplemented');
  await assertUnchanged();
  const got = await raw(server, { method: 'GET', path: objectPath(Bucket, Key), query: { cacheBuster: '12345' } });
  assert.equal(got.status, 200);
  assert.equal(got.text, 'original');
});

test('Routing - two sub-resources in one request get 501 NotImplemented', async () => {
  assertS3Error(await raw(server, { method: 'DELETE', path: objectPath(Bucket, Key), query: { tagging: null, acl: null } }), 501, 'NotImplemented');
  assertS3Error(await raw(server, { method: 'GET', path: `/${Bucket}`, query: { versioning: null, location: null } }), 501, 'NotImplemented');
  await assertUnchanged();
});

test('Routing - presigned URLs with hoisted x-amz-* parameters and the SDK x-id still reach their operation', async () => {
  const put = await getSignedUrl(s3, new PutObjectCommand({ Bucket, Key: 'presigned', Metadata: { color: 'blue' } }), {
    expiresIn: 60, unhoistableHeaders: new Set(),
  });
  assert.match(put, /x-id=PutObject/);
  assert.match(put, /x-amz-meta-color=blue/);
  const res = await fetch(put, { method: 'PUT', body: 'via url' });
  assert.equal(res.status, 200, await res.text());
  const head = await s3.send(new HeadObjectCommand({ Bucket, Key: 'presigned' }));
  assert.equal(head.ContentLength, 7);
  const get = await getSignedUrl(s3, new GetObjectCommand({ Bucket, Key: 'presigned', ResponseContentType: 'text/x-test' }), { expiresIn: 60 });
  const got = await fetch(get);
  assert.equal(got.status, 200);
  assert.equal(got.headers.get('content-type'), 'text/x-test');
  assert.equal(await got.text(), 'via url');
});

test('GetObjectTorrent - a missing key gets 404 NoSuchKey, an existing object 501 NotImplemented', async () => {
  assertS3Error(await raw(server, { method: 'GET', path: objectPath(Bucket, 'no-such-key'), query: { torrent: null } }), 404, 'NoSuchKey');
  assertS3Error(await raw(server, { method: 'GET', path: objectPath(Bucket, Key), query: { torrent: null } }), 501, 'NotImplemented');
});
