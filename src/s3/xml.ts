// XML in and out. Responses are built as strings with every text escaped; requests are parsed with
// fast-xml-parser after a size cap, and malformed documents become MalformedXML.
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { S3Error } from './errors.js';

export const s3Namespace = 'http://s3.amazonaws.com/doc/2006-03-01/';

/** What escapeXml() replaces; `needsEscape` is the same class without the global flag, for test(). */
const escapedChars = /[&<>"'\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/g;
const needsEscape = new RegExp(escapedChars.source);

/** Escapes text for XML 1.0; characters XML cannot carry raw (control characters) become references. */
export function escapeXml(text: string): string {
  // Most listing text (keys, dates, ETags' quotes aside) needs nothing; testing first skips the replace.
  if (!needsEscape.test(text)) return text;
  return text.replace(escapedChars, (c) => {
    switch (c) {
      case '&': return '&amp;';
      case '<': return '&lt;';
      case '>': return '&gt;';
      case '"': return '&quot;';
      case "'": return '&apos;';
      default: return `&#x${c.charCodeAt(0).toString(16).toUpperCase()};`;
    }
  });
}

export type XmlNode = string | number | boolean | undefined | null | XmlElement | XmlNode[];
export interface XmlElement {
  readonly tag: string;
  readonly children: XmlNode;
}

export function el(tag: string, children: XmlNode): XmlElement {
  return { tag, children };
}

// Rendered by string concatenation: V8 joins the pieces lazily, which for a 1,000-key listing costs less
// than pushing some 12,000 strings to an array and joining it.
function render(node: XmlNode): string {
  if (node === undefined || node === null) return '';
  if (Array.isArray(node)) {
    let out = '';
    for (const child of node) out += render(child);
    return out;
  }
  if (typeof node === 'object') return `<${node.tag}>${render(node.children)}</${node.tag}>`;
  return escapeXml(String(node));
}

/** A whole XML document with the S3 namespace on its root element. */
export function xmlDocument(root: string, children: XmlNode, namespace = true): string {
  return `<?xml version="1.0" encoding="UTF-8"?>\n<${root}${namespace ? ` xmlns="${s3Namespace}"` : ''}>${render(children)}</${root}>`;
}

const parser = new XMLParser({
  ignoreAttributes: true,
  removeNSPrefix: true,
  parseTagValue: false,
  trimValues: false,
  processEntities: true,
  // Numeric character references (&#34;) must decode: Go clients (rclone) escape the quotes of ETags so.
  htmlEntities: true,
  isArray: (name) => ['Object', 'Part'].includes(name),
});

/** Parses a request document and returns its root element's content, or throws MalformedXML. */
export function parseXml(body: Buffer, root: string): Record<string, unknown> {
  const text = body.toString('utf8');
  // No S3 request document has a DTD; refusing any keeps entity tricks (billion laughs, external
  // entities) away from the parser, which would otherwise read "&name;" literally.
  if (text.trim() === '' || /<!DOCTYPE/i.test(text) || XMLValidator.validate(text) !== true) throw new S3Error('MalformedXML');
  let doc: Record<string, unknown>;
  try {
    doc = parser.parse(text) as Record<string, unknown>;
  } catch (err) {
    throw new S3Error('MalformedXML', undefined, { cause: err });
  }
  const content = doc[root];
  if (content === undefined) throw new S3Error('MalformedXML');
  if (content === '' || content === null) return {};
  if (typeof content !== 'object') throw new S3Error('MalformedXML');
  return content as Record<string, unknown>;
}

/** A child element expected to hold text; throws MalformedXML for anything else. */
export function xmlText(node: Record<string, unknown>, name: string): string | undefined {
  const value = node[name];
  if (value === undefined) return undefined;
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (value === null || (typeof value === 'object' && Object.keys(value).length === 0)) return '';
  throw new S3Error('MalformedXML');
}

export function xmlList(node: Record<string, unknown>, name: string): Record<string, unknown>[] {
  const value = node[name];
  if (value === undefined) return [];
  const list = Array.isArray(value) ? value : [value];
  return list.map((item) => {
    if (item === null || typeof item !== 'object') throw new S3Error('MalformedXML');
    return item as Record<string, unknown>;
  });
}

export function isoDate(ms: number): string {
  return new Date(ms).toISOString();
}
