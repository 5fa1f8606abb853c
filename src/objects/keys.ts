// The metadata key layout: how buckets, versions, uploads, parts and the GC queue map onto the ordered
// key-value MetaStore. Strings are escaped (0x00 → 0x00 0xFF) and 0x00-terminated, so tuple order is
// UTF-8 binary order of the parts, and a key prefix maps to one contiguous key range.
import { assert } from '../util/assert.js';
import { keyNameOf, type KeyName } from '../meta/types.js';

const enum Space {
  Bucket = 0x62, // 'b' bucket → BucketRecord
  Current = 0x63, // 'c' bucket,key → CurrentEntry: the latest version unless it is a delete marker
  Version = 0x76, // 'v' bucket,key,versionKey → VersionRecord, newest first within a key
  Head = 0x68, // 'h' bucket,key → KeyHead: the latest version (delete markers too) and the null version
  Upload = 0x75, // 'u' bucket,key,uploadId → UploadRecord
  Part = 0x70, // 'p' uploadId,partNumber → PartRecord
  Gc = 0x67, // 'g' dueMs,blockId → BlockRef to delete once due
  BlockOwner = 0x72, // 'r' blockId → BlockRef; present while live metadata references the block
  Setting = 0x73, // 's' name → JSON (credentials, cluster settings)
  Completed = 0x6b, // 'k' uploadId → CompletedUploadRecord, kept a while so a retried completion replays
  CompletedDue = 0x65, // 'e' dueMs,uploadId → empty: when the 'k' record of that upload expires
  Damage = 0x64, // 'd' blockId → BlockRef reported damaged (missing or corrupt shard), waiting for heal
  Lease = 0x6c, // 'l' name → LeaseRecord: which process runs that background worker, until when
  Layout = 0x79, // 'y' epoch (u32 BE) → the cluster layout of that epoch (cluster/encodeLayout), oldest first
  Usage = 0x6e, // 'n' bucket,measure → a counter (meta Add): the bucket's versions, their bytes, its delete markers
  // Taken by src/iam/keys.ts (iam sits below objects, so it encodes its own): 'U' users, 'A' access keys,
  // 'P' attached policies; and by src/kms/local-key-service.ts: 'K' KMS master keys. Keep them out of this
  // enum's choices.
}

export const versionKeyBytes = 12;

function escapeString(s: string): Buffer {
  const raw = Buffer.from(s, 'utf8');
  let zeros = 0;
  for (const b of raw) if (b === 0) zeros++;
  if (zeros === 0) return raw;
  const out = Buffer.alloc(raw.length + zeros);
  let j = 0;
  for (const b of raw) {
    out[j++] = b;
    if (b === 0) out[j++] = 0xff;
  }
  return out;
}

const terminator = Buffer.from([0]);
const rangeEnd = Buffer.from([0xff]); // UTF-8 never contains 0xff, and an escaped 0x00 is 0x00 0xff

function tuple(space: Space, ...parts: (string | Buffer)[]): Buffer {
  // Most keys are strings with no NUL and at most a trailing binary part (a version key): encode them from
  // one string, with one UTF-8 conversion instead of a Buffer per part and a concat (3% of a small GET).
  let text = String.fromCharCode(space);
  let last = parts.length;
  const tail = parts[last - 1];
  if (tail !== undefined && typeof tail !== 'string') last--;
  for (let i = 0; i < last; i++) {
    const part = parts[i]!;
    if (typeof part !== 'string' || part.includes('\0')) return tupleByParts(space, parts);
    text += `${part}\0`;
  }
  if (last === parts.length) return Buffer.from(text, 'utf8');
  const head = Buffer.from(text, 'utf8');
  return Buffer.concat([head, tail as Buffer], head.length + (tail as Buffer).length);
}

function tupleByParts(space: Space, parts: (string | Buffer)[]): Buffer {
  const chunks: Buffer[] = [Buffer.from([space])];
  for (const part of parts) {
    if (typeof part === 'string') chunks.push(escapeString(part), terminator);
    else chunks.push(part);
  }
  return Buffer.concat(chunks);
}

function unescapeString(buf: Buffer, start: number): { value: string; next: number } {
  // Most strings hold no NUL: their bytes up to the terminator are the UTF-8, decoded in one call.
  const end = buf.indexOf(0, start);
  assert(end >= 0, 'Unterminated string in metadata key');
  if (buf[end + 1] !== 0xff) return { value: buf.toString('utf8', start, end), next: end + 1 };
  const bytes: number[] = [];
  let i = start;
  for (;;) {
    assert(i < buf.length, 'Unterminated string in metadata key');
    const b = buf[i]!;
    if (b === 0) {
      if (buf[i + 1] === 0xff) {
        bytes.push(0);
        i += 2;
        continue;
      }
      return { value: Buffer.from(bytes).toString('utf8'), next: i + 1 };
    }
    bytes.push(b);
    i++;
  }
}

/** Range of every key in `space` under the given leading tuple parts, whose next string starts with `prefix`. */
function prefixRange(space: Space, lead: string[], prefix: string): { start: Buffer; end: Buffer } {
  const start = Buffer.concat([tuple(space, ...lead), escapeString(prefix)]);
  return { start, end: Buffer.concat([start, rangeEnd]) };
}

export const keys = {
  bucket: (bucket: string) => tuple(Space.Bucket, bucket),
  bucketRange: () => ({ start: Buffer.from([Space.Bucket]), end: Buffer.from([Space.Bucket + 1]) }),
  bucketFromKey: (key: Buffer) => unescapeString(key, 1).value,

  current: (bucket: string, key: string) => tuple(Space.Current, bucket, key),
  currentRange: (bucket: string, prefix: string) => prefixRange(Space.Current, [bucket], prefix),
  /** First key strictly after every object key that starts with `prefix` (to skip a common prefix). */
  currentAfterPrefix: (bucket: string, prefix: string) => prefixRange(Space.Current, [bucket], prefix).end,
  /** First key strictly after object `key`. */
  currentAfter: (bucket: string, key: string) => Buffer.concat([tuple(Space.Current, bucket, key), terminator]),
  objectKeyFromCurrent: (key: Buffer, bucket: string) => unescapeString(key, tuple(Space.Current, bucket).length).value,
  /** objectKeyFromCurrent for many keys of one bucket: the bucket's part is encoded once. */
  objectKeysFromCurrent: (bucket: string) => {
    const at = tuple(Space.Current, bucket).length;
    return (key: Buffer) => unescapeString(key, at).value;
  },

  version: (bucket: string, key: string, versionKey: Buffer) => tuple(Space.Version, bucket, key, versionKey),
  versionsOfKey: (bucket: string, key: string) => {
    const start = tuple(Space.Version, bucket, key);
    return { start, end: Buffer.concat([start, rangeEnd]) };
  },
  versionRange: (bucket: string, prefix: string) => prefixRange(Space.Version, [bucket], prefix),
  versionAfterPrefix: (bucket: string, prefix: string) => prefixRange(Space.Version, [bucket], prefix).end,
  /** First version key of any object key after `key`. */
  versionAfterKey: (bucket: string, key: string) => Buffer.concat([tuple(Space.Version, bucket, key), rangeEnd]),
  parseVersion: (key: Buffer, bucket: string): { objectKey: string; versionKey: Buffer } => {
    const { value, next } = unescapeString(key, tuple(Space.Version, bucket).length);
    return { objectKey: value, versionKey: key.subarray(next) };
  },

  head: (bucket: string, key: string) => tuple(Space.Head, bucket, key),

  upload: (bucket: string, key: string, uploadId: string) => tuple(Space.Upload, bucket, key, uploadId),
  uploadRange: (bucket: string, prefix: string) => prefixRange(Space.Upload, [bucket], prefix),
  uploadAfterKey: (bucket: string, key: string) => Buffer.concat([tuple(Space.Upload, bucket, key), rangeEnd]),
  uploadAfterPrefix: (bucket: string, prefix: string) => prefixRange(Space.Upload, [bucket], prefix).end,

  part: (uploadId: string, partNumber: number) => {
    const n = Buffer.alloc(4);
    n.writeUInt32BE(partNumber);
    return tuple(Space.Part, uploadId, n);
  },
  partRange: (uploadId: string, afterPartNumber: number) => {
    const start = Buffer.alloc(4);
    start.writeUInt32BE(afterPartNumber + 1);
    const lead = tuple(Space.Part, uploadId);
    return { start: Buffer.concat([lead, start]), end: Buffer.concat([lead, rangeEnd]) };
  },

  gc: (dueMs: number, blockId: string) => {
    const due = Buffer.alloc(8);
    due.writeBigUInt64BE(BigInt(Math.max(0, Math.floor(dueMs))));
    return Buffer.concat([Buffer.from([Space.Gc]), due, Buffer.from(blockId, 'utf8')]);
  },
  gcDueRange: (nowMs: number) => {
    const end = Buffer.alloc(9);
    end[0] = Space.Gc;
    end.writeBigUInt64BE(BigInt(Math.floor(nowMs)) + 1n, 1);
    return { start: Buffer.from([Space.Gc]), end };
  },

  blockOwner: (blockId: string) => tuple(Space.BlockOwner, blockId),
  blockOwnerRange: () => ({ start: Buffer.from([Space.BlockOwner]), end: Buffer.from([Space.BlockOwner + 1]) }),

  setting: (name: string) => tuple(Space.Setting, name),

  damage: (blockId: string) => tuple(Space.Damage, blockId),
  damageRange: () => ({ start: Buffer.from([Space.Damage]), end: Buffer.from([Space.Damage + 1]) }),

  lease: (name: string) => tuple(Space.Lease, name),
  leaseRange: () => ({ start: Buffer.from([Space.Lease]), end: Buffer.from([Space.Lease + 1]) }),
  layout: (epoch: number) => {
    const key = Buffer.alloc(5);
    key[0] = Space.Layout;
    key.writeUInt32BE(epoch, 1);
    return key;
  },
  layoutRange: () => ({ start: Buffer.from([Space.Layout]), end: Buffer.from([Space.Layout + 1]) }),

  completed: (uploadId: string) => tuple(Space.Completed, uploadId),
  completedDue: (dueMs: number, uploadId: string) => {
    const due = Buffer.alloc(8);
    due.writeBigUInt64BE(BigInt(Math.max(0, Math.floor(dueMs))));
    return Buffer.concat([Buffer.from([Space.CompletedDue]), due, Buffer.from(uploadId, 'utf8')]);
  },
  completedDueRange: (nowMs: number) => {
    const end = Buffer.alloc(9);
    end[0] = Space.CompletedDue;
    end.writeBigUInt64BE(BigInt(Math.floor(nowMs)) + 1n, 1);
    return { start: Buffer.from([Space.CompletedDue]), end };
  },
  uploadIdFromCompletedDue: (key: Buffer) => key.subarray(9).toString('utf8'),

  usage: (bucket: string, measure: string) => tuple(Space.Usage, bucket, measure),
  usageRange: () => ({ start: Buffer.from([Space.Usage]), end: Buffer.from([Space.Usage + 1]) }),
  parseUsage: (key: Buffer): { bucket: string; measure: string } => {
    const bucket = unescapeString(key, 1);
    return { bucket: bucket.value, measure: unescapeString(key, bucket.next).value };
  },
};

/** Whether `s` is ASCII without a NUL: its UTF-8 bytes are then its chars, and none needs an escape. */
function isPlainAscii(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0 || c > 0x7f) return false;
  }
  return true;
}

const bucketLead = String.fromCharCode(Space.Bucket);
const currentLead = String.fromCharCode(Space.Current);
const versionLead = String.fromCharCode(Space.Version);

/**
 * The KeyNames of the keys a small GET reads through MetaStore.getNow, built as strings: on a read-cache
 * hit no key Buffer is made (three per GET, each then turned into its name, were ~2% of a small GET's
 * main thread). Each is exactly keyNameOf() of the key above; a part that is not plain ASCII takes that
 * way, since its UTF-8 bytes and escapes are not its chars.
 */
export const keyNames = {
  bucket: (bucket: string): KeyName => (isPlainAscii(bucket) ? `${bucketLead}${bucket}\0` as KeyName : keyNameOf(keys.bucket(bucket))),
  current: (bucket: string, key: string): KeyName =>
    isPlainAscii(bucket) && isPlainAscii(key) ? `${currentLead}${bucket}\0${key}\0` as KeyName : keyNameOf(keys.current(bucket, key)),
  /** The version key as the hex a CurrentEntry holds it in. */
  version: (bucket: string, key: string, versionKeyHex: string): KeyName => {
    const versionKey = Buffer.from(versionKeyHex, 'hex');
    if (!isPlainAscii(bucket) || !isPlainAscii(key)) return keyNameOf(keys.version(bucket, key, versionKey));
    return `${versionLead}${bucket}\0${key}\0${versionKey.toString('latin1')}` as KeyName;
  },
};
