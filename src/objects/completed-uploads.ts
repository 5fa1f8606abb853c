// What a completed multipart upload leaves behind for a while: its answer, so a retried
// CompleteMultipartUpload (the client lost the first response) replays it instead of NoSuchUpload.
// The records expire after completedUploadRetentionMs; the completion-expiry worker (workers/gc.ts) deletes expired ones in bounded steps.
import { createHash } from 'node:crypto';
import type { ObjectContext } from './context.js';
import { keys } from './keys.js';
import { decodeRecord, encodeRecord, type ObjectEncryption, type StoredChecksum } from './records.js';
import type { Write } from '../meta/types.js';
import { completedUploadRetentionMs } from '../constants.js';

export interface CompletedUploadRecord {
  bucket: string;
  key: string;
  uploadId: string;
  completedMs: number;
  etag: string;
  versionKey: string;
  isNull: boolean;
  checksum?: StoredChecksum;
  /** The object's encryption, for the answer's headers (the wrapped key is no secret). */
  encryption?: ObjectEncryption;
  /** sha256 of the part list the completion used, so a retry with another list is told apart. */
  partsDigest: string;
}

/** What CompleteMultipartUpload answers, first time or replayed. */
export type CompletionResult = Pick<CompletedUploadRecord, 'etag' | 'versionKey' | 'isNull' | 'checksum' | 'encryption'>;

function unquote(etag: string): string {
  return etag.trim().replace(/^"(.*)"$/, '$1');
}

/** A digest of a completion's part list as used: numbers and ETags (quotes dropped, as clients vary). */
export function partsDigestOf(parts: { partNumber: number; etag: string }[]): string {
  const hash = createHash('sha256');
  for (const p of parts) hash.update(`${p.partNumber}:${unquote(p.etag)}\n`);
  return hash.digest('hex');
}

/** The writes that record a completion, for the completion's own transaction. */
export function completionWrites(record: CompletedUploadRecord): Write[] {
  return [
    { key: keys.completed(record.uploadId), value: encodeRecord(record) },
    { key: keys.completedDue(record.completedMs + completedUploadRetentionMs, record.uploadId), value: Buffer.alloc(0) },
  ];
}

/**
 * The completion of `uploadId` on this bucket and key, if it happened within the retention period.
 * Another bucket or key never sees it: to them the upload id is unknown.
 */
export async function readCompletion(ctx: ObjectContext, params: { bucket: string; key: string; uploadId: string }): Promise<CompletedUploadRecord | undefined> {
  const buf = await ctx.meta.get(keys.completed(params.uploadId));
  if (!buf) return undefined;
  const record = decodeRecord<CompletedUploadRecord>(buf);
  if (record.bucket !== params.bucket || record.key !== params.key) return undefined;
  if (ctx.nowMs() >= record.completedMs + completedUploadRetentionMs) return undefined; // the sweep has not reached it yet
  return record;
}

/** Deletes up to `limit` expired completion records; returns how many. */
export async function expireCompletions(ctx: ObjectContext, limit: number): Promise<number> {
  const due = await ctx.meta.scan({ ...keys.completedDueRange(ctx.nowMs()), limit });
  if (due.length === 0) return 0;
  const writes = due.flatMap((kv) => [{ key: kv.key, value: null }, { key: keys.completed(keys.uploadIdFromCompletedDue(kv.key)), value: null }]);
  await ctx.meta.commit({ checks: [], writes });
  return due.length;
}
