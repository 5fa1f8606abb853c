// Every change to a key's versions goes through here: installing a version (object or delete marker) and
// removing one. Each is one conditional metadata transaction on the key's head, retried on conflict, so
// concurrent writers never lose a version and replaced data always reaches the GC queue.
import { StoreError } from '../util/errors.js';
import { metaRetriesMax } from '../constants.js';
import type { Add, Check, Txn, Write } from '../meta/types.js';
import type { BlockRef } from '../blocks/types.js';
import type { ObjectContext } from './context.js';
import { keys } from './keys.js';
import {
  decodeRecord, decodeSharedRecord, encodeRecord, newVersionKey,
  type BucketRecord, type CurrentEntry, type KeyHead, type VersionRecord,
} from './records.js';
import { ObjectError } from './errors.js';
import { newVersionLock } from './lock-rules.js';
import { usageAdds } from './usage.js';

export interface KeySnapshot {
  headBuf: Buffer | null;
  head: KeyHead | null;
}

export async function readHead(ctx: ObjectContext, bucket: string, key: string): Promise<KeySnapshot> {
  const headBuf = await ctx.meta.get(keys.head(bucket, key));
  return { headBuf, head: headBuf ? decodeSharedRecord<KeyHead>(headBuf) : null };
}

export async function readVersion(ctx: ObjectContext, bucket: string, key: string, versionKey: string): Promise<VersionRecord | null> {
  const buf = await ctx.meta.get(keys.version(bucket, key, Buffer.from(versionKey, 'hex')));
  return buf ? decodeSharedRecord<VersionRecord>(buf) : null;
}

export function currentEntryOf(record: VersionRecord): CurrentEntry {
  return {
    versionKey: record.versionKey,
    size: record.size,
    etag: record.etag,
    lastModifiedMs: record.lastModifiedMs,
    storageClass: record.storageClass,
    owner: record.owner,
  };
}

export function blocksOf(record: { data: { blocks?: BlockRef[] } }): BlockRef[] {
  return record.data.blocks ?? [];
}

/** Writes that hand blocks no longer referenced to the GC queue. */
export function releaseBlocks(ctx: ObjectContext, blocks: BlockRef[]): Write[] {
  const due = ctx.nowMs() + ctx.gcDelayMs;
  return blocks.flatMap((ref) => [
    { key: keys.blockOwner(ref.id), value: null },
    { key: keys.gc(due, ref.id), value: encodeRecord(ref) },
  ]);
}

/** Marks blocks as referenced; the entry holds the BlockRef so heal and scrub can walk every live block. */
export function claimBlocks(blocks: BlockRef[]): Write[] {
  return blocks.map((ref) => ({ key: keys.blockOwner(ref.id), value: encodeRecord(ref) }));
}

export async function readBucket(ctx: ObjectContext, bucket: string): Promise<{ record: BucketRecord; buf: Buffer }> {
  const buf = await ctx.meta.get(keys.bucket(bucket));
  return { record: bucketRecordOf(bucket, buf), buf: buf! };
}

/** The record of a bucket that exists and is not being deleted, from its metadata value. */
export function bucketRecordOf(bucket: string, buf: Buffer | null): BucketRecord {
  const record = buf ? decodeSharedRecord<BucketRecord>(buf) : undefined;
  if (!record || record.deleting) throw new ObjectError('NoSuchBucket', undefined, { extra: { BucketName: bucket } });
  return record;
}

/**
 * What installVersion reads before it commits, in one readMany (one round trip on PostgreSQL): the bucket,
 * the key's head, and the key's newest version (the first of its range), which is usually the latest
 * version the head names and the null version it replaces.
 */
async function readForInstall(ctx: ObjectContext, bucketName: string, key: string): Promise<{ bucket: { record: BucketRecord; buf: Buffer }; snap: KeySnapshot; newest: VersionRecord | null }> {
  const read = await ctx.meta.readMany({ gets: [keys.bucket(bucketName), keys.head(bucketName, key)], scans: [{ ...keys.versionsOfKey(bucketName, key), limit: 1 }] });
  const bucketBuf = read.values[0] ?? null;
  const headBuf = read.values[1] ?? null;
  const first = read.scans[0]?.[0];
  return {
    bucket: { record: bucketRecordOf(bucketName, bucketBuf), buf: bucketBuf! },
    snap: { headBuf, head: headBuf ? decodeSharedRecord<KeyHead>(headBuf) : null },
    newest: first ? decodeSharedRecord<VersionRecord>(first.value) : null,
  };
}

/**
 * Version `versionKey` of a key: `known` when it is that one, else read. (On a backend whose reads in one
 * readMany do not share a snapshot, the newest version read may already differ from what the head names.)
 */
async function versionOf(ctx: ObjectContext, bucketName: string, key: string, versionKey: string, known: VersionRecord | null): Promise<VersionRecord | null> {
  return known?.versionKey === versionKey ? known : readVersion(ctx, bucketName, key, versionKey);
}

/** Times a head that names a vanished version is read again before the version counts as missing. */
const tornReadRetriesMax = 5;

/**
 * The key's latest version for a check made ahead of a write (null: no object, or a delete marker), from
 * one readMany of its head and newest version. A commit (this process's or another gateway's) can land
 * between the reads and delete the version the head named (an overwrite in an unversioned bucket): then
 * both are read again, since the key still has a latest version, just a newer one. Undefined when that
 * keeps happening: the check at commit time decides then.
 */
export async function readLatest(ctx: ObjectContext, bucketName: string, key: string): Promise<VersionRecord | null | undefined> {
  for (let attempt = 0; attempt <= tornReadRetriesMax; attempt++) {
    const read = await ctx.meta.readMany({ gets: [keys.head(bucketName, key)], scans: [{ ...keys.versionsOfKey(bucketName, key), limit: 1 }] });
    const headBuf = read.values[0] ?? null;
    const head = headBuf ? decodeSharedRecord<KeyHead>(headBuf) : null;
    if (!head || head.latestIsDeleteMarker) return null;
    const first = read.scans[0]?.[0];
    const newest = first ? decodeSharedRecord<VersionRecord>(first.value) : null;
    const latest = await versionOf(ctx, bucketName, key, head.latest, newest);
    if (latest) return latest;
  }
  return undefined;
}

/**
 * The bucket's default retention on a new object version that asked for none, whatever wrote it (PUT,
 * POST, copy, multipart): applied here, at the one place every version is made, so no path misses it.
 */
function withDefaultRetention(record: VersionRecord, bucket: BucketRecord, nowMs: number): VersionRecord {
  if (record.deleteMarker || record.retention || !bucket.objectLockEnabled || !bucket.objectLockDefault) return record;
  return { ...record, ...newVersionLock(bucket, record.legalHold !== undefined ? { legalHold: record.legalHold } : {}, nowMs) };
}

export interface InstallOptions {
  /** Throws (an S3Error) when the write must not happen given the current (non-delete-marker) version. */
  precondition?: (current: VersionRecord | null) => void;
  /** Extra checks and writes committed in the same transaction (e.g. removing a finished upload). */
  extra?: () => Promise<Txn>;
}

/**
 * Makes `build(...)` the key's latest version. In a bucket that is not versioning-enabled the new version
 * is the null version and replaces the old null version, whose data is released.
 */
export async function installVersion(
  ctx: ObjectContext,
  bucketName: string,
  key: string,
  build: (versionKey: string, isNull: boolean, bucket: BucketRecord) => VersionRecord,
  options: InstallOptions = {},
): Promise<VersionRecord> {
  for (let attempt = 0; attempt < metaRetriesMax; attempt++) {
    const { bucket, snap, newest } = await readForInstall(ctx, bucketName, key);
    const latest = snap.head && !snap.head.latestIsDeleteMarker ? await versionOf(ctx, bucketName, key, snap.head.latest, newest) : null;
    // A head naming a version already deleted is a torn read (a commit landed between the reads): the
    // key has a newer latest version, so read again rather than check the precondition against none. On
    // the last attempt go on: a head that keeps naming a lost version must not make the key unwritable.
    if (snap.head && !snap.head.latestIsDeleteMarker && !latest && attempt < metaRetriesMax - 1) continue;
    options.precondition?.(latest);
    const isNull = bucket.record.versioning !== 'Enabled';
    const versionKey = newVersionKey(ctx.nowMs(), snap.head ? Buffer.from(snap.head.latest, 'hex') : undefined);
    const record = withDefaultRetention(build(versionKey.toString('hex'), isNull, bucket.record), bucket.record, ctx.nowMs());
    const checks: Check[] = [
      { key: keys.bucket(bucketName), value: bucket.buf },
      { key: keys.head(bucketName, key), value: snap.headBuf },
    ];
    const writes: Write[] = [
      { key: keys.version(bucketName, key, versionKey), value: encodeRecord(record) },
      { key: keys.current(bucketName, key), value: record.deleteMarker ? null : encodeRecord(currentEntryOf(record)) },
      ...claimBlocks(blocksOf(record)),
    ];
    const adds: Add[] = usageAdds(bucketName, record, 1);
    const oldNullKey = snap.head?.nullVersionKey;
    if (isNull && oldNullKey) {
      // Unchanged at commit time unless the head changed too (a removal of it rewrites the head), and
      // the head is checked: so its usage is what leaves the bucket.
      const old = await versionOf(ctx, bucketName, key, oldNullKey, newest);
      writes.push({ key: keys.version(bucketName, key, Buffer.from(oldNullKey, 'hex')), value: null });
      if (old) writes.push(...releaseBlocks(ctx, blocksOf(old)));
      if (old) adds.push(...usageAdds(bucketName, old, -1));
    }
    const head: KeyHead = {
      latest: record.versionKey,
      latestIsDeleteMarker: record.deleteMarker,
      ...(isNull ? { nullVersionKey: record.versionKey } : oldNullKey ? { nullVersionKey: oldNullKey } : {}),
    };
    writes.push({ key: keys.head(bucketName, key), value: encodeRecord(head) });
    const extra = options.extra ? await options.extra() : { checks: [], writes: [] };
    if (await ctx.meta.commit({ checks: [...checks, ...extra.checks], writes: [...writes, ...extra.writes], adds })) return record;
    if (options.precondition) break; // a conditional write that lost a race answers 409, as AWS does
  }
  throw new StoreError('ERR_META_CONFLICT', `Cannot commit a new version of key "${key}": too many concurrent writers`);
}

export interface RemoveOptions {
  /**
   * Throws (an ObjectError) when the removal must not happen given the version it would remove (null if
   * there is none); it runs on the snapshot the commit checks, so no writer can slip in between.
   */
  precondition?: (record: VersionRecord | null) => void;
  /**
   * Throws when the version must not be removed whoever asks (Object Lock); checked on the same snapshot
   * as the precondition, but a commit that loses a race is retried rather than answered 409.
   */
  guard?: (record: VersionRecord) => void;
}

/**
 * Permanently removes one version; the key's latest and current entries move to the next version.
 * `target` names the version, or picks it from the key's head on each attempt (the null version, which a
 * concurrent write may replace). Answers the removed record, or null when there was none.
 */
export async function removeVersion(
  ctx: ObjectContext,
  bucketName: string,
  key: string,
  target: string | ((head: KeyHead) => string | undefined),
  options: RemoveOptions = {},
): Promise<VersionRecord | null> {
  for (let attempt = 0; attempt < metaRetriesMax; attempt++) {
    // The head and the key's two newest versions in one readMany (one round trip on PostgreSQL): a
    // removal usually takes the newest, and the second is then the one that becomes latest.
    const range = keys.versionsOfKey(bucketName, key);
    const read = await ctx.meta.readMany({ gets: [keys.head(bucketName, key)], scans: [{ ...range, limit: 2 }] });
    const headBuf = read.values[0] ?? null;
    const snap: KeySnapshot = { headBuf, head: headBuf ? decodeSharedRecord<KeyHead>(headBuf) : null };
    const newest = read.scans[0] ?? [];
    const versionKey = snap.head ? (typeof target === 'string' ? target : target(snap.head)) : undefined;
    const vkey = versionKey !== undefined ? keys.version(bucketName, key, Buffer.from(versionKey, 'hex')) : undefined;
    const recordBuf = vkey ? (newest.find((kv) => kv.key.equals(vkey))?.value ?? (await ctx.meta.get(vkey))) : null;
    const record = recordBuf ? decodeRecord<VersionRecord>(recordBuf) : null;
    options.precondition?.(record);
    if (!snap.head || !vkey || !recordBuf || !record) return null;
    options.guard?.(record);
    const checks: Check[] = [{ key: keys.head(bucketName, key), value: snap.headBuf }, { key: vkey, value: recordBuf }];
    const writes: Write[] = [{ key: vkey, value: null }, ...releaseBlocks(ctx, blocksOf(record))];
    let head: KeyHead | null = { ...snap.head };
    if (head.nullVersionKey === versionKey) delete head.nullVersionKey;
    if (snap.head.latest === versionKey) {
      // When the removed version is the first of the two read, the second (or none) is the next.
      const after = newest[0]?.key.equals(vkey) ? newest : await ctx.meta.scan({ ...range, limit: 2 });
      const next = after.find((kv) => !kv.key.equals(vkey));
      if (next) {
        const nextRecord = decodeRecord<VersionRecord>(next.value);
        head = { ...head, latest: nextRecord.versionKey, latestIsDeleteMarker: nextRecord.deleteMarker };
        writes.push({ key: keys.current(bucketName, key), value: nextRecord.deleteMarker ? null : encodeRecord(currentEntryOf(nextRecord)) });
      } else {
        head = null;
        writes.push({ key: keys.current(bucketName, key), value: null });
      }
    }
    writes.push({ key: keys.head(bucketName, key), value: head ? encodeRecord(head) : null });
    if (await ctx.meta.commit({ checks, writes, adds: usageAdds(bucketName, record, -1) })) return record;
    if (options.precondition) break; // as installVersion: a conditional change that lost a race answers 409
  }
  throw new StoreError('ERR_META_CONFLICT', `Cannot remove a version of key "${key}": too many concurrent writers`);
}

/** Rewrites one version's record in place (tags), leaving its data and its place in history alone. */
export async function updateVersion(
  ctx: ObjectContext,
  bucketName: string,
  key: string,
  versionKey: string,
  change: (record: VersionRecord) => VersionRecord,
): Promise<VersionRecord | null> {
  const vkey = keys.version(bucketName, key, Buffer.from(versionKey, 'hex'));
  for (let attempt = 0; attempt < metaRetriesMax; attempt++) {
    const buf = await ctx.meta.get(vkey);
    if (!buf) return null;
    const next = change(decodeRecord<VersionRecord>(buf));
    if (await ctx.meta.commit({ checks: [{ key: vkey, value: buf }], writes: [{ key: vkey, value: encodeRecord(next) }] })) return next;
  }
  throw new StoreError('ERR_META_CONFLICT', `Cannot update version "${versionKey}" of key "${key}": too many concurrent writers`);
}
