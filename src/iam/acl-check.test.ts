import assert from 'node:assert/strict';
import { test } from 'node:test';
import { aclGrants, aclPermissionFor, isPublicAcl } from './acl-check.js';
import { accountCanonicalId, aclInForce, cannedAcl, groupUris, privateAcl } from './acl.js';
import { accountId, type Acl, type Identity } from './types.js';

const root: Identity = { kind: 'root', accessKeyId: 'ROOT', arn: `arn:aws:iam::${accountId}:root` };
const user: Identity = { kind: 'user', accessKeyId: 'USER', userName: 'alice', userId: 'AIDAALICE', arn: `arn:aws:iam::${accountId}:user/alice`, policies: [] };
const anonymous: Identity = { kind: 'anonymous' };
const open = { ignorePublic: false };

test('accountCanonicalId - 64 lowercase hex, the same every time', () => {
  assert.match(accountCanonicalId, /^[0-9a-f]{64}$/);
});

test('aclPermissionFor - maps actions to the bucket ACL and the object ACL as AWS documents', () => {
  assert.equal(aclPermissionFor('s3:ListBucket', 'bucket'), 'READ');
  assert.equal(aclPermissionFor('s3:ListBucketVersions', 'bucket'), 'READ');
  assert.equal(aclPermissionFor('s3:PutObject', 'bucket'), 'WRITE');
  assert.equal(aclPermissionFor('s3:DeleteObject', 'bucket'), 'WRITE');
  assert.equal(aclPermissionFor('s3:GetBucketAcl', 'bucket'), 'READ_ACP');
  assert.equal(aclPermissionFor('s3:PutBucketAcl', 'bucket'), 'WRITE_ACP');
  assert.equal(aclPermissionFor('s3:GetObject', 'object'), 'READ');
  assert.equal(aclPermissionFor('s3:GetObjectVersion', 'object'), 'READ');
  assert.equal(aclPermissionFor('s3:GetObjectAcl', 'object'), 'READ_ACP');
  assert.equal(aclPermissionFor('s3:PutObjectAcl', 'object'), 'WRITE_ACP');
  assert.equal(aclPermissionFor('s3:PutObjectVersionAcl', 'object'), 'WRITE_ACP');
});

test('aclPermissionFor - undefined for actions no ACL grants, or at the wrong level', () => {
  assert.equal(aclPermissionFor('s3:GetObject', 'bucket'), undefined);
  assert.equal(aclPermissionFor('s3:PutObject', 'object'), undefined);
  assert.equal(aclPermissionFor('s3:PutBucketPolicy', 'bucket'), undefined);
  assert.equal(aclPermissionFor('s3:DeleteBucket', 'bucket'), undefined);
  assert.equal(aclPermissionFor('s3:GetObjectTagging', 'object'), undefined);
  assert.equal(aclPermissionFor('toString', 'object'), undefined, 'no prototype keys');
});

test('aclGrants - FULL_CONTROL implies every permission', () => {
  const acl = privateAcl();
  for (const p of ['READ', 'WRITE', 'READ_ACP', 'WRITE_ACP', 'FULL_CONTROL'] as const) assert.ok(aclGrants(acl, root, p, open), p);
});

test('aclGrants - the account canonical id matches root and users, not anonymous', () => {
  const acl: Acl = { owner: accountCanonicalId, grants: [{ grantee: { type: 'CanonicalUser', id: accountCanonicalId }, permission: 'READ' }] };
  assert.ok(aclGrants(acl, root, 'READ', open));
  assert.ok(aclGrants(acl, user, 'READ', open));
  assert.ok(!aclGrants(acl, anonymous, 'READ', open));
  assert.ok(!aclGrants(acl, root, 'WRITE', open), 'READ does not imply WRITE');
});

test('aclGrants - another canonical id matches no one', () => {
  const acl: Acl = { owner: accountCanonicalId, grants: [{ grantee: { type: 'CanonicalUser', id: 'f'.repeat(64) }, permission: 'FULL_CONTROL' }] };
  assert.ok(!aclGrants(acl, root, 'READ', open));
});

test('aclGrants - AllUsers matches anyone, anonymous included', () => {
  const acl = cannedAcl('public-read', accountCanonicalId);
  assert.ok(aclGrants(acl, anonymous, 'READ', open));
  assert.ok(aclGrants(acl, user, 'READ', open));
  assert.ok(!aclGrants(acl, anonymous, 'WRITE', open));
  assert.ok(aclGrants(cannedAcl('public-read-write', accountCanonicalId), anonymous, 'WRITE', open));
});

test('aclGrants - AuthenticatedUsers matches signed identities only', () => {
  const acl = cannedAcl('authenticated-read', accountCanonicalId);
  assert.ok(aclGrants(acl, user, 'READ', open));
  assert.ok(!aclGrants(acl, anonymous, 'READ', open));
});

test('aclGrants - ignorePublic drops AllUsers and AuthenticatedUsers grants, keeps canonical ones', () => {
  const ignore = { ignorePublic: true };
  assert.ok(!aclGrants(cannedAcl('public-read', accountCanonicalId), anonymous, 'READ', ignore));
  const authRead: Acl = { owner: 'x', grants: [{ grantee: { type: 'Group', uri: groupUris.authenticatedUsers }, permission: 'READ' }] };
  assert.ok(!aclGrants(authRead, user, 'READ', ignore));
  assert.ok(aclGrants(cannedAcl('public-read', accountCanonicalId), root, 'READ', ignore), 'the owner grant still counts');
});

test('aclGrants - LogDelivery and e-mail grantees match no request', () => {
  const acl: Acl = {
    owner: 'x',
    grants: [
      { grantee: { type: 'Group', uri: groupUris.logDelivery }, permission: 'FULL_CONTROL' },
      { grantee: { type: 'AmazonCustomerByEmail', email: 'a@example.com' }, permission: 'FULL_CONTROL' },
    ],
  };
  for (const who of [root, user, anonymous]) assert.ok(!aclGrants(acl, who, 'READ', open));
});

test('isPublicAcl - true for grants to AllUsers or AuthenticatedUsers, false otherwise', () => {
  assert.ok(isPublicAcl(cannedAcl('public-read', accountCanonicalId)));
  assert.ok(isPublicAcl(cannedAcl('public-read-write', accountCanonicalId)));
  assert.ok(isPublicAcl(cannedAcl('authenticated-read', accountCanonicalId)));
  assert.ok(!isPublicAcl(cannedAcl('private', accountCanonicalId)));
  assert.ok(!isPublicAcl(cannedAcl('log-delivery-write', accountCanonicalId)));
  assert.ok(!isPublicAcl(cannedAcl('bucket-owner-full-control', accountCanonicalId)));
});

test('aclInForce - BucketOwnerEnforced or no ownership setting ignores the stored ACL', () => {
  const publicRead = cannedAcl('public-read', accountCanonicalId);
  assert.deepEqual(aclInForce(undefined, publicRead), privateAcl());
  assert.deepEqual(aclInForce('BucketOwnerEnforced', publicRead), privateAcl());
  assert.deepEqual(aclInForce('ObjectWriter', publicRead), publicRead);
  assert.deepEqual(aclInForce('BucketOwnerPreferred', undefined), privateAcl());
});
