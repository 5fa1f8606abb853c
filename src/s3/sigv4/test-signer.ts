// Test helper: signs requests with the AWS SDK's own signer (@smithy/signature-v4), an independent
// implementation, and turns them into the SignedRequest the server sees. Used by tests only.
import type { IncomingHttpHeaders } from 'node:http';
import { Hash } from '@smithy/hash-node';
import { SignatureV4 } from '@smithy/signature-v4';
import type { HttpRequest, QueryParameterBag, SourceData } from '@smithy/types';
import type { AuthConfig, SignedRequest } from './authenticate.js';

export const accessKeyId = 'AKIAIOSFODNN7EXAMPLE';
export const secretAccessKey = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY';
export const region = 'us-east-1';
export const signingDate = new Date('2024-05-06T07:08:09Z');

class Sha256 extends Hash {
  constructor(secret?: SourceData) {
    super('sha256', secret);
  }
}

export function signer(secret = secretAccessKey): SignatureV4 {
  return new SignatureV4({
    credentials: { accessKeyId, secretAccessKey: secret }, region, service: 's3', sha256: Sha256, uriEscapePath: false, applyChecksum: false,
  });
}

export function authConfig(nowMs = signingDate.getTime()): AuthConfig {
  return { region, secretFor: (id) => (id === accessKeyId ? secretAccessKey : undefined), nowMs: () => nowMs };
}

/** RFC 3986 encoding, as the SDK puts query parameters on the wire. */
export function rfc3986(s: string): string {
  return encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

export function rawQueryOf(query: QueryParameterBag): string {
  const parts: string[] = [];
  for (const [name, value] of Object.entries(query)) {
    const values = value === null ? [null] : Array.isArray(value) ? value : [value];
    for (const v of values) parts.push(v === null ? rfc3986(name) : `${rfc3986(name)}=${rfc3986(v)}`);
  }
  return parts.join('&');
}

export interface TestRequest {
  method?: string;
  path: string; // already percent-encoded, as the S3 client sends it
  query?: QueryParameterBag;
  headers?: Record<string, string>;
}

export function httpRequest(req: TestRequest): HttpRequest {
  return {
    method: req.method ?? 'GET', protocol: 'http:', hostname: 'localhost', port: 9000, path: req.path,
    query: req.query ?? {}, headers: { host: 'localhost:9000', ...req.headers },
  };
}

export function toSignedRequest(signed: HttpRequest): SignedRequest {
  const headers: IncomingHttpHeaders = {};
  for (const [name, value] of Object.entries(signed.headers)) headers[name.toLowerCase()] = value;
  return { method: signed.method, rawPath: signed.path, rawQuery: rawQueryOf(signed.query ?? {}), headers };
}

export async function signRequest(req: TestRequest, options: { secret?: string; date?: Date } = {}): Promise<SignedRequest> {
  const signed = await signer(options.secret).sign(httpRequest(req), { signingDate: options.date ?? signingDate });
  return toSignedRequest(signed);
}

export async function presignRequest(req: TestRequest, expiresIn: number, date = signingDate): Promise<SignedRequest> {
  // As @aws-sdk/s3-request-presigner does: pin UNSIGNED-PAYLOAD (it gets hoisted into the query).
  const request = httpRequest({ ...req, headers: { ...req.headers, 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' } });
  const signed = await signer().presign(request, { signingDate: date, expiresIn });
  return toSignedRequest(signed);
}
