// Which signature a request carries, and who signed it: SigV4 (sigv4/) or, unless the server refuses it,
// SigV2 (sigv2/). Owns only the choice between them; each version verifies its own form.
import type { IncomingHttpHeaders } from 'node:http';
import { S3Error } from './errors.js';
import { authenticate as authenticateV4, singleHeader, type AuthConfig, type AuthContext } from './sigv4/authenticate.js';
import type { QueryPair } from './sigv4/canonical.js';
import { authenticateHeaderV2, authenticatePresignedV2, isSigV2Header, sigv2QueryNames, type SigV2Context } from './sigv2/authenticate.js';

/** Who signed a request, by SigV4 or SigV2. */
export type RequestAuth = AuthContext | SigV2Context;

export interface RequestAuthConfig extends AuthConfig {
  /** Whether SigV2 is accepted; when not, it is refused as AWS refuses it in regions that never had it. */
  sigv2: boolean;
}

export interface AuthRequest {
  method: string;
  rawPath: string;
  rawQuery: string;
  query: readonly QueryPair[];
  headers: IncomingHttpHeaders;
  /** Read only for SigV2 (IncomingMessage.headersDistinct is built when first read). */
  headersDistinct(): NodeJS.Dict<string[]>;
  virtualBucket?: string;
}

/** Returns null for an anonymous request; throws S3Error for any signed request that fails. */
export function authenticateRequest(req: AuthRequest, config: RequestAuthConfig): RequestAuth | null {
  // Without SigV2, its forms reach the SigV4 code, which answers them as AWS's SigV4-only regions do
  // (400 InvalidRequest "The authorization mechanism you have provided is not supported").
  if (!config.sigv2) return authenticateV4(req, config);
  const authorization = singleHeader(req.headers, 'authorization');
  const v2Query = req.query.some(([name]) => name === 'AWSAccessKeyId' || name === 'Signature');
  if (authorization !== undefined && isSigV2Header(authorization)) {
    if (v2Query || req.query.some(([name]) => name === 'X-Amz-Signature' || name === 'X-Amz-Credential')) throw onlyOneMechanism();
    return authenticateHeaderV2(v2RequestOf(req), authorization, config);
  }
  if (v2Query) {
    if (authorization !== undefined) throw onlyOneMechanism();
    // Both presign forms at once: AWS names the SigV4 one as the parameter to keep.
    if (req.query.some(([name]) => name === 'X-Amz-Algorithm' || name === 'X-Amz-Signature')) throw onlyOneMechanism();
    return authenticatePresignedV2(v2RequestOf(req), config);
  }
  return authenticateV4(req, config);
}

function v2RequestOf(req: AuthRequest) {
  return { ...req, headersDistinct: req.headersDistinct() };
}

function onlyOneMechanism(): S3Error {
  return new S3Error('InvalidArgument', 'Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, Signature query string parameter or the Authorization header should be specified', { extra: { ArgumentName: 'Authorization' } });
}

export { sigv2QueryNames };
