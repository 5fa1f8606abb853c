// Server-side encryption of one object: what a write asks for (SSE-S3, SSE-KMS, SSE-C, or the bucket's or
// store's default), the fresh data key it is sealed under and the ObjectEncryption kept beside it, and
// the data key opened again for a read. The chunk format is chunk-cipher.ts's.
import { createCipheriv, createDecipheriv, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { ObjectContext } from './context.js';
import { ObjectError } from './errors.js';
import type { BucketRecord, ObjectData, ObjectEncryption } from './records.js';
import { chunkBytesDefault, type ChunkKey } from './chunk-cipher.js';
import type { SealedData } from './data.js';
import { KmsError, sseS3KeyId, type EncryptionContext } from '../kms/types.js';
import { assert } from '../util/assert.js';

/** What a write asks for; 'customer' carries the SSE-C key of the request (never stored). */
export type EncryptionRequest =
  | { mode: 'AES256'; bucketKeyEnabled?: boolean }
  | { mode: 'aws:kms'; kmsKeyId?: string; context?: Record<string, string>; bucketKeyEnabled?: boolean }
  | { mode: 'customer'; customerKey: Buffer };

/** A fresh data key and how it is kept: what a write seals with and records. */
export interface Sealing {
  encryption: ObjectEncryption;
  dataKey: Buffer;
}

/** The master key SSE-KMS uses when the request names none (AWS's aws/s3 key stands here). */
export const kmsDefaultKeyId = sseS3KeyId;
const customerKeyBytes = 32;

/**
 * What a write without its own encryption headers gets: the bucket's default encryption, else the
 * store's (--default-encryption), else none.
 */
export function defaultEncryptionOf(ctx: ObjectContext, bucket: BucketRecord): EncryptionRequest | undefined {
  const rule = bucket.encryption;
  if (rule?.algorithm === 'aws:kms') return { mode: 'aws:kms', ...(rule.kmsKeyId ? { kmsKeyId: rule.kmsKeyId } : {}), ...(rule.bucketKeyEnabled ? { bucketKeyEnabled: true } : {}) };
  if (rule?.algorithm === 'AES256') return { mode: 'AES256', ...(rule.bucketKeyEnabled ? { bucketKeyEnabled: true } : {}) };
  return ctx.defaultEncryption === 'AES256' ? { mode: 'AES256' } : undefined;
}

/** The context AWS binds an object's KMS data key to: the caller's pairs and aws:s3:arn. */
function contextOf(bucket: string, key: string, given: Record<string, string> | undefined): EncryptionContext {
  return { ...(given ?? {}), 'aws:s3:arn': `arn:aws:s3:::${bucket}/${key}` };
}

function keyServiceOf(ctx: ObjectContext): NonNullable<ObjectContext['kms']> {
  if (!ctx.kms) throw new KmsError('KMSInternalException', 'Cannot encrypt: this server runs without a key service');
  return ctx.kms;
}

/** A fresh data key for a new object (or a multipart upload) of `bucket`/`key`, as `request` asks. */
export async function newSealing(ctx: ObjectContext, bucket: string, key: string, request: EncryptionRequest): Promise<Sealing> {
  if (request.mode === 'customer') {
    const dataKey = randomBytes(32);
    const salt = randomBytes(16);
    return {
      dataKey,
      encryption: {
        mode: 'customer',
        wrappedKey: wrapUnderCustomerKey(request.customerKey, salt, dataKey),
        customerKeyMac: { salt: salt.toString('base64'), mac: customerKeyMac(request.customerKey, salt).toString('base64') },
        chunkBytes: chunkBytesDefault,
      },
    };
  }
  const context = contextOf(bucket, key, request.mode === 'aws:kms' ? request.context : undefined);
  const keyId = request.mode === 'aws:kms' ? request.kmsKeyId ?? kmsDefaultKeyId : sseS3KeyId;
  const made = await keyServiceOf(ctx).generateDataKey(keyId, context);
  return {
    dataKey: made.plaintext,
    encryption: {
      mode: request.mode,
      wrappedKey: made.wrapped,
      // Answers name the key as the request did (its id or ARN), the key service's ARN when it named none.
      kmsKeyId: request.mode === 'aws:kms' && request.kmsKeyId !== undefined ? request.kmsKeyId : made.keyArn,
      ...(request.mode === 'aws:kms' ? { kmsContext: Buffer.from(JSON.stringify(context), 'utf8').toString('base64') } : {}),
      ...(request.bucketKeyEnabled ? { bucketKeyEnabled: true } : {}),
      chunkBytes: chunkBytesDefault,
    },
  };
}

/**
 * The data key of a stored object. SSE-C needs the request's customer key: absent or wrong, the read is
 * refused with AWS's errors; an SSE-C key given for an object not stored under one is refused too.
 */
export async function openDataKey(ctx: ObjectContext, bucket: string, key: string, encryption: ObjectEncryption, customerKey: Buffer | undefined): Promise<Buffer> {
  if (encryption.mode === 'customer') {
    checkCustomerKey(encryption, customerKey);
    assert(customerKey !== undefined && encryption.customerKeyMac !== undefined, 'A checked SSE-C object has a key and a MAC');
    return unwrapUnderCustomerKey(customerKey, Buffer.from(encryption.customerKeyMac.salt, 'base64'), encryption.wrappedKey);
  }
  if (customerKey) throw new ObjectError('InvalidRequest', 'The encryption parameters are not applicable to this object.');
  const context: EncryptionContext = encryption.kmsContext !== undefined
    ? JSON.parse(Buffer.from(encryption.kmsContext, 'base64').toString('utf8')) as EncryptionContext
    : contextOf(bucket, key, undefined);
  return keyServiceOf(ctx).decryptDataKey(encryption.kmsKeyId ?? sseS3KeyId, encryption.wrappedKey, context);
}

/**
 * Checks the request's customer key against an SSE-C object without opening anything (GetObjectAttributes):
 * the errors of openDataKey for a missing, wrong or inapplicable key.
 */
export function checkCustomerKey(encryption: ObjectEncryption | undefined, customerKey: Buffer | undefined): void {
  if (encryption?.mode !== 'customer') {
    if (customerKey) throw new ObjectError('InvalidRequest', 'The encryption parameters are not applicable to this object.');
    return;
  }
  if (!customerKey) throw new ObjectError('InvalidRequest', 'The object was stored using a form of Server Side Encryption. The correct parameters must be provided to retrieve the object.');
  const mac = encryption.customerKeyMac;
  if (!mac || !timingSafeEqual(customerKeyMac(customerKey, Buffer.from(mac.salt, 'base64')), Buffer.from(mac.mac, 'base64'))) {
    throw new ObjectError('AccessDenied', 'The calculated MD5 hash of the key did not match the hash that was provided.');
  }
}

function customerKeyMac(customerKey: Buffer, salt: Buffer): Buffer {
  if (customerKey.length !== customerKeyBytes) throw new RangeError(`A customer key must be ${customerKeyBytes} bytes`);
  return createHmac('sha256', salt).update('tessera sse-c mac\0').update(customerKey).digest();
}

/** The key the data key is wrapped under: derived from the customer key, apart from the MAC's. */
function customerWrapKey(customerKey: Buffer, salt: Buffer): Buffer {
  return createHmac('sha256', customerKey).update('tessera sse-c wrap\0').update(salt).digest();
}

function wrapUnderCustomerKey(customerKey: Buffer, salt: Buffer, dataKey: Buffer): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', customerWrapKey(customerKey, salt), iv);
  const sealed = Buffer.concat([cipher.update(dataKey), cipher.final()]);
  return Buffer.concat([iv, cipher.getAuthTag(), sealed]).toString('base64');
}

function unwrapUnderCustomerKey(customerKey: Buffer, salt: Buffer, wrapped: string): Buffer {
  const bytes = Buffer.from(wrapped, 'base64');
  const decipher = createDecipheriv('aes-256-gcm', customerWrapKey(customerKey, salt), bytes.subarray(0, 12));
  decipher.setAuthTag(bytes.subarray(12, 28));
  try {
    return Buffer.concat([decipher.update(bytes.subarray(28)), decipher.final()]);
  } catch {
    throw new ObjectError('AccessDenied', 'The calculated MD5 hash of the key did not match the hash that was provided.');
  }
}

/**
 * The ETag of an object whose ETag must not be its plaintext's MD5 (SSE-KMS and SSE-C, as in AWS, where
 * it would let anyone who can HEAD confirm a guess of the contents): the MD5 keyed by the data key.
 */
export function opaqueEtagOf(encryption: ObjectEncryption | undefined, dataKey: Buffer | undefined, md5: Buffer): Buffer {
  if (!encryption || encryption.mode === 'AES256' || !dataKey) return md5;
  return createHmac('sha256', dataKey).update(md5).digest().subarray(0, 16);
}

/** What reads an object's bytes: undefined for a plaintext object, else its opened data key and layout. */
export async function sealedDataOf(
  ctx: ObjectContext,
  bucket: string,
  record: { key: string; size: number; data: ObjectData; encryption?: ObjectEncryption | undefined },
  customerKey: Buffer | undefined,
): Promise<SealedData | undefined> {
  if (!record.encryption) {
    if (customerKey) throw new ObjectError('InvalidRequest', 'The encryption parameters are not applicable to this object.');
    return undefined;
  }
  const dataKey = await openDataKey(ctx, bucket, record.key, record.encryption, customerKey);
  return { data: record.data, size: record.size, chunkBytes: record.encryption.chunkBytes, dataKey };
}

/** The ingest option that seals a body (part 0 for a single PUT or copy) under `sealing`. */
export function sealOption(sealing: Sealing | undefined, partNumber: number): { seal?: ChunkKey } {
  return sealing ? { seal: { dataKey: sealing.dataKey, partNumber, chunkBytes: sealing.encryption.chunkBytes } } : {};
}
