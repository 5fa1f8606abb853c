// The shapes access control is decided on: who a request acts as (authentication's answer), and what a
// bucket or object says about who may touch it (policy, ACL, ownership, Block Public Access). Shared by
// the key store, the policy evaluator and the ACL code, so each can be built against the others.

/** The one account every user of a Tessera store belongs to, as an AWS account id (12 digits). */
export const accountId = '000000000000';

/**
 * Who a request acts as once its signature is checked. The root key is the account's root user: it may do
 * anything no explicit Deny of a bucket policy forbids (as in AWS; the bucket policy operations themselves
 * stay open to it, so it cannot lock itself out), and Object Lock COMPLIANCE binds it too. A user acts
 * under its identity policies and what buckets grant it.
 */
export type Identity =
  | { kind: 'root'; accessKeyId: string; arn: string }
  | {
    kind: 'user';
    accessKeyId: string;
    userName: string;
    /** The user's unique id (AIDA...): aws:userid, which a user deleted and re-created under its name does not keep. */
    userId: string;
    /** arn:aws:iam::<accountId>:user/<userName> */
    arn: string;
    /** The user's attached identity policies, as the JSON documents they were attached as. */
    policies: readonly string[];
  }
  | { kind: 'anonymous' };

/** The four Block Public Access settings (PutPublicAccessBlock), for a bucket or the whole store. */
export interface PublicAccessBlock {
  BlockPublicAcls: boolean;
  IgnorePublicAcls: boolean;
  BlockPublicPolicy: boolean;
  RestrictPublicBuckets: boolean;
}

/** Object Ownership (PutBucketOwnershipControls); BucketOwnerEnforced turns ACLs off. */
export type ObjectOwnership = 'BucketOwnerEnforced' | 'BucketOwnerPreferred' | 'ObjectWriter';

export type AclPermission = 'FULL_CONTROL' | 'READ' | 'WRITE' | 'READ_ACP' | 'WRITE_ACP';

export type Grantee =
  | { type: 'CanonicalUser'; id: string }
  | { type: 'Group'; uri: string }
  | { type: 'AmazonCustomerByEmail'; email: string };

export interface Grant {
  grantee: Grantee;
  permission: AclPermission;
}

/** An access control list: its owner's canonical id and its grants. */
export interface Acl {
  owner: string;
  grants: Grant[];
}
