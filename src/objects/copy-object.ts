// CopyObject and UploadPartCopy: the source bytes are streamed into a fresh block (blocks are immutable
// and never shared between versions), so a copy is independent of its source from the moment it commits.
import type { ObjectContext } from './context.js';
import { ingest, discard, readData, objectDataOf } from './data.js';
import { installVersion, readBucket } from './key-state.js';
import { newObjectRecord, redundancyOf, writePrecondition, type WriteConditions } from './put-object.js';
import type { VersionRecord } from './records.js';
import { createChecksum } from '../util/checksum.js';
import { uploadPart, type PartParams } from './multipart.js';
import type { PartRecord } from './records.js';
import type { Acl } from '../iam/types.js';

export interface CopyParams extends WriteConditions {
  source: VersionRecord;
  bucket: string;
  key: string;
  owner: string;
  /** The destination's stored headers: the source's (COPY) or the request's (REPLACE). */
  headers: Record<string, string>;
  storageClass: string;
  tags?: Record<string, string>;
  /** The copy's ACL, from the request: a copy never takes the source's. Absent means private. */
  acl?: Acl;
  signal?: AbortSignal;
}

export async function copyObject(ctx: ObjectContext, params: CopyParams): Promise<VersionRecord> {
  const bucket = await readBucket(ctx, params.bucket);
  const { source } = params;
  const algorithm = source.checksum?.algorithm;
  const checksum = algorithm ? createChecksum(algorithm) : undefined;
  async function* body(): AsyncGenerator<Buffer> {
    for await (const chunk of readData(ctx, source.data, 0, source.size, params.signal)) {
      checksum?.update(chunk as Buffer);
      yield chunk as Buffer;
    }
  }
  const redundancy = redundancyOf(ctx, bucket.record, params.storageClass);
  const stored = await ingest(ctx, body(), { size: source.size, ...(redundancy ? { redundancy } : {}), ...(params.signal ? { signal: params.signal } : {}) });
  try {
    const precondition = writePrecondition(params);
    return await installVersion(
      ctx,
      params.bucket,
      params.key,
      (versionKey, isNull) =>
        newObjectRecord(params, {
          versionKey, isNull, nowMs: ctx.nowMs(), size: stored.size, etag: `"${stored.md5.toString('hex')}"`, data: objectDataOf(stored),
          checksum: algorithm && checksum ? { algorithm, value: checksum.digest().toString('base64'), type: 'FULL_OBJECT' } : undefined,
        }),
      precondition ? { precondition } : {},
    );
  } catch (err) {
    await discard(ctx, stored);
    throw err;
  }
}

/** UploadPartCopy: bytes [start, end) of the source become a part. */
export async function uploadPartCopy(
  ctx: ObjectContext,
  params: Omit<PartParams, 'body' | 'size' | 'contentMd5' | 'checksum' | 'checksumAlgorithm' | 'computeChecksum'> & { source: VersionRecord; start: number; end: number },
): Promise<PartRecord> {
  return uploadPart(ctx, {
    ...params,
    computeChecksum: true,
    body: readData(ctx, params.source.data, params.start, params.end, params.signal),
    size: params.end - params.start,
  });
}
