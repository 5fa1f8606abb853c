// Who a request acts as, once authentication has said who signed it (or that nobody did).
import type { Identity } from '../iam/types.js';
import { S3Error } from './errors.js';
import type { S3Config } from './context.js';

export const anonymousIdentity: Identity = Object.freeze({ kind: 'anonymous' });

/** The signer's identity, or anonymous for an unsigned request. */
export function identityOf(config: Pick<S3Config, 'identityFor'>, auth: { accessKeyId: string } | null): Identity {
  if (!auth) return anonymousIdentity;
  const identity = config.identityFor(auth.accessKeyId);
  // The key was found a moment ago to check the signature; gone now only if it was deleted in between.
  if (!identity) throw new S3Error('InvalidAccessKeyId', undefined, { extra: { AWSAccessKeyId: auth.accessKeyId } });
  return identity;
}
