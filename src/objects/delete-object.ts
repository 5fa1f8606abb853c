// DeleteObject semantics for every versioning state: remove the null version (unversioned), add a
// delete marker (enabled, suspended), or remove one version for good (a version id is given), each under
// the delete's conditions (If-Match, last-modified time, size) checked in the metadata commit itself.
import type { ObjectContext } from './context.js';
import { installVersion, readBucket, removeVersion } from './key-state.js';
import { versionKeyOf } from './get-object.js';
import { versionIdOf, type KeyHead, type VersionRecord } from './records.js';
import { ObjectError } from './errors.js';
import { etagMatches } from './put-object.js';
import { versionLocked } from './lock-rules.js';
import { lockRefusal } from './object-lock.js';

export interface DeleteResult {
  versionId?: string;
  deleteMarker: boolean;
}

export interface DeleteConditions {
  /** An ETag list or "*", as in the If-Match header. */
  ifMatch?: string;
  /** x-amz-if-match-last-modified-time; compared in whole seconds, the precision of the HTTP date it came in. */
  ifMatchLastModifiedMs?: number;
  ifMatchSize?: number;
}

export interface DeleteParams extends DeleteConditions {
  bucket: string;
  key: string;
  owner: string;
  versionId?: string;
  /** x-amz-bypass-governance-retention, from a caller allowed to use it (lock-rules.ts LockOptions). */
  bypassGovernance?: boolean;
}

function hasConditions(c: DeleteConditions): boolean {
  return c.ifMatch !== undefined || c.ifMatchLastModifiedMs !== undefined || c.ifMatchSize !== undefined;
}

function failed(condition: string): ObjectError {
  return new ObjectError('PreconditionFailed', undefined, { extra: { Condition: condition } });
}

/**
 * The check of a conditional delete against the version it targets: the current one, or the one a version
 * id names. AWS's conditional-deletes guide: If-Match (an ETag or "*") needs an object, so a key with none
 * (absent, or a delete marker as its current version) answers 404. The size and time conditions are
 * documented for directory buckets only, where a missing object passes them (204); so they do here.
 * A delete marker named by version id exists but has no ETag, so If-Match fails on it with 412.
 */
export function deletePrecondition(conditions: DeleteConditions, missing: 'NoSuchKey' | 'NoSuchVersion'): ((record: VersionRecord | null) => void) | undefined {
  if (!hasConditions(conditions)) return undefined;
  const { ifMatch, ifMatchLastModifiedMs, ifMatchSize } = conditions;
  return (record) => {
    if (!record || (record.deleteMarker && missing === 'NoSuchKey')) {
      if (ifMatch !== undefined) throw new ObjectError(missing);
      return;
    }
    if (ifMatch !== undefined && (record.deleteMarker || !etagMatches(ifMatch, record.etag))) throw failed('If-Match');
    if (ifMatchLastModifiedMs !== undefined && Math.floor(record.lastModifiedMs / 1000) !== Math.floor(ifMatchLastModifiedMs / 1000)) {
      throw failed('x-amz-if-match-last-modified-time');
    }
    if (ifMatchSize !== undefined && record.size !== ifMatchSize) throw failed('x-amz-if-match-size');
  };
}

/**
 * Refuses removing a version Object Lock protects (AWS: 403 AccessDenied). Asked of every version removal,
 * whatever the bucket says now: a version keeps its retention and legal hold however the bucket changes.
 */
function lockGuard(ctx: ObjectContext, bypassGovernance: boolean): (record: VersionRecord) => void {
  return (record) => {
    if (versionLocked(record, ctx.nowMs(), { bypassGovernance })) {
      throw lockRefusal(record.legalHold ? 'The version is under a legal hold' : `The version is retained in ${record.retention!.mode} mode until ${new Date(record.retention!.untilMs).toISOString()}`);
    }
  };
}

export async function deleteObject(ctx: ObjectContext, params: DeleteParams): Promise<DeleteResult> {
  const { bucket, key, versionId } = params;
  const { record: bucketRecord } = await readBucket(ctx, bucket);
  const guard = lockGuard(ctx, params.bypassGovernance === true);
  if (versionId !== undefined) {
    const precondition = deletePrecondition(params, 'NoSuchVersion');
    // "null" is resolved on each attempt, since a write to a non-versioned key replaces its null version.
    const target = versionId === 'null' ? (head: KeyHead) => head.nullVersionKey : await versionKeyOf(ctx, bucket, key, versionId);
    if (target === undefined) {
      precondition?.(null);
      return { versionId, deleteMarker: false };
    }
    const removed = await removeVersion(ctx, bucket, key, target, { guard, ...(precondition ? { precondition } : {}) });
    return { versionId, deleteMarker: removed?.deleteMarker ?? false };
  }
  const precondition = deletePrecondition(params, 'NoSuchKey');
  if (bucketRecord.versioning === 'Unversioned') {
    // In a bucket never versioned the null version is the only one, so it is the current one.
    await removeVersion(ctx, bucket, key, (head) => head.nullVersionKey, { guard, ...(precondition ? { precondition } : {}) });
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
  }), precondition ? { precondition } : {});
  return { versionId: versionIdOf(marker), deleteMarker: true };
}
