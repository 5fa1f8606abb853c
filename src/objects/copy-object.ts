// CopyObject and UploadPartCopy: the source bytes are streamed into a fresh block (blocks are immutable
// and never shared between versions), so a copy is independent of its source from the moment it commits.
import type { ObjectContext } from './context.js';
import { ingest, discard, readObject, objectDataOf } from './data.js';
import { defaultEncryptionOf, newSealing, opaqueEtagOf, sealOption, sealedDataOf, type EncryptionRequest } from './sse.js';
import { installVersion, readBucket } from './key-state.js';
import { newObjectRecord, redundancyOf, writePrecondition, type WriteConditions } from './put-object.js';
import type { VersionRecord } from './records.js';
import { createChecksum } from '../util/checksum.js';
import { uploadPart, type PartParams } from './multipart.js';
import type { PartRecord } from './records.js';
import { asksForLock, type RequestedLock } from './lock-rules.js';
import { checkLockRequest } from './object-lock.js';
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
  /** The copy's own x-amz-object-lock-* settings: a source's lock is never copied, as in AWS. */
  lock?: RequestedLock;
  /** The copy's ACL, from the request: a copy never takes the source's. Absent means private. */
  acl?: Acl;
  /** The bucket the source is in (its KMS context names it). */
  sourceBucket: string;
  /** The source's SSE-C key (x-amz-copy-source-server-side-encryption-customer-*), when it has one. */
  sourceCustomerKey?: Buffer;
  /** The destination's encryption, as the request asks; absent: the bucket's or the store's default. */
  encryption?: EncryptionRequest;
  signal?: AbortSignal;
}

export async function copyObject(ctx: ObjectContext, params: CopyParams): Promise<VersionRecord> {
  const bucket = await readBucket(ctx, params.bucket);
  checkLockRequest(bucket.record, asksForLock(params.lock));
  const { source } = params;
  const algorithm = source.checksum?.algorithm;
  const checksum = algorithm ? createChecksum(algorithm) : undefined;
  // The source is opened and the copy sealed afresh under its own data key: a copy between any two modes.
  const sealed = await sealedDataOf(ctx, params.sourceBucket, source, params.sourceCustomerKey);
  const request = params.encryption ?? defaultEncryptionOf(ctx, bucket.record);
  const sealing = request ? await newSealing(ctx, params.bucket, params.key, request) : undefined;
  async function* body(): AsyncGenerator<Buffer> {
    for await (const chunk of readObject(ctx, source.data, sealed, 0, source.size, params.signal)) {
      checksum?.update(chunk as Buffer);
      yield chunk as Buffer;
    }
  }
  const redundancy = redundancyOf(ctx, bucket.record, params.storageClass);
  const stored = await ingest(ctx, body(), { size: source.size, ...sealOption(sealing, 0), ...(redundancy ? { redundancy } : {}), ...(params.signal ? { signal: params.signal } : {}) });
  try {
    const precondition = writePrecondition(params);
    return await installVersion(
      ctx,
      params.bucket,
      params.key,
      (versionKey, isNull) =>
        newObjectRecord(params, {
          versionKey, isNull, nowMs: ctx.nowMs(), size: stored.size, etag: `"${opaqueEtagOf(sealing?.encryption, sealing?.dataKey, stored.md5).toString('hex')}"`, data: objectDataOf(stored),
          encryption: sealing?.encryption,
          checksum: algorithm && checksum ? { algorithm, value: checksum.digest().toString('base64'), type: 'FULL_OBJECT' } : undefined,
        }),
      precondition ? { precondition } : {},
    );
  } catch (err) {
    await discard(ctx, stored);
    throw err;
  }
}

/** UploadPartCopy: bytes [start, end) of the source (opened if encrypted) become a part, sealed as the upload's. */
export async function uploadPartCopy(
  ctx: ObjectContext,
  params: Omit<PartParams, 'body' | 'size' | 'contentMd5' | 'checksum' | 'checksumAlgorithm' | 'computeChecksum'> & {
    source: VersionRecord; sourceBucket: string; sourceCustomerKey?: Buffer; start: number; end: number;
  },
): Promise<PartRecord> {
  const { source, sourceBucket, sourceCustomerKey, start, end, ...part } = params;
  const sealed = await sealedDataOf(ctx, sourceBucket, source, sourceCustomerKey);
  return uploadPart(ctx, {
    ...part,
    computeChecksum: true,
    body: readObject(ctx, source.data, sealed, start, end, params.signal),
    size: end - start,
  });
}
