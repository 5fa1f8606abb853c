// Finding the version a read addresses: the current one, the null one, or one by id, with the 404s and
// 405s AWS gives for missing keys, missing versions and delete markers.
import type { ObjectContext } from './context.js';
import type { MetaStore } from '../meta/types.js';
import { ObjectError } from './errors.js';
import { keyNames, keys } from './keys.js';
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

/**
 * The current version through the key's current entry, then the version it names: on an in-process
 * store both are usually read-cache hits, cheaper than the scan readMany would run. Read with getNow,
 * without an await: each awaited read cost a small GET a promise and a microtask tick; and by KeyName, so
 * a hit builds no key Buffer. Undefined when the key has no current version.
 */
function currentVersionNow(meta: InProcessMeta, bucket: string, key: string): VersionRecord | undefined {
  // The current entry and the version it names are read apart; a commit between the two reads (by another
  // process, when getNow selects) can replace both, so read again rather than report a key that exists
  // as missing.
  for (let attempt = 0; attempt < 4; attempt++) {
    const entryBuf = meta.getNow(keyNames.current(bucket, key));
    if (!entryBuf) return undefined;
    const recordBuf = meta.getNow(keyNames.version(bucket, key, decodeSharedRecord<CurrentEntry>(entryBuf).versionKey));
    if (recordBuf) return decodeSharedRecord<VersionRecord>(recordBuf);
  }
  return undefined;
}

/** The NoSuchKey a key without a current version answers, with the delete marker's headers when its latest is one. */
async function noCurrentVersion(ctx: ObjectContext, bucket: string, key: string): Promise<never> {
  const { head } = await readHead(ctx, bucket, key);
  if (head?.latestIsDeleteMarker) {
    const marker = await readVersion(ctx, bucket, key, head.latest);
    const versionId = marker ? versionIdOf(marker) : head.latest;
    throw new ObjectError('NoSuchKey', undefined, { extra: { Key: key }, headers: { 'x-amz-delete-marker': 'true', 'x-amz-version-id': versionId } });
  }
  throw new ObjectError('NoSuchKey', undefined, { extra: { Key: key } });
}

type InProcessMeta = MetaStore & Required<Pick<MetaStore, 'getNow'>>;

function isInProcess(meta: MetaStore): meta is InProcessMeta {
  return meta.getNow !== undefined;
}

/** Resolves the version a GET, HEAD or copy source addresses. */
export async function resolveVersion(ctx: ObjectContext, bucket: string, key: string, versionId?: string): Promise<VersionRecord> {
  return (await resolveVersionAndBucket(ctx, bucket, key, versionId)).record;
}

/** resolveVersion, also handing back the bucket record it read on the way (GET needs its versioning state). */
export async function resolveVersionAndBucket(ctx: ObjectContext, bucket: string, key: string, versionId?: string): Promise<{ record: VersionRecord; bucket: BucketRecord }> {
  if (versionId !== undefined) {
    const bucketRecord = bucketRecordOf(bucket, await ctx.meta.get(keys.bucket(bucket)));
    return { record: await versionById(ctx, bucket, key, versionId), bucket: bucketRecord };
  }
  if (isInProcess(ctx.meta)) {
    const bucketRecord = bucketRecordOf(bucket, ctx.meta.getNow(keyNames.bucket(bucket)));
    return { record: currentVersionNow(ctx.meta, bucket, key) ?? await noCurrentVersion(ctx, bucket, key), bucket: bucketRecord };
  }
  // A key's newest version is the first of its version range: version keys sort newest first, and
  // installVersion always makes the new one newer than the head its commit checks. So one scan of one row
  // finds what the current entry would name, and it goes with the bucket record in one readMany: one
  // round trip on PostgreSQL instead of three sequential ones (bucket, current entry, version).
  const read = await ctx.meta.readMany({ gets: [keys.bucket(bucket)], scans: [{ ...keys.versionsOfKey(bucket, key), limit: 1 }] });
  const bucketRecord = bucketRecordOf(bucket, read.values[0] ?? null);
  const newest = read.scans[0]?.[0];
  if (!newest) throw new ObjectError('NoSuchKey', undefined, { extra: { Key: key } });
  const record = decodeSharedRecord<VersionRecord>(newest.value);
  if (record.deleteMarker) {
    throw new ObjectError('NoSuchKey', undefined, { extra: { Key: key }, headers: { 'x-amz-delete-marker': 'true', 'x-amz-version-id': versionIdOf(record) } });
  }
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
