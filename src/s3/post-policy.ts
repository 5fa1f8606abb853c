// The POST policy of a browser upload: its document (base64 JSON with expiration and conditions) and
// the check of a form against it, with AWS's answers ("Browser-Based Uploads Using POST", "POST Policy"
// in the S3 API reference). Pure: no I/O, and nothing here knows how the form was read or signed.
import { S3Error } from './errors.js';

/** A form field as sent; forms are looked up by lowercase name, since AWS matches names case-insensitively. */
export interface FormField {
  name: string;
  value: string;
}

export type FormFields = ReadonlyMap<string, FormField>;

export type PolicyCondition =
  | { kind: 'eq' | 'starts-with'; field: string; value: string }
  | { kind: 'content-length-range'; min: number; max: number };

export interface PostPolicy {
  expirationMs: number;
  conditions: PolicyCondition[];
}

export interface LengthRange {
  min: number;
  max: number;
}

/**
 * Form fields that need no condition: "x-amz-signature, file, policy, and x-ignore-*" for a SigV4 form,
 * "AWSAccessKeyId, signature, file, policy, and x-ignore-*" for a SigV2 one (AWS's two form pages).
 */
function isExempt(lowerName: string, signatureVersion: 2 | 4): boolean {
  const signatureFields = signatureVersion === 2 ? lowerName === 'awsaccesskeyid' || lowerName === 'signature' : lowerName === 'x-amz-signature';
  return signatureFields || lowerName === 'file' || lowerName === 'policy' || lowerName.startsWith('x-ignore-');
}

function invalidPolicy(detail: string): S3Error {
  return new S3Error('InvalidPolicyDocument', `Invalid Policy: ${detail}`);
}

function deniedByPolicy(detail: string): S3Error {
  return new S3Error('AccessDenied', `Invalid according to Policy: ${detail}`);
}

// ISO 8601 in UTC, as AWS documents it ("2007-12-01T12:00:00.000Z"); boto3 omits the fraction.
const expirationPattern = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?Z$/;

function parseExpiration(value: unknown): number {
  const text = typeof value === 'string' ? value : JSON.stringify(value);
  const m = typeof value === 'string' ? expirationPattern.exec(value) : null;
  if (!m) throw invalidPolicy(`Invalid 'expiration' value: '${text}'`);
  const [year, month, day, hour, minute, second] = m.slice(1, 7).map(Number) as [number, number, number, number, number, number];
  const ms = Date.UTC(year, month - 1, day, hour, minute, second) + Number(`0.${m[7] ?? '0'}`) * 1000;
  const date = new Date(Date.UTC(year, month - 1, day, hour, minute, second));
  if (date.getUTCMonth() !== month - 1 || date.getUTCDate() !== day || hour > 23 || minute > 59 || second > 59) {
    throw invalidPolicy(`Invalid 'expiration' value: '${text}'`);
  }
  return ms;
}

/**
 * The policy's JSON text. AWS lets a policy escape "$" as "\$" (its "Character Escaping" table), which
 * JSON does not; so does "\v". Pairs are read left to right, so "\\$" stays a backslash and a dollar.
 */
function policyJson(text: string): unknown {
  const json = text.replace(/\\([\s\S])/g, (pair, ch: string) => (ch === '$' ? '$' : ch === 'v' ? '\\u000b' : pair));
  try {
    return JSON.parse(json);
  } catch {
    throw invalidPolicy('Invalid JSON.');
  }
}

export function parsePostPolicy(base64: string): PostPolicy {
  const compact = base64.replace(/\s+/g, '');
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(compact) || compact.length % 4 === 1) throw invalidPolicy('Invalid \'Base64\' encoding.');
  const doc = policyJson(Buffer.from(compact, 'base64').toString('utf8'));
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) throw invalidPolicy('Invalid JSON.');
  const record = doc as Record<string, unknown>;
  // Names are case-sensitive: "EXPIRATION" is not the expiration.
  if (!Object.hasOwn(record, 'expiration')) throw invalidPolicy('Policy missing expiration.');
  const expirationMs = parseExpiration(record.expiration);
  if (!Object.hasOwn(record, 'conditions')) throw invalidPolicy('Policy missing conditions.');
  if (!Array.isArray(record.conditions)) throw invalidPolicy('Invalid \'conditions\' value: must be a list.');
  return { expirationMs, conditions: record.conditions.map(parseCondition) };
}

function parseCondition(raw: unknown): PolicyCondition {
  if (Array.isArray(raw)) return parseListCondition(raw);
  if (raw === null || typeof raw !== 'object') throw invalidPolicy('Invalid Condition: must be a list or a single-property object.');
  const entries = Object.entries(raw as Record<string, unknown>);
  if (entries.length !== 1) throw invalidPolicy('Invalid Simple-Condition: Simple-Conditions must have exactly one property specified.');
  const [name, value] = entries[0]!;
  if (typeof value !== 'string') throw invalidPolicy(`Invalid Simple-Condition: the value of "${name}" must be a string.`);
  return { kind: 'eq', field: name.toLowerCase(), value };
}

function parseListCondition(raw: unknown[]): PolicyCondition {
  const op = typeof raw[0] === 'string' ? raw[0].toLowerCase() : undefined;
  if (op === 'eq' || op === 'starts-with') {
    const [, field, value] = raw;
    if (raw.length !== 3 || typeof field !== 'string' || !field.startsWith('$') || typeof value !== 'string') {
      throw invalidPolicy(`Invalid '${op}' condition: expecting ["${op}", "$field", "value"].`);
    }
    return { kind: op, field: field.slice(1).toLowerCase(), value };
  }
  if (op === 'content-length-range') {
    const [, min, max] = raw.map(lengthBound);
    if (raw.length !== 3 || min === undefined || max === undefined || min > max) {
      throw invalidPolicy('Invalid content-length-range condition: expecting two non-negative integers, the minimum first.');
    }
    return { kind: op, min, max };
  }
  throw invalidPolicy(`Invalid Condition: unknown operation ${JSON.stringify(raw[0] ?? null)}.`);
}

/** A content-length-range bound: a non-negative integer, as a number or in digits. */
function lengthBound(value: unknown): number | undefined {
  if (typeof value === 'number' && Number.isSafeInteger(value) && value >= 0) return value;
  if (typeof value === 'string' && /^\d{1,16}$/.test(value)) return Number(value);
  return undefined;
}

export interface PolicyCheck {
  /** Every field of the form, with the key after ${filename} substitution. */
  fields: FormFields;
  /** The bucket the request was sent to: what a "bucket" condition matches. */
  bucket: string;
  nowMs: number;
  /** The version the form was signed with (default 4). */
  signatureVersion?: 2 | 4;
}

/** How AWS names a condition in its error message: ["starts-with", "$key", "user/"]. */
function describe(c: PolicyCondition): string {
  if (c.kind === 'content-length-range') return `["content-length-range", ${c.min}, ${c.max}]`;
  return `[${JSON.stringify(c.kind)}, ${JSON.stringify(`$${c.field}`)}, ${JSON.stringify(c.value)}]`;
}

/**
 * A value is matched by starts-with; a Content-Type may list several types, comma-separated, and then
 * each must match (the policy page's "Matching Content-Types in a Comma-Separated List").
 */
function conditionHolds(c: { kind: 'eq' | 'starts-with'; field: string; value: string }, actual: string): boolean {
  if (c.kind === 'eq') return actual === c.value;
  if (c.field === 'content-type' && actual.includes(',')) return actual.split(',').every((t) => t.trim().startsWith(c.value));
  return actual.startsWith(c.value);
}

/**
 * Checks the form against the policy: not expired, every condition holds, and every field but the
 * exempt ones is named by a condition. Returns the content-length ranges, which the file is held to
 * as it streams. A field a condition names and the form lacks counts as empty.
 */
export function checkPostPolicy(policy: PostPolicy, check: PolicyCheck): LengthRange[] {
  if (check.nowMs > policy.expirationMs) throw deniedByPolicy('Policy expired.');
  const named = new Set<string>();
  const ranges: LengthRange[] = [];
  for (const c of policy.conditions) {
    if (c.kind === 'content-length-range') {
      ranges.push({ min: c.min, max: c.max });
      continue;
    }
    named.add(c.field);
    const actual = c.field === 'bucket' ? check.bucket : check.fields.get(c.field)?.value ?? '';
    if (!conditionHolds(c, actual)) throw deniedByPolicy(`Policy Condition failed: ${describe(c)}`);
  }
  const extra = [...check.fields.entries()].filter(([lower]) => !isExempt(lower, check.signatureVersion ?? 4) && !named.has(lower)).map(([, f]) => f.name);
  if (extra.length > 0) throw deniedByPolicy(`Extra input fields: ${extra.join(', ')}`);
  return ranges;
}

/** The file size's verdict against the policy's ranges: EntityTooSmall / EntityTooLarge as AWS answers them. */
export function checkLength(ranges: readonly LengthRange[], bytes: number, final: boolean): void {
  for (const r of ranges) {
    if (bytes > r.max) {
      throw new S3Error('EntityTooLarge', undefined, { extra: { ProposedSize: String(bytes), MaxSizeAllowed: String(r.max) } });
    }
    if (final && bytes < r.min) {
      throw new S3Error('EntityTooSmall', undefined, { extra: { ProposedSize: String(bytes), MinSizeAllowed: String(r.min) } });
    }
  }
}
