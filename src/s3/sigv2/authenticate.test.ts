import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { S3Error, type S3ErrorCode } from '../errors.js';
import type { AuthConfig } from '../sigv4/authenticate.js';
import { parseQuery } from '../sigv4/canonical.js';
import { authenticateHeaderV2, authenticatePresignedV2, parseHttpDate, type SigV2Request } from './authenticate.js';
import { authenticateRequest, type AuthRequest } from '../authenticate.js';

// The example credentials of AWS's SigV2 page.
const accessKeyId = 'AKIAIOSFODNN7EXAMPLE';
const secretAccessKey = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY';

function config(now: string | number): AuthConfig {
  const nowMs = typeof now === 'number' ? now : Date.parse(now);
  return { region: 'us-east-1', secretFor: (id) => (id === accessKeyId ? secretAccessKey : undefined), nowMs: () => nowMs };
}

interface RequestSpec {
  method?: string;
  path: string;
  query?: string;
  headers?: Record<string, string | string[]>;
  virtualBucket?: string;
}

function request(spec: RequestSpec): SigV2Request {
  const headersDistinct: NodeJS.Dict<string[]> = {};
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(spec.headers ?? {})) {
    const values = Array.isArray(value) ? value : [value];
    headersDistinct[name.toLowerCase()] = values;
    headers[name.toLowerCase()] = values.join(', ');
  }
  const rawQuery = spec.query ?? '';
  return {
    method: spec.method ?? 'GET', rawPath: spec.path, rawQuery, query: parseQuery(rawQuery), headers, headersDistinct,
    ...(spec.virtualBucket !== undefined ? { virtualBucket: spec.virtualBucket } : {}),
  };
}

function sign(text: string, secret = secretAccessKey): string {
  return createHmac('sha1', secret).update(text, 'utf8').digest('base64');
}

function assertS3Error(fn: () => unknown, code: S3ErrorCode, message?: string | RegExp): S3Error {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  assert.ok(caught instanceof S3Error, `expected S3Error ${code}, got ${String(caught)}`);
  assert.equal(caught.code, code, caught.message);
  if (typeof message === 'string') assert.equal(caught.message, message);
  else if (message) assert.match(caught.message, message);
  return caught;
}

const awsExamples: Array<{ name: string; spec: RequestSpec; signature: string }> = [
  { name: 'Object GET', signature: 'qgk2+6Sv9/oM7G3qLEjTH1a1l1g=', spec: { path: '/photos/puppy.jpg', virtualBucket: 'awsexamplebucket1', headers: { date: 'Tue, 27 Mar 2007 19:36:42 +0000' } } },
  { name: 'Object PUT', signature: 'iqRzw+ileNPu1fhspnRs8nOjjIA=', spec: { method: 'PUT', path: '/photos/puppy.jpg', virtualBucket: 'awsexamplebucket1', headers: { 'content-type': 'image/jpeg', 'content-length': '94328', date: 'Tue, 27 Mar 2007 21:15:45 +0000' } } },
  { name: 'List', signature: 'm0WP8eCtspQl5Ahe6L1SozdX9YA=', spec: { path: '/', query: 'prefix=photos&max-keys=50&marker=puppy', virtualBucket: 'awsexamplebucket1', headers: { 'user-agent': 'Mozilla/5.0', date: 'Tue, 27 Mar 2007 19:42:41 +0000' } } },
  { name: 'Fetch', signature: '82ZHiFIjc+WbcwFKGUVEQspPn+0=', spec: { path: '/', query: 'acl', virtualBucket: 'awsexamplebucket1', headers: { date: 'Tue, 27 Mar 2007 19:44:46 +0000' } } },
  { name: 'Delete', signature: 'XbyTlbQdu9Xw5o8P4iMwPktxQd8=', spec: { method: 'DELETE', path: '/awsexamplebucket1/photos/puppy.jpg', headers: { 'user-agent': 'dotnet', date: 'Tue, 27 Mar 2007 21:20:27 +0000', 'x-amz-date': 'Tue, 27 Mar 2007 21:20:26 +0000' } } },
  { name: 'List all my buckets', signature: 'qGdzdERIC03wnaRNKh6OqZehG9s=', spec: { path: '/', headers: { date: 'Wed, 28 Mar 2007 01:29:59 +0000' } } },
  { name: 'Unicode keys', signature: 'DNEZGsoieTZ92F3bUfSPQcbGmlM=', spec: { path: '/dictionary/fran%C3%A7ais/pr%c3%a9f%c3%a8re', headers: { date: 'Wed, 28 Mar 2007 01:49:49 +0000' } } },
];

for (const { name, spec, signature } of awsExamples) {
  test(`authenticateHeaderV2 - AWS example ${name} verifies with AWS's published signature`, () => {
    const req = request(spec);
    const auth = authenticateHeaderV2(req, `AWS ${accessKeyId}:${signature}`, config(spec.headers!.date as string));
    assert.deepEqual(auth, { signatureVersion: 2, accessKeyId, payload: { kind: 'unsigned' }, presigned: false });
  });
}

test('authenticateHeaderV2 - x-amz-date with an empty Date position and its own line verifies (the rule AWS states)', () => {
  const headers = { date: 'Tue, 27 Mar 2007 21:20:27 +0000', 'x-amz-date': 'Tue, 27 Mar 2007 21:20:26 +0000' };
  const signature = sign('DELETE\n\n\n\nx-amz-date:Tue, 27 Mar 2007 21:20:26 +0000\n/awsexamplebucket1/photos/puppy.jpg');
  assert.ok(authenticateHeaderV2(request({ method: 'DELETE', path: '/awsexamplebucket1/photos/puppy.jpg', headers }), `AWS ${accessKeyId}:${signature}`, config(headers.date)));
});

test('authenticateHeaderV2 - wrong secret is SignatureDoesNotMatch with the StringToSign AWS returns', () => {
  const headers = { date: 'Tue, 27 Mar 2007 19:36:42 +0000', 'x-amz-meta-a': ['2', '1'] };
  const signature = sign('anything', 'not the secret');
  const err = assertS3Error(() => authenticateHeaderV2(request({ path: '/b/k', headers }), `AWS ${accessKeyId}:${signature}`, config(headers.date)), 'SignatureDoesNotMatch');
  assert.equal(err.httpStatus, 403);
  assert.equal(err.extra.StringToSign, 'GET\n\n\nTue, 27 Mar 2007 19:36:42 +0000\nx-amz-meta-a:2,1\n/b/k');
  assert.equal(err.extra.SignatureProvided, signature);
  assert.equal(err.extra.AWSAccessKeyId, accessKeyId);
  assert.match(err.extra.StringToSignBytes!, /^47 45 54 0a 0a/);
  assert.ok(!JSON.stringify(err.extra).includes(secretAccessKey));
});

test('authenticateHeaderV2 - an unsigned x-amz-* header added after signing fails', () => {
  const date = 'Tue, 27 Mar 2007 19:36:42 +0000';
  const signature = sign(`PUT\n\n\n${date}\n/b/k`);
  assert.ok(authenticateHeaderV2(request({ method: 'PUT', path: '/b/k', headers: { date } }), `AWS ${accessKeyId}:${signature}`, config(date)));
  assertS3Error(() => authenticateHeaderV2(request({ method: 'PUT', path: '/b/k', headers: { date, 'x-amz-copy-source': '/other/secret' } }), `AWS ${accessKeyId}:${signature}`, config(date)), 'SignatureDoesNotMatch');
});

test('authenticateHeaderV2 - a signature of the wrong shape fails without throwing anything else', () => {
  const date = 'Tue, 27 Mar 2007 19:36:42 +0000';
  for (const provided of ['', 'abc', 'qgk2+6Sv9/oM7G3qLEjTH1a1l1g', 'qgk2+6Sv9/oM7G3qLEjTH1a1l1g==', '!'.repeat(28)]) {
    assertS3Error(() => authenticateHeaderV2(request({ path: '/photos/puppy.jpg', virtualBucket: 'awsexamplebucket1', headers: { date } }), `AWS ${accessKeyId}:${provided}`, config(date)), 'SignatureDoesNotMatch');
  }
});

test('authenticateHeaderV2 - clock skew over 15 minutes is RequestTimeTooSkewed, under it passes', () => {
  const date = 'Tue, 27 Mar 2007 19:36:42 +0000';
  const spec = { path: '/photos/puppy.jpg', virtualBucket: 'awsexamplebucket1', headers: { date } };
  const authorization = `AWS ${accessKeyId}:qgk2+6Sv9/oM7G3qLEjTH1a1l1g=`;
  const dateMs = Date.parse(date);
  assert.ok(authenticateHeaderV2(request(spec), authorization, config(dateMs + 15 * 60_000)));
  const err = assertS3Error(() => authenticateHeaderV2(request(spec), authorization, config(dateMs + 15 * 60_000 + 1000)), 'RequestTimeTooSkewed');
  assert.equal(err.extra.RequestTime, date);
  assert.equal(err.extra.MaxAllowedSkewMilliseconds, '900000');
  assertS3Error(() => authenticateHeaderV2(request(spec), authorization, config(dateMs - 16 * 60_000)), 'RequestTimeTooSkewed');
});

test('authenticateHeaderV2 - missing, empty, unreadable or pre-1970 dates are AccessDenied (as the s3-tests aws2 cases expect)', () => {
  const now = 'Tue, 27 Mar 2007 19:36:42 +0000';
  const authorization = `AWS ${accessKeyId}:qgk2+6Sv9/oM7G3qLEjTH1a1l1g=`;
  const cases: Array<Record<string, string>> = [{}, { date: '' }, { date: 'Bad Date' }, { date: '1' }, { date: now, 'x-amz-date': '' }, { date: now, 'x-amz-date': 'Bad Date' }, { date: now, 'x-amz-date': 'Tue, 07 Jul 1950 21:53:04 GMT' }];
  for (const headers of cases) {
    assertS3Error(() => authenticateHeaderV2(request({ path: '/b/k', headers }), authorization, config(now)), 'AccessDenied', 'AWS authentication requires a valid Date or x-amz-date header');
  }
  assertS3Error(() => authenticateHeaderV2(request({ path: '/b/k', headers: { date: now, 'x-amz-date': 'Tue, 07 Jul 9999 21:53:04 GMT' } }), authorization, config(now)), 'RequestTimeTooSkewed');
});

test('authenticateHeaderV2 - malformed header is InvalidArgument, unknown key InvalidAccessKeyId', () => {
  const date = 'Tue, 27 Mar 2007 19:36:42 +0000';
  for (const authorization of ['AWS HAHAHA', 'AWS :sig', 'AWS a b:c']) {
    assertS3Error(() => authenticateHeaderV2(request({ path: '/b/k', headers: { date } }), authorization, config(date)), 'InvalidArgument');
  }
  assertS3Error(() => authenticateHeaderV2(request({ path: '/b/k', headers: { date } }), 'AWS NOSUCHKEY:qgk2+6Sv9/oM7G3qLEjTH1a1l1g=', config(date)), 'InvalidAccessKeyId');
});

test('authenticateHeaderV2 - a signed x-amz-content-sha256 sets the payload mode; a chunk-signed one is refused', () => {
  const date = 'Tue, 27 Mar 2007 19:36:42 +0000';
  const hash = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';
  const signed = (value: string) => {
    const headers = { date, 'x-amz-content-sha256': value };
    return () => authenticateHeaderV2(request({ method: 'PUT', path: '/b/k', headers }), `AWS ${accessKeyId}:${sign(`PUT\n\n\n${date}\nx-amz-content-sha256:${value}\n/b/k`)}`, config(date));
  };
  assert.deepEqual(signed(hash)().payload, { kind: 'signed', sha256Hex: hash });
  assert.deepEqual(signed('STREAMING-UNSIGNED-PAYLOAD-TRAILER')().payload, { kind: 'streaming-unsigned-trailer' });
  assertS3Error(signed('STREAMING-AWS4-HMAC-SHA256-PAYLOAD'), 'InvalidRequest');
});

test('authenticatePresignedV2 - AWS example verifies with its published signature until it expires', () => {
  // AWS's page renamed the example's bucket from "johnsmith" to "awsexamplebucket1" without re-signing it.
  const spec = { path: '/photos/puppy.jpg', query: 'AWSAccessKeyId=AKIAIOSFODNN7EXAMPLE&Signature=NpgCjnDzrM%2BWFzoENXmpNDUsSn8%3D&Expires=1175139620', virtualBucket: 'johnsmith' };
  assert.deepEqual(authenticatePresignedV2(request(spec), config(1175139620 * 1000)), { signatureVersion: 2, accessKeyId, payload: { kind: 'unsigned' }, presigned: true });
  const err = assertS3Error(() => authenticatePresignedV2(request(spec), config(1175139621 * 1000)), 'AccessDenied', 'Request has expired');
  assert.equal(err.extra.Expires, '2007-03-29T03:40:20.000Z');
  assertS3Error(() => authenticatePresignedV2(request({ ...spec, virtualBucket: 'awsexamplebucket1' }), config(1175139620 * 1000)), 'SignatureDoesNotMatch');
});

test('authenticatePresignedV2 - an unescaped + in the signature still verifies', () => {
  const spec = { path: '/photos/puppy.jpg', query: 'AWSAccessKeyId=AKIAIOSFODNN7EXAMPLE&Signature=NpgCjnDzrM+WFzoENXmpNDUsSn8%3D&Expires=1175139620', virtualBucket: 'johnsmith' };
  assert.ok(authenticatePresignedV2(request(spec), config(1175139000 * 1000)));
});

test('authenticatePresignedV2 - Content-Type and x-amz-* moved into the query (botocore) are signed; an added header is not', () => {
  const expires = '2000000000';
  const signature = sign(`PUT\n\ntext/plain\n${expires}\nx-amz-acl:private\n/b/k`);
  const query = `AWSAccessKeyId=${accessKeyId}&Signature=${encodeURIComponent(signature)}&Expires=${expires}&content-type=text%2Fplain&x-amz-acl=private`;
  assert.ok(authenticatePresignedV2(request({ method: 'PUT', path: '/b/k', query }), config(1_900_000_000_000)));
  assert.ok(authenticatePresignedV2(request({ method: 'PUT', path: '/b/k', query, headers: { 'content-type': 'text/plain' } }), config(1_900_000_000_000)));
  assertS3Error(() => authenticatePresignedV2(request({ method: 'PUT', path: '/b/k', query, headers: { 'x-amz-meta-x': '1' } }), config(1_900_000_000_000)), 'SignatureDoesNotMatch');
});

test('authenticatePresignedV2 - missing fields and a non-numeric Expires are AccessDenied', () => {
  for (const query of ['AWSAccessKeyId=AKIAIOSFODNN7EXAMPLE&Signature=x', 'Signature=x&Expires=1', 'AWSAccessKeyId=AKIAIOSFODNN7EXAMPLE&Expires=1']) {
    assertS3Error(() => authenticatePresignedV2(request({ path: '/b/k', query }), config(0)), 'AccessDenied', /requires the Signature, Expires and AWSAccessKeyId/);
  }
  for (const expires of ['soon', '-1', '1e9', '']) {
    assertS3Error(() => authenticatePresignedV2(request({ path: '/b/k', query: `AWSAccessKeyId=${accessKeyId}&Signature=x&Expires=${expires}` }), config(0)), 'AccessDenied', /Invalid date/);
  }
});

test('parseHttpDate - reads the RFC 2616 forms and refuses the rest', () => {
  const ms = Date.UTC(1994, 10, 6, 8, 49, 37);
  assert.equal(parseHttpDate('Sun, 06 Nov 1994 08:49:37 GMT'), ms);
  assert.equal(parseHttpDate('Sunday, 06-Nov-94 08:49:37 GMT'), ms);
  assert.equal(parseHttpDate('Sun Nov  6 08:49:37 1994'), Date.parse('Sun Nov  6 08:49:37 1994'));
  assert.equal(parseHttpDate('Sun, 06 Nov 1994 08:49:37 +0000'), ms);
  for (const bad of ['', '1', 'Bad Date', '20241203T000000Z', 'x'.repeat(100)]) assert.equal(parseHttpDate(bad), undefined);
});

// ---- The choice between SigV4 and SigV2 ----------------------------------------------------------

function authRequest(spec: RequestSpec): AuthRequest {
  const req = request(spec);
  return { ...req, headersDistinct: () => req.headersDistinct };
}

test('authenticateRequest - SigV2 header verifies when on and is refused as unsupported when off', () => {
  const spec = { path: '/photos/puppy.jpg', virtualBucket: 'awsexamplebucket1', headers: { date: 'Tue, 27 Mar 2007 19:36:42 +0000', authorization: `AWS ${accessKeyId}:qgk2+6Sv9/oM7G3qLEjTH1a1l1g=` } };
  const on = { ...config(spec.headers.date), sigv2: true };
  assert.equal(authenticateRequest(authRequest(spec), on)?.signatureVersion, 2);
  const err = assertS3Error(() => authenticateRequest(authRequest(spec), { ...on, sigv2: false }), 'InvalidRequest', /not supported\. Please use AWS4-HMAC-SHA256/);
  assert.equal(err.httpStatus, 400);
});

test('authenticateRequest - SigV2 presigned URL verifies when on and is refused when off', () => {
  const spec = { path: '/photos/puppy.jpg', query: 'AWSAccessKeyId=AKIAIOSFODNN7EXAMPLE&Signature=NpgCjnDzrM%2BWFzoENXmpNDUsSn8%3D&Expires=1175139620', virtualBucket: 'johnsmith' };
  const on = { ...config(1175139000 * 1000), sigv2: true };
  assert.equal(authenticateRequest(authRequest(spec), on)?.presigned, true);
  assertS3Error(() => authenticateRequest(authRequest(spec), { ...on, sigv2: false }), 'InvalidRequest', /not supported/);
});

test('authenticateRequest - two mechanisms at once are InvalidArgument', () => {
  const date = 'Tue, 27 Mar 2007 19:36:42 +0000';
  const on = { ...config(date), sigv2: true };
  const presign = 'AWSAccessKeyId=AKIAIOSFODNN7EXAMPLE&Signature=x&Expires=1';
  assertS3Error(() => authenticateRequest(authRequest({ path: '/b/k', query: presign, headers: { date, authorization: `AWS ${accessKeyId}:x` } }), on), 'InvalidArgument', /Only one auth mechanism/);
  assertS3Error(() => authenticateRequest(authRequest({ path: '/b/k', query: presign, headers: { date, authorization: 'AWS4-HMAC-SHA256 Credential=x' } }), on), 'InvalidArgument', /Only one auth mechanism/);
  assertS3Error(() => authenticateRequest(authRequest({ path: '/b/k', query: `${presign}&X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Signature=0` }), on), 'InvalidArgument', /Only one auth mechanism/);
  assert.equal(authenticateRequest(authRequest({ path: '/b/k', headers: { date } }), on), null);
});

test('authenticateHeaderV2 - a path-style bucket request verifies signed as "/bucket" and as "/bucket/" (botocore)', () => {
  const date = 'Tue, 27 Mar 2007 19:36:42 +0000';
  for (const resource of ['/b', '/b/']) {
    const signature = sign(`PUT\n\n\n${date}\n${resource}`);
    assert.ok(authenticateHeaderV2(request({ method: 'PUT', path: '/b', headers: { date } }), `AWS ${accessKeyId}:${signature}`, config(date)));
  }
  // Only a bucket alone: an object's path is signed as sent.
  assertS3Error(() => authenticateHeaderV2(request({ path: '/b/k', headers: { date } }), `AWS ${accessKeyId}:${sign(`GET\n\n\n${date}\n/b/k/`)}`, config(date)), 'SignatureDoesNotMatch');
});

test('authenticateHeaderV2 - older botocore signing its URI template query twice verifies, path and virtual style', () => {
  const date = 'Tue, 27 Mar 2007 19:36:42 +0000';
  const cases: Array<{ spec: RequestSpec; resource: string }> = [
    { spec: { method: 'POST', path: '/b/k', query: 'uploads' }, resource: '/b/k?uploads?uploads' },
    { spec: { method: 'POST', path: '/k', query: 'uploads', virtualBucket: 'b' }, resource: '/b/k?uploads?uploads' },
    { spec: { path: '/b', query: 'list-type=2&prefix=dir%2F' }, resource: '/b?list-type=2' },
    { spec: { path: '/', query: 'list-type=2&prefix=dir%2F', virtualBucket: 'b' }, resource: '/b?list-type=2' },
    { spec: { method: 'PUT', path: '/b/k', query: 'tagging&versionId=v1' }, resource: '/b/k?tagging?tagging&versionId=v1' },
  ];
  for (const { spec, resource } of cases) {
    const signature = sign(`${spec.method ?? 'GET'}\n\n\n${date}\n${resource}`);
    assert.ok(authenticateHeaderV2(request({ ...spec, headers: { date } }), `AWS ${accessKeyId}:${signature}`, config(date)), resource);
  }
  // The doubled reading is the request's own first query component, not any text.
  const forged = sign(`GET\n\n\n${date}\n/b/k?uploads?uploads`);
  assertS3Error(() => authenticateHeaderV2(request({ path: '/b/k', query: 'acl', headers: { date } }), `AWS ${accessKeyId}:${forged}`, config(date)), 'SignatureDoesNotMatch');
});

test('authenticateHeaderV2 - a non-ASCII x-amz-meta value verifies sent as latin1 (botocore) or as UTF-8 bytes (s3cmd)', () => {
  const date = 'Tue, 27 Mar 2007 19:36:42 +0000';
  const signature = sign(`PUT\n\n\n${date}\nx-amz-meta-name:café ✓\n/b/k`);
  // Node reads each header byte as one latin1 character: UTF-8 bytes arrive as "cafÃ© â\u009c\u0093".
  const utf8OnTheWire = Buffer.from('café ✓', 'utf8').toString('latin1');
  assert.ok(authenticateHeaderV2(request({ method: 'PUT', path: '/b/k', headers: { date, 'x-amz-meta-name': utf8OnTheWire } }), `AWS ${accessKeyId}:${signature}`, config(date)));
  const latin1Signature = sign(`PUT\n\n\n${date}\nx-amz-meta-name:café\n/b/k`);
  assert.ok(authenticateHeaderV2(request({ method: 'PUT', path: '/b/k', headers: { date, 'x-amz-meta-name': 'café' } }), `AWS ${accessKeyId}:${latin1Signature}`, config(date)));
});
