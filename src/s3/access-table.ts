// Every S3 operation the router serves, mapped to the IAM action it needs and the level of its resource:
// the one table authorization reads (a test checks it against the router's handlers, so none is left out).
// Operations that need more than one check (CopyObject reads a source, DeleteObjects deletes many keys,
// PostObject names its key in the form) say so here, and their checks happen where the facts are known.
import type { Routable } from './router.js';

export type ResourceLevel = 'service' | 'bucket' | 'object';

export interface AccessRule {
  /** The IAM action on the request's own resource. */
  action: (c: Routable) => string;
  level: ResourceLevel;
  /**
   * 'copy': also needs s3:GetObject(Version) on the x-amz-copy-source; 'per-key': the handler checks each
   * key it acts on (DeleteObjects); 'form': the handler checks once the form names signer and key (PostObject).
   */
  special?: 'copy' | 'per-key' | 'form';
}

const versioned = (plain: string, withVersion: string) => (c: Routable): string => (c.query.has('versionId') ? withVersion : plain);
const fixed = (action: string) => (): string => action;

function rule(level: ResourceLevel, action: string | ((c: Routable) => string), special?: AccessRule['special']): AccessRule {
  return { action: typeof action === 'string' ? fixed(action) : action, level, ...(special ? { special } : {}) };
}

/** Operation name (operationName(handler)) → its rule. */
export const accessTable: ReadonlyMap<string, AccessRule> = new Map([
  ['ListBuckets', rule('service', 's3:ListAllMyBuckets')],
  ['CreateBucket', rule('bucket', 's3:CreateBucket')],
  ['DeleteBucket', rule('bucket', 's3:DeleteBucket')],
  ['HeadBucket', rule('bucket', 's3:ListBucket')],
  ['GetBucketLocation', rule('bucket', 's3:GetBucketLocation')],
  ['GetBucketVersioning', rule('bucket', 's3:GetBucketVersioning')],
  ['PutBucketVersioning', rule('bucket', 's3:PutBucketVersioning')],
  ['GetBucketTagging', rule('bucket', 's3:GetBucketTagging')],
  ['PutBucketTagging', rule('bucket', 's3:PutBucketTagging')],
  // AWS: DeleteBucketTagging needs s3:PutBucketTagging.
  ['DeleteBucketTagging', rule('bucket', 's3:PutBucketTagging')],
  ['GetBucketPolicy', rule('bucket', 's3:GetBucketPolicy')],
  ['PutBucketPolicy', rule('bucket', 's3:PutBucketPolicy')],
  ['DeleteBucketPolicy', rule('bucket', 's3:DeleteBucketPolicy')],
  ['GetBucketPolicyStatus', rule('bucket', 's3:GetBucketPolicyStatus')],
  ['GetPublicAccessBlock', rule('bucket', 's3:GetBucketPublicAccessBlock')],
  ['PutPublicAccessBlock', rule('bucket', 's3:PutBucketPublicAccessBlock')],
  // AWS: DeletePublicAccessBlock needs s3:PutBucketPublicAccessBlock.
  ['DeletePublicAccessBlock', rule('bucket', 's3:PutBucketPublicAccessBlock')],
  ['GetBucketAcl', rule('bucket', 's3:GetBucketAcl')],
  ['PutBucketAcl', rule('bucket', 's3:PutBucketAcl')],
  ['GetBucketOwnershipControls', rule('bucket', 's3:GetBucketOwnershipControls')],
  ['PutBucketOwnershipControls', rule('bucket', 's3:PutBucketOwnershipControls')],
  // AWS: DeleteBucketOwnershipControls needs s3:PutBucketOwnershipControls.
  ['DeleteBucketOwnershipControls', rule('bucket', 's3:PutBucketOwnershipControls')],
  ['GetBucketLifecycle', rule('bucket', 's3:GetLifecycleConfiguration')],
  ['PutBucketLifecycle', rule('bucket', 's3:PutLifecycleConfiguration')],
  // AWS: DeleteBucketLifecycle needs s3:PutLifecycleConfiguration.
  ['DeleteBucketLifecycle', rule('bucket', 's3:PutLifecycleConfiguration')],
  ['GetBucketCors', rule('bucket', 's3:GetBucketCORS')],
  ['PutBucketCors', rule('bucket', 's3:PutBucketCORS')],
  // AWS: DeleteBucketCors needs s3:PutBucketCORS.
  ['DeleteBucketCors', rule('bucket', 's3:PutBucketCORS')],
  ['GetBucketEncryption', rule('bucket', 's3:GetEncryptionConfiguration')],
  ['PutBucketEncryption', rule('bucket', 's3:PutEncryptionConfiguration')],
  // AWS: DeleteBucketEncryption needs s3:PutEncryptionConfiguration.
  ['DeleteBucketEncryption', rule('bucket', 's3:PutEncryptionConfiguration')],
  ['GetObjectLockConfiguration', rule('bucket', 's3:GetBucketObjectLockConfiguration')],
  ['PutObjectLockConfiguration', rule('bucket', 's3:PutBucketObjectLockConfiguration')],
  ['ListObjects', rule('bucket', 's3:ListBucket')],
  ['ListObjectsV2', rule('bucket', 's3:ListBucket')],
  ['ListObjectVersions', rule('bucket', 's3:ListBucketVersions')],
  ['ListMultipartUploads', rule('bucket', 's3:ListBucketMultipartUploads')],
  ['DeleteObjects', rule('bucket', 's3:DeleteObject', 'per-key')],
  ['PostObject', rule('bucket', 's3:PutObject', 'form')],
  ['GetObject', rule('object', versioned('s3:GetObject', 's3:GetObjectVersion'))],
  ['HeadObject', rule('object', versioned('s3:GetObject', 's3:GetObjectVersion'))],
  ['GetObjectAttributes', rule('object', versioned('s3:GetObjectAttributes', 's3:GetObjectVersionAttributes'))],
  ['GetObjectTorrent', rule('object', versioned('s3:GetObjectTorrent', 's3:GetObjectVersionTorrent'))],
  ['GetObjectTagging', rule('object', versioned('s3:GetObjectTagging', 's3:GetObjectVersionTagging'))],
  ['PutObjectTagging', rule('object', versioned('s3:PutObjectTagging', 's3:PutObjectVersionTagging'))],
  ['DeleteObjectTagging', rule('object', versioned('s3:DeleteObjectTagging', 's3:DeleteObjectVersionTagging'))],
  ['GetObjectAcl', rule('object', versioned('s3:GetObjectAcl', 's3:GetObjectVersionAcl'))],
  ['PutObjectAcl', rule('object', versioned('s3:PutObjectAcl', 's3:PutObjectVersionAcl'))],
  ['PutObject', rule('object', 's3:PutObject')],
  ['CopyObject', rule('object', 's3:PutObject', 'copy')],
  ['DeleteObject', rule('object', versioned('s3:DeleteObject', 's3:DeleteObjectVersion'))],
  ['GetObjectRetention', rule('object', 's3:GetObjectRetention')],
  ['PutObjectRetention', rule('object', 's3:PutObjectRetention')],
  ['GetObjectLegalHold', rule('object', 's3:GetObjectLegalHold')],
  ['PutObjectLegalHold', rule('object', 's3:PutObjectLegalHold')],
  ['CreateMultipartUpload', rule('object', 's3:PutObject')],
  ['UploadPart', rule('object', 's3:PutObject')],
  ['UploadPartCopy', rule('object', 's3:PutObject', 'copy')],
  ['CompleteMultipartUpload', rule('object', 's3:PutObject')],
  ['AbortMultipartUpload', rule('object', 's3:AbortMultipartUpload')],
  ['ListParts', rule('object', 's3:ListMultipartUploadParts')],
]);

/** The resource ARN an action is checked against. */
export function resourceArn(level: ResourceLevel, bucket: string | undefined, key: string | undefined): string {
  if (level === 'service' || bucket === undefined) return 'arn:aws:s3:::*';
  if (level === 'bucket' || key === undefined) return `arn:aws:s3:::${bucket}`;
  return `arn:aws:s3:::${bucket}/${key}`;
}
