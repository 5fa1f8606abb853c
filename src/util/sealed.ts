// Bytes sealed with AES-256-GCM under a server key, bound to additional data, as base64 fields so a record
// that holds them stays JSON: how the IAM key seals access key secrets and the KMS root key master keys.
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

const ivBytes = 12;
const tagBytes = 16;

export interface Sealed {
  iv: string;
  tag: string;
  data: string;
}

/** `plaintext` sealed under `key`, bound to `aad`: opening needs the same key and the same aad. */
export function sealBytes(key: Buffer, aad: Buffer, plaintext: Buffer): Sealed {
  const iv = randomBytes(ivBytes);
  const cipher = createCipheriv('aes-256-gcm', key, iv, { authTagLength: tagBytes });
  cipher.setAAD(aad);
  const data = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return { iv: iv.toString('base64'), tag: cipher.getAuthTag().toString('base64'), data: data.toString('base64') };
}

/** What `sealed` holds; throws when `key` or `aad` is not the one it was sealed with (the caller says why). */
export function openBytes(key: Buffer, aad: Buffer, sealed: Sealed): Buffer {
  const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(sealed.iv, 'base64'), { authTagLength: tagBytes });
  decipher.setAAD(aad);
  decipher.setAuthTag(Buffer.from(sealed.tag, 'base64'));
  return Buffer.concat([decipher.update(Buffer.from(sealed.data, 'base64')), decipher.final()]);
}
