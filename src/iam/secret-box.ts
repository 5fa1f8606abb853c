// The IAM key: the server key that access key secrets are sealed under (AES-256-GCM) before they reach the
// MetaStore, so a copy of the database alone does not hand them out. Kept in a file of its own (iam.key in
// the data directory, or --iam-key-file), which every gateway of a cluster shares.
import { createHmac } from 'node:crypto';
import { loadKeyFile } from '../util/key-file.js';
import { openBytes, sealBytes, type Sealed } from '../util/sealed.js';

export const iamKeyBytes = 32;

/** A secret sealed under the IAM key: base64 fields, so the record stays JSON. */
export type SealedSecret = Sealed;

/**
 * The IAM key in `path`; when `create` and the file does not exist, a fresh random one written there
 * (util/key-file.ts: mode 0600, never overwriting).
 */
export function loadIamKey(path: string, options: { create: boolean }): Promise<Buffer> {
  return loadKeyFile(path, { ...options, name: 'IAM key', bytes: iamKeyBytes });
}

/**
 * Seals `secret` under `key`, bound to `context` (the access key id) as additional data: a sealed secret
 * copied onto another key's record does not open.
 */
export function sealSecret(key: Buffer, context: string, secret: string): SealedSecret {
  checkKey(key);
  return sealBytes(key, Buffer.from(context, 'utf8'), Buffer.from(secret, 'utf8'));
}

/** The secret `sealed` holds; throws when `key` or `context` is not the one it was sealed with. */
export function openSecret(key: Buffer, context: string, sealed: SealedSecret): string {
  checkKey(key);
  try {
    return openBytes(key, Buffer.from(context, 'utf8'), sealed).toString('utf8');
  } catch (err) {
    throw new Error(`Cannot open the secret of access key "${context}": the IAM key is not the one it was sealed under`, { cause: err });
  }
}

/**
 * A fingerprint of the IAM key, stored beside the keys it sealed: a gateway started with a different key
 * file is refused at start rather than failing every user's request. An HMAC, so it reveals nothing of the key.
 */
export function iamKeyFingerprint(key: Buffer): string {
  checkKey(key);
  return createHmac('sha256', key).update('tessera iam key fingerprint v1').digest('hex');
}

function checkKey(key: Buffer): void {
  if (key.length !== iamKeyBytes) throw new RangeError(`Cannot use an IAM key of ${key.length} bytes: expected ${iamKeyBytes}`);
}
