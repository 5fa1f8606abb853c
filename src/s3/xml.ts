// XML in and out. Responses are built as strings with every text escaped; requests are parsed with
// fast-xml-parser after a size cap, and malformed documents become MalformedXML.
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { S3Error } from './errors.js';

export const s3Namespace = 'http://s3.amazonaws.com/doc/2006-03-01/';

/**
 * Characters XML 1.0 cannot carry at all, not even as a character reference: C0 controls other than tab,
 * LF and CR, U+FFFE, U+FFFF and unpaired surrogates. lxml, expat, Go and Java refuse a document holding
 * one (AWS sends them as "&#x1;" and breaks those clients); fast-xml-parser silently drops them.
 */
const xmlForbiddenChars = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/** A plain class that matches whatever xmlForbiddenChars does (and paired surrogates): a fast first test. */
const maybeForbidden = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff\ud800-\udfff]/;

/** Whether `text` can be written into an XML 1.0 document without loss. */
export function xmlCanCarry(text: string): boolean {
  return !maybeForbidden.test(text) || !xmlForbiddenChars.test(text);
}

/**
 * What escapeXml() replaces. `needsEscape`, one character class, is tested first: a class is about
 * twice as fast as the alternation with lookarounds, and most listing text needs nothing.
 */
const escapedChars = new RegExp(`[&<>"'\r\u007f]|${xmlForbiddenChars.source}`, 'g');
const needsEscape = /[&<>"'\r\u007f\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff\ud800-\udfff]/;
/** The markup characters alone: text with nothing else to replace (every ETag, with its quotes) takes a plain class. */
const markupChars = /[&<>"']/g;
const rarerChars = /[\r\u007f\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff\ud800-\udfff]/;
const markupReferences: Readonly<Record<string, string>> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' };

/**
 * Escapes text for XML 1.0. CR becomes a reference, since a parser turns a raw CR into LF. Characters
 * XML 1.0 cannot carry become U+FFFD: a last resort that keeps the document well-formed; listings never
 * get here, they switch to encoding-type=url instead (list-params.ts).
 */
export function escapeXml(text: string): string {
  // Most listing text (keys, dates, ETags' quotes aside) needs nothing; testing first skips the replace.
  if (!needsEscape.test(text)) return text;
  // An ETag: quotes around text that needs nothing, one of each per listed object.
  const last = text.length - 1;
  if (last > 0 && text.charCodeAt(0) === 0x22 && text.charCodeAt(last) === 0x22) {
    const inner = text.slice(1, last);
    if (!needsEscape.test(inner)) return `&quot;${inner}&quot;`;
  }
  if (!rarerChars.test(text)) return text.replace(markupChars, (c) => markupReferences[c]!);
  return text.replace(escapedChars, (c) => {
    switch (c) {
      case '&': return '&amp;';
      case '<': return '&lt;';
      case '>': return '&gt;';
      case '"': return '&quot;';
      case "'": return '&apos;';
      case '\r': return '&#xD;';
      case '\u007f': return '&#x7F;';
      default: return '\ufffd';
    }
  });
}

export type XmlNode = string | number | boolean | undefined | null | XmlElement | XmlRaw | XmlNode[];
export interface XmlElement {
  readonly tag: string;
  readonly children: XmlNode;
  /** Attributes, already rendered ('xsi:type="Group"'); rare, so kept out of el()'s common path. */
  readonly attributes?: string;
}

/** Markup already rendered and escaped (see rawXml). */
export interface XmlRaw {
  readonly raw: string;
}

/**
 * Markup the caller rendered itself, every text in it already escaped with escapeXml(): for the thousand
 * repeated elements of a listing page, which a template renders for less than el() trees do.
 */
export function rawXml(markup: string): XmlRaw {
  return { raw: markup };
}

export function el(tag: string, children: XmlNode): XmlElement {
  return { tag, children };
}

/** An element with attributes (values escaped here). */
export function elWithAttributes(tag: string, attributes: Readonly<Record<string, string>>, children: XmlNode): XmlElement {
  const rendered = Object.entries(attributes).map(([name, value]) => `${name}="${escapeXml(value)}"`).join(' ');
  return { tag, children, attributes: rendered };
}

// Rendered by string concatenation: V8 joins the pieces lazily, which for a 1,000-key listing costs less
// than pushing some 12,000 strings to an array and joining it.
export function renderXml(node: XmlNode): string {
  if (node === undefined || node === null) return '';
  if (Array.isArray(node)) {
    let out = '';
    for (const child of node) out += renderXml(child);
    return out;
  }
  if (typeof node === 'object') {
    if ('raw' in node) return node.raw;
    const open = node.attributes === undefined ? node.tag : `${node.tag} ${node.attributes}`;
    return `<${open}>${renderXml(node.children)}</${node.tag}>`;
  }
  return escapeXml(String(node));
}

/** A whole XML document with the S3 namespace on its root element. */
export function xmlDocument(root: string, children: XmlNode, namespace = true): string {
  return `<?xml version="1.0" encoding="UTF-8"?>\n<${root}${namespace ? ` xmlns="${s3Namespace}"` : ''}>${renderXml(children)}</${root}>`;
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

/** Whether a numeric character reference names a character XML 1.0 allows (its Char production). */
function isXmlChar(code: number): boolean {
  return code === 0x9 || code === 0xa || code === 0xd || (code >= 0x20 && code <= 0xd7ff) || (code >= 0xe000 && code <= 0xfffd) || (code >= 0x10000 && code <= 0x10ffff);
}

/**
 * Whether every reference in the document is one XML defines without a DTD: the five predefined entities
 * and numeric references to allowed characters. fast-xml-parser would keep "&xxe;" as literal text, take
 * HTML's "&nbsp;" and silently drop "&#0;"; AWS answers MalformedXML to all three.
 */
function referencesAreDefined(text: string): boolean {
  // CDATA sections, comments and processing instructions may hold a bare "&".
  const markupFree = text.replace(/<!\[CDATA\[[\s\S]*?\]\]>|<!--[\s\S]*?-->|<\?[\s\S]*?\?>/g, '');
  for (const m of markupFree.matchAll(/&([^;&<]*)(;?)/g)) {
    const [, name, semicolon] = m;
    if (semicolon !== ';') return false;
    if (name === 'amp' || name === 'lt' || name === 'gt' || name === 'quot' || name === 'apos') continue;
    const numeric = /^#(?:x([0-9a-fA-F]{1,6})|([0-9]{1,7}))$/.exec(name!);
    if (!numeric) return false;
    if (!isXmlChar(numeric[1] !== undefined ? parseInt(numeric[1], 16) : Number(numeric[2]))) return false;
  }
  return true;
}

/** Parses a request document and returns its root element's content, or throws MalformedXML. */
export function parseXml(body: Buffer, root: string): Record<string, unknown> {
  const text = body.toString('utf8');
  // No S3 request document has a DTD; refusing any keeps entity tricks (billion laughs, external
  // entities) away from the parser. A raw NUL is no XML at all. Other raw C0 controls are tolerated:
  // clients write keys holding them so (botocore does), and S3 stores such keys.
  if (text.trim() === '' || /<!DOCTYPE|<!ENTITY/i.test(text) || text.includes('\u0000')) throw new S3Error('MalformedXML');
  // Validation first: in a well-formed document every CDATA section, comment and processing instruction
  // is closed, which keeps referencesAreDefined()'s lazy scans linear (unclosed ones made them quadratic).
  if (XMLValidator.validate(text) !== true || !referencesAreDefined(text)) throw new S3Error('MalformedXML');
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

const msPerDay = 86_400_000;
/** "YYYY-MM-DDT" of the days isoDate() saw last, by day number; cleared when it grows past dateCacheMax. */
const datePrefixes = new Map<number, string>();
const dateCacheMax = 4096;
const twoDigits = Array.from({ length: 60 }, (_, i) => String(i).padStart(2, '0'));
const threeDigits = Array.from({ length: 1000 }, (_, i) => String(i).padStart(3, '0'));

/**
 * Date.prototype.toISOString() of `ms`, written from a cached date and digit tables: a listing page
 * formats a thousand of them, and a Date each cost more than the rest of its XML (bench/list.ts).
 */
export function isoDate(ms: number): string {
  if (!Number.isSafeInteger(ms)) return new Date(ms).toISOString();
  const day = Math.floor(ms / msPerDay);
  let prefix = datePrefixes.get(day);
  if (prefix === undefined) {
    const full = new Date(ms).toISOString();
    prefix = full.slice(0, full.indexOf('T') + 1);
    if (datePrefixes.size >= dateCacheMax) datePrefixes.clear();
    datePrefixes.set(day, prefix);
  }
  let rest = ms - day * msPerDay;
  const milli = rest % 1000;
  rest = (rest - milli) / 1000;
  const second = rest % 60;
  rest = (rest - second) / 60;
  const minute = rest % 60;
  const hour = (rest - minute) / 60;
  return `${prefix}${twoDigits[hour]}:${twoDigits[minute]}:${twoDigits[second]}.${threeDigits[milli]}Z`;
}
