import { test } from 'node:test';
import assert from 'node:assert/strict';
import { S3Client, GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { S3Error, type S3ErrorCode } from '../errors.js';
import { authenticate, formatAmzDate, parseAmzDate, type SignedRequest } from './authenticate.js';
import { hmac } from './signing-key.js';
import { canonicalRequest, credentialScope, sha256Hex, stringToSign } from './canonical.js';
import { accessKeyId, authConfig, presignRequest, region, secretAccessKey, signingDate, signRequest } from './test-signer.js';

const unsigned = { 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' };
const minuteMs = 60_000;

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

test('authenticate - anonymous request returns null', () => {
  const req: SignedRequest = { method: 'GET', rawPath: '/b/k', rawQuery: 'versionId=1', headers: { host: 'x' } };
  assert.equal(authenticate(req, authConfig()), null);
});

test('authenticate - GET with awkward query keys and values verifies', async () => {
  const req = await signRequest({
    path: '/bucket/a%20key/%E2%9C%93%2Bplus',
    query: { 'list-type': '2', prefix: 'a b+c%d/ü', 'key with space': 'v', 'k+plus%pct': 'x=y&z', 'ключ': 'значение', empty: '', uploads: '', dup: ['b', 'a'] },
    headers: unsigned,
  });
  // A bare "?uploads" means the same as "uploads=" (the smithy signer drops null values, so sign '').
  assert.ok(authenticate({ ...req, rawQuery: req.rawQuery.replace('uploads=', 'uploads') }, authConfig()));
  const auth = authenticate(req, authConfig());
  assert.ok(auth);
  assert.equal(auth.accessKeyId, accessKeyId);
  assert.equal(auth.region, region);
  assert.equal(auth.scopeDate, '20240506');
  assert.equal(auth.amzDate, '20240506T070809Z');
  assert.equal(auth.presigned, false);
  assert.deepEqual(auth.payload, { kind: 'unsigned' });
  assert.match(auth.seedSignature, /^[0-9a-f]{64}$/);
});

test('authenticate - query with + for space (form encoding) verifies', async () => {
  const req = await signRequest({ path: '/bucket', query: { prefix: 'a b' }, headers: unsigned });
  assert.ok(authenticate({ ...req, rawQuery: 'prefix=a+b' }, authConfig()));
});

test('authenticate - path characters left unescaped by the client still verify', async () => {
  const req = await signRequest({ path: '/bucket/a%21b%28c%29', headers: unsigned });
  assert.ok(authenticate({ ...req, rawPath: '/bucket/a!b(c)' }, authConfig()));
});

test('authenticate - an escaped slash in the path stays escaped', async () => {
  const req = await signRequest({ path: '/bucket/a%2Fb', headers: unsigned });
  assert.ok(authenticate(req, authConfig()));
  assertS3Error(() => authenticate({ ...req, rawPath: '/bucket/a/b' }, authConfig()), 'SignatureDoesNotMatch');
});

test('authenticate - PUT with a signed payload hash yields the signed payload mode', async () => {
  const hash = sha256Hex('hello world');
  const req = await signRequest({ method: 'PUT', path: '/bucket/key', headers: { 'x-amz-content-sha256': hash, 'content-length': '11', 'content-type': 'text/plain' } });
  const auth = authenticate(req, authConfig());
  assert.deepEqual(auth?.payload, { kind: 'signed', sha256Hex: hash });
});

test('authenticate - wrong secret fails with SignatureDoesNotMatch', async () => {
  const req = await signRequest({ path: '/bucket/key', headers: unsigned }, { secret: 'not-the-secret' });
  const err = assertS3Error(() => authenticate(req, authConfig()), 'SignatureDoesNotMatch');
  assert.equal(err.httpStatus, 403);
  assert.ok(!JSON.stringify(err.extra).includes(secretAccessKey));
  assert.match(err.extra.CanonicalRequest ?? '', /^GET\n\/bucket\/key\n/);
});

test('authenticate - tampered path, query or signed header fails with SignatureDoesNotMatch', async () => {
  const req = await signRequest({ path: '/bucket/key', query: { a: '1' }, headers: { ...unsigned, range: 'bytes=0-1' } });
  assertS3Error(() => authenticate({ ...req, rawPath: '/bucket/kez' }, authConfig()), 'SignatureDoesNotMatch');
  assertS3Error(() => authenticate({ ...req, rawQuery: 'a=2' }, authConfig()), 'SignatureDoesNotMatch');
  assertS3Error(() => authenticate({ ...req, headers: { ...req.headers, range: 'bytes=0-2' } }, authConfig()), 'SignatureDoesNotMatch');
  assertS3Error(() => authenticate({ ...req, method: 'DELETE' }, authConfig()), 'SignatureDoesNotMatch');
});

test('authenticate - header values are trimmed and inner spaces collapsed', async () => {
  const req = await signRequest({ path: '/b/k', headers: { ...unsigned, 'x-amz-meta-a': 'one two' } });
  assert.ok(authenticate({ ...req, headers: { ...req.headers, 'x-amz-meta-a': '  one    two ' } }, authConfig()));
});

test('authenticate - unknown access key fails with InvalidAccessKeyId', async () => {
  const req = await signRequest({ path: '/b/k', headers: unsigned });
  const config = { ...authConfig(), secretFor: () => undefined };
  assertS3Error(() => authenticate(req, config), 'InvalidAccessKeyId');
});

test('authenticate - clock skew beyond 15 minutes fails with RequestTimeTooSkewed', async () => {
  const req = await signRequest({ path: '/b/k', headers: unsigned });
  const t = signingDate.getTime();
  assert.ok(authenticate(req, authConfig(t + 14 * minuteMs)));
  assert.ok(authenticate(req, authConfig(t - 14 * minuteMs)));
  assertS3Error(() => authenticate(req, authConfig(t + 16 * minuteMs)), 'RequestTimeTooSkewed');
  assertS3Error(() => authenticate(req, authConfig(t - 16 * minuteMs)), 'RequestTimeTooSkewed');
});

test('authenticate - credential region other than ours fails naming the expected region', async () => {
  const req = await signRequest({ path: '/b/k', headers: unsigned });
  const config = { ...authConfig(), region: 'eu-west-1' };
  const err = assertS3Error(() => authenticate(req, config), 'AuthorizationHeaderMalformed', /expecting 'eu-west-1'/);
  assert.equal(err.extra.Region, 'eu-west-1');
});

test('authenticate - missing x-amz-content-sha256 fails with InvalidRequest', async () => {
  const req = await signRequest({ path: '/b/k' });
  assertS3Error(() => authenticate(req, authConfig()), 'InvalidRequest', 'Missing required header for this request: x-amz-content-sha256');
});

test('authenticate - unknown x-amz-content-sha256 value fails with InvalidArgument', async () => {
  const req = await signRequest({ path: '/b/k', headers: { 'x-amz-content-sha256': 'not-a-hash' } });
  assertS3Error(() => authenticate(req, authConfig()), 'InvalidArgument');
});

test('authenticate - streaming content-sha256 values map to their payload modes', async () => {
  const modes = {
    'STREAMING-AWS4-HMAC-SHA256-PAYLOAD': 'streaming-signed',
    'STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER': 'streaming-signed-trailer',
    'STREAMING-UNSIGNED-PAYLOAD-TRAILER': 'streaming-unsigned-trailer',
  } as const;
  for (const [value, kind] of Object.entries(modes)) {
    const req = await signRequest({ method: 'PUT', path: '/b/k', headers: { 'x-amz-content-sha256': value } });
    assert.equal(authenticate(req, authConfig())?.payload.kind, kind);
  }
});

test('authenticate - garbled Authorization headers fail with AWS error codes', () => {
  const base: SignedRequest = { method: 'GET', rawPath: '/', rawQuery: '', headers: { host: 'x', 'x-amz-date': '20240506T070809Z', ...unsigned } };
  const withAuth = (authorization: string): SignedRequest => ({ ...base, headers: { ...base.headers, authorization } });
  assertS3Error(() => authenticate(withAuth('Bearer abc'), authConfig()), 'InvalidArgument', 'Unsupported Authorization Type');
  assertS3Error(() => authenticate(withAuth('AWS AKID:sig'), authConfig()), 'InvalidRequest');
  assertS3Error(() => authenticate(withAuth('AWS4-HMAC-SHA256 garbage'), authConfig()), 'AuthorizationHeaderMalformed');
  assertS3Error(() => authenticate(withAuth('AWS4-HMAC-SHA256 Credential=AKID/2024/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=00'), authConfig()), 'AuthorizationHeaderMalformed');
  assertS3Error(() => authenticate(withAuth('AWS4-HMAC-SHA256 Credential=AKID/20240506/us-east-1/ec2/aws4_request, SignedHeaders=host, Signature=00'), authConfig()), 'AuthorizationHeaderMalformed', /incorrect service/);
  assertS3Error(() => authenticate(withAuth(`AWS4-HMAC-SHA256 Credential=${accessKeyId}/20240505/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=00`), authConfig()), 'AuthorizationHeaderMalformed', /Date is not the same as X-Amz-Date/);
});

test('authenticate - Authorization parts in another order, with other spacing, still verify', async () => {
  const req = await signRequest({ path: '/b/k', headers: unsigned });
  const authorization = req.headers.authorization as string;
  const part = (name: string) => new RegExp(`${name}=[^,]*`).exec(authorization)![0];
  const reordered = `AWS4-HMAC-SHA256 ${part('Signature')},SignedHeaders=${part('SignedHeaders').split('=')[1]} ,  ${part('Credential')}`;
  assert.ok(authenticate({ ...req, headers: { ...req.headers, authorization: reordered } }, authConfig()));
  const withoutSignature = `AWS4-HMAC-SHA256 ${part('Credential')}, ${part('SignedHeaders')}, =x, Signature`;
  assertS3Error(() => authenticate({ ...req, headers: { ...req.headers, authorization: withoutSignature } }, authConfig()), 'AuthorizationHeaderMalformed', /three components/);
});

test('authenticate - missing or invalid date fails with AccessDenied', async () => {
  const req = await signRequest({ path: '/b/k', headers: unsigned });
  const { 'x-amz-date': _dropped, ...noDate } = req.headers;
  assertS3Error(() => authenticate({ ...req, headers: noDate }, authConfig()), 'AccessDenied', /valid Date or x-amz-date/);
  assertS3Error(() => authenticate({ ...req, headers: { ...req.headers, 'x-amz-date': '20241340T000000Z' } }, authConfig()), 'AccessDenied');
});

test('authenticate - Date header stands in for X-Amz-Date', () => {
  // The SDK signer always sends X-Amz-Date, so this request is signed by hand from the spec.
  const headers = { host: 'localhost', date: 'Mon, 06 May 2024 07:08:09 GMT', ...unsigned };
  const signedHeaders = ['date', 'host', 'x-amz-content-sha256'];
  const canonical = canonicalRequest({ method: 'GET', rawPath: '/b/k', rawQuery: '', headers, signedHeaders, payloadHash: 'UNSIGNED-PAYLOAD' });
  const scope = credentialScope('20240506', region);
  const key = hmac(hmac(hmac(hmac(`AWS4${secretAccessKey}`, '20240506'), region), 's3'), 'aws4_request');
  const signature = hmac(key, stringToSign('20240506T070809Z', scope, canonical)).toString('hex');
  const authorization = `AWS4-HMAC-SHA256 Credential=${accessKeyId}/${scope}, SignedHeaders=${signedHeaders.join(';')}, Signature=${signature}`;
  const auth = authenticate({ method: 'GET', rawPath: '/b/k', rawQuery: '', headers: { ...headers, authorization } }, authConfig());
  assert.equal(auth?.amzDate, '20240506T070809Z');
});

test('authenticate - an unsigned x-amz-* header fails with AccessDenied', async () => {
  const req = await signRequest({ method: 'PUT', path: '/b/k', headers: unsigned });
  const err = assertS3Error(() => authenticate({ ...req, headers: { ...req.headers, 'x-amz-copy-source': '/other/key' } }, authConfig()), 'AccessDenied');
  assert.equal(err.extra.HeadersNotSigned, 'x-amz-copy-source');
});

test('authenticate - both header and query auth fail with InvalidArgument', async () => {
  const req = await signRequest({ path: '/b/k', headers: unsigned });
  assertS3Error(() => authenticate({ ...req, rawQuery: 'X-Amz-Signature=abc' }, authConfig()), 'InvalidArgument');
});

test('authenticate - presigned URL from the SDK presigner verifies', async () => {
  const client = new S3Client({ region, endpoint: 'http://localhost:9000', forcePathStyle: true, credentials: { accessKeyId, secretAccessKey } });
  for (const command of [new GetObjectCommand({ Bucket: 'bucket', Key: 'dir/a key+ü' }), new PutObjectCommand({ Bucket: 'bucket', Key: 'k' })]) {
    const url = new URL(await getSignedUrl(client, command, { expiresIn: 600 }));
    const method = command instanceof GetObjectCommand ? 'GET' : 'PUT';
    const req: SignedRequest = { method, rawPath: url.pathname, rawQuery: url.search.slice(1), headers: { host: url.host } };
    const auth = authenticate(req, { ...authConfig(), nowMs: () => Date.now() });
    assert.ok(auth);
    assert.equal(auth.presigned, true);
    assert.deepEqual(auth.payload, { kind: 'unsigned' });
  }
});

test('authenticate - presigned URL expires after X-Amz-Expires', async () => {
  const req = await presignRequest({ path: '/b/k' }, 60);
  const t = signingDate.getTime();
  assert.ok(authenticate(req, authConfig(t + 59_000)));
  const err = assertS3Error(() => authenticate(req, authConfig(t + 61_000)), 'AccessDenied', 'Request has expired');
  assert.equal(err.extra['X-Amz-Expires'], '60');
});

test('authenticate - presigned URL with a tampered query fails with SignatureDoesNotMatch', async () => {
  const req = await presignRequest({ path: '/b/k', query: { versionId: '1' } }, 60);
  assertS3Error(() => authenticate({ ...req, rawQuery: req.rawQuery.replace('versionId=1', 'versionId=2') }, authConfig()), 'SignatureDoesNotMatch');
});

test('authenticate - presigned X-Amz-Expires beyond a week fails with AuthorizationQueryParametersError', async () => {
  const req = await presignRequest({ path: '/b/k' }, 3600);
  const rawQuery = req.rawQuery.replace('X-Amz-Expires=3600', 'X-Amz-Expires=604801');
  assertS3Error(() => authenticate({ ...req, rawQuery }, authConfig()), 'AuthorizationQueryParametersError', /maximum expires is 604800/);
  assertS3Error(() => authenticate({ ...req, rawQuery: req.rawQuery.replace('X-Amz-Expires=3600', 'X-Amz-Expires=soon') }, authConfig()), 'AuthorizationQueryParametersError');
  assertS3Error(() => authenticate({ ...req, rawQuery: req.rawQuery.replace('X-Amz-Expires=3600', 'X-Amz-Expires=-1000') }, authConfig()), 'AuthorizationQueryParametersError', /must be non-negative/);
});

test('authenticate - presigned URL missing a parameter fails with AuthorizationQueryParametersError', async () => {
  const req = await presignRequest({ path: '/b/k' }, 3600);
  const rawQuery = req.rawQuery.split('&').filter((p) => !p.startsWith('X-Amz-SignedHeaders=')).join('&');
  assertS3Error(() => authenticate({ ...req, rawQuery }, authConfig()), 'AuthorizationQueryParametersError');
});

test('authenticate - presigned URL for another region fails with AuthorizationQueryParametersError', async () => {
  const req = await presignRequest({ path: '/b/k' }, 3600);
  const err = assertS3Error(() => authenticate(req, { ...authConfig(), region: 'eu-west-1' }), 'AuthorizationQueryParametersError');
  assert.equal(err.extra.Region, 'eu-west-1');
});

test('authenticate - presigned URL with an added unsigned x-amz-* header fails with AccessDenied', async () => {
  const req = await presignRequest({ method: 'PUT', path: '/b/k' }, 3600);
  const err = assertS3Error(() => authenticate({ ...req, headers: { ...req.headers, 'x-amz-copy-source': '/b/secret' } }, authConfig()), 'AccessDenied');
  assert.equal(err.extra.HeadersNotSigned, 'x-amz-copy-source');
  assert.ok(authenticate({ ...req, headers: { ...req.headers, 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' } }, authConfig()));
});

test('parseAmzDate - takes real calendar times only, as a format-and-compare round trip does', () => {
  const roundTrip = (text: string): number | undefined => {
    const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(text);
    if (!m) return undefined;
    const ms = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6]));
    return formatAmzDate(ms) === text ? ms : undefined;
  };
  const cases = [
    '20130524T000000Z', '20240229T235959Z', '20230229T120000Z', '20240230T000000Z', '20241301T000000Z', '20240001T000000Z',
    '20240100T000000Z', '20240101T240000Z', '20240101T236000Z', '20240101T235960Z', '00990101T000000Z', '01000101T000000Z',
    '99991231T235959Z', '20240101t000000Z', '20240101T000000z', '2024010T1000000Z', '20240101T0000000Z', '2024-101T000000Z',
    '20240101T00000 Z', '２0240101T000000Z', '', '20240101T000000', '+2024010T00000Z',
  ];
  for (const text of cases) assert.equal(parseAmzDate(text), roundTrip(text), text);
  // Again with each date read twice in a row, as a header-signed request reads it (the last one is remembered).
  for (const text of cases) for (let i = 0; i < 2; i++) assert.equal(parseAmzDate(text), roundTrip(text), text);
  assert.equal(parseAmzDate('20130524T000000Z'), Date.UTC(2013, 4, 24));
});

test('authenticate - non-ASCII header values verify whether sent as UTF-8 bytes (botocore) or latin1 bytes (JS SDK)', async () => {
  const text = 'Hello World\u00e9 \u65e5\u672c';
  const req = await signRequest({ path: '/b/k', headers: { ...unsigned, 'x-amz-meta-meta1': text } });
  // Node hands header bytes over as latin1: botocore's UTF-8 bytes arrive one character per byte.
  const utf8Wire = { ...req, headers: { ...req.headers, 'x-amz-meta-meta1': Buffer.from(text, 'utf8').toString('latin1') } };
  assert.ok(authenticate(utf8Wire, authConfig()));
  // The JS SDK sends latin1 text as its latin1 bytes, which arrive as the same characters, and signs their UTF-8.
  const latin = 'caf\u00e9';
  const jsReq = await signRequest({ path: '/b/k', headers: { ...unsigned, 'x-amz-meta-meta1': latin } });
  assert.ok(authenticate(jsReq, authConfig()));
  // A changed value still fails under either reading.
  const changed = { ...req, headers: { ...req.headers, 'x-amz-meta-meta1': Buffer.from('Hello World\u00e8 \u65e5\u672c', 'utf8').toString('latin1') } };
  assert.throws(() => authenticate(changed, authConfig()), (err: unknown) => (err as { code?: string }).code === 'SignatureDoesNotMatch');
});
