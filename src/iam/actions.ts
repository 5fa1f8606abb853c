// The S3 action names a policy may grant (s3:<name>, matched case-insensitively): AWS refuses a bucket
// policy naming any other s3: action, so a typo cannot silently grant nothing (or, in a Deny, deny nothing).
export const s3ActionNames: readonly string[] = [
  'AbortMultipartUpload', 'BypassGovernanceRetention', 'CreateBucket', 'DeleteBucket', 'DeleteBucketOwnershipControls',
  'DeleteBucketPolicy', 'DeleteBucketWebsite', 'DeleteObject', 'DeleteObjectTagging', 'DeleteObjectVersion',
  'DeleteObjectVersionTagging', 'GetAccelerateConfiguration', 'GetAccountPublicAccessBlock', 'GetAnalyticsConfiguration',
  'GetBucketAcl', 'GetBucketCORS', 'GetBucketLocation', 'GetBucketLogging', 'GetBucketNotification',
  'GetBucketObjectLockConfiguration', 'GetBucketOwnershipControls', 'GetBucketPolicy', 'GetBucketPolicyStatus',
  'GetBucketPublicAccessBlock', 'GetBucketRequestPayment', 'GetBucketTagging', 'GetBucketVersioning', 'GetBucketWebsite',
  'GetEncryptionConfiguration', 'GetIntelligentTieringConfiguration', 'GetInventoryConfiguration',
  'GetLifecycleConfiguration', 'GetMetricsConfiguration', 'GetObject', 'GetObjectAcl', 'GetObjectAttributes',
  'GetObjectLegalHold', 'GetObjectRetention', 'GetObjectTagging', 'GetObjectTorrent', 'GetObjectVersion',
  'GetObjectVersionAcl', 'GetObjectVersionAttributes', 'GetObjectVersionForReplication', 'GetObjectVersionTagging',
  'GetObjectVersionTorrent', 'GetReplicationConfiguration', 'ListAllMyBuckets', 'ListBucket', 'ListBucketMultipartUploads',
  'ListBucketVersions', 'ListMultipartUploadParts', 'ObjectOwnerOverrideToBucketOwner', 'PutAccelerateConfiguration',
  'PutAccountPublicAccessBlock', 'PutAnalyticsConfiguration', 'PutBucketAcl', 'PutBucketCORS', 'PutBucketLogging',
  'PutBucketNotification', 'PutBucketObjectLockConfiguration', 'PutBucketOwnershipControls', 'PutBucketPolicy',
  'PutBucketPublicAccessBlock', 'PutBucketRequestPayment', 'PutBucketTagging', 'PutBucketVersioning', 'PutBucketWebsite',
  'PutEncryptionConfiguration', 'PutIntelligentTieringConfiguration', 'PutInventoryConfiguration',
  'PutLifecycleConfiguration', 'PutMetricsConfiguration', 'PutObject', 'PutObjectAcl', 'PutObjectLegalHold',
  'PutObjectRetention', 'PutObjectTagging', 'PutObjectVersionAcl', 'PutObjectVersionTagging', 'PutReplicationConfiguration',
  'ReplicateDelete', 'ReplicateObject', 'ReplicateTags', 'RestoreObject',
];

const known = new Set(s3ActionNames.map((n) => `s3:${n.toLowerCase()}`));

/** Whether a lower-cased "s3:name" names an S3 action. */
export function isS3Action(lowerAction: string): boolean {
  return known.has(lowerAction);
}
