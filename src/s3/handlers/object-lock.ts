// Object Lock operations: Get/PutObjectLockConfiguration on a bucket, and Get/PutObjectRetention and
// Get/PutObjectLegalHold on one version. The rules are in objects/lock-rules.ts; here are the XML forms.
import {
  getObjectLegalHold, getObjectLockConfiguration, getObjectRetention, putObjectLegalHold, putObjectLockConfiguration, putObjectRetention,
} from '../../objects/object-lock.js';
import type { DefaultRetention, Retention } from '../../objects/lock-rules.js';
import { requireBucket, requireKey, sendEmpty, sendXml, type RequestContext } from '../context.js';
import { S3Error } from '../errors.js';
import { el, isoDate, parseXml, xmlText } from '../xml.js';
import { bypassGovernanceOf, lockModeOf, readVerifiedBody, retainUntilMsOf } from '../object-lock.js';
import { getBucket } from '../../objects/buckets.js';

/** An element holding child elements, or undefined when absent; text where elements belong is MalformedXML. */
function child(node: Record<string, unknown>, name: string): Record<string, unknown> | undefined {
  const value = node[name];
  if (value === undefined) return undefined;
  if (value === '' || value === null) return {};
  if (typeof value !== 'object' || Array.isArray(value)) throw new S3Error('MalformedXML');
  return value as Record<string, unknown>;
}

/** A retention period: a positive whole number (AWS: InvalidRetentionPeriod otherwise). */
function periodOf(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  if (!/^-?\d+$/.test(text.trim())) throw new S3Error('MalformedXML');
  const n = Number(text.trim());
  if (n <= 0 || !Number.isSafeInteger(n)) throw new S3Error('InvalidRetentionPeriod', 'The retention days or years must be a positive integer');
  return n;
}

function defaultRetentionOf(doc: Record<string, unknown>): DefaultRetention | undefined {
  if (xmlText(doc, 'ObjectLockEnabled') !== 'Enabled') throw new S3Error('MalformedXML');
  const rule = child(doc, 'Rule');
  if (!rule) return undefined;
  const retention = child(rule, 'DefaultRetention');
  if (!retention) throw new S3Error('MalformedXML');
  const mode = lockModeOf(xmlText(retention, 'Mode') ?? '');
  const days = periodOf(xmlText(retention, 'Days'));
  const years = periodOf(xmlText(retention, 'Years'));
  // The mode and exactly one period, or the document does not validate.
  if (!mode || (days === undefined) === (years === undefined)) throw new S3Error('MalformedXML');
  return { mode, ...(days !== undefined ? { days } : { years: years! }) };
}

export async function handlePutObjectLockConfiguration(c: RequestContext): Promise<void> {
  const bucket = requireBucket(c);
  const body = await readVerifiedBody(c);
  await getBucket(c.objects, bucket);
  const defaultRetention = defaultRetentionOf(parseXml(body, 'ObjectLockConfiguration'));
  await putObjectLockConfiguration(c.objects, bucket, defaultRetention);
  sendEmpty(c, 200);
}

export async function handleGetObjectLockConfiguration(c: RequestContext): Promise<void> {
  const config = await getObjectLockConfiguration(c.objects, requireBucket(c));
  const d = config.defaultRetention;
  sendXml(c, 'ObjectLockConfiguration', [
    el('ObjectLockEnabled', 'Enabled'),
    d ? el('Rule', el('DefaultRetention', [el('Mode', d.mode), d.days !== undefined ? el('Days', d.days) : el('Years', d.years ?? 0)])) : undefined,
  ]);
}

function versionIdOf(c: RequestContext): { versionId?: string } {
  const versionId = c.query.get('versionId');
  return versionId === null ? {} : { versionId };
}

/** A Retention document; an empty one (no Mode, no date) removes the retention. */
function retentionOf(doc: Record<string, unknown>, nowMs: number): Retention | undefined {
  const modeText = xmlText(doc, 'Mode');
  const untilText = xmlText(doc, 'RetainUntilDate');
  if (modeText === undefined && untilText === undefined) return undefined;
  const mode = lockModeOf(modeText ?? '');
  if (!mode || untilText === undefined) throw new S3Error('MalformedXML');
  const untilMs = retainUntilMsOf(untilText);
  if (untilMs === undefined) throw new S3Error('MalformedXML');
  if (untilMs <= nowMs) throw new S3Error('InvalidArgument', 'The retain until date must be in the future!', { extra: { ArgumentName: 'RetainUntilDate', ArgumentValue: untilText } });
  return { mode, untilMs };
}

export async function handlePutObjectRetention(c: RequestContext): Promise<void> {
  const bucket = requireBucket(c);
  const key = requireKey(c);
  const retention = retentionOf(parseXml(await readVerifiedBody(c), 'Retention'), c.objects.nowMs());
  const record = await putObjectRetention(c.objects, { bucket, key, ...versionIdOf(c), retention, bypassGovernance: await bypassGovernanceOf(c) });
  sendEmpty(c, 200, record.isNull ? {} : { 'x-amz-version-id': record.versionKey });
}

export async function handleGetObjectRetention(c: RequestContext): Promise<void> {
  const retention = await getObjectRetention(c.objects, requireBucket(c), requireKey(c), versionIdOf(c).versionId);
  sendXml(c, 'Retention', [el('Mode', retention.mode), el('RetainUntilDate', isoDate(retention.untilMs))]);
}

export async function handlePutObjectLegalHold(c: RequestContext): Promise<void> {
  const bucket = requireBucket(c);
  const key = requireKey(c);
  const status = xmlText(parseXml(await readVerifiedBody(c), 'LegalHold'), 'Status');
  if (status !== 'ON' && status !== 'OFF') throw new S3Error('MalformedXML');
  const record = await putObjectLegalHold(c.objects, { bucket, key, ...versionIdOf(c), on: status === 'ON' });
  sendEmpty(c, 200, record.isNull ? {} : { 'x-amz-version-id': record.versionKey });
}

export async function handleGetObjectLegalHold(c: RequestContext): Promise<void> {
  const on = await getObjectLegalHold(c.objects, requireBucket(c), requireKey(c), versionIdOf(c).versionId);
  sendXml(c, 'LegalHold', el('Status', on ? 'ON' : 'OFF'));
}
