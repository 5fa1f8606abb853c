// The ACL model without HTTP: the account's canonical id, the predefined groups, the canned ACLs and the
// ACL a bucket or object has when none was set. Parsing headers and XML into it lives in src/s3.
import { createHash } from 'node:crypto';
import { accountId, type Acl, type Grant, type Grantee, type ObjectOwnership } from './types.js';

/**
 * The account's canonical user id (64 hex, as AWS's): derived from the account id, so it is the same on
 * every gateway and across restarts without being stored, and pure code (acl-check.ts) can compute it.
 */
export const accountCanonicalId = createHash('sha256').update(`tessera canonical user ${accountId}`).digest('hex');

/** The display name shown beside the canonical id in Owner and Grantee elements. */
export const accountDisplayName = 'tessera';

export const groupUris = {
  allUsers: 'http://acs.amazonaws.com/groups/global/AllUsers',
  authenticatedUsers: 'http://acs.amazonaws.com/groups/global/AuthenticatedUsers',
  logDelivery: 'http://acs.amazonaws.com/groups/s3/LogDelivery',
} as const;

export const knownGroupUris: ReadonlySet<string> = new Set(Object.values(groupUris));

export const cannedAcls = [
  'private', 'public-read', 'public-read-write', 'authenticated-read', 'aws-exec-read', 'bucket-owner-read',
  'bucket-owner-full-control', 'log-delivery-write',
] as const;
export type CannedAcl = (typeof cannedAcls)[number];

export function isCannedAcl(value: string): value is CannedAcl {
  return (cannedAcls as readonly string[]).includes(value);
}

const owner = (id: string): Grantee => ({ type: 'CanonicalUser', id });
const group = (uri: string): Grantee => ({ type: 'Group', uri });

/** The ACL a resource has when none was set: its owner has FULL_CONTROL. */
export function privateAcl(ownerId: string = accountCanonicalId): Acl {
  return { owner: ownerId, grants: [{ grantee: owner(ownerId), permission: 'FULL_CONTROL' }] };
}

/**
 * The ACL a canned ACL stands for. `bucketOwnerId` is the owner of the bucket an object is in (the
 * bucket-owner-* ACLs); a grant it would duplicate is left out. aws-exec-read grants no one but the owner:
 * there is no EC2 here to read AMI bundles.
 */
export function cannedAcl(canned: CannedAcl, ownerId: string, bucketOwnerId: string = ownerId): Acl {
  const grants: Grant[] = [{ grantee: owner(ownerId), permission: 'FULL_CONTROL' }];
  const add = (grantee: Grantee, permission: Grant['permission']): void => {
    grants.push({ grantee, permission });
  };
  switch (canned) {
    case 'private':
    case 'aws-exec-read':
      break;
    case 'public-read':
      add(group(groupUris.allUsers), 'READ');
      break;
    case 'public-read-write':
      add(group(groupUris.allUsers), 'READ');
      add(group(groupUris.allUsers), 'WRITE');
      break;
    case 'authenticated-read':
      add(group(groupUris.authenticatedUsers), 'READ');
      break;
    case 'bucket-owner-read':
      if (bucketOwnerId !== ownerId) add(owner(bucketOwnerId), 'READ');
      break;
    case 'bucket-owner-full-control':
      if (bucketOwnerId !== ownerId) add(owner(bucketOwnerId), 'FULL_CONTROL');
      break;
    case 'log-delivery-write':
      add(group(groupUris.logDelivery), 'WRITE');
      add(group(groupUris.logDelivery), 'READ_ACP');
      break;
  }
  return { owner: ownerId, grants };
}

/**
 * Whether an ACL gives no one but its owner anything beyond what the owner has anyway: what a bucket whose
 * Object Ownership is BucketOwnerEnforced still accepts (bucket-owner-full-control, private, or the same
 * as XML).
 */
export function grantsOnlyOwner(acl: Acl, bucketOwnerId: string): boolean {
  return acl.grants.every((g) => g.grantee.type === 'CanonicalUser' && (g.grantee.id === acl.owner || g.grantee.id === bucketOwnerId) && g.permission === 'FULL_CONTROL');
}

/**
 * The Object Ownership a bucket acts under: BucketOwnerEnforced when it has no setting (AWS's default for
 * new buckets, and what buckets from before ownership controls get), ObjectWriter once its controls
 * were deleted (AWS's behaviour for a bucket without them).
 */
export function ownershipOf(bucket: { ownership?: ObjectOwnership; ownershipRemoved?: boolean }): ObjectOwnership {
  if (bucket.ownershipRemoved) return 'ObjectWriter';
  return bucket.ownership ?? 'BucketOwnerEnforced';
}

/**
 * The ACL that decides access to a bucket or object: under BucketOwnerEnforced (also when a bucket has no
 * ownership setting, as AWS's default) ACLs are off and only the bucket owner's FULL_CONTROL counts; a
 * stored ACL is kept for when they are turned back on. Otherwise the stored ACL, or private when none.
 */
export function aclInForce(ownership: ObjectOwnership | undefined, acl: Acl | undefined): Acl {
  if ((ownership ?? 'BucketOwnerEnforced') === 'BucketOwnerEnforced') return privateAcl();
  return acl ?? privateAcl();
}
