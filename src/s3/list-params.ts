// Query parameters shared by the listing operations: max-keys, encoding-type, prefix and delimiter.
import { S3Error } from './errors.js';
import type { Query } from './query.js';
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

/** encoding-type=url: keys are form-encoded (space as '+'), as AWS does and SDKs decode. */
export function encoderFor(query: Query): Encoder {
  const type = query.get('encoding-type');
  if (type === null || type === '') return { encode: (s) => s, type: undefined };
  if (type !== 'url') throw new S3Error('InvalidArgument', 'Invalid Encoding Method specified in Request', { extra: { ArgumentName: 'encoding-type', ArgumentValue: type } });
  return { encode: (s) => encodeURIComponent(s).replace(/%20/g, '+').replace(/%2F/g, '/'), type: 'url' };
}

export function prefixAndDelimiter(query: Query): { prefix: string; delimiter?: string } {
  const delimiter = query.get('delimiter');
  return { prefix: query.get('prefix') ?? '', ...(delimiter ? { delimiter } : {}) };
}
