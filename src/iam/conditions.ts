// The Condition element of a policy: its operators (with the IfExists, ForAnyValue and ForAllValues
// forms) parsed once, and a condition checked against what a request says, as AWS documents them
// ("IAM JSON policy elements: Condition operators"). Pure: the request's values come through a lookup.
import { matchArn, matchWildcard } from './wildcard.js';
import { cidrContains, parseCidr, parseIp, type Cidr } from './ip.js';
import { PolicyError } from './policy-error.js';

/** A request's values for a condition key (lower-cased), undefined when the request has none. */
export type ConditionValues = (key: string) => readonly string[] | undefined;

type Base =
  | 'StringEquals' | 'StringNotEquals' | 'StringEqualsIgnoreCase' | 'StringNotEqualsIgnoreCase' | 'StringLike' | 'StringNotLike'
  | 'NumericEquals' | 'NumericNotEquals' | 'NumericLessThan' | 'NumericLessThanEquals' | 'NumericGreaterThan' | 'NumericGreaterThanEquals'
  | 'DateEquals' | 'DateNotEquals' | 'DateLessThan' | 'DateLessThanEquals' | 'DateGreaterThan' | 'DateGreaterThanEquals'
  | 'Bool' | 'BinaryEquals' | 'IpAddress' | 'NotIpAddress' | 'ArnEquals' | 'ArnLike' | 'ArnNotEquals' | 'ArnNotLike' | 'Null';

/** Each operator and whether it is a negated one (true when the request value matches none of the policy's). */
const operators: Record<Base, boolean> = {
  StringEquals: false, StringNotEquals: true, StringEqualsIgnoreCase: false, StringNotEqualsIgnoreCase: true, StringLike: false, StringNotLike: true,
  NumericEquals: false, NumericNotEquals: true, NumericLessThan: false, NumericLessThanEquals: false, NumericGreaterThan: false, NumericGreaterThanEquals: false,
  DateEquals: false, DateNotEquals: true, DateLessThan: false, DateLessThanEquals: false, DateGreaterThan: false, DateGreaterThanEquals: false,
  Bool: false, BinaryEquals: false, IpAddress: false, NotIpAddress: true, ArnEquals: false, ArnLike: false, ArnNotEquals: true, ArnNotLike: true, Null: false,
};

export interface Condition {
  /** The operator as written, for messages and the public-policy check. */
  operator: string;
  base: Base;
  set?: 'ForAnyValue' | 'ForAllValues';
  ifExists: boolean;
  /** Lower-cased: condition keys are case-insensitive. */
  key: string;
  values: string[];
  /** IpAddress/NotIpAddress values, parsed. */
  cidrs?: Cidr[];
  /** Numeric* and Date* values as numbers (dates in ms), parsed once. */
  numbers?: number[];
}

/** s3: keys we know; AWS refuses a bucket policy naming any other. aws: keys are global and not listed. */
const s3Keys = new Set([
  's3:prefix', 's3:delimiter', 's3:max-keys', 's3:x-amz-acl', 's3:versionid', 's3:signatureversion', 's3:authtype',
  's3:x-amz-server-side-encryption', 's3:x-amz-server-side-encryption-aws-kms-key-id', 's3:x-amz-content-sha256',
  's3:x-amz-server-side-encryption-customer-algorithm',
  's3:x-amz-copy-source', 's3:x-amz-metadata-directive', 's3:x-amz-storage-class', 's3:x-amz-grant-read',
  's3:x-amz-grant-write', 's3:x-amz-grant-read-acp', 's3:x-amz-grant-write-acp', 's3:x-amz-grant-full-control',
  's3:locationconstraint', 's3:tlsversion', 's3:resourceaccount', 's3:object-lock-mode', 's3:object-lock-retain-until-date',
  's3:object-lock-remaining-retention-days', 's3:object-lock-legal-hold', 's3:requestobjecttagkeys', 's3:existingobjecttag',
  's3:if-none-match', 's3:if-match', 's3:object-creation-operation', 's3:dataaccesspointarn', 's3:dataaccesspointaccount',
  's3:accesspointnetworkorigin', 's3:x-amz-object-ownership',
]);
const s3KeyPrefixes = ['s3:existingobjecttag/', 's3:requestobjecttag/'];

function validKey(key: string): boolean {
  if (key.startsWith('aws:')) return key.length > 4;
  if (key.startsWith('s3:')) return s3Keys.has(key) || s3KeyPrefixes.some((p) => key.startsWith(p) && key.length > p.length);
  return false;
}

function valueText(v: unknown): string {
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  throw new PolicyError('Invalid Condition value');
}

/** Parses one Condition element: { Operator: { key: value or [values] } }. */
export function parseConditions(raw: unknown): Condition[] {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw new PolicyError('Invalid Condition block');
  const out: Condition[] = [];
  for (const [operator, block] of Object.entries(raw as Record<string, unknown>)) {
    const m = /^(?:(ForAnyValue|ForAllValues):)?([A-Za-z]+?)(IfExists)?$/.exec(operator);
    const base = m?.[2] as Base | undefined;
    if (!m || base === undefined || !Object.hasOwn(operators, base) || (base === 'Null' && m[3] !== undefined)) {
      throw new PolicyError(`Invalid Condition type : ${operator}`);
    }
    if (block === null || typeof block !== 'object' || Array.isArray(block)) throw new PolicyError('Invalid Condition block');
    for (const [rawKey, rawValues] of Object.entries(block as Record<string, unknown>)) {
      const key = rawKey.toLowerCase();
      if (!validKey(key)) throw new PolicyError('Policy has an invalid condition key');
      const list = Array.isArray(rawValues) ? rawValues : [rawValues];
      if (list.length === 0) throw new PolicyError('Invalid Condition value');
      const values = list.map(valueText);
      const condition: Condition = { operator, base, ifExists: m[3] !== undefined, key, values };
      if (m[1] !== undefined) condition.set = m[1] as 'ForAnyValue' | 'ForAllValues';
      checkValues(condition);
      out.push(condition);
    }
  }
  return out;
}

function checkValues(c: Condition): void {
  if (c.base === 'IpAddress' || c.base === 'NotIpAddress') {
    const cidrs = c.values.map(parseCidr);
    if (cidrs.some((x) => x === undefined)) throw new PolicyError(`Invalid Condition value for ${c.operator}: ${c.values.join(', ')}`);
    c.cidrs = cidrs as Cidr[];
  } else if (c.base.startsWith('Numeric') || c.base.startsWith('Date')) {
    const numbers = c.values.map(c.base.startsWith('Numeric') ? numberOf : dateOf);
    if (numbers.some((n) => n === undefined)) throw new PolicyError(`Invalid Condition value for ${c.operator}`);
    c.numbers = numbers as number[];
  } else if (c.base === 'Bool' || c.base === 'Null') {
    if (c.values.some((v) => v.toLowerCase() !== 'true' && v.toLowerCase() !== 'false')) throw new PolicyError(`Invalid Condition value for ${c.operator}`);
  }
}

function numberOf(text: string): number | undefined {
  return /^-?\d+(\.\d+)?$/.test(text.trim()) ? Number(text) : undefined;
}

/** ISO 8601 or epoch seconds, as milliseconds. */
function dateOf(text: string): number | undefined {
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  if (!/^\d{4}-\d{2}-\d{2}/.test(text)) return undefined;
  const ms = Date.parse(text);
  return Number.isNaN(ms) ? undefined : ms;
}

/** Whether one request value matches one policy value under the operator's positive sense. */
function matchesOne(c: Condition, policyValue: string, index: number, requestValue: string): boolean {
  switch (c.base) {
    case 'StringEquals': case 'StringNotEquals': return requestValue === policyValue;
    case 'StringEqualsIgnoreCase': case 'StringNotEqualsIgnoreCase': return requestValue.toLowerCase() === policyValue.toLowerCase();
    case 'StringLike': case 'StringNotLike': return matchWildcard(policyValue, requestValue);
    case 'Bool': return requestValue.toLowerCase() === policyValue.toLowerCase();
    case 'BinaryEquals': return requestValue === policyValue;
    case 'ArnEquals': case 'ArnLike': case 'ArnNotEquals': case 'ArnNotLike': return matchArn(policyValue, requestValue);
    case 'IpAddress': case 'NotIpAddress': {
      const ip = parseIp(requestValue);
      return ip !== undefined && cidrContains(c.cidrs![index]!, ip);
    }
    case 'Null': return false;
    default: return compareOrdered(c.base, policyValue === c.values[index] ? c.numbers![index]! : undefined, policyValue, requestValue);
  }
}

function compareOrdered(base: Base, parsed: number | undefined, policyValue: string, requestValue: string): boolean {
  const numeric = base.startsWith('Numeric');
  const have = numeric ? numberOf(requestValue) : dateOf(requestValue);
  const want = parsed ?? (numeric ? numberOf(policyValue) : dateOf(policyValue));
  if (have === undefined || want === undefined) return false;
  const op = base.slice(numeric ? 'Numeric'.length : 'Date'.length);
  switch (op) {
    case 'Equals': case 'NotEquals': return have === want;
    case 'LessThan': return have < want;
    case 'LessThanEquals': return have <= want;
    case 'GreaterThan': return have > want;
    case 'GreaterThanEquals': return have >= want;
    default: return false;
  }
}

/**
 * Whether a condition holds for a request. `resolve` turns a policy value with ${...} variables into its
 * text for this request (undefined when a variable has no value there: that policy value matches nothing).
 */
export function conditionHolds(c: Condition, lookup: ConditionValues, resolve: (value: string) => string | undefined = (v) => v): boolean {
  const have = lookup(c.key);
  const present = have !== undefined && have.length > 0;
  if (c.base === 'Null') return c.values.some((v) => (v.toLowerCase() === 'true') === !present);
  if (!present) {
    if (c.ifExists || c.set === 'ForAllValues') return true;
    if (c.set === 'ForAnyValue') return false;
    return operators[c.base];
  }
  const negated = operators[c.base];
  const matches = (requestValue: string): boolean => c.values.some((v, i) => {
    const resolved = resolve(v);
    return resolved !== undefined && matchesOne(c, resolved, i, requestValue);
  });
  if (c.set === 'ForAllValues') return have.every((r) => matches(r) !== negated);
  if (c.set === 'ForAnyValue') return have.some((r) => matches(r) !== negated);
  return negated ? have.every((r) => !matches(r)) : have.some(matches);
}
