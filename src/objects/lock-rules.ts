// Object Lock rules as pure functions over records: whether a version may be removed now, what a new
// version's retention is, and which retention changes are allowed. No I/O here, so lifecycle and any
// other worker can ask the same question the request path asks (docs/architecture.md "Object Lock").
import type { BucketRecord, VersionRecord } from './records.js';

export type LockMode = 'GOVERNANCE' | 'COMPLIANCE';

export interface Retention {
  mode: LockMode;
  untilMs: number;
}

/** A bucket's default retention (PutObjectLockConfiguration): a mode and exactly one of days or years. */
export interface DefaultRetention {
  mode: LockMode;
  days?: number;
  years?: number;
}

/** What a write asks for with the x-amz-object-lock-* headers; absent fields are not asked for. */
export interface RequestedLock {
  retention?: Retention;
  legalHold?: boolean;
}

export interface LockOptions {
  /**
   * x-amz-bypass-governance-retention was sent and the caller may use it (root, or a user granted
   * s3:BypassGovernanceRetention): GOVERNANCE retention then does not hold. COMPLIANCE always holds.
   */
  bypassGovernance: boolean;
}

/**
 * Whether a version is protected from removal at `nowMs`: a legal hold, or a retention date still in the
 * future (GOVERNANCE unless bypassed, COMPLIANCE always). Delete markers carry no lock.
 */
export function versionLocked(record: Pick<VersionRecord, 'retention' | 'legalHold'>, nowMs: number, options: LockOptions): boolean {
  if (record.legalHold === true) return true;
  const retention = record.retention;
  if (!retention || retention.untilMs <= nowMs) return false;
  return retention.mode === 'COMPLIANCE' || !options.bypassGovernance;
}

/** The moment `days` or `years` after `fromMs`; years are calendar years in UTC, as AWS counts them. */
export function retentionEndMs(rule: DefaultRetention, fromMs: number): number {
  if (rule.days !== undefined) return fromMs + rule.days * 86_400_000;
  const end = new Date(fromMs);
  end.setUTCFullYear(end.getUTCFullYear() + (rule.years ?? 0));
  return end.getTime();
}

/** Whether a write asks for any lock setting (and so needs a bucket with Object Lock enabled). */
export function asksForLock(requested: RequestedLock | undefined): boolean {
  return requested !== undefined && (requested.retention !== undefined || requested.legalHold !== undefined);
}

/**
 * The lock fields of a new object version in `bucket`: what the write asked for, else the bucket's
 * default retention counted from `nowMs`.
 */
export function newVersionLock(bucket: BucketRecord, requested: RequestedLock | undefined, nowMs: number): Pick<VersionRecord, 'retention' | 'legalHold'> {
  if (!bucket.objectLockEnabled) return {};
  const out: Pick<VersionRecord, 'retention' | 'legalHold'> = {};
  if (requested?.retention) out.retention = requested.retention;
  else if (bucket.objectLockDefault) out.retention = { mode: bucket.objectLockDefault.mode, untilMs: retentionEndMs(bucket.objectLockDefault, nowMs) };
  if (requested?.legalHold !== undefined) out.legalHold = requested.legalHold;
  return out;
}

/**
 * Why replacing a version's retention `current` with `next` (undefined: removing it) is refused, or
 * undefined when it is allowed. AWS: a retention that has passed no longer protects anything; extending
 * the date in the same mode is always allowed; COMPLIANCE can be neither shortened, removed nor turned
 * into GOVERNANCE by anyone; any other change to GOVERNANCE (shorter, removed, another mode) needs the
 * bypass.
 */
export function retentionChangeRefusal(current: Retention | undefined, next: Retention | undefined, nowMs: number, options: LockOptions): string | undefined {
  if (!current || current.untilMs <= nowMs) return undefined;
  const extends_ = next !== undefined && next.mode === current.mode && next.untilMs >= current.untilMs;
  if (extends_) return undefined;
  if (current.mode === 'COMPLIANCE') return 'The COMPLIANCE retention of the object cannot be shortened, removed or changed to GOVERNANCE';
  if (options.bypassGovernance) return undefined;
  return 'The GOVERNANCE retention of the object can be shortened, removed or changed only with x-amz-bypass-governance-retention';
}
