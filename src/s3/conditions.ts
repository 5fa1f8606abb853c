// Read preconditions (If-Match, If-None-Match, If-Modified-Since, If-Unmodified-Since) evaluated in the
// order and with the precedence AWS documents, for GET/HEAD and for copy sources.
import { etagMatches } from '../objects/put-object.js';
import type { VersionRecord } from '../objects/records.js';
import { httpDate } from '../objects/get-object.js';
import { S3Error } from './errors.js';

export interface ReadConditions {
  ifMatch?: string;
  ifNoneMatch?: string;
  ifModifiedSince?: string;
  ifUnmodifiedSince?: string;
}

function parseDate(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const ms = Date.parse(text);
  return Number.isNaN(ms) ? undefined : ms;
}

/** Whole seconds, since HTTP dates carry no milliseconds. */
function seconds(ms: number): number {
  return Math.floor(ms / 1000);
}

/**
 * Returns 'ok', 'not-modified' (304) or 'failed' (412). If-Match true overrides a false
 * If-Unmodified-Since; If-None-Match false (a match) wins over If-Modified-Since.
 */
export function evaluateConditions(record: VersionRecord, conditions: ReadConditions): 'ok' | 'not-modified' | 'failed' {
  const modified = seconds(record.lastModifiedMs);
  if (conditions.ifMatch !== undefined) {
    if (!etagMatches(conditions.ifMatch, record.etag)) return 'failed';
  } else {
    const since = parseDate(conditions.ifUnmodifiedSince);
    if (since !== undefined && modified > seconds(since)) return 'failed';
  }
  if (conditions.ifNoneMatch !== undefined) {
    if (etagMatches(conditions.ifNoneMatch, record.etag)) return 'not-modified';
  } else {
    const since = parseDate(conditions.ifModifiedSince);
    if (since !== undefined && modified <= seconds(since)) return 'not-modified';
  }
  return 'ok';
}

export function enforceReadConditions(record: VersionRecord, conditions: ReadConditions): void {
  const outcome = evaluateConditions(record, conditions);
  if (outcome === 'failed') throw new S3Error('PreconditionFailed', undefined, { extra: { Condition: conditions.ifMatch !== undefined ? 'If-Match' : 'If-Unmodified-Since' } });
  if (outcome === 'not-modified') {
    throw new S3Error('NotModified', undefined, { headers: { etag: record.etag, 'last-modified': httpDate(record.lastModifiedMs) } });
  }
}

export interface ByteRange {
  start: number;
  /** Exclusive. */
  end: number;
}

/**
 * Parses a single "bytes=" range against an object size. Returns undefined to serve the whole object
 * (no header, or a form S3 ignores such as several ranges); throws InvalidRange when unsatisfiable.
 */
export function parseRange(value: string | undefined, size: number): ByteRange | undefined {
  if (value === undefined) return undefined;
  const m = /^bytes=(\d*)-(\d*)$/.exec(value.trim());
  if (!m || (m[1] === '' && m[2] === '')) return undefined;
  const unsatisfiable = (): never => {
    throw new S3Error('InvalidRange', undefined, { extra: { RangeRequested: value, ActualObjectSize: String(size) }, headers: { 'content-range': `bytes */${size}` } });
  };
  if (m[1] === '') {
    const suffix = Number(m[2]);
    if (suffix === 0 || size === 0) return unsatisfiable();
    return { start: Math.max(0, size - suffix), end: size };
  }
  const start = Number(m[1]);
  const last = m[2] === '' ? size - 1 : Number(m[2]);
  if (m[2] !== '' && last < start) return undefined; // syntactically invalid: RFC 7233 says ignore
  if (start >= size) return unsatisfiable();
  return { start, end: Math.min(last, size - 1) + 1 };
}
