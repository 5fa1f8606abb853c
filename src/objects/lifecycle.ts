// The lifecycle pass: walks every bucket's versions in key order and applies its lifecycle rules (expire,
// transition), then its multipart uploads (abort by rule or by the store-wide default). The pass's place and
// counts live in the MetaStore (setting "lifecycle-pass"), so whichever process runs the worker resumes it.
// Time comes from the context's clock only: tests move that clock instead of waiting for days.
import type { ObjectContext } from './context.js';
import { keys } from './keys.js';
import { decodeRecord, encodeRecord, type UploadRecord, type VersionRecord } from './records.js';
import { installVersion, readBucket, removeVersion } from './key-state.js';
import { abortUpload } from './multipart.js';
import { ObjectError } from './errors.js';
import { isStoreError } from '../util/errors.js';
import { currentExpiration, dueAfterDays, dueTransition, filterMatches, type LifecycleConfiguration } from './lifecycle-rules.js';
import { transitionVersion, type TransitionHooks } from './transition.js';

const passSetting = 'lifecycle-pass';
/** Version records one scan reads; a key whose versions run past a page is read to its end in pages of this. */
const versionPageMax = 256;
const uploadPageMax = 256;

export interface LifecycleCounts {
  versionsScanned: number;
  currentExpired: number;
  noncurrentExpired: number;
  deleteMarkersRemoved: number;
  transitioned: number;
  uploadsAborted: number;
  /** Versions an action was due for but that Object Lock (retention or legal hold) protects. */
  lockedSkipped: number;
  /** Actions that lost a race with a client's write and wait for the next pass. */
  conflicts: number;
}

export interface LifecycleProgress extends LifecycleCounts {
  running: boolean;
  startedMs?: number;
  finishedMs?: number;
  /** The bucket being walked and the phase in it. */
  bucket?: string;
  phase?: 'versions' | 'uploads';
}

interface StoredPass {
  progress: LifecycleProgress;
  /** Hex of the first metadata key not done yet in the current bucket and phase. */
  cursor?: string;
}

export interface LifecycleOptions {
  /** Uploads older than this are aborted where no rule says otherwise; 0 keeps them forever. */
  abortUploadsAfterMs: number;
  /** Called inside a transition, between writing the new blocks and the swap (tests interrupt it there). */
  transitionHooks?: TransitionHooks;
}

function emptyCounts(): LifecycleCounts {
  return { versionsScanned: 0, currentExpired: 0, noncurrentExpired: 0, deleteMarkersRemoved: 0, transitioned: 0, uploadsAborted: 0, lockedSkipped: 0, conflicts: 0 };
}

export function isLocked(record: Pick<VersionRecord, 'retention' | 'legalHold'>, nowMs: number): boolean {
  return record.legalHold === true || (record.retention !== undefined && record.retention.untilMs > nowMs);
}

/** Thrown by a removal's precondition when the version changed or became locked since it was judged. */
class Changed extends Error {
  constructor(readonly locked: boolean) {
    super(locked ? 'The version is locked' : 'The version changed');
  }
}

export class Lifecycle {
  readonly #ctx: ObjectContext;
  readonly #options: LifecycleOptions;
  /** Keys and uploads the last step of this process looked at, so the worker paces by work done. */
  #lastStepKeys = 0;

  constructor(ctx: ObjectContext, options: LifecycleOptions) {
    this.#ctx = ctx;
    this.#options = options;
  }

  lastStepKeys(): number {
    return this.#lastStepKeys;
  }

  async progress(): Promise<LifecycleProgress> {
    return (await this.#read()).pass.progress;
  }

  /** Starts a pass over every bucket unless one is running. */
  async start(): Promise<LifecycleProgress> {
    const { pass, buf } = await this.#read();
    if (pass.progress.running) return pass.progress;
    const next: StoredPass = { progress: { ...emptyCounts(), running: true, startedMs: this.#ctx.nowMs(), ...(pass.progress.finishedMs ? { finishedMs: pass.progress.finishedMs } : {}) } };
    await this.#write(buf, next);
    return next.progress;
  }

  /** One bounded unit of work: about `keysMax` object keys or uploads. Answers 'idle' when no pass runs. */
  async step(keysMax: number, signal?: AbortSignal): Promise<'busy' | 'idle'> {
    this.#lastStepKeys = 0;
    const { pass, buf } = await this.#read();
    const p = pass.progress;
    if (!p.running) return 'idle';
    if (p.bucket === undefined) return this.#nextBucket(buf, pass, '');
    let bucket;
    try {
      bucket = (await readBucket(this.#ctx, p.bucket)).record;
    } catch (err) {
      if (err instanceof ObjectError && err.code === 'NoSuchBucket') return this.#nextBucket(buf, pass, p.bucket);
      throw err;
    }
    // Nothing to do in a bucket without rules when abandoned uploads are kept.
    if (!bucket.lifecycle && this.#options.abortUploadsAfterMs === 0) return this.#nextBucket(buf, pass, p.bucket);
    const counts = emptyCounts();
    let cursor: string | undefined;
    if (p.phase === 'versions') cursor = await this.#versionsStep(bucket.name, bucket.lifecycle, pass.cursor, keysMax, counts, signal);
    else cursor = await this.#uploadsStep(bucket.name, bucket.lifecycle, pass.cursor, keysMax, counts);
    const next: StoredPass = { progress: addCounts(p, counts) };
    if (cursor !== undefined) next.cursor = cursor;
    else if (p.phase === 'versions') next.progress.phase = 'uploads';
    else return this.#nextBucket(buf, next, p.bucket);
    await this.#write(buf, next);
    return 'busy';
  }

  /** Moves the pass to the bucket after `after`, or ends it. */
  async #nextBucket(buf: Buffer | null, pass: StoredPass, after: string): Promise<'busy'> {
    const range = keys.bucketRange();
    const start = after === '' ? range.start : Buffer.concat([keys.bucket(after), Buffer.from([0])]);
    const [first] = await this.#ctx.meta.scan({ start, end: range.end, limit: 1 });
    const { bucket: _b, phase: _p, ...rest } = pass.progress;
    const progress: LifecycleProgress = first
      ? { ...rest, bucket: keys.bucketFromKey(first.key), phase: decodeRecord<{ lifecycle?: unknown }>(first.value).lifecycle ? 'versions' : 'uploads' }
      : { ...rest, running: false, finishedMs: this.#ctx.nowMs() };
    await this.#write(buf, { progress });
    return 'busy';
  }

  /** Applies the rules to about `keysMax` keys from `cursor`; answers the next cursor, undefined at the bucket's end. */
  async #versionsStep(bucket: string, config: LifecycleConfiguration | undefined, cursor: string | undefined, keysMax: number, counts: LifecycleCounts, signal?: AbortSignal): Promise<string | undefined> {
    const range = keys.versionRange(bucket, '');
    let start = cursor ? Buffer.from(cursor, 'hex') : range.start;
    for (let done = 0; done < keysMax;) {
      const page = await this.#ctx.meta.scan({ start, end: range.end, limit: versionPageMax });
      if (page.length === 0) return undefined;
      const groups = groupByKey(page.map((kv) => decodeRecord<VersionRecord>(kv.value)));
      for (let i = 0; i < groups.length && done < keysMax; i++) {
        signal?.throwIfAborted();
        let versions = groups[i]!;
        const key = versions[0]!.key;
        // The page may stop inside the last key's versions: read the rest of that key before judging it.
        if (i === groups.length - 1 && page.length === versionPageMax) versions = versions.concat(await this.#restOfKey(bucket, key, versions[versions.length - 1]!));
        counts.versionsScanned += versions.length;
        if (config) await this.#applyToKey(bucket, config, versions, counts);
        done++;
        this.#lastStepKeys++;
        start = keys.versionAfterKey(bucket, key);
      }
      if (page.length < versionPageMax && start.compare(page[page.length - 1]!.key) > 0) return undefined;
    }
    return start.toString('hex');
  }

  async #restOfKey(bucket: string, key: string, last: VersionRecord): Promise<VersionRecord[]> {
    const out: VersionRecord[] = [];
    const end = keys.versionsOfKey(bucket, key).end;
    let start = Buffer.concat([keys.version(bucket, key, Buffer.from(last.versionKey, 'hex')), Buffer.from([0])]);
    for (;;) {
      const page = await this.#ctx.meta.scan({ start, end, limit: versionPageMax });
      out.push(...page.map((kv) => decodeRecord<VersionRecord>(kv.value)));
      if (page.length < versionPageMax) return out;
      start = Buffer.concat([page[page.length - 1]!.key, Buffer.from([0])]);
    }
  }

  /** One key's versions, newest first: the AWS actions due now, each committed on its own with its checks. */
  async #applyToKey(bucket: string, config: LifecycleConfiguration, versions: VersionRecord[], counts: LifecycleCounts): Promise<void> {
    const nowMs = this.#ctx.nowMs();
    const latest = versions[0]!;
    let remaining = versions.length;
    let currentGone = false;
    if (!latest.deleteMarker) {
      const expiry = currentExpiration(config, { key: latest.key, size: latest.size, tags: latest.tags, lastModifiedMs: latest.lastModifiedMs });
      if (expiry && expiry.dueMs <= nowMs) currentGone = await this.#expireCurrent(bucket, latest, counts);
      if (!currentGone) await this.#maybeTransition(bucket, config, latest, { sinceMs: latest.lastModifiedMs, current: true, newerNoncurrent: 0 }, counts);
    }
    // Noncurrent versions: each became noncurrent when its successor (the next newer version) was written.
    let newerNoncurrent = 0;
    for (let i = 1; i < versions.length; i++) {
      const v = versions[i]!;
      const sinceMs = versions[i - 1]!.lastModifiedMs;
      const subject = { key: v.key, size: v.size, tags: v.deleteMarker ? undefined : v.tags };
      const due = config.rules.some((r) => r.enabled && r.noncurrentExpiration && filterMatches(r.filter, subject)
        && dueAfterDays(sinceMs, r.noncurrentExpiration.days!) <= nowMs
        && (r.noncurrentExpiration.newerNoncurrentVersions === undefined || newerNoncurrent >= r.noncurrentExpiration.newerNoncurrentVersions));
      if (due && (await this.#remove(bucket, v, counts))) {
        counts.noncurrentExpired++;
        remaining--;
        continue;
      }
      if (!v.deleteMarker) await this.#maybeTransition(bucket, config, v, { sinceMs, current: false, newerNoncurrent }, counts);
      newerNoncurrent++;
    }
    // A delete marker left with no versions behind it is an "expired object delete marker": removed by
    // ExpiredObjectDeleteMarker at once, and by an Expiration with Days or Date once the marker is old
    // enough for it (AWS's "Managing delete markers"). Tag filters never match a marker, which has no tags.
    if (latest.deleteMarker && remaining === 1) {
      const marker = { key: latest.key, size: 0, lastModifiedMs: latest.lastModifiedMs };
      const due = config.rules.some((r) => r.enabled && r.expiration?.expiredObjectDeleteMarker === true && filterMatches(r.filter, marker))
        || (currentExpiration(config, marker)?.dueMs ?? Number.POSITIVE_INFINITY) <= nowMs;
      if (due && (await this.#remove(bucket, latest, counts))) counts.deleteMarkersRemoved++;
    }
  }

  /** Expires a current version: a delete marker where the bucket keeps versions, a removal where it does not. */
  async #expireCurrent(bucket: string, latest: VersionRecord, counts: LifecycleCounts): Promise<boolean> {
    const nowMs = this.#ctx.nowMs();
    const bucketRecord = (await readBucket(this.#ctx, bucket)).record;
    if (bucketRecord.versioning === 'Unversioned') {
      if (!(await this.#remove(bucket, latest, counts))) return false;
      counts.currentExpired++;
      return true;
    }
    // A marker on a versioning-suspended bucket is the null version and replaces the null version there.
    if (bucketRecord.versioning === 'Suspended' && latest.isNull && isLocked(latest, nowMs)) {
      counts.lockedSkipped++;
      return false;
    }
    try {
      await installVersion(this.#ctx, bucket, latest.key, (versionKey, isNull) => ({
        key: latest.key, versionKey, isNull, deleteMarker: true, lastModifiedMs: nowMs, owner: latest.owner, size: 0, etag: '', headers: {}, storageClass: 'STANDARD', data: {},
      }), {
        precondition: (current) => {
          if (current?.versionKey !== latest.versionKey) throw new Changed(false);
        },
      });
    } catch (err) {
      if (err instanceof Changed || isStoreError(err, 'ERR_META_CONFLICT')) {
        counts.conflicts++;
        return false;
      }
      throw err;
    }
    counts.currentExpired++;
    return true;
  }

  /** Removes one version for good unless it changed or Object Lock protects it; true when removed. */
  async #remove(bucket: string, record: VersionRecord, counts: LifecycleCounts): Promise<boolean> {
    const nowMs = this.#ctx.nowMs();
    if (isLocked(record, nowMs)) {
      counts.lockedSkipped++;
      return false;
    }
    try {
      const removed = await removeVersion(this.#ctx, bucket, record.key, record.versionKey, {
        precondition: (now) => {
          if (!now || now.lastModifiedMs !== record.lastModifiedMs || now.deleteMarker !== record.deleteMarker) throw new Changed(false);
          if (isLocked(now, nowMs)) throw new Changed(true);
        },
      });
      return removed !== null;
    } catch (err) {
      if (err instanceof Changed) {
        if (err.locked) counts.lockedSkipped++;
        else counts.conflicts++;
        return false;
      }
      if (isStoreError(err, 'ERR_META_CONFLICT')) {
        counts.conflicts++;
        return false;
      }
      throw err;
    }
  }

  async #maybeTransition(bucket: string, config: LifecycleConfiguration, v: VersionRecord, at: { sinceMs: number; current: boolean; newerNoncurrent: number }, counts: LifecycleCounts): Promise<void> {
    const due = dueTransition(config, { key: v.key, size: v.size, tags: v.tags, ...at }, this.#ctx.nowMs());
    if (!due || due.storageClass === v.storageClass) return;
    const result = await transitionVersion(this.#ctx, { bucket, key: v.key, versionKey: v.versionKey, storageClass: due.storageClass }, this.#options.transitionHooks);
    if (result === 'done') counts.transitioned++;
    else if (result === 'conflict') counts.conflicts++;
  }

  /** Aborts the bucket's uploads that a rule or the store-wide default says are too old; answers the next cursor. */
  async #uploadsStep(bucket: string, config: LifecycleConfiguration | undefined, cursor: string | undefined, keysMax: number, counts: LifecycleCounts): Promise<string | undefined> {
    const range = keys.uploadRange(bucket, '');
    const start = cursor ? Buffer.from(cursor, 'hex') : range.start;
    const page = await this.#ctx.meta.scan({ start, end: range.end, limit: Math.min(keysMax, uploadPageMax) });
    const nowMs = this.#ctx.nowMs();
    this.#lastStepKeys += page.length;
    for (const kv of page) {
      const upload = decodeRecord<UploadRecord>(kv.value);
      if (!this.#uploadDue(config, upload, nowMs)) continue;
      try {
        await abortUpload(this.#ctx, { bucket, key: upload.key, uploadId: upload.uploadId });
        counts.uploadsAborted++;
      } catch (err) {
        // Completed or aborted by a client meanwhile: nothing left to do.
        if (err instanceof ObjectError && err.code === 'NoSuchUpload') continue;
        if (isStoreError(err, 'ERR_META_CONFLICT')) counts.conflicts++;
        else throw err;
      }
    }
    if (page.length < Math.min(keysMax, uploadPageMax)) return undefined;
    return Buffer.concat([page[page.length - 1]!.key, Buffer.from([0])]).toString('hex');
  }

  #uploadDue(config: LifecycleConfiguration | undefined, upload: UploadRecord, nowMs: number): boolean {
    const byRule = config?.rules.some((r) => r.enabled && r.abortIncompleteUploadDays !== undefined && filterMatches(r.filter, { key: upload.key, size: 0 })
      && dueAfterDays(upload.initiatedMs, r.abortIncompleteUploadDays) <= nowMs);
    const byDefault = this.#options.abortUploadsAfterMs > 0 && upload.initiatedMs + this.#options.abortUploadsAfterMs <= nowMs;
    return byRule === true || byDefault;
  }

  async #read(): Promise<{ pass: StoredPass; buf: Buffer | null }> {
    const buf = await this.#ctx.meta.get(keys.setting(passSetting));
    return { pass: buf ? decodeRecord<StoredPass>(buf) : { progress: { ...emptyCounts(), running: false } }, buf };
  }

  /** Writes the pass over `buf`; a pass another process changed meanwhile (a lost lease) wins, and this step's work is redone. */
  async #write(buf: Buffer | null, pass: StoredPass): Promise<void> {
    await this.#ctx.meta.commit({ checks: [{ key: keys.setting(passSetting), value: buf }], writes: [{ key: keys.setting(passSetting), value: encodeRecord(pass) }] });
  }
}

function addCounts(p: LifecycleProgress, c: LifecycleCounts): LifecycleProgress {
  const out = { ...p };
  for (const name of Object.keys(c) as (keyof LifecycleCounts)[]) out[name] += c[name];
  return out;
}

function groupByKey(records: VersionRecord[]): VersionRecord[][] {
  const groups: VersionRecord[][] = [];
  for (const r of records) {
    const last = groups[groups.length - 1];
    if (last && last[0]!.key === r.key) last.push(r);
    else groups.push([r]);
  }
  return groups;
}
