// Key ids and the ARNs responses name keys by, shared by the key services: what a request may name a key
// with (its id, or an ARN of any region and account, so a copy of a store keeps working).
import { accountId } from '../iam/types.js';
import { KmsError } from './types.js';

/** KMS's rule for key ids here: what AWS's UUIDs and the conformance suite's "testkey-1" both fit. */
export function checkKeyId(keyId: string): string {
  if (!/^[\w-]{1,64}$/.test(keyId)) throw new KmsError('ValidationException', `Cannot use KMS key id ${JSON.stringify(keyId)}: expected 1 to 64 letters, digits, - or _`);
  return keyId;
}

/** The bare key id of an id or a key ARN. */
export function keyIdOf(idOrArn: string): string {
  const arn = /^arn:aws:kms:[^:]*:[^:]*:key\/(.+)$/.exec(idOrArn);
  return checkKeyId(arn ? arn[1]! : idOrArn);
}

export function keyArnOf(region: string, keyId: string): string {
  return `arn:aws:kms:${region}:${accountId}:key/${keyId}`;
}
