// Object tag sets as S3 takes them: the x-amz-tagging header (URL query form) and the Tagging XML
// document, with AWS's limits (10 tags, keys up to 128 and values up to 256 characters, no repeats).
import { S3Error } from './errors.js';
import { el, parseXml, xmlList, xmlText, type XmlNode } from './xml.js';

const tagsMax = 10;
const tagKeyCharsMax = 128;
const tagValueCharsMax = 256;

function checkTags(pairs: [string, string][]): Record<string, string> {
  if (pairs.length > tagsMax) throw new S3Error('InvalidTag', 'Object tags cannot be greater than 10');
  const tags: Record<string, string> = {};
  for (const [key, value] of pairs) {
    if (key.length === 0 || [...key].length > tagKeyCharsMax) throw new S3Error('InvalidTag', 'The TagKey you have provided is invalid');
    if ([...value].length > tagValueCharsMax) throw new S3Error('InvalidTag', 'The TagValue you have provided is invalid');
    if (Object.hasOwn(tags, key)) throw new S3Error('InvalidTag', 'Cannot provide multiple Tags with the same key');
    tags[key] = value;
  }
  return tags;
}

/** The x-amz-tagging header: "k1=v1&k2=v2", URL-encoded. */
export function parseTaggingHeader(value: string | undefined): Record<string, string> | undefined {
  if (value === undefined) return undefined;
  return checkTags([...new URLSearchParams(value).entries()]);
}

export function parseTaggingXml(body: Buffer): Record<string, string> {
  const doc = parseXml(body, 'Tagging');
  const tagSet = doc.TagSet;
  if (tagSet !== undefined && (tagSet === null || typeof tagSet !== 'object') && tagSet !== '') throw new S3Error('MalformedXML');
  const tags = typeof tagSet === 'object' && tagSet !== null ? xmlList(tagSet as Record<string, unknown>, 'Tag') : [];
  return checkTags(tags.map((t) => {
    const key = xmlText(t, 'Key');
    const value = xmlText(t, 'Value');
    if (key === undefined || value === undefined) throw new S3Error('MalformedXML');
    return [key, value];
  }));
}

export function tagSetXml(tags: Record<string, string> | undefined): XmlNode {
  return el('TagSet', Object.entries(tags ?? {}).map(([k, v]) => el('Tag', [el('Key', k), el('Value', v)])));
}
