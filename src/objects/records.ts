// The JSON records stored under the metadata keys of keys.ts, and version ids. A version id is the hex
// of its 12-byte version key: 8 bytes of inverted time (newest sorts first) and 4 random bytes.
// The inverted time keeps its top bit clear, so a version key never starts with 0xff: keys.ts ends a key's
// range with 0xff and escapes a NUL in a string as 0x00 0xff, and a version key starting with 0xff would
// fall outside its key's range (and read as an escaped NUL).
import { randomBytes } from 'node:crypto';
import type { BlockRef, Redundancy } from '../blocks/types.js';
import type { ChecksumAlgorithm } from '../util/checksum.js';
import { versionKeyBytes } from './keys.js';
import { assert } from '../util/assert.js';
import type { Acl, ObjectOwnership, PublicAccessBlock } from '../iam/types.js';
import type { LifecycleConfiguration } from './lifecycle-rules.js';
import type { DefaultRetention, RequestedLock } from './lock-rules.js';

export type VersioningState = 'Unversioned' | 'Enabled' | 'Suspended';

export interface BucketRecord {
  name: string;
  createdMs: number;
  /** The account's canonical id (records written before the account owned buckets name the creating key). */
  owner: string;
  region: string;
  versioning: VersioningState;
  redundancy?: Redundancy;
  /** Bucket tags (PutBucketTagging); absent when the bucket has none. */
  tags?: Record<string, string>;
  /** Set while DeleteBucket runs, so writes racing it fail instead of landing in a deleted bucket. */
  deleting?: boolean;
  /** The bucket policy (PutBucketPolicy) as the JSON text it was put as; absent when none. */
  policy?: string;
  /** The bucket's Block Public Access settings; absent when none were put. */
  publicAccessBlock?: PublicAccessBlock;
  /** Object Ownership; absent means BucketOwnerEnforced, AWS's default for new buckets. */
  ownership?: ObjectOwnership;
  /**
   * Set by DeleteBucketOwnershipControls: the bucket then has no ownership controls, and behaves as
   * ObjectWriter (ACLs on), as AWS does; GetBucketOwnershipControls answers OwnershipControlsNotFoundError.
   */
  ownershipRemoved?: boolean;
  /** The bucket ACL; absent means private (the owner has FULL_CONTROL). */
  acl?: Acl;
  /** Object Lock: set when the bucket was created with it (it cannot be turned off). */
  objectLockEnabled?: boolean;
  /** The lifecycle configuration (PutBucketLifecycleConfiguration); absent when none was put. */
  lifecycle?: LifecycleConfiguration;
  /** The default retention of new versions (PutObjectLockConfiguration); absent when none. */
  objectLockDefault?: DefaultRetention;
  /** The bucket's CORS rules (PutBucketCors), in the order they were put; absent when none. */
  cors?: CorsRule[];
  /** Default encryption of new objects (PutBucketEncryption); absent when none was put. */
  encryption?: BucketEncryption;
}

/** PutBucketEncryption's rule: how objects written without encryption headers are encrypted. */
export interface BucketEncryption {
  algorithm: 'AES256' | 'aws:kms';
  /** aws:kms: the KMS key id or ARN; absent: the store's default KMS key. */
  kmsKeyId?: string;
  bucketKeyEnabled?: boolean;
}

/**
 * How an object's bytes are encrypted at rest (issue 16). The stored bytes (inline or in blocks) are the
 * plaintext cut into chunks of `chunkBytes` (the last shorter), each sealed with AES-256-GCM under the
 * object's data key: ciphertext then its 16-byte tag. The nonce of chunk i of part n (n = 0 for a
 * single PUT, else the part number) is n as 4 bytes big-endian then i as 8 bytes big-endian, so a
 * range read opens only the chunks it touches. VersionRecord.size and part sizes stay plaintext sizes;
 * BlockRef sizes are the stored ones.
 */
export interface ObjectEncryption {
  /** x-amz-server-side-encryption: AES256 (SSE-S3) or aws:kms (SSE-KMS); 'customer' is SSE-C. */
  mode: 'AES256' | 'aws:kms' | 'customer';
  /** The data key wrapped: by the key service (AES256, aws:kms), or under the customer's key (SSE-C). Base64. */
  wrappedKey: string;
  /** AES256 and aws:kms: the key service's key the data key was wrapped under (its ARN for aws:kms). */
  kmsKeyId?: string;
  /** aws:kms: the encryption context, base64 of its JSON, as x-amz-server-side-encryption-context carries it. */
  kmsContext?: string;
  bucketKeyEnabled?: boolean;
  /** SSE-C: a salted HMAC-SHA256 of the customer's key, to check later requests' key; the key is never stored. */
  customerKeyMac?: { salt: string; mac: string };
  chunkBytes: number;
}

/** One CORSRule of PutBucketCors; origins and allowed headers may hold one "*" each. */
export interface CorsRule {
  id?: string;
  allowedMethods: string[];
  allowedOrigins: string[];
  allowedHeaders: string[];
  exposeHeaders: string[];
  maxAgeSeconds?: number;
}

export interface StoredChecksum {
  algorithm: ChecksumAlgorithm;
  /** Base64 digest; for COMPOSITE, AWS's "digest-N" form. */
  value: string;
  type: 'FULL_OBJECT' | 'COMPOSITE';
}

/** One multipart part as recorded in the completed object, for GET ?partNumber= and checksums. */
export interface ObjectPart {
  size: number;
  etag: string;
  /** The number the part was uploaded as (absent in records from before it was kept: then its position). */
  partNumber?: number;
  /** The part's checksum (base64) in the object's checksum algorithm, for GetObjectAttributes ObjectParts. */
  checksum?: string;
}

export interface ObjectData {
  /** Base64 of the whole object when it is small enough to live in the metadata. */
  inline?: string;
  /** The blocks holding the object, in order: one for a PUT, one per part for multipart. */
  blocks?: BlockRef[];
  parts?: ObjectPart[];
}

export interface VersionRecord {
  key: string;
  /** Hex of the version key; the S3 version id, or "null" is shown when isNull. */
  versionKey: string;
  isNull: boolean;
  deleteMarker: boolean;
  lastModifiedMs: number;
  owner: string;
  size: number;
  /** Quoted ETag as S3 returns it. */
  etag: string;
  /** Content-Type, Content-Encoding, Cache-Control ... and x-amz-meta-*, lowercase names. */
  headers: Record<string, string>;
  storageClass: string;
  checksum?: StoredChecksum;
  /** Object tags (PutObjectTagging, x-amz-tagging). */
  tags?: Record<string, string>;
  /** The object ACL; absent means private (the owner has FULL_CONTROL). */
  acl?: Acl;
  /** Object Lock retention: the version cannot be deleted or overwritten before untilMs. */
  retention?: { mode: 'GOVERNANCE' | 'COMPLIANCE'; untilMs: number };
  /** Object Lock legal hold: the version cannot be deleted while it is on. */
  legalHold?: boolean;
  /** Server-side encryption of the stored bytes; absent: stored as sent. */
  encryption?: ObjectEncryption;
  data: ObjectData;
}

/**
 * Per-key head: the latest version (which may be a delete marker) and the null version, if any. Every
 * change to a key's versions checks and rewrites it, which serialises writers to one key.
 */
export interface KeyHead {
  latest: string;
  latestIsDeleteMarker: boolean;
  nullVersionKey?: string;
}

/** What ListObjects needs, kept beside the current version's pointer so a listing reads one row per key. */
export interface CurrentEntry {
  versionKey: string;
  size: number;
  etag: string;
  lastModifiedMs: number;
  storageClass: string;
  owner: string;
}

export interface UploadRecord {
  uploadId: string;
  key: string;
  initiatedMs: number;
  owner: string;
  storageClass: string;
  headers: Record<string, string>;
  checksumAlgorithm?: ChecksumAlgorithm;
  checksumType?: 'FULL_OBJECT' | 'COMPOSITE';
  tags?: Record<string, string>;
  /** The x-amz-object-lock-* settings CreateMultipartUpload asked for, applied on completion. */
  lock?: RequestedLock;
  /** The ACL CreateMultipartUpload set, which the completed object gets. */
  acl?: Acl;
  /** The encryption every part is stored under (one data key per upload), which the completed object gets. */
  encryption?: ObjectEncryption;
}

export interface PartRecord {
  partNumber: number;
  size: number;
  etag: string;
  lastModifiedMs: number;
  block?: BlockRef;
  inline?: string;
  /** Checksums of the part keyed by algorithm, base64. */
  checksums: Partial<Record<ChecksumAlgorithm, string>>;
}

export function encodeRecord(value: unknown): Buffer {
  return Buffer.from(JSON.stringify(value), 'utf8');
}

export function decodeRecord<T>(buf: Buffer): T {
  return JSON.parse(buf.toString('utf8')) as T;
}

// Values the metadata store hands out are never mutated, and its read cache hands out the same Buffer for
// a key until a commit replaces it. Decoding each such Buffer once, instead of once per read, took the
// JSON and base64 work out of a small GET (about a seventh of its main thread, bench/http.ts profile).
// Every reader of the Buffer shares the result, so it is frozen: a write path must copy, never mutate.
const sharedRecords = new WeakMap<Buffer, unknown>();

/** decodeRecord for read paths: the same frozen value for the same Buffer. */
export function decodeSharedRecord<T>(buf: Buffer): T {
  let value = sharedRecords.get(buf);
  if (value === undefined) {
    value = deepFreeze(decodeRecord<unknown>(buf));
    sharedRecords.set(buf, value);
  }
  return value as T;
}

function deepFreeze<T>(value: T): T {
  if (typeof value !== 'object' || value === null) return value;
  for (const child of Object.values(value)) deepFreeze(child);
  return Object.freeze(value);
}

let lastTick = 0n;
const tickMax = 0x7fff_ffff_ffff_ffffn;

/**
 * A fresh version key, newer than `after` (the current latest version's key, if any), so the newest
 * commit always sorts first even when clocks disagree.
 */
export function newVersionKey(nowMs: number, after?: Buffer): Buffer {
  let tick = BigInt(Math.floor(nowMs)) * 4096n;
  if (tick <= lastTick) tick = lastTick + 1n;
  if (after) {
    const afterTick = tickMax - after.readBigUInt64BE(0);
    if (tick <= afterTick) tick = afterTick + 1n;
  }
  assert(tick <= tickMax, 'Version clock overflow');
  lastTick = tick;
  const buf = Buffer.alloc(versionKeyBytes);
  buf.writeBigUInt64BE(tickMax - tick, 0);
  randomBytes(versionKeyBytes - 8).copy(buf, 8);
  return buf;
}

/** Parses a client-given version id; undefined when it cannot be one of ours. */
export function parseVersionId(versionId: string): Buffer | undefined {
  if (!/^[0-7][0-9a-f]{23}$/.test(versionId)) return undefined;
  return Buffer.from(versionId, 'hex');
}

export function versionIdOf(record: { isNull: boolean; versionKey: string }): string {
  return record.isNull ? 'null' : record.versionKey;
}
