// The LifecycleConfiguration document of Put/GetBucketLifecycleConfiguration: parsed and validated with
// AWS's errors (MalformedXML where the schema is broken, InvalidArgument and InvalidRequest with AWS's
// messages where a value is), and written back in the shape it was put.
import { S3Error } from './errors.js';
import { el, isoDate, parseXml, xmlList, xmlText, type XmlNode } from './xml.js';
import { dayMs, filterHasTagsOrSize, type LifecycleConfiguration, type LifecycleFilter, type LifecycleRule, type LifecycleTransition } from '../objects/lifecycle-rules.js';

/** AWS: "An Amazon S3 Lifecycle configuration can have up to 1,000 rules. This limit is not adjustable." */
export const lifecycleRulesMax = 1000;
const ruleIdCharsMax = 255;
/** The storage classes a transition may name: AWS's TransitionStorageClass and this store's hot and reduced classes. */
const transitionClasses = new Set(['GLACIER', 'STANDARD_IA', 'ONEZONE_IA', 'INTELLIGENT_TIERING', 'DEEP_ARCHIVE', 'GLACIER_IR', 'REDUCED_REDUNDANCY', 'EXPRESS_ONEZONE']);

const malformed = (): S3Error => new S3Error('MalformedXML');
const invalid = (message: string): S3Error => new S3Error('InvalidArgument', message);

function node(parent: Record<string, unknown>, name: string): Record<string, unknown> | undefined {
  const value = parent[name];
  if (value === undefined) return undefined;
  if (Array.isArray(value)) throw malformed();
  if (value === '' || value === null) return {};
  if (typeof value !== 'object') throw malformed();
  return value as Record<string, unknown>;
}

function text(parent: Record<string, unknown>, name: string): string | undefined {
  if (Array.isArray(parent[name])) throw malformed();
  return xmlText(parent, name);
}

/** An integer element; AWS's schema makes a non-number MalformedXML and its validation makes 0 or less InvalidArgument. */
function positive(parent: Record<string, unknown>, name: string, message: string, allowZero = false): number | undefined {
  const raw = text(parent, name);
  if (raw === undefined) return undefined;
  if (!/^-?\d{1,10}$/.test(raw.trim())) throw malformed();
  const n = Number(raw.trim());
  if (n < (allowZero ? 0 : 1)) throw invalid(message);
  return n;
}

/** A Date: ISO 8601, at midnight UTC ("'Date' must be at midnight GMT" otherwise). */
function midnight(parent: Record<string, unknown>, name: string): number | undefined {
  const raw = text(parent, name);
  if (raw === undefined) return undefined;
  const ms = /^\d{4}-\d{2}-\d{2}(T[\d:.]+(Z|[+-]\d{2}:?\d{2})?)?$/.test(raw.trim()) ? Date.parse(raw.trim()) : Number.NaN;
  if (Number.isNaN(ms)) throw invalid('Invalid date format');
  if (ms % dayMs !== 0) throw invalid('\'Date\' must be at midnight GMT');
  return ms;
}

function tagOf(t: Record<string, unknown>): [string, string] {
  const key = text(t, 'Key');
  const value = text(t, 'Value');
  if (key === undefined || value === undefined) throw malformed();
  return [key, value];
}

function sizes(parent: Record<string, unknown>, into: LifecycleFilter): void {
  const gt = positive(parent, 'ObjectSizeGreaterThan', 'ObjectSizeGreaterThan must be a non-negative integer', true);
  const lt = positive(parent, 'ObjectSizeLessThan', 'ObjectSizeLessThan must be a positive integer');
  if (gt !== undefined) into.sizeGreaterThan = gt;
  if (lt !== undefined) into.sizeLessThan = lt;
  if (gt !== undefined && lt !== undefined && gt >= lt) throw invalid('ObjectSizeGreaterThan must be less than ObjectSizeLessThan');
}

/** A Filter holds one criterion, or an And of several; AWS's schema refuses two bare ones side by side. */
function filterOf(rule: Record<string, unknown>): LifecycleFilter {
  const legacy = text(rule, 'Prefix');
  const f = node(rule, 'Filter');
  if (legacy !== undefined && f !== undefined) throw malformed();
  if (f === undefined) {
    if (legacy === undefined) throw malformed();
    return { form: 'legacy', prefix: legacy };
  }
  const present = ['Prefix', 'Tag', 'And', 'ObjectSizeGreaterThan', 'ObjectSizeLessThan'].filter((n) => f[n] !== undefined);
  if (present.length > 1) throw malformed();
  if (f.And !== undefined) {
    const and = node(f, 'And')!;
    const out: LifecycleFilter = { form: 'and' };
    const prefix = text(and, 'Prefix');
    if (prefix !== undefined) out.prefix = prefix;
    const tags = xmlList(and, 'Tag').map(tagOf);
    if (new Set(tags.map(([k]) => k)).size !== tags.length) throw invalid('Duplicate Tag Keys are not allowed.');
    if (tags.length > 0) out.tags = Object.fromEntries(tags);
    sizes(and, out);
    return out;
  }
  const out: LifecycleFilter = { form: 'single' };
  const prefix = text(f, 'Prefix');
  if (prefix !== undefined) out.prefix = prefix;
  const tag = node(f, 'Tag');
  if (tag !== undefined) out.tags = Object.fromEntries([tagOf(tag)]);
  sizes(f, out);
  return out;
}

function expirationOf(rule: Record<string, unknown>, out: LifecycleRule): void {
  const exp = node(rule, 'Expiration');
  if (exp === undefined) return;
  const days = positive(exp, 'Days', '\'Days\' for Expiration action must be a positive integer');
  const dateMs = midnight(exp, 'Date');
  const marker = text(exp, 'ExpiredObjectDeleteMarker');
  if (marker !== undefined && marker !== 'true' && marker !== 'false') throw malformed();
  // Exactly one of Days, Date and ExpiredObjectDeleteMarker (AWS: MalformedXML for two or none).
  if ([days, dateMs, marker].filter((v) => v !== undefined).length !== 1) throw malformed();
  if (marker !== undefined && filterHasTagsOrSize(out.filter)) throw new S3Error('InvalidRequest', 'ExpiredObjectDeleteMarker cannot be specified with Tag filters or object size filters');
  out.expiration = { ...(days !== undefined ? { days } : {}), ...(dateMs !== undefined ? { dateMs } : {}), ...(marker !== undefined ? { expiredObjectDeleteMarker: marker === 'true' } : {}) };
}

function transitionsOf(rule: Record<string, unknown>, out: LifecycleRule): void {
  const transitions: LifecycleTransition[] = xmlList(rule, 'Transition').map((t) => {
    const days = positive(t, 'Days', '\'Days\' in Transition action must be a non-negative integer', true);
    const dateMs = midnight(t, 'Date');
    const storageClass = text(t, 'StorageClass');
    if ((days === undefined) === (dateMs === undefined) || storageClass === undefined) throw malformed();
    if (!transitionClasses.has(storageClass)) throw malformed();
    return { ...(days !== undefined ? { days } : {}), ...(dateMs !== undefined ? { dateMs } : {}), storageClass };
  });
  if (transitions.length > 0) {
    if (new Set(transitions.map((t) => t.storageClass)).size !== transitions.length) throw invalid('\'StorageClass\' must be different for \'Transition\' actions in same \'Rule\'');
    if (new Set(transitions.map((t) => (t.days === undefined ? 'date' : 'days'))).size > 1) throw invalid('Found mixed \'Date\' and \'Days\' based Transition actions in lifecycle rule');
    out.transitions = transitions;
  }
  const noncurrent = xmlList(rule, 'NoncurrentVersionTransition').map((t) => {
    const days = positive(t, 'NoncurrentDays', '\'NoncurrentDays\' in NoncurrentVersionTransition action must be a non-negative integer', true);
    const newer = positive(t, 'NewerNoncurrentVersions', '\'NewerNoncurrentVersions\' in NoncurrentVersionTransition action must be a positive integer');
    const storageClass = text(t, 'StorageClass');
    if (days === undefined || storageClass === undefined || !transitionClasses.has(storageClass)) throw malformed();
    return { days, storageClass, ...(newer !== undefined ? { newerNoncurrentVersions: newer } : {}) };
  });
  if (noncurrent.length > 0) {
    if (new Set(noncurrent.map((t) => t.storageClass)).size !== noncurrent.length) throw invalid('\'StorageClass\' must be different for \'NoncurrentVersionTransition\' actions in same \'Rule\'');
    out.noncurrentTransitions = noncurrent;
  }
}

function ruleOf(rule: Record<string, unknown>, index: number): LifecycleRule {
  const id = text(rule, 'ID') ?? `rule-${index + 1}`;
  if (id.length > ruleIdCharsMax) throw invalid('ID length should not exceed allowed limit of 255');
  const status = text(rule, 'Status');
  if (status !== 'Enabled' && status !== 'Disabled') throw malformed();
  const out: LifecycleRule = { id, enabled: status === 'Enabled', filter: filterOf(rule) };
  expirationOf(rule, out);
  const nve = node(rule, 'NoncurrentVersionExpiration');
  if (nve !== undefined) {
    const days = positive(nve, 'NoncurrentDays', '\'NoncurrentDays\' for NoncurrentVersionExpiration action must be a positive integer');
    const newer = positive(nve, 'NewerNoncurrentVersions', '\'NewerNoncurrentVersions\' for NoncurrentVersionExpiration action must be a positive integer');
    if (days === undefined) throw malformed();
    if (newer !== undefined && newer > 100) throw invalid('\'NewerNoncurrentVersions\' for NoncurrentVersionExpiration action must not exceed 100');
    out.noncurrentExpiration = { days, ...(newer !== undefined ? { newerNoncurrentVersions: newer } : {}) };
  }
  const abort = node(rule, 'AbortIncompleteMultipartUpload');
  if (abort !== undefined) {
    const days = positive(abort, 'DaysAfterInitiation', '\'DaysAfterInitiation\' for AbortIncompleteMultipartUpload action must be a positive integer');
    if (days === undefined) throw malformed();
    if (filterHasTagsOrSize(out.filter)) throw new S3Error('InvalidRequest', 'AbortIncompleteMultipartUpload cannot be specified with Tags or ObjectSize filters');
    out.abortIncompleteUploadDays = days;
  }
  transitionsOf(rule, out);
  if (!out.expiration && !out.noncurrentExpiration && out.abortIncompleteUploadDays === undefined && !out.transitions && !out.noncurrentTransitions) {
    throw new S3Error('InvalidRequest', 'At least one action needs to be specified in a rule');
  }
  return out;
}

export function parseLifecycleXml(body: Buffer): LifecycleConfiguration {
  const doc = parseXml(body, 'LifecycleConfiguration');
  const rules = xmlList(doc, 'Rule');
  if (rules.length === 0) throw malformed();
  if (rules.length > lifecycleRulesMax) throw invalid(`Configuration cannot have more than ${lifecycleRulesMax} rules`);
  const parsed = rules.map(ruleOf);
  if (new Set(parsed.map((r) => r.id)).size !== parsed.length) throw invalid('Rule ID must be unique. Found same ID for more than one rule');
  return { rules: parsed };
}

function filterXml(f: LifecycleFilter): XmlNode {
  if (f.form === 'legacy') return el('Prefix', f.prefix ?? '');
  const tags = Object.entries(f.tags ?? {}).map(([k, v]) => el('Tag', [el('Key', k), el('Value', v)]));
  const parts: XmlNode[] = [
    f.prefix !== undefined ? el('Prefix', f.prefix) : undefined,
    ...tags,
    f.sizeGreaterThan !== undefined ? el('ObjectSizeGreaterThan', f.sizeGreaterThan) : undefined,
    f.sizeLessThan !== undefined ? el('ObjectSizeLessThan', f.sizeLessThan) : undefined,
  ];
  return el('Filter', f.form === 'and' ? el('And', parts) : parts);
}

export function lifecycleXml(config: LifecycleConfiguration): XmlNode {
  return config.rules.map((r) => el('Rule', [
    el('ID', r.id),
    filterXml(r.filter),
    el('Status', r.enabled ? 'Enabled' : 'Disabled'),
    ...(r.transitions ?? []).map((t) => el('Transition', [t.days !== undefined ? el('Days', t.days) : el('Date', isoDate(t.dateMs!)), el('StorageClass', t.storageClass)])),
    r.expiration ? el('Expiration', [
      r.expiration.days !== undefined ? el('Days', r.expiration.days) : undefined,
      r.expiration.dateMs !== undefined ? el('Date', isoDate(r.expiration.dateMs)) : undefined,
      r.expiration.expiredObjectDeleteMarker !== undefined ? el('ExpiredObjectDeleteMarker', String(r.expiration.expiredObjectDeleteMarker)) : undefined,
    ]) : undefined,
    ...(r.noncurrentTransitions ?? []).map((t) => el('NoncurrentVersionTransition', [
      el('NoncurrentDays', t.days), t.newerNoncurrentVersions !== undefined ? el('NewerNoncurrentVersions', t.newerNoncurrentVersions) : undefined, el('StorageClass', t.storageClass),
    ])),
    r.noncurrentExpiration ? el('NoncurrentVersionExpiration', [
      el('NoncurrentDays', r.noncurrentExpiration.days!),
      r.noncurrentExpiration.newerNoncurrentVersions !== undefined ? el('NewerNoncurrentVersions', r.noncurrentExpiration.newerNoncurrentVersions) : undefined,
    ]) : undefined,
    r.abortIncompleteUploadDays !== undefined ? el('AbortIncompleteMultipartUpload', el('DaysAfterInitiation', r.abortIncompleteUploadDays)) : undefined,
  ]));
}
