// What a data-carrying request declares about its body: its length, Content-MD5 and the flexible checksum
// the payload decoder verified, in the forms the object layer takes.
import { S3Error } from './errors.js';
import { header, payload, type RequestContext } from './context.js';
import { putObjectBytesMax } from '../constants.js';
import type { StoredChecksum } from '../objects/records.js';
import type { PayloadCheck, PayloadStream } from './sigv4/chunked.js';

export interface RequestBody {
  body: PayloadStream;
  /** Undefined for a body streamed with chunked transfer encoding and no length. */
  size: number | undefined;
  contentMd5?: Buffer;
  checksum: () => StoredChecksum | undefined;
  /**
   * A signed payload's MD5, hashed beside its SHA-256 by the payload decoder, whose check of that SHA-256
   * waits for this digest (PayloadStream.deferPayloadCheck): the object layer awaits it before committing.
   */
  bodyMd5?: PayloadCheck;
}

/**
 * The body length the request declares. A body sent with chunked transfer encoding and no length is
 * taken as it streams, as Ceph RGW and MinIO take it (the decoder caps it at the PUT limit); without
 * either, AWS requires a length.
 */
export function declaredSize(c: RequestContext): number | undefined {
  const decoded = header(c, 'x-amz-decoded-content-length');
  const length = header(c, 'content-length');
  const raw = decoded ?? length;
  if (raw === undefined) {
    if (/\bchunked\b/i.test(header(c, 'transfer-encoding') ?? '')) return undefined;
    throw new S3Error('MissingContentLength');
  }
  if (!/^\d+$/.test(raw)) throw new S3Error('InvalidArgument', 'Content-Length must be a non-negative integer', { extra: { ArgumentName: 'Content-Length', ArgumentValue: raw } });
  const size = Number(raw);
  if (size > putObjectBytesMax) throw new S3Error('EntityTooLarge', undefined, { extra: { ProposedSize: raw, MaxSizeAllowed: String(putObjectBytesMax) } });
  return size;
}

export function contentMd5Of(c: RequestContext): Buffer | undefined {
  return parseContentMd5(header(c, 'content-md5'));
}

/** A Content-MD5 value (header or POST form field): base64 of exactly 16 bytes. */
export function parseContentMd5(value: string | undefined): Buffer | undefined {
  if (value === undefined) return undefined;
  const digest = Buffer.from(value, 'base64');
  if (digest.length !== 16 || digest.toString('base64') !== value.trim()) throw new S3Error('InvalidDigest');
  return digest;
}

export function requestBody(c: RequestContext): RequestBody {
  const size = declaredSize(c);
  const contentMd5 = contentMd5Of(c);
  const body = payload(c);
  return {
    body,
    size,
    ...(contentMd5 ? { contentMd5 } : {}),
    ...(body.deferPayloadCheck ? { bodyMd5: body.deferPayloadCheck() } : {}),
    checksum: () => {
      const value = body.checksum?.valueBase64();
      return body.checksum && value !== undefined ? { algorithm: body.checksum.algorithm, value, type: 'FULL_OBJECT' } : undefined;
    },
  };
}
