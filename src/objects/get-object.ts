// Finding the version a read addresses: the current one, the null one, or one by id, with the 404s and
// 405s AWS gives for missing keys, missing versions and delete markers.
import type { ObjectContext } from './context.js';
import { ObjectError } from './errors.js';
import { keys } from './keys.js';
import { bucketRecordOf, readHead, readVersion } from './key-state.js';
import { decodeSharedRecord, parseVersionId, versionIdOf, type BucketRecord, type CurrentEntry, type VersionRecord } from './records.js';

export function httpDate(ms: number): string {
  return new Date(ms).toUTCString();
}

/** The version key a client-given version id names, or undefined when the key has no such version. */
export async function versionKeyOf(ctx: ObjectContext, bucket: string, key: string, versionId: string): Promise<string | undefined> {
  if (versionId === 'null') return (await readHead(ctx, bucket, key)).head?.nullVersionKey;
  const parsed = parseVersionId(versionId);
  if (!parsed) throw new ObjectError('InvalidArgument', 'Invalid version id specified', { extra: { ArgumentName: 'versionId', ArgumentValue: versionId } });
  return parsed.toString('hex');
}

async function currentVersion(ctx: ObjectContext, bucket: string, key: string): Promise<VersionRecord> {
  // The current entry and the version it names are read apart; a commit between the two reads can
  // replace both, so read again rather than report a key that exists as missing. The reads are awaited
  // here rather than through readVersion(): each async layer costs a small GET a promise and a tick.
  for (let attempt = 0; attempt < 4; attempt++) {
    const entryBuf = await ctx.meta.get(keys.current(bucket, key));
    if (!entryBuf) break;
    const versionKey = Buffer.from(decodeSharedRecord<CurrentEntry>(entryBuf).versionKey, 'hex');
    const recordBuf = await ctx.meta.get(keys.version(bucket, key, versionKey));
    if (recordBuf) return decodeSharedRecord<VersionRecord>(recordBuf);
  }
  const { head } = await readHead(ctx, bucket, key);
  if (head?.latestIsDeleteMarker) {
    const marker = await readVersion(ctx, bucket, key, head.latest);
    const versionId = marker ? versionIdOf(marker) : head.latest;
    throw new ObjectError('NoSuchKey', undefined, { extra: { Key: key }, headers: { 'x-amz-delete-marker': 'true', 'x-amz-version-id': versionId } });
  }
  throw new ObjectError('NoSuchKey', undefined, { extra: { Key: key } });
}

/** Resolves the version a GET, HEAD or copy source addresses. */
export async function resolveVersion(ctx: ObjectContext, bucket: string, key: string, versionId?: string): Promise<VersionRecord> {
  return (await resolveVersionAndBucket(ctx, bucket, key, versionId)).record;
}

/** resolveVersion, also handing back the bucket record it read on the way (GET needs its versioning state). */
export async function resolveVersionAndBucket(ctx: ObjectContext, bucket: string, key: string, versionId?: string): Promise<{ record: VersionRecord; bucket: BucketRecord }> {
  const bucketRecord = bucketRecordOf(bucket, await ctx.meta.get(keys.bucket(bucket)));
  const record = versionId === undefined ? await currentVersion(ctx, bucket, key) : await versionById(ctx, bucket, key, versionId);
  return { record, bucket: bucketRecord };
}

async function versionById(ctx: ObjectContext, bucket: string, key: string, versionId: string): Promise<VersionRecord> {
  const versionKey = await versionKeyOf(ctx, bucket, key, versionId);
  const record = versionKey ? await readVersion(ctx, bucket, key, versionKey) : null;
  if (!record) throw new ObjectError('NoSuchVersion', undefined, { extra: { Key: key, VersionId: versionId } });
  if (record.deleteMarker) {
    // AWS answers a read of a delete marker by id with 405 and these headers.
    throw new ObjectError('MethodNotAllowed', 'The specified method is not allowed against this resource.', {
      headers: { 'x-amz-delete-marker': 'true', 'x-amz-version-id': versionIdOf(record), 'last-modified': httpDate(record.lastModifiedMs), allow: 'DELETE' },
      extra: { Method: 'GET', ResourceType: 'DeleteMarker' },
    });
  }
  return record;
}
