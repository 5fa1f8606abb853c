// Multipart uploads: create, upload a part, complete, abort, list. Parts are immutable blocks; completing
// turns the listed parts' blocks into the object's data in one transaction, and releases the rest.
import { createHash, randomBytes } from 'node:crypto';
import type { ObjectContext } from './context.js';
import { ObjectError } from './errors.js';
import { keys } from './keys.js';
import { claimBlocks, installVersion, readBucket, releaseBlocks } from './key-state.js';
import { decodeRecord, encodeRecord, type ObjectPart, type PartRecord, type StoredChecksum, type UploadRecord, type VersionRecord } from './records.js';
import { discard, ingest, type BodyMd5 } from './data.js';
import { newObjectRecord, redundancyOf, writePrecondition, checkWriteConditions, type WriteConditions } from './put-object.js';
import { walk, type ListResult } from './list.js';
import { partNumberMax, partSizeBytesMin, metaRetriesMax } from '../constants.js';
import { combineCrc, compositeChecksum, createChecksum, type Checksum, type ChecksumAlgorithm } from '../util/checksum.js';
import { StoreError } from '../util/errors.js';
import { assert } from '../util/assert.js';
import { completionWrites, partsDigestOf, readCompletion, type CompletedUploadRecord, type CompletionResult } from './completed-uploads.js';
import type { Check, Write } from '../meta/types.js';
import { asksForLock, type RequestedLock } from './lock-rules.js';
import { checkLockRequest } from './object-lock.js';
import type { Acl } from '../iam/types.js';
import { newSealing, opaqueEtagOf, openDataKey, type EncryptionRequest, defaultEncryptionOf } from './sse.js';
import type { ObjectEncryption } from './records.js';

export function newUploadId(nowMs: number): string {
  // Time first, so a key's uploads list in the order they were initiated, as AWS lists them.
  return Math.floor(nowMs).toString(16).padStart(12, '0') + randomBytes(12).toString('hex');
}

export async function readUpload(ctx: ObjectContext, bucket: string, key: string, uploadId: string): Promise<{ record: UploadRecord; buf: Buffer }> {
  const buf = /^[0-9a-f]{36}$/.test(uploadId) ? await ctx.meta.get(keys.upload(bucket, key, uploadId)) : null;
  if (!buf) throw new ObjectError('NoSuchUpload', undefined, { extra: { UploadId: uploadId } });
  return { record: decodeRecord<UploadRecord>(buf), buf };
}

export async function createUpload(
  ctx: ObjectContext,
  params: {
    bucket: string; key: string; owner: string; headers: Record<string, string>; storageClass: string; tags?: Record<string, string>; acl?: Acl;
    checksumAlgorithm?: ChecksumAlgorithm; checksumType?: 'FULL_OBJECT' | 'COMPOSITE'; lock?: RequestedLock;
    /** The encryption the request asks for; absent: the bucket's or the store's default, if any. */
    encryption?: EncryptionRequest;
  },
): Promise<UploadRecord> {
  const bucket = await readBucket(ctx, params.bucket);
  checkLockRequest(bucket.record, asksForLock(params.lock));
  // One data key for the whole upload, wrapped in its record: every part is sealed under it (its part
  // number in the nonce), and the completed object keeps it.
  const request = params.encryption ?? defaultEncryptionOf(ctx, bucket.record);
  const sealing = request ? await newSealing(ctx, params.bucket, params.key, request) : undefined;
  const record: UploadRecord = {
    uploadId: newUploadId(ctx.nowMs()),
    key: params.key,
    initiatedMs: ctx.nowMs(),
    owner: params.owner,
    storageClass: params.storageClass,
    headers: params.headers,
    ...(params.tags && Object.keys(params.tags).length > 0 ? { tags: params.tags } : {}),
    ...(asksForLock(params.lock) ? { lock: params.lock } : {}),
    ...(params.acl ? { acl: params.acl } : {}),
    ...(sealing ? { encryption: sealing.encryption } : {}),
    ...(params.checksumAlgorithm ? { checksumAlgorithm: params.checksumAlgorithm, checksumType: params.checksumType ?? defaultChecksumType(params.checksumAlgorithm) } : {}),
  };
  const ok = await ctx.meta.commit({
    checks: [{ key: keys.bucket(params.bucket), value: bucket.buf }],
    writes: [{ key: keys.upload(params.bucket, params.key, record.uploadId), value: encodeRecord(record) }],
  });
  if (!ok) throw new StoreError('ERR_META_CONFLICT', `Cannot create an upload in bucket "${params.bucket}": it changed meanwhile`);
  return record;
}

/** CRC64NVME has only a full-object form; the other algorithms default to composite, as in AWS. */
function defaultChecksumType(algorithm: ChecksumAlgorithm): 'FULL_OBJECT' | 'COMPOSITE' {
  return algorithm === 'CRC64NVME' ? 'FULL_OBJECT' : 'COMPOSITE';
}

export interface PartParams {
  bucket: string;
  key: string;
  uploadId: string;
  partNumber: number;
  body: AsyncIterable<Buffer>;
  /** Undefined for a body streamed without a declared length. */
  size: number | undefined;
  contentMd5?: Buffer;
  checksum?: () => { algorithm: ChecksumAlgorithm; value: string } | undefined;
  /** The body's MD5 if whoever decoded it computes it (IngestOptions.bodyMd5). */
  bodyMd5?: BodyMd5;
  /** The checksum algorithm the request declares, known before its body; must be the upload's. */
  checksumAlgorithm?: ChecksumAlgorithm;
  /** Compute the upload's checksum over the body here: UploadPartCopy, where no client sends one. */
  computeChecksum?: boolean;
  /** The request's SSE-C key: needed for a part of an upload encrypted with one, refused otherwise. */
  customerKey?: Buffer;
  /** Given the upload's encryption, which the part is stored under (the S3 layer answers with its headers). */
  encryptionSeen?: (encryption: ObjectEncryption | undefined) => void;
  signal?: AbortSignal;
}

async function* checksummed(body: AsyncIterable<Buffer>, checksum: Checksum): AsyncGenerator<Buffer> {
  for await (const chunk of body) {
    checksum.update(chunk);
    yield chunk;
  }
}

export async function uploadPart(ctx: ObjectContext, params: PartParams): Promise<PartRecord> {
  const bucket = await readBucket(ctx, params.bucket);
  const upload = await readUpload(ctx, params.bucket, params.key, params.uploadId);
  const algorithm = upload.record.checksumAlgorithm;
  // Parts of an upload with a checksum algorithm carry that one, else the object checksum cannot be built.
  if (algorithm && params.checksumAlgorithm && params.checksumAlgorithm !== algorithm) {
    throw new ObjectError('InvalidRequest', `Checksum Type mismatch occurred, expected checksum Type: ${algorithm.toLowerCase()}, actual checksum Type: ${params.checksumAlgorithm.toLowerCase()}`);
  }
  // A part that brings no checksum of the upload's algorithm gets one computed here, so the object's
  // checksum and GetObjectAttributes' per-part checksums exist for every part.
  const computed = algorithm && (params.computeChecksum || !params.checksumAlgorithm) ? createChecksum(algorithm) : undefined;
  const body = computed ? checksummed(params.body, computed) : params.body;
  const redundancy = redundancyOf(ctx, bucket.record, upload.record.storageClass);
  const encryption = upload.record.encryption;
  if (!encryption && params.customerKey) throw new ObjectError('InvalidRequest', 'The multipart upload was not initiated with SSE-C; the part cannot be encrypted with a customer key.');
  const dataKey = encryption ? await openDataKey(ctx, params.bucket, params.key, encryption, params.customerKey) : undefined;
  params.encryptionSeen?.(encryption);
  const seal = encryption && dataKey ? { seal: { dataKey, partNumber: params.partNumber, chunkBytes: encryption.chunkBytes } } : {};
  const stored = await ingest(ctx, body, { size: params.size, forceBlock: true, ...seal, ...(params.bodyMd5 ? { bodyMd5: params.bodyMd5 } : {}), ...(redundancy ? { redundancy } : {}), ...(params.signal ? { signal: params.signal } : {}) });
  try {
    if (params.contentMd5 && !params.contentMd5.equals(stored.md5)) throw new ObjectError('BadDigest');
    const checksum = computed && algorithm ? { algorithm, value: computed.digest().toString('base64') } : params.checksum?.();
    const record: PartRecord = {
      partNumber: params.partNumber,
      size: stored.size,
      etag: `"${opaqueEtagOf(encryption, dataKey, stored.md5).toString('hex')}"`,
      lastModifiedMs: ctx.nowMs(),
      ...(stored.block ? { block: stored.block } : {}),
      checksums: checksum ? { [checksum.algorithm]: checksum.value } : {},
    };
    await commitPart(ctx, params, bucket.buf, upload.buf, record);
    return record;
  } catch (err) {
    await discard(ctx, stored);
    throw err;
  }
}

/**
 * Commits a part, checking the bucket unchanged too: DeleteBucket marks the bucket before it aborts the
 * uploads in progress, so a part landing after its scan fails here instead of leaking its block.
 */
async function commitPart(ctx: ObjectContext, params: { bucket: string; key: string; uploadId: string; partNumber: number }, bucketBuf: Buffer, uploadBuf: Buffer, record: PartRecord): Promise<void> {
  const partKey = keys.part(params.uploadId, params.partNumber);
  for (let attempt = 0; attempt < metaRetriesMax; attempt++) {
    if (attempt > 0) bucketBuf = (await readBucket(ctx, params.bucket)).buf; // NoSuchBucket once it is being deleted
    const oldBuf = await ctx.meta.get(partKey);
    const old = oldBuf ? decodeRecord<PartRecord>(oldBuf) : null;
    const ok = await ctx.meta.commit({
      checks: [
        { key: keys.bucket(params.bucket), value: bucketBuf },
        { key: keys.upload(params.bucket, params.key, params.uploadId), value: uploadBuf },
        { key: partKey, value: oldBuf },
      ],
      writes: [{ key: partKey, value: encodeRecord(record) }, ...claimBlocks(record.block ? [record.block] : []), ...releaseBlocks(ctx, old?.block ? [old.block] : [])],
    });
    if (ok) return;
    if (!(await ctx.meta.get(keys.upload(params.bucket, params.key, params.uploadId)))) throw new ObjectError('NoSuchUpload', undefined, { extra: { UploadId: params.uploadId } });
  }
  throw new StoreError('ERR_META_CONFLICT', `Cannot commit part ${params.partNumber}: too many concurrent writers`);
}

export async function readParts(ctx: ObjectContext, uploadId: string, afterPartNumber: number, limit: number): Promise<{ records: PartRecord[]; bufs: Buffer[] }> {
  const page = await ctx.meta.scan({ ...keys.partRange(uploadId, afterPartNumber), limit });
  return { records: page.map((kv) => decodeRecord<PartRecord>(kv.value)), bufs: page.map((kv) => kv.value) };
}

export interface CompletePart {
  partNumber: number;
  etag: string;
  checksums: Partial<Record<ChecksumAlgorithm, string>>;
}

function unquote(etag: string): string {
  return etag.trim().replace(/^"(.*)"$/, '$1');
}

/**
 * The part list of a completion with repeats folded: numbers must not decrease (InvalidPartOrder), and
 * consecutive entries with one number name the same part, the last of them counting. A client whose two
 * uploads of one part raced lists both ETags (ceph s3-tests test_multipart_resend_first_finishes_last).
 */
function foldRepeats(requested: CompletePart[]): CompletePart[] {
  const folded: CompletePart[] = [];
  for (const part of requested) {
    const previous = folded[folded.length - 1];
    if (previous && part.partNumber < previous.partNumber) throw new ObjectError('InvalidPartOrder');
    if (previous?.partNumber === part.partNumber) folded[folded.length - 1] = part;
    else folded.push(part);
  }
  return folded;
}

/** The parts a completion names, validated as AWS does: ascending order, present, matching ETags, sizes. */
function selectParts(upload: UploadRecord, requested: CompletePart[], stored: Map<number, PartRecord>): PartRecord[] {
  const chosen: PartRecord[] = [];
  for (const part of requested) {
    const record = stored.get(part.partNumber);
    if (!record || unquote(record.etag) !== unquote(part.etag)) throw new ObjectError('InvalidPart', undefined, { extra: { UploadId: upload.uploadId, PartNumber: String(part.partNumber), ETag: part.etag } });
    const algorithm = upload.checksumAlgorithm;
    const expected = algorithm ? part.checksums[algorithm] : undefined;
    if (algorithm && expected !== undefined && record.checksums[algorithm] !== undefined && expected !== record.checksums[algorithm]) {
      throw new ObjectError('InvalidPart', `The ${algorithm} checksum of part ${part.partNumber} does not match`);
    }
    chosen.push(record);
  }
  chosen.forEach((record, i) => {
    if (i < chosen.length - 1 && record.size < partSizeBytesMin) {
      throw new ObjectError('EntityTooSmall', undefined, { extra: { ProposedSize: String(record.size), MinSizeAllowed: String(partSizeBytesMin), PartNumber: String(record.partNumber), ETag: record.etag } });
    }
  });
  return chosen;
}

function multipartChecksum(upload: UploadRecord, parts: PartRecord[]): StoredChecksum | undefined {
  const algorithm = upload.checksumAlgorithm;
  if (!algorithm || parts.some((p) => p.checksums[algorithm] === undefined)) return undefined;
  const digests = parts.map((p) => Buffer.from(p.checksums[algorithm]!, 'base64'));
  if (upload.checksumType === 'FULL_OBJECT' && algorithm !== 'SHA1' && algorithm !== 'SHA256') {
    let crc: Buffer = digests[0]!;
    for (let i = 1; i < parts.length; i++) crc = combineCrc(algorithm, crc, digests[i]!, parts[i]!.size);
    return { algorithm, value: crc.toString('base64'), type: 'FULL_OBJECT' };
  }
  return { algorithm, value: compositeChecksum(algorithm, digests), type: 'COMPOSITE' };
}

/** What a completion claims about the object's checksum: its algorithm and value, its type, or both. */
export interface ExpectedChecksum {
  algorithm?: ChecksumAlgorithm;
  value?: string;
  type?: 'FULL_OBJECT' | 'COMPOSITE';
}

/**
 * Checks the claim of a completion against the checksum the parts make up. Composite values compare
 * without their "-N" suffix. An upload created without a checksum has nothing to compare with, and a
 * claim about it cannot be verified, so it is refused rather than ignored.
 */
function verifyExpectedChecksum(upload: UploadRecord, actual: StoredChecksum | undefined, expected: ExpectedChecksum): void {
  if (expected.type !== undefined && upload.checksumAlgorithm !== undefined && expected.type !== upload.checksumType) {
    throw new ObjectError('InvalidRequest', `The upload was created using the ${upload.checksumType} checksum mode. The complete request must use the same checksum mode.`);
  }
  if (expected.algorithm === undefined || expected.value === undefined) return;
  if (expected.algorithm !== upload.checksumAlgorithm) {
    throw new ObjectError('InvalidRequest', `The upload was created using the ${upload.checksumAlgorithm?.toLowerCase() ?? 'null'} checksum algorithm. The complete request must use the same checksum algorithm.`);
  }
  const bare = (value: string) => value.replace(/-\d+$/, '');
  if (!actual || bare(actual.value) !== bare(expected.value)) {
    throw new ObjectError('BadDigest', `The ${expected.algorithm} you specified did not match the calculated checksum.`);
  }
}

/**
 * Completes an upload. A retry of a completion that succeeded (same bucket, key, upload id and part list,
 * within completedUploadRetentionMs) gets the first answer again, as AWS gives it; a retry with another
 * part list finds no upload to complete (NoSuchUpload).
 */
export async function completeUpload(
  ctx: ObjectContext,
  params: { bucket: string; key: string; uploadId: string; parts: CompletePart[]; conditions: WriteConditions; expectedChecksum?: ExpectedChecksum },
): Promise<CompletionResult> {
  const requested = foldRepeats(params.parts);
  const partsDigest = partsDigestOf(requested);
  let upload: { record: UploadRecord; buf: Buffer };
  try {
    upload = await readUpload(ctx, params.bucket, params.key, params.uploadId);
  } catch (err) {
    const done = err instanceof ObjectError && err.code === 'NoSuchUpload' ? await readCompletion(ctx, params) : undefined;
    if (done?.partsDigest !== partsDigest) throw err;
    await readBucket(ctx, params.bucket); // a bucket deleted since is NoSuchBucket, not a replayed success
    return done;
  }
  await checkWriteConditions(ctx, params.bucket, params.key, params.conditions);
  const all = (await readParts(ctx, params.uploadId, 0, partNumberMax)).records;
  const stored = new Map(all.map((p) => [p.partNumber, p]));
  const parts = selectParts(upload.record, requested, stored);
  const md5 = createHash('md5');
  for (const part of parts) md5.update(Buffer.from(unquote(part.etag), 'hex'));
  const etag = `"${md5.digest('hex')}-${parts.length}"`;
  const size = parts.reduce((sum, p) => sum + p.size, 0);
  const checksum = multipartChecksum(upload.record, parts);
  if (params.expectedChecksum) verifyExpectedChecksum(upload.record, checksum, params.expectedChecksum);
  const used = new Set(parts.map((p) => p.partNumber));
  const precondition = writePrecondition(params.conditions);
  let built: VersionRecord | undefined;
  return installVersion(
    ctx,
    params.bucket,
    params.key,
    (versionKey, isNull) => (built = newObjectRecord(upload.record, {
      versionKey, isNull, nowMs: ctx.nowMs(), size, etag, checksum, encryption: upload.record.encryption,
      data: { blocks: parts.flatMap((p) => (p.block ? [p.block] : [])), parts: parts.map((p) => objectPartOf(p, upload.record.checksumAlgorithm)) },
    })),
    {
      ...(precondition ? { precondition } : {}),
      extra: async () => {
        assert(built !== undefined, 'A completion records its version before committing it');
        const removal = uploadRemoval(ctx, params, upload.buf, all.filter((p) => !used.has(p.partNumber)));
        const completion: CompletedUploadRecord = {
          bucket: params.bucket, key: params.key, uploadId: params.uploadId, completedMs: ctx.nowMs(),
          etag, versionKey: built.versionKey, isNull: built.isNull, ...(checksum ? { checksum } : {}), partsDigest,
          ...(upload.record.encryption ? { encryption: upload.record.encryption } : {}),
        };
        return { checks: removal.checks, writes: [...removal.writes, ...completionWrites(completion)] };
      },
    },
  );
}

function objectPartOf(part: PartRecord, algorithm: ChecksumAlgorithm | undefined): ObjectPart {
  const checksum = algorithm ? part.checksums[algorithm] : undefined;
  return { size: part.size, etag: part.etag, partNumber: part.partNumber, ...(checksum !== undefined ? { checksum } : {}) };
}

function uploadRemoval(ctx: ObjectContext, params: { bucket: string; key: string; uploadId: string }, uploadBuf: Buffer, released: PartRecord[]): { checks: Check[]; writes: Write[] } {
  return {
    checks: [{ key: keys.upload(params.bucket, params.key, params.uploadId), value: uploadBuf }],
    writes: [
      { key: keys.upload(params.bucket, params.key, params.uploadId), value: null },
      ...released.flatMap((p) => releaseBlocks(ctx, p.block ? [p.block] : [])),
    ],
  };
}

async function partKeysOf(ctx: ObjectContext, uploadId: string): Promise<Write[]> {
  const page = await ctx.meta.scan({ ...keys.partRange(uploadId, 0), limit: partNumberMax });
  return page.map((kv) => ({ key: kv.key, value: null }));
}

export async function abortUpload(ctx: ObjectContext, params: { bucket: string; key: string; uploadId: string }): Promise<void> {
  await readBucket(ctx, params.bucket);
  for (let attempt = 0; attempt < metaRetriesMax; attempt++) {
    const upload = await readUpload(ctx, params.bucket, params.key, params.uploadId);
    const parts = (await readParts(ctx, params.uploadId, 0, partNumberMax)).records;
    const removal = uploadRemoval(ctx, params, upload.buf, parts);
    const ok = await ctx.meta.commit({ checks: removal.checks, writes: [...removal.writes, ...(await partKeysOf(ctx, params.uploadId))] });
    if (ok) return;
  }
  throw new StoreError('ERR_META_CONFLICT', `Cannot abort upload "${params.uploadId}": too many concurrent writers`);
}

const uploadScanPageMax = 1000;

/**
 * The checks and writes that abort every upload in progress in a bucket (DeleteBucket commits them with the
 * bucket's removal). Each upload is checked unchanged; its parts' blocks go to GC.
 */
export async function bucketUploadsRemoval(ctx: ObjectContext, bucket: string): Promise<{ checks: Check[]; writes: Write[] }> {
  const checks: Check[] = [];
  const writes: Write[] = [];
  const range = keys.uploadRange(bucket, '');
  let start = range.start;
  for (;;) {
    const page = await ctx.meta.scan({ start, end: range.end, limit: uploadScanPageMax });
    for (const kv of page) {
      const upload = decodeRecord<UploadRecord>(kv.value);
      const parts = (await readParts(ctx, upload.uploadId, 0, partNumberMax)).records;
      const removal = uploadRemoval(ctx, { bucket, key: upload.key, uploadId: upload.uploadId }, kv.value, parts);
      checks.push(...removal.checks);
      writes.push(...removal.writes, ...(await partKeysOf(ctx, upload.uploadId)));
    }
    if (page.length < uploadScanPageMax) return { checks, writes };
    start = Buffer.concat([page[page.length - 1]!.key, Buffer.from([0])]);
  }
}

export async function listUploads(
  ctx: ObjectContext,
  bucket: string,
  params: { prefix: string; delimiter?: string; keyMarker?: string; uploadIdMarker?: string; maxUploads: number },
): Promise<ListResult<UploadRecord>> {
  await readBucket(ctx, bucket);
  const range = keys.uploadRange(bucket, params.prefix);
  let start = range.start;
  if (params.keyMarker !== undefined && params.keyMarker !== '') {
    start = params.uploadIdMarker
      ? Buffer.concat([keys.upload(bucket, params.keyMarker, params.uploadIdMarker), Buffer.from([0])])
      : keys.uploadAfterKey(bucket, params.keyMarker);
    if (Buffer.compare(start, range.start) < 0) start = range.start;
  }
  return walk(
    ctx,
    { prefix: params.prefix, maxKeys: params.maxUploads, start, end: range.end, ...(params.delimiter ? { delimiter: params.delimiter } : {}), ...(params.keyMarker ? { after: params.keyMarker } : {}) },
    (kv) => {
      const record = decodeRecord<UploadRecord>(kv.value);
      return { name: record.key, item: record };
    },
    (p) => keys.uploadAfterPrefix(bucket, p),
  );
}
