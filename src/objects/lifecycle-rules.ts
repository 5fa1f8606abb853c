// A bucket's lifecycle configuration as stored on its record, and the pure rules of AWS's lifecycle: which
// rule applies to a version (prefix, tags, size), and when its actions come due. No I/O here.
import { assert } from '../util/assert.js';

export const dayMs = 86_400_000;

/** A Filter as it was put, so GetBucketLifecycleConfiguration gives back the same shape. */
export interface LifecycleFilter {
  prefix?: string;
  tags?: Record<string, string>;
  sizeGreaterThan?: number;
  sizeLessThan?: number;
  /** 'legacy': the rule's top-level Prefix; 'and': the criteria sat in an <And>; 'single': one bare criterion or none. */
  form: 'legacy' | 'single' | 'and';
}

export interface LifecycleTransition {
  days?: number;
  dateMs?: number;
  storageClass: string;
}

export interface LifecycleRule {
  id: string;
  enabled: boolean;
  filter: LifecycleFilter;
  expiration?: { days?: number; dateMs?: number; expiredObjectDeleteMarker?: boolean };
  noncurrentExpiration?: { days?: number; newerNoncurrentVersions?: number };
  abortIncompleteUploadDays?: number;
  transitions?: LifecycleTransition[];
  noncurrentTransitions?: { days: number; newerNoncurrentVersions?: number; storageClass: string }[];
}

export interface LifecycleConfiguration {
  rules: LifecycleRule[];
}

/** What a rule's filter looks at. Tags are absent for delete markers and for uploads, which have none to match. */
export interface LifecycleSubject {
  key: string;
  size: number;
  tags?: Record<string, string> | undefined;
}

export function filterMatches(filter: LifecycleFilter, subject: LifecycleSubject): boolean {
  if (filter.prefix !== undefined && !subject.key.startsWith(filter.prefix)) return false;
  if (filter.sizeGreaterThan !== undefined && !(subject.size > filter.sizeGreaterThan)) return false;
  if (filter.sizeLessThan !== undefined && !(subject.size < filter.sizeLessThan)) return false;
  for (const [k, v] of Object.entries(filter.tags ?? {})) {
    if (subject.tags?.[k] !== v) return false;
  }
  return true;
}

/** Whether a rule's filter names tags or sizes: AWS forbids such rules from carrying delete-marker and upload actions. */
export function filterHasTagsOrSize(filter: LifecycleFilter): boolean {
  return Object.keys(filter.tags ?? {}).length > 0 || filter.sizeGreaterThan !== undefined || filter.sizeLessThan !== undefined;
}

/**
 * When an action `days` after `fromMs` comes due: AWS adds the days to the object's time and rounds the
 * result up to the next midnight UTC (the "Lifecycle rules: based on an object's age" page's example: an
 * object created 1/15 10:30 UTC with a 3-day rule expires 1/19 00:00 UTC).
 */
export function dueAfterDays(fromMs: number, days: number): number {
  assert(Number.isInteger(days) && days >= 0, 'Lifecycle days must be a non-negative integer');
  return (Math.floor((fromMs + days * dayMs) / dayMs) + 1) * dayMs;
}

/** The rule and time of the earliest expiration of a current version, for x-amz-expiration and the worker. */
export function currentExpiration(config: LifecycleConfiguration | undefined, subject: LifecycleSubject & { lastModifiedMs: number }): { ruleId: string; dueMs: number } | undefined {
  let best: { ruleId: string; dueMs: number } | undefined;
  for (const rule of config?.rules ?? []) {
    const exp = rule.expiration;
    if (!rule.enabled || !exp || (exp.days === undefined && exp.dateMs === undefined) || !filterMatches(rule.filter, subject)) continue;
    const dueMs = exp.days !== undefined ? dueAfterDays(subject.lastModifiedMs, exp.days) : Math.max(exp.dateMs!, 0);
    if (!best || dueMs < best.dueMs) best = { ruleId: rule.id, dueMs };
  }
  return best;
}

/**
 * The storage class a version should be in now by the transitions of the enabled rules that match it, or
 * undefined when none is due. The latest due transition wins (rules put in order of age: 30 days to one
 * class, 90 to a colder one). `sinceMs` is the version's time for current versions, its successor's for
 * noncurrent ones; `newerNoncurrent` counts the noncurrent versions newer than it (0 for a current one).
 */
export function dueTransition(
  config: LifecycleConfiguration | undefined,
  subject: LifecycleSubject & { sinceMs: number; current: boolean; newerNoncurrent: number },
  nowMs: number,
): { ruleId: string; storageClass: string } | undefined {
  let best: { ruleId: string; storageClass: string; dueMs: number } | undefined;
  for (const rule of config?.rules ?? []) {
    if (!rule.enabled || !filterMatches(rule.filter, subject)) continue;
    const candidates: { dueMs: number; storageClass: string }[] = subject.current
      ? (rule.transitions ?? []).map((t) => ({ dueMs: t.days !== undefined ? dueAfterDays(subject.sinceMs, t.days) : t.dateMs!, storageClass: t.storageClass }))
      : (rule.noncurrentTransitions ?? [])
          .filter((t) => t.newerNoncurrentVersions === undefined || subject.newerNoncurrent >= t.newerNoncurrentVersions)
          .map((t) => ({ dueMs: dueAfterDays(subject.sinceMs, t.days), storageClass: t.storageClass }));
    for (const c of candidates) {
      if (c.dueMs <= nowMs && (!best || c.dueMs > best.dueMs)) best = { ruleId: rule.id, ...c };
    }
  }
  return best ? { ruleId: best.ruleId, storageClass: best.storageClass } : undefined;
}

/** x-amz-expiration as AWS sends it: `expiry-date="Fri, 23 Dec 2012 00:00:00 GMT", rule-id="picture-deletion-rule"`. */
export function expirationHeader(expiry: { ruleId: string; dueMs: number }): string {
  return `expiry-date="${new Date(expiry.dueMs).toUTCString()}", rule-id="${encodeURIComponent(expiry.ruleId)}"`;
}
