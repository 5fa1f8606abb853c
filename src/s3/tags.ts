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

function checkTags(pairs: [string, string][], rules: TagRules): Record<string, string> {
  if (pairs.length > rules.tagsMax) throw new S3Error('InvalidTag', rules.tooMany);
  const tags: Record<string, string> = {};
  for (const [key, value] of pairs) {
    if (key.length === 0 || [...key].length > tagKeyCharsMax) throw new S3Error('InvalidTag', 'The TagKey you have provided is invalid');
    if ([...value].length > tagValueCharsMax) throw new S3Error('InvalidTag', 'The TagValue you have provided is invalid');
    if (rules.reservedPrefix !== undefined && key.toLowerCase().startsWith(rules.reservedPrefix)) {
      throw new S3Error('InvalidTag', `Your TagKey cannot be prefixed with ${rules.reservedPrefix}`);
    }
    if (Object.hasOwn(tags, key)) throw new S3Error('InvalidTag', 'Cannot provide multiple Tags with the same key');
    tags[key] = value;
  }
  return tags;
}

/** The x-amz-tagging header: "k1=v1&k2=v2", URL-encoded. */
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

export function tagSetXml(tags: Record<string, string> | undefined): XmlNode {
  return el('TagSet', Object.entries(tags ?? {}).map(([k, v]) => el('Tag', [el('Key', k), el('Value', v)])));
}
