// Object ACLs: read and replace the ACL of one version. The ACL lives in the version record, so it
// changes without touching the object's data or creating a version, as in S3.
import type { ObjectContext } from './context.js';
import { resolveVersion, resolveVersionAndBucket } from './get-object.js';
import { updateVersion } from './key-state.js';
import { ObjectError } from './errors.js';
import type { BucketRecord, VersionRecord } from './records.js';
import type { Acl } from '../iam/types.js';

/** The version (with its ACL) and its bucket, whose Object Ownership decides whether that ACL is in force. */
export async function getObjectAcl(ctx: ObjectContext, bucket: string, key: string, versionId?: string): Promise<{ record: VersionRecord; bucket: BucketRecord }> {
  return resolveVersionAndBucket(ctx, bucket, key, versionId);
}

export async function putObjectAcl(ctx: ObjectContext, bucket: string, key: string, versionId: string | undefined, acl: Acl): Promise<VersionRecord> {
  const record = await resolveVersion(ctx, bucket, key, versionId);
  const updated = await updateVersion(ctx, bucket, key, record.versionKey, (r) => ({ ...r, acl }));
  if (!updated) throw new ObjectError('NoSuchKey', undefined, { extra: { Key: key } });
  return updated;
}
