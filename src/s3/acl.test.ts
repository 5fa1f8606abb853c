import assert from 'node:assert/strict';
import { test } from 'node:test';
import { accountCanonicalId, groupUris } from '../iam/acl.js';
import { aclFromHeaders, aclFromXml, aclXml, checkAclAllowed } from './acl.js';
import { S3Error } from './errors.js';
import { xmlDocument } from './xml.js';

const id = accountCanonicalId;
const s3Code = (code: string) => (err: unknown) => err instanceof S3Error && err.code === code;

test('aclFromHeaders - several grantees per header, quotes optional, key names case-insensitive', () => {
  const got = aclFromHeaders({ 'x-amz-grant-read': `id=${id}, URI="${groupUris.allUsers}"`, 'x-amz-grant-write-acp': `ID="${id}"` }, id);
  assert.deepEqual(got?.acl.grants, [
    { grantee: { type: 'CanonicalUser', id }, permission: 'READ' },
    { grantee: { type: 'Group', uri: groupUris.allUsers }, permission: 'READ' },
    { grantee: { type: 'CanonicalUser', id }, permission: 'WRITE_ACP' },
  ]);
  assert.equal(got?.canned, undefined);
});

test('aclFromHeaders - undefined without ACL headers; canned names are kept', () => {
  assert.equal(aclFromHeaders({}, id), undefined);
  assert.equal(aclFromHeaders({ 'x-amz-acl': 'bucket-owner-full-control' }, id)?.canned, 'bucket-owner-full-control');
});

test('aclFromHeaders - an empty grant value or an unknown key is InvalidArgument', () => {
  assert.throws(() => aclFromHeaders({ 'x-amz-grant-read': '' }, id), s3Code('InvalidArgument'));
  assert.throws(() => aclFromHeaders({ 'x-amz-grant-read': 'user=alice' }, id), s3Code('InvalidArgument'));
});

test('aclXml and aclFromXml - a document written is read back the same', () => {
  const acl = { owner: id, grants: [{ grantee: { type: 'Group' as const, uri: groupUris.logDelivery }, permission: 'WRITE' as const }] };
  const body = Buffer.from(xmlDocument('AccessControlPolicy', aclXml(acl)));
  assert.deepEqual(aclFromXml(body, id).acl, acl);
});

test('checkAclAllowed - under BucketOwnerEnforced only the owner alone passes; BlockPublicAcls refuses public ACLs', () => {
  const enforced = { ownership: 'BucketOwnerEnforced' as const };
  const publicRead = aclFromHeaders({ 'x-amz-acl': 'public-read' }, id)!;
  const store = { storePublicAccessBlock: undefined };
  assert.throws(() => checkAclAllowed(enforced, publicRead, store), s3Code('AccessControlListNotSupported'));
  assert.throws(() => checkAclAllowed(enforced, publicRead, { ...store, creatingBucket: true }), s3Code('InvalidBucketAclWithObjectOwnership'));
  checkAclAllowed(enforced, aclFromHeaders({ 'x-amz-acl': 'bucket-owner-full-control' }, id)!, store);
  checkAclAllowed({}, aclFromHeaders({ 'x-amz-grant-full-control': `id="${id}"` }, id)!, store);
  assert.throws(() => checkAclAllowed({}, { acl: { owner: id, grants: [] } }, store), s3Code('AccessControlListNotSupported'), 'no grants is not the owner\'s FULL_CONTROL');
  const writer = { ownership: 'ObjectWriter' as const };
  assert.throws(() => checkAclAllowed(writer, publicRead, store), s3Code('AccessDenied'), 'the store default blocks public ACLs');
  const off = { BlockPublicAcls: false, IgnorePublicAcls: false, BlockPublicPolicy: false, RestrictPublicBuckets: false };
  checkAclAllowed(writer, publicRead, { storePublicAccessBlock: off });
  assert.throws(() => checkAclAllowed({ ...writer, publicAccessBlock: { ...off, BlockPublicAcls: true } }, publicRead, { storePublicAccessBlock: off }), s3Code('AccessDenied'));
});
