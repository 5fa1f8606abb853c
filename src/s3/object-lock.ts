// The Object Lock parts of requests and answers: x-amz-object-lock-* headers on writes and reads,
// x-amz-bypass-governance-retention, and the integrity header AWS requires of lock requests.
import type { IncomingHttpHeaders } from 'node:http';
import type { RequestedLock, LockMode } from '../objects/lock-rules.js';
import type { VersionRecord } from '../objects/records.js';
import { createHash } from 'node:crypto';
import { header, readSmallBody, type RequestContext } from './context.js';
import { contentMd5Of } from './request-body.js';
import { S3Error } from './errors.js';
import { allows } from './authorize.js';

function single(headers: IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value.join(',') : value;
}

function invalid(message: string, name: string, value?: string): S3Error {
  return new S3Error('InvalidArgument', message, { extra: { ArgumentName: name, ...(value !== undefined ? { ArgumentValue: value.slice(0, 256) } : {}) } });
}

export function lockModeOf(value: string): LockMode | undefined {
  return value === 'GOVERNANCE' || value === 'COMPLIANCE' ? value : undefined;
}

/** An ISO 8601 date-time as ms, or undefined; AWS wants a full date and time, not a bare date. */
export function retainUntilMsOf(value: string): number | undefined {
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}/.test(value.trim())) return undefined;
  const ms = Date.parse(value.trim());
  return Number.isNaN(ms) ? undefined : ms;
}

/**
 * The lock a PutObject, CopyObject or CreateMultipartUpload asks for, with AWS's refusals: mode and date
 * only together, a known mode, a date in the future, a legal hold of ON or OFF.
 */
export function requestedLockOf(headers: IncomingHttpHeaders, nowMs: number): RequestedLock | undefined {
  const mode = single(headers, 'x-amz-object-lock-mode');
  const until = single(headers, 'x-amz-object-lock-retain-until-date');
  const hold = single(headers, 'x-amz-object-lock-legal-hold');
  if (mode === undefined && until === undefined && hold === undefined) return undefined;
  const out: RequestedLock = {};
  if (mode !== undefined || until !== undefined) {
    if (mode === undefined || until === undefined) {
      throw invalid('x-amz-object-lock-retain-until-date and x-amz-object-lock-mode must both be supplied', mode === undefined ? 'x-amz-object-lock-mode' : 'x-amz-object-lock-retain-until-date');
    }
    const lockMode = lockModeOf(mode);
    if (!lockMode) throw invalid('Unknown wormMode directive.', 'x-amz-object-lock-mode', mode);
    const untilMs = retainUntilMsOf(until);
    if (untilMs === undefined) throw invalid('The retain until date must be provided in ISO 8601 format', 'x-amz-object-lock-retain-until-date', until);
    if (untilMs <= nowMs) throw invalid('The retain until date must be in the future!', 'x-amz-object-lock-retain-until-date', until);
    out.retention = { mode: lockMode, untilMs };
  }
  if (hold !== undefined) {
    if (hold !== 'ON' && hold !== 'OFF') throw invalid('Legal Hold must be either of \'ON\' or \'OFF\'', 'x-amz-object-lock-legal-hold', hold);
    out.legalHold = hold === 'ON';
  }
  return out;
}

export function optionalLock(lock: RequestedLock | undefined): { lock?: RequestedLock } {
  return lock ? { lock } : {};
}

/**
 * Whether the request carries what AWS requires of an upload with Object Lock parameters and of the lock
 * configuration calls: Content-MD5, or a flexible checksum (a header, or one announced for the trailer).
 */
export function declaresIntegrity(headers: IncomingHttpHeaders): boolean {
  if (headers['content-md5'] !== undefined || headers['x-amz-sdk-checksum-algorithm'] !== undefined) return true;
  if (/x-amz-checksum-/i.test(single(headers, 'x-amz-trailer') ?? '')) return true;
  return Object.keys(headers).some((name) => name.startsWith('x-amz-checksum-') && name !== 'x-amz-checksum-type' && name !== 'x-amz-checksum-mode');
}

/**
 * The XML body of a call AWS requires Content-MD5 or a checksum of (the lock and CORS configurations,
 * retention, legal hold), refused without one and checked against it: a flexible checksum is verified by
 * the payload decoder, Content-MD5 here.
 */
export async function readVerifiedBody(c: RequestContext): Promise<Buffer> {
  if (!declaresIntegrity(c.req.headers)) throw new S3Error('InvalidRequest', 'Missing required header for this request: Content-MD5');
  const contentMd5 = contentMd5Of(c);
  const body = await readSmallBody(c);
  if (contentMd5 && !createHash('md5').update(body).digest().equals(contentMd5)) throw new S3Error('BadDigest');
  return body;
}

/**
 * x-amz-bypass-governance-retention: true, from a caller allowed s3:BypassGovernanceRetention on the object
 * (`key`, default the request's). Without that permission the header counts for nothing, as in AWS: the
 * GOVERNANCE lock then refuses the change. Nothing bypasses COMPLIANCE.
 */
export async function bypassGovernanceOf(c: RequestContext, key = c.key): Promise<boolean> {
  if (header(c, 'x-amz-bypass-governance-retention')?.trim().toLowerCase() !== 'true') return false;
  return allows(c, 's3:BypassGovernanceRetention', 'object', key);
}

/** The lock headers of a GET or HEAD answer (AWS sends them to callers allowed to read them). */
export function lockResponseHeaders(record: VersionRecord, out: Record<string, string>): void {
  if (record.retention) {
    out['x-amz-object-lock-mode'] = record.retention.mode;
    out['x-amz-object-lock-retain-until-date'] = new Date(record.retention.untilMs).toISOString();
  }
  if (record.legalHold !== undefined) out['x-amz-object-lock-legal-hold'] = record.legalHold ? 'ON' : 'OFF';
}
