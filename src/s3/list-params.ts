// Query parameters shared by the listing operations (max-keys, encoding-type, prefix and delimiter) and the
// encoding of the names a listing returns.
import { S3Error } from './errors.js';
import type { Query } from './query.js';
import { xmlCanCarry } from './xml.js';
import { listKeysMax } from '../constants.js';

export function parseMaxKeys(query: Query, name: string, fallback = listKeysMax): number {
  const raw = query.get(name);
  if (raw === null || raw === '') return fallback;
  if (!/^\d+$/.test(raw)) throw new S3Error('InvalidArgument', `Provided ${name} not an integer or within integer range`, { extra: { ArgumentName: name, ArgumentValue: raw } });
  return Math.min(Number(raw), fallback);
}

export interface Encoder {
  encode(text: string): string;
  type: 'url' | undefined;
}

const loneSurrogates = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

/**
 * encoding-type=url as AWS answers it: every byte but RFC 3986's unreserved characters and '/' is
 * percent-encoded, a space as %20, not '+' (ceph s3-tests test_bucket_list_encoding_basic expects
 * "quux%20ab/" and "asdf%2Bb"). encodeURIComponent leaves !'()* alone, and throws on a lone surrogate.
 */
export function urlEncodeName(text: string): string {
  return encodeURIComponent(text.replace(loneSurrogates, '\ufffd'))
    .replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)
    .replace(/%2F/g, '/');
}

const plain: Encoder = { encode: (s) => s, type: undefined };
const url: Encoder = { encode: urlEncodeName, type: 'url' };

export function encoderFor(query: Query): Encoder {
  const type = query.get('encoding-type');
  if (type === null || type === '') return plain;
  if (type !== 'url') throw new S3Error('InvalidArgument', 'Invalid Encoding Method specified in Request', { extra: { ArgumentName: 'encoding-type', ArgumentValue: type } });
  return url;
}

/**
 * The encoder for one page. A name holding a character XML 1.0 cannot carry (a C0 control, or a NUL
 * stored before such keys were refused) cannot be written as it is: AWS writes "&#x1;", which lxml,
 * expat, Go and Java refuse and fast-xml-parser drops, so the whole page breaks or the key is lost.
 * Such a page is answered url-encoded instead, saying so in <EncodingType>, which loses nothing.
 */
export function pageEncoder(requested: Encoder, names: Iterable<string | undefined>): Encoder {
  if (requested.type !== undefined) return requested;
  for (const name of names) if (name !== undefined && !xmlCanCarry(name)) return url;
  return requested;
}

export function prefixAndDelimiter(query: Query): { prefix: string; delimiter?: string } {
  const delimiter = query.get('delimiter');
  return { prefix: query.get('prefix') ?? '', ...(delimiter ? { delimiter } : {}) };
}
