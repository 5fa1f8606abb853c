// Block Public Access on the ACL side (issue 13): with the store's default (all four settings on, as AWS
// has for new accounts) a public ACL is refused with 403 AccessDenied on every write that can set one.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  CreateBucketCommand, CreateMultipartUploadCommand, GetObjectAclCommand, PutBucketAclCommand, PutObjectAclCommand, PutObjectCommand,
  type BucketCannedACL,
} from '@aws-sdk/client-s3';
import { startTesseraForFile } from '../helpers/tessera.js';
import { sdkError } from './raw-http.js';

const { s3 } = await startTesseraForFile();
const Bucket = 'bpa-acls';
await s3.send(new CreateBucketCommand({ Bucket, ObjectOwnership: 'ObjectWriter' }));
await s3.send(new PutObjectCommand({ Bucket, Key: 'k', Body: 'x' }));

test('BlockPublicAcls - public canned ACLs and grants are refused with AccessDenied', async () => {
  for (const ACL of ['public-read', 'public-read-write', 'authenticated-read'] as const) {
    await assert.rejects(s3.send(new PutObjectCommand({ Bucket, Key: 'public', Body: 'x', ACL })), sdkError('AccessDenied', 403));
    await assert.rejects(s3.send(new PutObjectAclCommand({ Bucket, Key: 'k', ACL })), sdkError('AccessDenied', 403));
    await assert.rejects(s3.send(new PutBucketAclCommand({ Bucket, ACL })), sdkError('AccessDenied', 403));
    await assert.rejects(s3.send(new CreateMultipartUploadCommand({ Bucket, Key: 'public', ACL })), sdkError('AccessDenied', 403));
  }
  await assert.rejects(s3.send(new PutObjectCommand({ Bucket, Key: 'public', Body: 'x', GrantRead: 'uri="http://acs.amazonaws.com/groups/global/AllUsers"' })), sdkError('AccessDenied', 403));
  await assert.rejects(s3.send(new CreateBucketCommand({ Bucket: 'bpa-public', ObjectOwnership: 'ObjectWriter', ACL: 'public-read' })), sdkError('AccessDenied', 403));
});

test('BlockPublicAcls - ACLs that are not public still go through', async () => {
  await s3.send(new PutObjectAclCommand({ Bucket, Key: 'k', ACL: 'bucket-owner-read' }));
  await s3.send(new PutBucketAclCommand({ Bucket, ACL: 'log-delivery-write' as BucketCannedACL }));
  await s3.send(new PutObjectCommand({ Bucket, Key: 'private', Body: 'x', ACL: 'private' }));
  assert.equal((await s3.send(new GetObjectAclCommand({ Bucket, Key: 'private' }))).Grants?.length, 1);
});
