// The server-side encryption headers of S3 requests and answers: x-amz-server-side-encryption (SSE-S3,
// SSE-KMS, with its key id, context and bucket key), the SSE-C customer key headers (and the
// copy-source ones), validated as AWS validates them, and the headers answers carry.
import { createHash } from 'node:crypto';
import type { TLSSocket } from 'node:tls';
import type { EncryptionRequest } from '../objects/sse.js';
import type { ObjectEncryption } from '../objects/records.js';
import { header, type RequestContext } from './context.js';
import { S3Error } from './errors.js';

const sseHeader = 'x-amz-server-side-encryption';
const kmsKeyHeader = 'x-amz-server-side-encryption-aws-kms-key-id';
const contextHeader = 'x-amz-server-side-encryption-context';
const bucketKeyHeader = 'x-amz-server-side-encryption-bucket-key-enabled';

/** The names of one set of SSE-C headers: the request's own, or the copy source's. */
export interface CustomerHeaderNames {
  algorithm: string;
  key: string;
  md5: string;
}

// Built once: a header looked up by a name made per request (a template string) costs V8 a hash and a
// string-table search of the name on every lookup. On a GET without SSE-C the three look-ups were
// ~300 ns that way, ~20 with these.
function customerHeaderNamesOf(prefix: string): CustomerHeaderNames {
  return { algorithm: `${prefix}algorithm`, key: `${prefix}key`, md5: `${prefix}key-md5` };
}
export const customerHeaders = customerHeaderNamesOf('x-amz-server-side-encryption-customer-');
export const copySourceCustomerHeaders = customerHeaderNamesOf('x-amz-copy-source-server-side-encryption-customer-');

/** An SSE-C key of a request, checked against its MD5; `md5` is echoed in answers. */
export interface CustomerKey {
  key: Buffer;
  md5: string;
}

function invalid(message: string, name: string, value?: string): S3Error {
  return new S3Error('InvalidArgument', message, { extra: { ArgumentName: name, ...(value !== undefined ? { ArgumentValue: value } : {}) } });
}

/** Whether the request came over TLS (the same test aws:SecureTransport makes). */
function secure(c: RequestContext): boolean {
  return (c.req.socket as Partial<TLSSocket>).encrypted === true;
}

/**
 * The SSE-C key named by `names` (the request's own headers, or the copy source's), or undefined when the
 * request has none of them. Refused over plain HTTP, as AWS refuses it.
 */
export function customerKeyOf(c: RequestContext, names: CustomerHeaderNames = customerHeaders, fields?: (name: string) => string | undefined): CustomerKey | undefined {
  const algorithm = fields ? fields(names.algorithm) : header(c, names.algorithm);
  const key = fields ? fields(names.key) : header(c, names.key);
  const md5 = fields ? fields(names.md5) : header(c, names.md5);
  if (algorithm === undefined && key === undefined && md5 === undefined) return undefined;
  if (!secure(c)) throw new S3Error('InvalidRequest', 'Requests specifying Server Side Encryption with Customer provided keys must be made over a secure connection.');
  if (algorithm === undefined) throw invalid('Requests specifying Server Side Encryption with Customer provided keys must provide a valid encryption algorithm.', names.algorithm);
  if (algorithm !== 'AES256') throw new S3Error('InvalidEncryptionAlgorithmError', undefined, { extra: { ArgumentName: names.algorithm, ArgumentValue: algorithm } });
  if (key === undefined) throw invalid('Requests specifying Server Side Encryption with Customer provided keys must provide an appropriate secret key.', names.key);
  if (md5 === undefined) throw invalid('Requests specifying Server Side Encryption with Customer provided keys must provide the client calculated MD5 of the secret key.', names.md5);
  const bytes = Buffer.from(key, 'base64');
  if (bytes.length !== 32 || !/^[A-Za-z0-9+/]+={0,2}$/.test(key.trim())) throw invalid('The secret key was invalid for the specified algorithm.', names.key);
  if (createHash('md5').update(bytes).digest('base64') !== md5.trim()) throw invalid('The calculated MD5 hash of the key did not match the hash that was provided.', names.md5);
  return { key: bytes, md5: md5.trim() };
}

function kmsContextOf(value: string): Record<string, string> {
  const refuse = () => invalid('The encryption context must be base64 of a JSON object of string values.', contextHeader);
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(value, 'base64').toString('utf8'));
  } catch {
    throw refuse();
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw refuse();
  for (const v of Object.values(parsed)) if (typeof v !== 'string') throw refuse();
  return parsed as Record<string, string>;
}

/**
 * The encryption a write asks for (PutObject, CreateMultipartUpload, CopyObject's destination, a POST
 * form's fields through `fields`), or undefined when it asks for none.
 */
export function encryptionRequestOf(c: RequestContext, fields?: (name: string) => string | undefined): EncryptionRequest | undefined {
  const get = fields ?? ((name: string) => header(c, name));
  const algorithm = get(sseHeader);
  const kmsKeyId = get(kmsKeyHeader);
  const context = get(contextHeader);
  const bucketKey = get(bucketKeyHeader);
  if (algorithm !== undefined && algorithm !== 'AES256' && algorithm !== 'aws:kms') throw invalid('The encryption method specified is not supported', sseHeader, algorithm);
  // Checked before the SSE-C headers themselves (and their TLS rule): the request is wrong either way.
  if (algorithm !== undefined && get(customerHeaders.algorithm) !== undefined) throw invalid('Server Side Encryption with Customer provided key is incompatible with the encryption method specified', sseHeader, algorithm);
  const customer = customerKeyOf(c, customerHeaders, fields);
  if ((kmsKeyId !== undefined || context !== undefined) && algorithm !== 'aws:kms') {
    throw invalid('Server Side Encryption with AWS KMS managed key requires HTTP header x-amz-server-side-encryption : aws:kms', sseHeader);
  }
  if (bucketKey !== undefined && !/^(true|false)$/i.test(bucketKey)) throw invalid('Invalid value for x-amz-server-side-encryption-bucket-key-enabled', bucketKeyHeader, bucketKey);
  const bucketKeyEnabled = bucketKey?.toLowerCase() === 'true' ? { bucketKeyEnabled: true } : {};
  if (customer) return { mode: 'customer', customerKey: customer.key };
  if (algorithm === 'AES256') return { mode: 'AES256', ...bucketKeyEnabled };
  if (algorithm === 'aws:kms') {
    if (kmsKeyId !== undefined && kmsKeyId.trim() === '') throw invalid('KMS key id must not be empty', kmsKeyHeader, kmsKeyId);
    return { mode: 'aws:kms', ...(kmsKeyId !== undefined ? { kmsKeyId: kmsKeyId.trim() } : {}), ...(context !== undefined ? { context: kmsContextOf(context) } : {}), ...bucketKeyEnabled };
  }
  return undefined;
}

const refusedOnRead = [sseHeader, kmsKeyHeader, contextHeader];

/** GET and HEAD take no x-amz-server-side-encryption headers (only SSE-C's): AWS refuses them with 400. */
export function refuseEncryptionOnRead(c: RequestContext): void {
  for (const name of refusedOnRead) {
    if (header(c, name) !== undefined) throw invalid(`The ${name} header is not supported for this operation.`, name);
  }
}

/** The headers an answer about an object stored under `encryption` carries (PUT, GET, HEAD, copy, multipart). */
export function encryptionResponseHeaders(encryption: ObjectEncryption | undefined, customer: CustomerKey | undefined, options: { withContext?: boolean } = {}): Record<string, string> {
  if (!encryption) return {};
  if (encryption.mode === 'customer') {
    return { [customerHeaders.algorithm]: 'AES256', ...(customer ? { [customerHeaders.md5]: customer.md5 } : {}) };
  }
  return {
    [sseHeader]: encryption.mode,
    ...(encryption.mode === 'aws:kms' && encryption.kmsKeyId !== undefined ? { [kmsKeyHeader]: encryption.kmsKeyId } : {}),
    ...(options.withContext && encryption.mode === 'aws:kms' && encryption.kmsContext !== undefined ? { [contextHeader]: encryption.kmsContext } : {}),
    ...(encryption.bucketKeyEnabled ? { [bucketKeyHeader]: 'true' } : {}),
  };
}
