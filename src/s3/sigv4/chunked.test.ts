import { test } from 'node:test';
import { createHash, randomBytes } from 'node:crypto';
import assert from 'node:assert/strict';
import type { IncomingHttpHeaders } from 'node:http';
import { Readable } from 'node:stream';
import { checksumOf } from '../../util/checksum.js';
import { S3Error, type S3ErrorCode } from '../errors.js';
import { authenticate, type AuthContext, type SignedRequest } from './authenticate.js';
import { credentialScope, emptySha256Hex, sha256Hex } from './canonical.js';
import { decodePayload, verifyChunkedHeaders, type PayloadStream } from './chunked.js';
import { hmac } from './signing-key.js';
import { accessKeyId, authConfig, secretAccessKey, signRequest } from './test-signer.js';

// ---- helpers -------------------------------------------------------------------------------------

async function collect(stream: AsyncIterable<unknown>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const part of stream) parts.push(part as Buffer);
  return Buffer.concat(parts);
}

/** The stream errors with `code` before its end: a consumer that commits on a clean end never commits. */
async function rejectsWith(stream: AsyncIterable<unknown>, code: S3ErrorCode, message?: RegExp): Promise<void> {
  await assert.rejects(collect(stream), (err: unknown) => {
    assert.ok(err instanceof S3Error, `expected S3Error ${code}, got ${String(err)}`);
    assert.equal(err.code, code, err.message);
    if (message) assert.match(err.message, message);
    return true;
  });
}

function source(body: Buffer, pieceBytes = body.length || 1): Readable {
  const pieces: Buffer[] = [];
  for (let o = 0; o < body.length; o += pieceBytes) pieces.push(body.subarray(o, o + pieceBytes));
  return Readable.from(pieces, { objectMode: false });
}

interface Signing { signingKey: Buffer; amzDate: string; scope: string; seedSignature: string }

function signingOf(auth: AuthContext): Signing {
  return { signingKey: auth.signingKey, amzDate: auth.amzDate, scope: credentialScope(auth.scopeDate, auth.region), seedSignature: auth.seedSignature };
}

function chunkSignature(s: Signing, previous: string, data: Buffer): string {
  return hmac(s.signingKey, `AWS4-HMAC-SHA256-PAYLOAD\n${s.amzDate}\n${s.scope}\n${previous}\n${emptySha256Hex}\n${sha256Hex(data)}`).toString('hex');
}

/** A STREAMING-AWS4-HMAC-SHA256-PAYLOAD[-TRAILER] body, built from the spec. */
function signedChunkedBody(s: Signing, chunks: Buffer[], trailers?: Record<string, string>): Buffer {
  const out: Buffer[] = [];
  let previous = s.seedSignature;
  for (const data of [...chunks, Buffer.alloc(0)]) {
    previous = chunkSignature(s, previous, data);
    out.push(Buffer.from(`${data.length.toString(16)};chunk-signature=${previous}\r\n`), data);
    if (data.length > 0 || !trailers) out.push(Buffer.from('\r\n'));
  }
  if (trailers) {
    const canonical = Object.entries(trailers).map(([n, v]) => `${n}:${v}\n`).join('');
    const signature = hmac(s.signingKey, `AWS4-HMAC-SHA256-TRAILER\n${s.amzDate}\n${s.scope}\n${previous}\n${sha256Hex(canonical)}`).toString('hex');
    out.push(Buffer.from(`${canonical.replace(/\n/g, '\r\n')}x-amz-trailer-signature:${signature}\r\n\r\n`));
  }
  return Buffer.concat(out);
}

/** A STREAMING-UNSIGNED-PAYLOAD-TRAILER body, as the JS SDK v3 writes it. */
function unsignedChunkedBody(chunks: Buffer[], trailers: Record<string, string> = {}): Buffer {
  const out: Buffer[] = [];
  for (const data of chunks) out.push(Buffer.from(`${data.length.toString(16)}\r\n`), data, Buffer.from('\r\n'));
  out.push(Buffer.from('0\r\n'));
  for (const [n, v] of Object.entries(trailers)) out.push(Buffer.from(`${n}:${v}\r\n`));
  out.push(Buffer.from('\r\n'));
  return Buffer.concat(out);
}

// ---- the AWS published example ("Transferring Payload in Multiple Chunks") -----------------------

const awsSeed = '4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9';
const awsChunkSignatures = [
  'ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648',
  '0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497',
  'b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9',
];
const awsPayload = Buffer.alloc(66560, 'a');

const awsRequest: SignedRequest = {
  method: 'PUT', rawPath: '/examplebucket/chunkObject.txt', rawQuery: '',
  headers: {
    host: 's3.amazonaws.com', 'x-amz-date': '20130524T000000Z', 'x-amz-storage-class': 'REDUCED_REDUNDANCY',
    'x-amz-content-sha256': 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD', 'content-encoding': 'aws-chunked',
    'x-amz-decoded-content-length': '66560', 'content-length': '66824',
    authorization: `AWS4-HMAC-SHA256 Credential=${accessKeyId}/20130524/us-east-1/s3/aws4_request,SignedHeaders=content-encoding;content-length;host;x-amz-content-sha256;x-amz-date;x-amz-decoded-content-length;x-amz-storage-class,Signature=${awsSeed}`,
  },
};

function awsAuth(): AuthContext {
  const auth = authenticate(awsRequest, authConfig(Date.UTC(2013, 4, 24)));
  assert.ok(auth);
  return auth;
}

function awsChunks(): Buffer[] {
  return [awsPayload.subarray(0, 65536), awsPayload.subarray(65536), Buffer.alloc(0)];
}

function awsBody(chunks = awsChunks(), signatures = awsChunkSignatures): Buffer {
  const parts = chunks.flatMap((data, i) => [Buffer.from(`${data.length.toString(16)};chunk-signature=${signatures[i]}\r\n`), data, Buffer.from('\r\n')]);
  return Buffer.concat(parts);
}

test('decodePayload - AWS example: seed signature authenticates and chunk signatures match', async () => {
  const auth = awsAuth();
  assert.equal(auth.seedSignature, awsSeed);
  assert.equal(awsBody().length, 66824);
  // Our test signer agrees with AWS's published chunk signatures.
  let previous = awsSeed;
  awsChunks().forEach((data, i) => {
    previous = chunkSignature(signingOf(auth), previous, data);
    assert.equal(previous, awsChunkSignatures[i]);
  });
  assert.deepEqual(await collect(decodePayload(source(awsBody()), auth, awsRequest.headers)), awsPayload);
});

test('decodePayload - AWS example split into 1-byte pieces still decodes', async () => {
  const out = await collect(decodePayload(source(awsBody(), 1), awsAuth(), awsRequest.headers));
  assert.deepEqual(out, awsPayload);
});

test('decodePayload - AWS example split at odd sizes still decodes', async () => {
  for (const size of [2, 3, 7, 4093, 65537]) {
    assert.deepEqual(await collect(decodePayload(source(awsBody(), size), awsAuth(), awsRequest.headers)), awsPayload, `pieces of ${size}`);
  }
});

test('decodePayload - a flipped data byte fails with SignatureDoesNotMatch', async () => {
  const body = awsBody();
  body[100] ^= 1;
  await rejectsWith(decodePayload(source(body, 4096), awsAuth(), awsRequest.headers), 'SignatureDoesNotMatch');
});

test('decodePayload - reordered chunks fail with SignatureDoesNotMatch', async () => {
  const [a, b, end] = awsChunks();
  const [sa, sb, send] = awsChunkSignatures;
  const body = awsBody([b!, a!, end!], [sb!, sa!, send!]);
  await rejectsWith(decodePayload(source(body), awsAuth(), awsRequest.headers), 'SignatureDoesNotMatch');
});

test('decodePayload - a wrong final chunk signature fails with SignatureDoesNotMatch', async () => {
  const body = awsBody(awsChunks(), [awsChunkSignatures[0]!, awsChunkSignatures[1]!, awsChunkSignatures[0]!]);
  await rejectsWith(decodePayload(source(body), awsAuth(), awsRequest.headers), 'SignatureDoesNotMatch');
});

test('decodePayload - a truncated chunked body fails with IncompleteBody', async () => {
  const body = awsBody();
  for (const cut of [10, 66_000, body.length - 90, body.length - 1]) {
    await rejectsWith(decodePayload(source(body.subarray(0, cut)), awsAuth(), awsRequest.headers), 'IncompleteBody');
  }
});

test('decodePayload - a missing final CRLF is tolerated', async () => {
  const body = awsBody();
  const out = await collect(decodePayload(source(body.subarray(0, body.length - 2)), awsAuth(), awsRequest.headers));
  assert.deepEqual(out, awsPayload);
});

test('decodePayload - data after the final chunk fails with InvalidRequest', async () => {
  const body = Buffer.concat([awsBody(), Buffer.from('x')]);
  await rejectsWith(decodePayload(source(body), awsAuth(), awsRequest.headers), 'InvalidRequest');
});

test('decodePayload - x-amz-decoded-content-length mismatch fails with IncompleteBody', async () => {
  for (const length of ['66559', '66561']) {
    const headers = { ...awsRequest.headers, 'x-amz-decoded-content-length': length };
    await rejectsWith(decodePayload(source(awsBody()), awsAuth(), headers), 'IncompleteBody');
  }
});

// ---- framing errors ------------------------------------------------------------------------------

const unsignedTrailerHeaders: IncomingHttpHeaders = {
  'x-amz-content-sha256': 'STREAMING-UNSIGNED-PAYLOAD-TRAILER', 'content-encoding': 'aws-chunked', 'x-amz-decoded-content-length': '11',
};

test('decodePayload - a non-hex chunk size fails with InvalidRequest', async () => {
  const body = Buffer.from('zz\r\nhello world\r\n0\r\n\r\n');
  await rejectsWith(decodePayload(source(body), null, unsignedTrailerHeaders), 'InvalidRequest', /not hexadecimal/);
});

test('decodePayload - a size line without CRLF fails with InvalidRequest', async () => {
  const body = Buffer.from('b\nhello world\r\n0\r\n\r\n');
  await rejectsWith(decodePayload(source(body), null, unsignedTrailerHeaders), 'InvalidRequest');
});

test('decodePayload - chunk data not followed by CRLF fails with InvalidRequest', async () => {
  const body = Buffer.from('b\r\nhello worldXX0\r\n\r\n');
  await rejectsWith(decodePayload(source(body), null, unsignedTrailerHeaders), 'InvalidRequest', /CRLF/);
});

test('decodePayload - an endless size line fails with InvalidRequest without buffering it', async () => {
  const body = Buffer.alloc(1024 * 1024, '0');
  await rejectsWith(decodePayload(source(body, 1000), null, unsignedTrailerHeaders), 'InvalidRequest', /too long/);
});

test('decodePayload - a chunk over 16 MiB fails with InvalidRequest', async () => {
  const body = Buffer.from('1000001\r\nabc');
  await rejectsWith(decodePayload(source(body), null, unsignedTrailerHeaders), 'InvalidRequest', /exceeds/);
});

test('decodePayload - an empty chunked body fails with IncompleteBody', async () => {
  await rejectsWith(decodePayload(source(Buffer.alloc(0)), null, unsignedTrailerHeaders), 'IncompleteBody');
});

test('verifyChunkedHeaders - aws-chunked without x-amz-decoded-content-length fails with MissingContentLength', () => {
  const { 'x-amz-decoded-content-length': _dropped, ...headers } = unsignedTrailerHeaders;
  assert.throws(() => verifyChunkedHeaders(headers, { kind: 'streaming-unsigned-trailer' }), (err: unknown) => err instanceof S3Error && err.code === 'MissingContentLength' && err.httpStatus === 411);
  assert.throws(() => decodePayload(source(Buffer.alloc(0)), null, headers), (err: unknown) => err instanceof S3Error && err.code === 'MissingContentLength');
  assert.equal(verifyChunkedHeaders(unsignedTrailerHeaders, { kind: 'streaming-unsigned-trailer' }), 11);
  assert.equal(verifyChunkedHeaders({}, { kind: 'unsigned' }), undefined);
});

// ---- trailers and checksums ----------------------------------------------------------------------

const hello = Buffer.from('hello world');
const helloCrc32 = checksumOf('CRC32', hello).toString('base64');

test('decodePayload - unsigned trailer with a valid x-amz-checksum-crc32 decodes and exposes it', async () => {
  const headers = { ...unsignedTrailerHeaders, 'x-amz-trailer': 'x-amz-checksum-crc32' };
  const body = unsignedChunkedBody([hello], { 'x-amz-checksum-crc32': helloCrc32 });
  for (const pieceBytes of [1, 3, body.length]) {
    const stream: PayloadStream = decodePayload(source(body, pieceBytes), null, headers);
    assert.equal(stream.checksum?.algorithm, 'CRC32');
    assert.equal(stream.checksum?.valueBase64(), undefined, 'no value before the end');
    assert.deepEqual(await collect(stream), hello);
    assert.equal(stream.checksum?.valueBase64(), helloCrc32);
  }
});

test('decodePayload - unsigned trailer with a corrupted checksum fails with BadDigest', async () => {
  const headers = { ...unsignedTrailerHeaders, 'x-amz-trailer': 'x-amz-checksum-crc32' };
  const wrong = checksumOf('CRC32', Buffer.from('hello world!')).toString('base64');
  const body = unsignedChunkedBody([hello], { 'x-amz-checksum-crc32': wrong });
  await rejectsWith(decodePayload(source(body), null, headers), 'BadDigest', /^The CRC32 you specified did not match the calculated checksum\.$/);
  const corrupted = Buffer.from(unsignedChunkedBody([hello], { 'x-amz-checksum-crc32': helloCrc32 }));
  corrupted[5] ^= 0x20; // a payload byte
  await rejectsWith(decodePayload(source(corrupted), null, headers), 'BadDigest');
});

test('decodePayload - unsigned trailer missing its declared checksum fails with InvalidRequest', async () => {
  const headers = { ...unsignedTrailerHeaders, 'x-amz-trailer': 'x-amz-checksum-crc32' };
  await rejectsWith(decodePayload(source(unsignedChunkedBody([hello])), null, headers), 'InvalidRequest', /no x-amz-checksum-crc32 trailer/);
});

test('decodePayload - a trailer checksum that is not valid base64 of the digest fails with InvalidRequest', async () => {
  const headers = { ...unsignedTrailerHeaders, 'x-amz-trailer': 'x-amz-checksum-crc32' };
  const body = unsignedChunkedBody([hello], { 'x-amz-checksum-crc32': 'AAAA' });
  await rejectsWith(decodePayload(source(body), null, headers), 'InvalidRequest');
});

test('decodePayload - signed trailer verifies chunk and trailer signatures', async () => {
  const req = await signRequest({ method: 'PUT', path: '/b/k', headers: {
    'x-amz-content-sha256': 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER', 'content-encoding': 'aws-chunked',
    'x-amz-decoded-content-length': '11', 'x-amz-trailer': 'x-amz-checksum-crc32c',
  } });
  const auth = authenticate(req, authConfig());
  assert.ok(auth);
  const crc32c = checksumOf('CRC32C', hello).toString('base64');
  const body = signedChunkedBody(signingOf(auth), [hello], { 'x-amz-checksum-crc32c': crc32c });
  const stream = decodePayload(source(body, 5), auth, req.headers);
  assert.deepEqual(await collect(stream), hello);
  assert.equal(stream.checksum?.valueBase64(), crc32c);

  const tampered = Buffer.from(body.toString('latin1').replace(crc32c, checksumOf('CRC32C', Buffer.from('x')).toString('base64')), 'latin1');
  await rejectsWith(decodePayload(source(tampered), auth, req.headers), 'SignatureDoesNotMatch');
  const unsignedTrailer = Buffer.from(body.toString('latin1').replace(/x-amz-trailer-signature:[0-9a-f]+\r\n/, ''), 'latin1');
  await rejectsWith(decodePayload(source(unsignedTrailer), auth, req.headers), 'InvalidRequest', /x-amz-trailer-signature/);
});

test('decodePayload - signed streaming without trailer from the test signer decodes many chunks', async () => {
  const payload = Buffer.from(Array.from({ length: 200_000 }, (_, i) => i % 251));
  const req = await signRequest({ method: 'PUT', path: '/b/k', headers: {
    'x-amz-content-sha256': 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD', 'content-encoding': 'aws-chunked', 'x-amz-decoded-content-length': String(payload.length),
  } });
  const auth = authenticate(req, authConfig());
  assert.ok(auth);
  const chunks = [payload.subarray(0, 65536), payload.subarray(65536, 131072), payload.subarray(131072)];
  const out = await collect(decodePayload(source(signedChunkedBody(signingOf(auth), chunks), 1500), auth, req.headers));
  assert.deepEqual(out, payload);
});

test('decodePayload - a chunk under 8 KiB that is not the last fails with InvalidChunkSizeError, signed or not', async () => {
  const big = Buffer.alloc(8192, 'b');
  const req = await signRequest({ method: 'PUT', path: '/b/k', headers: {
    'x-amz-content-sha256': 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD', 'content-encoding': 'aws-chunked', 'x-amz-decoded-content-length': String(big.length + 5),
  } });
  const auth = authenticate(req, authConfig());
  assert.ok(auth);
  const small = [hello.subarray(0, 3), hello.subarray(3, 5)];
  await rejectsWith(decodePayload(source(signedChunkedBody(signingOf(auth), [...small, big])), auth, req.headers), 'InvalidChunkSizeError');
  // The last data chunk may be small, and so may a single one.
  assert.deepEqual(await collect(decodePayload(source(signedChunkedBody(signingOf(auth), [big, hello.subarray(0, 5)])), auth, req.headers)), Buffer.concat([big, hello.subarray(0, 5)]));
  const unsigned = { ...unsignedTrailerHeaders, 'x-amz-decoded-content-length': '2000' };
  const thousand = Buffer.alloc(1000, 'a');
  const err = await collect(decodePayload(source(unsignedChunkedBody([thousand, thousand])), null, unsigned)).catch((e: unknown) => e);
  assert.ok(err instanceof S3Error && err.code === 'InvalidChunkSizeError', String(err));
  assert.deepEqual(err.extra, { Chunk: '2', BadChunkSize: '1000' });
  assert.equal(err.httpStatus, 403);
});

// ---- non-chunked payloads -----------------------------------------------------------------------------

test('decodePayload - signed payload hash mismatch fails with XAmzContentSHA256Mismatch before the end', async () => {
  const auth = { ...awsAuth(), payload: { kind: 'signed' as const, sha256Hex: sha256Hex('hello world') } };
  assert.deepEqual(await collect(decodePayload(source(hello), auth, {})), hello);
  await rejectsWith(decodePayload(source(Buffer.from('hello there')), auth, {}), 'XAmzContentSHA256Mismatch');
});

test('decodePayload - a signed payload whose check is deferred ends unchecked, then checks and yields its MD5, on and off the hashing thread', async () => {
  for (const body of [hello, randomBytes(600 * 1024)]) {
    const auth = { ...awsAuth(), payload: { kind: 'signed' as const, sha256Hex: sha256Hex(body) } };
    const stream = decodePayload(source(body, 64 * 1024), auth, { 'content-length': String(body.length) });
    const check = stream.deferPayloadCheck!();
    assert.deepEqual(await collect(stream), body);
    assert.deepEqual(await check.digest(), createHash('md5').update(body).digest());
    check.dispose();
    // The same body under another signed hash: the stream still ends cleanly, and the check rejects.
    const wrong = { ...auth, payload: { kind: 'signed' as const, sha256Hex: sha256Hex(Buffer.concat([body, hello])) } };
    const tampered = decodePayload(source(body, 64 * 1024), wrong, { 'content-length': String(body.length) });
    const failing = tampered.deferPayloadCheck!();
    assert.deepEqual(await collect(tampered), body);
    await assert.rejects(failing.digest(), (err: unknown) => err instanceof S3Error && err.code === 'XAmzContentSHA256Mismatch');
    failing.dispose();
  }
  assert.equal(decodePayload(source(hello), null, {}).deferPayloadCheck, undefined, 'only the signed mode hashes the payload here');
});

test('decodePayload - a signed check can be deferred only before the body is read', async () => {
  const auth = { ...awsAuth(), payload: { kind: 'signed' as const, sha256Hex: sha256Hex(hello) } };
  const stream = decodePayload(source(hello), auth, {});
  assert.deepEqual(await collect(stream), hello);
  assert.throws(() => stream.deferPayloadCheck!());
});

test('decodePayload - x-amz-checksum header is verified for an unsigned payload', async () => {
  const headers = { 'x-amz-checksum-crc64nvme': checksumOf('CRC64NVME', hello).toString('base64') };
  const stream = decodePayload(source(hello, 4), null, headers);
  assert.deepEqual(await collect(stream), hello);
  assert.equal(stream.checksum?.algorithm, 'CRC64NVME');
  assert.equal(stream.checksum?.valueBase64(), headers['x-amz-checksum-crc64nvme']);
  await rejectsWith(decodePayload(source(Buffer.from('hello World')), null, headers), 'BadDigest', /CRC64NVME/);
});

test('decodePayload - x-amz-sdk-checksum-algorithm alone computes without verifying', async () => {
  const stream = decodePayload(source(hello), null, { 'x-amz-sdk-checksum-algorithm': 'sha256' });
  assert.deepEqual(await collect(stream), hello);
  assert.equal(stream.checksum?.algorithm, 'SHA256');
  assert.equal(stream.checksum?.valueBase64(), checksumOf('SHA256', hello).toString('base64'));
});

test('decodePayload - no checksum headers means no checksum property', async () => {
  const stream = decodePayload(source(hello), null, {});
  assert.equal(stream.checksum, undefined);
  assert.deepEqual(await collect(stream), hello);
});

test('decodePayload - bad checksum headers throw InvalidRequest at once', () => {
  const crc = checksumOf('CRC32', hello).toString('base64');
  const cases: IncomingHttpHeaders[] = [
    { 'x-amz-checksum-crc32': crc, 'x-amz-checksum-sha1': checksumOf('SHA1', hello).toString('base64') },
    { 'x-amz-checksum-crc32': 'not base64!' },
    { 'x-amz-checksum-crc32': checksumOf('SHA1', hello).toString('base64') },
    { 'x-amz-sdk-checksum-algorithm': 'MD5' },
    { 'x-amz-checksum-crc32': crc, 'x-amz-sdk-checksum-algorithm': 'CRC32C' },
    { 'x-amz-trailer': 'x-amz-checksum-crc32' }, // a trailer needs a trailer payload mode
    { ...unsignedTrailerHeaders, 'x-amz-trailer': 'x-amz-checksum-crc32', 'x-amz-checksum-crc32': crc },
  ];
  for (const headers of cases) {
    assert.throws(() => decodePayload(source(hello), null, headers), (err: unknown) => err instanceof S3Error && err.code === 'InvalidRequest', JSON.stringify(headers));
  }
});

test('decodePayload - Content-Length shortfall fails with IncompleteBody', async () => {
  await rejectsWith(decodePayload(source(hello), null, { 'content-length': '12' }), 'IncompleteBody');
});

test('decodePayload - a decoding error leaves the body undestroyed so the error can be sent', async () => {
  const body = new Readable({ read() {} });
  body.push(Buffer.from('zz\r\n'));
  await rejectsWith(decodePayload(body, null, unsignedTrailerHeaders), 'InvalidRequest');
  assert.equal(body.destroyed, false);
  body.destroy();
});

test('decodePayload - signed streaming payload without auth throws InvalidRequest', () => {
  const headers = { ...awsRequest.headers };
  delete headers.authorization;
  assert.throws(() => decodePayload(source(awsBody()), null, headers), (err: unknown) => err instanceof S3Error && err.code === 'InvalidRequest');
});

test('decodePayload - secret never appears in any error', async () => {
  const body = awsBody();
  body[66_000] ^= 1;
  await assert.rejects(collect(decodePayload(source(body), awsAuth(), awsRequest.headers)), (err: unknown) => {
    assert.ok(err instanceof S3Error);
    assert.ok(!JSON.stringify({ m: err.message, e: err.extra }).includes(secretAccessKey));
    return true;
  });
});
