// Client-side SigV4 header signing, for our own tools (the admin CLI) talking to a Tessera endpoint.
// Built from the same canonical-request code the server verifies with.
import { canonicalRequest, credentialScope, emptySha256Hex, sha256Hex, stringToSign, sigv4Algorithm } from './canonical.js';
import { hmac, signingKey } from './signing-key.js';
import { formatAmzDate } from './authenticate.js';

export interface SignInput {
  method: string;
  url: URL;
  body?: Buffer;
  region: string;
  accessKeyId: string;
  secretAccessKey: string;
  nowMs?: number;
}

/** The headers to send (host, x-amz-date, x-amz-content-sha256, authorization). */
export function signRequest(input: SignInput): Record<string, string> {
  const amzDate = formatAmzDate(input.nowMs ?? Date.now());
  const scopeDate = amzDate.slice(0, 8);
  const payloadHash = input.body && input.body.length > 0 ? sha256Hex(input.body) : emptySha256Hex;
  const headers: Record<string, string> = { host: input.url.host, 'x-amz-date': amzDate, 'x-amz-content-sha256': payloadHash };
  const signedHeaders = Object.keys(headers).sort();
  const canonical = canonicalRequest({
    method: input.method,
    rawPath: input.url.pathname,
    rawQuery: input.url.search.replace(/^\?/, ''),
    headers,
    signedHeaders,
    payloadHash,
  });
  const scope = credentialScope(scopeDate, input.region);
  const signature = hmac(signingKey(input.secretAccessKey, scopeDate, input.region), stringToSign(amzDate, scope, canonical)).toString('hex');
  headers.authorization = `${sigv4Algorithm} Credential=${input.accessKeyId}/${scope}, SignedHeaders=${signedHeaders.join(';')}, Signature=${signature}`;
  return headers;
}
