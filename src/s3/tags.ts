// Tag sets as S3 takes them: the x-amz-tagging header (URL query form) and the Tagging XML
// document, with AWS's limits (10 tags an object, 50 a bucket, keys up to 128 and values up to 256
// characters, no repeats).
import { S3Error } from './errors.js';
import { el, parseXml, xmlList, xmlText, type XmlNode } from './xml.js';

const tagKeyCharsMax = 128;
const tagValueCharsMax = 256;

/** What a tag set may hold: objects take 10 tags, buckets 50 and no keys in the reserved "aws:" space. */
export interface TagRules {
  tagsMax: number;
  tooMany: string;
  reservedPrefix?: string;
}

export const objectTagRules: TagRules = { tagsMax: 10, tooMany: 'Object tags cannot be greater than 10' };
export const bucketTagRules: TagRules = { tagsMax: 50, tooMany: 'Bucket tag count cannot be greater than 50', reservedPrefix: 'aws:' };

/**
 * Validates a tag set and returns it as a record. The record is built with Object.fromEntries, which
 * defines own properties, so a key such as "__proto__" is kept as a tag rather than setting a prototype.
 */
function checkTags(pairs: [string, string][], rules: TagRules): Record<string, string> {
  if (pairs.length > rules.tagsMax) throw new S3Error('InvalidTag', rules.tooMany);
  const seen = new Set<string>();
  for (const [key, value] of pairs) {
    if (key.length === 0 || [...key].length > tagKeyCharsMax) throw new S3Error('InvalidTag', 'The TagKey you have provided is invalid');
    if ([...value].length > tagValueCharsMax) throw new S3Error('InvalidTag', 'The TagValue you have provided is invalid');
    if (rules.reservedPrefix !== undefined && key.toLowerCase().startsWith(rules.reservedPrefix)) {
      throw new S3Error('InvalidTag', `Your TagKey cannot be prefixed with ${rules.reservedPrefix}`);
    }
    if (seen.has(key)) throw new S3Error('InvalidTag', 'Cannot provide multiple Tags with the same key');
    seen.add(key);
  }
  return Object.fromEntries(pairs);
}

/**
 * The x-amz-tagging header: "k1=v1&k2=v2" in URL query form, so "+" is a space, a bare "k" or "k=" is an
 * empty value, and empty "&&" pieces are skipped (URLSearchParams does all of that).
 */
export function parseTaggingHeader(value: string | undefined): Record<string, string> | undefined {
  if (value === undefined) return undefined;
  return checkTags([...new URLSearchParams(value).entries()], objectTagRules);
}

export function parseTaggingXml(body: Buffer, rules: TagRules = objectTagRules): Record<string, string> {
  const doc = parseXml(body, 'Tagging');
  const tagSet = doc.TagSet;
  if (tagSet !== undefined && (tagSet === null || typeof tagSet !== 'object') && tagSet !== '') throw new S3Error('MalformedXML');
  const tags = typeof tagSet === 'object' && tagSet !== null ? xmlList(tagSet as Record<string, unknown>, 'Tag') : [];
  return checkTags(tags.map((t) => {
    const key = xmlText(t, 'Key');
    const value = xmlText(t, 'Value');
    if (key === undefined || value === undefined) throw new S3Error('MalformedXML');
    return [key, value];
  }), rules);
}

/**
 * A TagSet is a set to AWS, with no documented order; it is answered sorted by key so the answer is
 * stable (a JS record would put integer-like keys first) and matches what ceph/s3-tests compares.
 */
export function tagSetXml(tags: Record<string, string> | undefined): XmlNode {
  const sorted = Object.entries(tags ?? {}).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return el('TagSet', sorted.map(([k, v]) => el('Tag', [el('Key', k), el('Value', v)])));
}
