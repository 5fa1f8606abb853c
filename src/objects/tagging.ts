// Object tags: read and replace the tag set of one version. Tags live in the version record, so they
// change without touching the object's data or creating a version, as in S3.
import type { ObjectContext } from './context.js';
import { resolveVersion } from './get-object.js';
import { updateVersion } from './key-state.js';
import { ObjectError } from './errors.js';
import type { VersionRecord } from './records.js';

export async function getObjectTags(ctx: ObjectContext, bucket: string, key: string, versionId?: string): Promise<VersionRecord> {
  return resolveVersion(ctx, bucket, key, versionId);
}

export async function putObjectTags(ctx: ObjectContext, bucket: string, key: string, versionId: string | undefined, tags: Record<string, string>): Promise<VersionRecord> {
  const record = await resolveVersion(ctx, bucket, key, versionId);
  const updated = await updateVersion(ctx, bucket, key, record.versionKey, (r) => {
    const { tags: _, ...rest } = r;
    return Object.keys(tags).length > 0 ? { ...rest, tags } : rest;
  });
  if (!updated) throw new ObjectError('NoSuchKey', undefined, { extra: { Key: key } });
  return updated;
}
