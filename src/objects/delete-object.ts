// DeleteObject semantics for every versioning state: remove the null version (unversioned), add a
// delete marker (enabled, suspended), or remove one version for good (a version id is given).
import type { ObjectContext } from './context.js';
import { installVersion, readBucket, readHead, removeVersion } from './key-state.js';
import { versionKeyOf } from './get-object.js';
import { versionIdOf } from './records.js';

export interface DeleteResult {
  versionId?: string;
  deleteMarker: boolean;
}

export async function deleteObject(ctx: ObjectContext, params: { bucket: string; key: string; owner: string; versionId?: string }): Promise<DeleteResult> {
  const { bucket, key, versionId } = params;
  const { record: bucketRecord } = await readBucket(ctx, bucket);
  if (versionId !== undefined) {
    const versionKey = await versionKeyOf(ctx, bucket, key, versionId);
    const removed = versionKey ? await removeVersion(ctx, bucket, key, versionKey) : null;
    return { versionId, deleteMarker: removed?.deleteMarker ?? false };
  }
  if (bucketRecord.versioning === 'Unversioned') {
    const { head } = await readHead(ctx, bucket, key);
    if (head?.nullVersionKey) await removeVersion(ctx, bucket, key, head.nullVersionKey);
    return { deleteMarker: false };
  }
  const marker = await installVersion(ctx, bucket, key, (versionKey, isNull) => ({
    key,
    versionKey,
    isNull,
    deleteMarker: true,
    lastModifiedMs: ctx.nowMs(),
    owner: params.owner,
    size: 0,
    etag: '',
    headers: {},
    storageClass: 'STANDARD',
    data: {},
  }));
  return { versionId: versionIdOf(marker), deleteMarker: true };
}
