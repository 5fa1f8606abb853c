// Pure ACL answers for the policy evaluator: which ACL permission an IAM action needs, whether an ACL
// grants it to an identity, and whether an ACL is public (Block Public Access). No I/O.
import { accountCanonicalId, groupUris } from './acl.js';
import type { Acl, AclPermission, Identity } from './types.js';

/**
 * AWS's "mapping of ACL permissions and access policy permissions": the actions each ACL permission
 * allows, on the bucket ACL and on an object ACL. WRITE on an object ACL allows nothing. FULL_CONTROL is
 * not listed: it implies the other four (aclGrants).
 */
const bucketActions: Readonly<Record<string, AclPermission>> = {
  's3:ListBucket': 'READ',
  's3:ListBucketVersions': 'READ',
  's3:ListBucketMultipartUploads': 'READ',
  's3:PutObject': 'WRITE',
  's3:DeleteObject': 'WRITE',
  's3:GetBucketAcl': 'READ_ACP',
  's3:PutBucketAcl': 'WRITE_ACP',
};

const objectActions: Readonly<Record<string, AclPermission>> = {
  's3:GetObject': 'READ',
  's3:GetObjectVersion': 'READ',
  's3:GetObjectTorrent': 'READ',
  's3:GetObjectAcl': 'READ_ACP',
  's3:GetObjectVersionAcl': 'READ_ACP',
  's3:PutObjectAcl': 'WRITE_ACP',
  's3:PutObjectVersionAcl': 'WRITE_ACP',
};

/** The ACL permission that grants `action` on the bucket's ACL or an object's; undefined when no ACL can. */
export function aclPermissionFor(action: string, level: 'bucket' | 'object'): AclPermission | undefined {
  const table = level === 'bucket' ? bucketActions : objectActions;
  return Object.hasOwn(table, action) ? table[action] : undefined;
}

/**
 * Whether `acl` grants `permission` to `identity`. FULL_CONTROL implies every permission. The root user
 * and the account's users act as the account (AWS's same-account behaviour), so a grant to the account's
 * canonical id matches them; AllUsers matches anyone, anonymous too; AuthenticatedUsers any signed
 * identity. With ignorePublic (IgnorePublicAcls) grants to those two groups count for nothing.
 * LogDelivery and e-mail grantees match no request identity.
 */
export function aclGrants(acl: Acl, identity: Identity, permission: AclPermission, options: { ignorePublic: boolean }): boolean {
  for (const grant of acl.grants) {
    if (grant.permission !== permission && grant.permission !== 'FULL_CONTROL') continue;
    const grantee = grant.grantee;
    if (grantee.type === 'CanonicalUser') {
      if (identity.kind !== 'anonymous' && grantee.id === accountCanonicalId) return true;
    } else if (grantee.type === 'Group' && !options.ignorePublic) {
      if (grantee.uri === groupUris.allUsers) return true;
      if (grantee.uri === groupUris.authenticatedUsers && identity.kind !== 'anonymous') return true;
    }
  }
  return false;
}

/** Whether an ACL is public as Block Public Access defines it: it grants anything to AllUsers or AuthenticatedUsers. */
export function isPublicAcl(acl: Acl): boolean {
  return acl.grants.some((g) => g.grantee.type === 'Group' && (g.grantee.uri === groupUris.allUsers || g.grantee.uri === groupUris.authenticatedUsers));
}
