// Flexible checksums: every algorithm on a single PUT (headers and SDK trailers), returned on GET and HEAD
// with x-amz-checksum-mode: ENABLED, and multipart composite and full-object checksums. Expected values
// are computed here with other implementations (zlib, @aws-crypto/crc32c, @aws-sdk/crc64-nvme, crypto).
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { crc32 } from 'node:zlib';
import { AwsCrc32c } from '@aws-crypto/crc32c';
import { Crc64Nvme } from '@aws-sdk/crc64-nvme';
import {
  CompleteMultipartUploadCommand, CreateBucketCommand, CreateMultipartUploadCommand, GetObjectCommand, HeadObjectCommand, PutObjectCommand,
  UploadPartCommand, UploadPartCopyCommand, type ChecksumAlgorithm, type CompletedPart,
} from '@aws-sdk/client-s3';
import { startTesseraForFile } from '../helpers/tessera.js';
import { assertS3Error, objectPath, raw, sdkError } from './raw-http.js';

const { server, s3 } = await startTesseraForFile();
const Bucket = 'checksums';
const MiB = 1024 * 1024;
before(() => s3.send(new CreateBucketCommand({ Bucket })));

async function digest(algorithm: ChecksumAlgorithm, data: Buffer): Promise<Buffer> {
  switch (algorithm) {
    case 'CRC32': {
      const out = Buffer.alloc(4);
      out.writeUInt32BE(crc32(data) >>> 0);
      return out;
    }
    case 'CRC32C': {
      const h = new AwsCrc32c();
      h.update(data);
      return Buffer.from(await h.digest());
    }
    case 'CRC64NVME': {
      const h = new Crc64Nvme();
      h.update(data);
      return Buffer.from(await h.digest());
    }
    case 'SHA1': return createHash('sha1').update(data).digest();
    case 'SHA256': return createHash('sha256').update(data).digest();
  }
  throw new Error(`Unknown algorithm ${algorithm}`);
}

const algorithms: ChecksumAlgorithm[] = ['CRC32', 'CRC32C', 'CRC64NVME', 'SHA1', 'SHA256'];
const field = (alg: ChecksumAlgorithm) => `Checksum${alg}` as 'ChecksumCRC32';

test('PutObject checksums - every algorithm is stored and returned on GET and HEAD with checksum mode ENABLED', async () => {
  const bodies = { small: Buffer.from('checksummed body'), large: randomBytes(MiB + 11) };
  for (const algorithm of algorithms) {
    for (const [size, body] of Object.entries(bodies)) {
      const Key = `single/${algorithm}/${size}`;
      const expected = (await digest(algorithm, body)).toString('base64');
      const put = await s3.send(new PutObjectCommand({ Bucket, Key, Body: body, ChecksumAlgorithm: algorithm }));
      assert.equal(put[field(algorithm)], expected, `${Key}: PUT answer`);
      const head = await s3.send(new HeadObjectCommand({ Bucket, Key, ChecksumMode: 'ENABLED' }));
      assert.equal(head[field(algorithm)], expected, `${Key}: HEAD`);
      assert.equal(head.ChecksumType, 'FULL_OBJECT');
      const got = await s3.send(new GetObjectCommand({ Bucket, Key, ChecksumMode: 'ENABLED' }));
      assert.equal(got[field(algorithm)], expected, `${Key}: GET`);
      assert.ok(Buffer.from(await got.Body!.transformToByteArray()).equals(body));
    }
  }
});

test('PutObject checksums - the SDK default stores CRC32; without checksum mode none is returned', async () => {
  const body = Buffer.from('default checksum');
  await s3.send(new PutObjectCommand({ Bucket, Key: 'default', Body: body }));
  const head = await s3.send(new HeadObjectCommand({ Bucket, Key: 'default', ChecksumMode: 'ENABLED' }));
  assert.equal(head.ChecksumCRC32, (await digest('CRC32', body)).toString('base64'));
  const plain = await raw(server, { method: 'HEAD', path: objectPath(Bucket, 'default') });
  assert.equal(plain.headers['x-amz-checksum-crc32'], undefined);
  // A ranged read gets no whole-object checksum.
  const ranged = await raw(server, { path: objectPath(Bucket, 'default'), headers: { range: 'bytes=0-3', 'x-amz-checksum-mode': 'ENABLED' } });
  assert.equal(ranged.status, 206);
  assert.equal(ranged.headers['x-amz-checksum-crc32'], undefined);
});

test('PutObject checksums - a checksum header supplied by the caller is verified', async () => {
  const body = Buffer.from('verified in a header');
  for (const algorithm of algorithms) {
    const value = (await digest(algorithm, body)).toString('base64');
    const put = await s3.send(new PutObjectCommand({ Bucket, Key: `header/${algorithm}`, Body: body, [field(algorithm)]: value }));
    assert.equal(put[field(algorithm)], value);
  }
});

test('PutObject checksums - a wrong x-amz-checksum-* header gets BadDigest and stores nothing', async () => {
  const body = 'the real body';
  for (const algorithm of algorithms) {
    const wrong = (await digest(algorithm, Buffer.from('another body'))).toString('base64');
    const res = await raw(server, { method: 'PUT', path: objectPath(Bucket, `wrong/${algorithm}`), body, headers: { [`x-amz-checksum-${algorithm.toLowerCase()}`]: wrong } });
    assertS3Error(res, 400, 'BadDigest');
    await assert.rejects(s3.send(new HeadObjectCommand({ Bucket, Key: `wrong/${algorithm}` })), sdkError('NotFound', 404));
  }
  await assert.rejects(
    s3.send(new PutObjectCommand({ Bucket, Key: 'wrong/sdk', Body: body, ChecksumCRC32: (await digest('CRC32', Buffer.from('x'))).toString('base64') })),
    sdkError('BadDigest', 400),
  );
});

test('PutObject checksums - a wrong checksum in an aws-chunked trailer gets BadDigest', async () => {
  const data = Buffer.from('trailer checked');
  const wrong = (await digest('CRC32', Buffer.from('nope'))).toString('base64');
  const framed = Buffer.concat([
    Buffer.from(`${data.length.toString(16)}\r\n`), data, Buffer.from('\r\n0\r\n'), Buffer.from(`x-amz-checksum-crc32:${wrong}\r\n\r\n`),
  ]);
  const res = await raw(server, {
    method: 'PUT', path: objectPath(Bucket, 'trailer-wrong'), body: framed, payloadHash: 'STREAMING-UNSIGNED-PAYLOAD-TRAILER',
    headers: { 'content-encoding': 'aws-chunked', 'x-amz-decoded-content-length': String(data.length), 'x-amz-trailer': 'x-amz-checksum-crc32' },
  });
  assertS3Error(res, 400, 'BadDigest');
  await assert.rejects(s3.send(new HeadObjectCommand({ Bucket, Key: 'trailer-wrong' })), sdkError('NotFound', 404));
});

test('PutObject checksums - malformed or repeated checksum headers get InvalidRequest', async () => {
  const body = 'abc';
  const crc = (await digest('CRC32', Buffer.from(body))).toString('base64');
  const sha = (await digest('SHA256', Buffer.from(body))).toString('base64');
  const cases: Record<string, string>[] = [
    { 'x-amz-checksum-crc32': 'not-base64!' },
    { 'x-amz-checksum-crc32': sha }, // the wrong length for CRC32
    { 'x-amz-checksum-crc32': crc, 'x-amz-checksum-sha256': sha },
    { 'x-amz-sdk-checksum-algorithm': 'MD4' },
  ];
  for (const headers of cases) {
    const res = await raw(server, { method: 'PUT', path: objectPath(Bucket, 'malformed-checksum'), body, headers });
    assertS3Error(res, 400, 'InvalidRequest');
  }
  assert.equal((await raw(server, { method: 'PUT', path: objectPath(Bucket, 'fine'), body, headers: { 'x-amz-checksum-crc32': crc } })).status, 200);
});

// ---- Multipart ------------------------------------------------------------------------------------

async function multipart(key: string, algorithm: ChecksumAlgorithm, type: 'COMPOSITE' | 'FULL_OBJECT' | undefined, parts: Buffer[]): Promise<CompletedPart[]> {
  const created = await s3.send(new CreateMultipartUploadCommand({ Bucket, Key: key, ChecksumAlgorithm: algorithm, ...(type ? { ChecksumType: type } : {}) }));
  assert.equal(created.ChecksumAlgorithm, algorithm);
  const completed: CompletedPart[] = [];
  for (const [i, body] of parts.entries()) {
    const out = await s3.send(new UploadPartCommand({ Bucket, Key: key, UploadId: created.UploadId, PartNumber: i + 1, Body: body, ChecksumAlgorithm: algorithm }));
    const value = out[field(algorithm)];
    assert.equal(value, (await digest(algorithm, body)).toString('base64'), `part ${i + 1} checksum`);
    completed.push({ PartNumber: i + 1, ETag: out.ETag!, [field(algorithm)]: value });
  }
  await s3.send(new CompleteMultipartUploadCommand({ Bucket, Key: key, UploadId: created.UploadId, MultipartUpload: { Parts: completed } }));
  return completed;
}

const partA = randomBytes(5 * MiB);
const partB = randomBytes(123_457);

test('Multipart checksums - CRC32 is composite by default: checksum of the part checksums, "-N"', async () => {
  await multipart('mp/crc32', 'CRC32', undefined, [partA, partB]);
  const partDigests = Buffer.concat([await digest('CRC32', partA), await digest('CRC32', partB)]);
  const expected = `${(await digest('CRC32', partDigests)).toString('base64')}-2`;
  const head = await s3.send(new HeadObjectCommand({ Bucket, Key: 'mp/crc32', ChecksumMode: 'ENABLED' }));
  assert.equal(head.ChecksumCRC32, expected);
  assert.equal(head.ChecksumType, 'COMPOSITE');
  const got = await s3.send(new GetObjectCommand({ Bucket, Key: 'mp/crc32', ChecksumMode: 'ENABLED' }));
  assert.equal(got.ChecksumCRC32, expected);
  await got.Body!.transformToByteArray();
});

test('Multipart checksums - SHA256 composite', async () => {
  await multipart('mp/sha256', 'SHA256', 'COMPOSITE', [partA, partB]);
  const partDigests = Buffer.concat([await digest('SHA256', partA), await digest('SHA256', partB)]);
  const head = await s3.send(new HeadObjectCommand({ Bucket, Key: 'mp/sha256', ChecksumMode: 'ENABLED' }));
  assert.equal(head.ChecksumSHA256, `${(await digest('SHA256', partDigests)).toString('base64')}-2`);
});

test('Multipart checksums - CRC64NVME and CRC32 full-object checksums equal the checksum of the whole object', async () => {
  const parts = [partA, Buffer.concat([partB, partA.subarray(0, 77)])];
  const whole = Buffer.concat(parts);
  for (const algorithm of ['CRC64NVME', 'CRC32', 'CRC32C'] as ChecksumAlgorithm[]) {
    const key = `mp/full/${algorithm}`;
    await multipart(key, algorithm, 'FULL_OBJECT', parts);
    const head = await s3.send(new HeadObjectCommand({ Bucket, Key: key, ChecksumMode: 'ENABLED' }));
    assert.equal(head[field(algorithm)], (await digest(algorithm, whole)).toString('base64'), algorithm);
    assert.equal(head.ChecksumType, 'FULL_OBJECT');
  }
});

test('Multipart checksums - CRC64NVME defaults to a full-object checksum', async () => {
  await multipart('mp/crc64-default', 'CRC64NVME', undefined, [partA, partB]);
  const head = await s3.send(new HeadObjectCommand({ Bucket, Key: 'mp/crc64-default', ChecksumMode: 'ENABLED' }));
  assert.equal(head.ChecksumCRC64NVME, (await digest('CRC64NVME', Buffer.concat([partA, partB]))).toString('base64'));
  assert.equal(head.ChecksumType, 'FULL_OBJECT');
});

test('Multipart checksums - GET and HEAD ?partNumber with checksum mode answer the part\'s own checksum and the object\'s type (issue 10)', async () => {
  for (const [algorithm, type] of [['SHA256', 'COMPOSITE'], ['CRC32', 'FULL_OBJECT']] as [ChecksumAlgorithm, 'COMPOSITE' | 'FULL_OBJECT'][]) {
    const key = `mp/parts/${algorithm}`;
    await multipart(key, algorithm, type, [partA, partB]);
    for (const [i, body] of [partA, partB].entries()) {
      const expected = (await digest(algorithm, body)).toString('base64');
      const got = await s3.send(new GetObjectCommand({ Bucket, Key: key, PartNumber: i + 1, ChecksumMode: 'ENABLED' }));
      assert.equal(got[field(algorithm)], expected, `${algorithm} part ${i + 1}`);
      assert.equal(got.ChecksumType, type);
      assert.equal(Buffer.from(await got.Body!.transformToByteArray()).equals(body), true);
      const head = await s3.send(new HeadObjectCommand({ Bucket, Key: key, PartNumber: i + 1, ChecksumMode: 'ENABLED' }));
      assert.equal(head[field(algorithm)], expected);
    }
    const plain = await s3.send(new HeadObjectCommand({ Bucket, Key: key, PartNumber: 1 }));
    assert.equal(plain[field(algorithm)], undefined, 'no checksum without checksum mode');
  }
});

test('Multipart checksums - a part checksum in the completion that differs from the uploaded part is refused', async () => {
  const key = 'mp/wrong-part-checksum';
  const created = await s3.send(new CreateMultipartUploadCommand({ Bucket, Key: key, ChecksumAlgorithm: 'CRC32' }));
  const out = await s3.send(new UploadPartCommand({ Bucket, Key: key, UploadId: created.UploadId, PartNumber: 1, Body: 'part', ChecksumAlgorithm: 'CRC32' }));
  await assert.rejects(
    s3.send(new CompleteMultipartUploadCommand({
      Bucket, Key: key, UploadId: created.UploadId, MultipartUpload: { Parts: [{ PartNumber: 1, ETag: out.ETag, ChecksumCRC32: 'AAAAAA==' }] },
    })),
    sdkError('InvalidPart', 400),
  );
});

test('Multipart checksums - a wrong full-object checksum on CompleteMultipartUpload gets BadDigest', async () => {
  const key = 'mp/wrong-full';
  const created = await s3.send(new CreateMultipartUploadCommand({ Bucket, Key: key, ChecksumAlgorithm: 'CRC64NVME', ChecksumType: 'FULL_OBJECT' }));
  const out = await s3.send(new UploadPartCommand({ Bucket, Key: key, UploadId: created.UploadId, PartNumber: 1, Body: 'only', ChecksumAlgorithm: 'CRC64NVME' }));
  const parts = [{ PartNumber: 1, ETag: out.ETag, ChecksumCRC64NVME: out.ChecksumCRC64NVME }];
  await assert.rejects(
    s3.send(new CompleteMultipartUploadCommand({
      Bucket, Key: key, UploadId: created.UploadId, MultipartUpload: { Parts: parts }, ChecksumType: 'FULL_OBJECT',
      ChecksumCRC64NVME: (await digest('CRC64NVME', Buffer.from('different'))).toString('base64'),
    })),
    sdkError('BadDigest', 400),
  );
  await assert.rejects(s3.send(new HeadObjectCommand({ Bucket, Key: key })), sdkError('NotFound', 404));
  const right = (await digest('CRC64NVME', Buffer.from('only'))).toString('base64');
  const done = await s3.send(new CompleteMultipartUploadCommand({
    Bucket, Key: key, UploadId: created.UploadId, MultipartUpload: { Parts: parts }, ChecksumType: 'FULL_OBJECT', ChecksumCRC64NVME: right,
  }));
  assert.equal(done.ChecksumCRC64NVME, right);
});

test('Multipart checksums - UploadPartCopy parts get the upload checksum, so the object has one', async () => {
  const source = Buffer.concat([partA, partB]);
  await s3.send(new PutObjectCommand({ Bucket, Key: 'mp/copy-source', Body: source }));
  const key = 'mp/copied';
  const created = await s3.send(new CreateMultipartUploadCommand({ Bucket, Key: key, ChecksumAlgorithm: 'CRC32' }));
  const ranges: [number, number][] = [[0, partA.length - 1], [partA.length, source.length - 1]];
  const parts: CompletedPart[] = [];
  for (const [i, [start, end]] of ranges.entries()) {
    const out = await s3.send(new UploadPartCopyCommand({
      Bucket, Key: key, UploadId: created.UploadId, PartNumber: i + 1, CopySource: `${Bucket}/mp/copy-source`, CopySourceRange: `bytes=${start}-${end}`,
    }));
    assert.equal(out.CopyPartResult?.ChecksumCRC32, (await digest('CRC32', source.subarray(start, end + 1))).toString('base64'));
    parts.push({ PartNumber: i + 1, ETag: out.CopyPartResult!.ETag!, ChecksumCRC32: out.CopyPartResult!.ChecksumCRC32! });
  }
  await s3.send(new CompleteMultipartUploadCommand({ Bucket, Key: key, UploadId: created.UploadId, MultipartUpload: { Parts: parts } }));
  const partDigests = Buffer.concat([await digest('CRC32', partA), await digest('CRC32', partB)]);
  const head = await s3.send(new HeadObjectCommand({ Bucket, Key: key, ChecksumMode: 'ENABLED' }));
  assert.equal(head.ChecksumCRC32, `${(await digest('CRC32', partDigests)).toString('base64')}-2`);
});

test('Multipart checksums - a part sent with another algorithm than the upload\'s gets InvalidRequest', async () => {
  const key = 'mp/algorithm-mismatch';
  const created = await s3.send(new CreateMultipartUploadCommand({ Bucket, Key: key, ChecksumAlgorithm: 'CRC32C' }));
  await assert.rejects(
    s3.send(new UploadPartCommand({ Bucket, Key: key, UploadId: created.UploadId, PartNumber: 1, Body: 'x', ChecksumAlgorithm: 'SHA1' })),
    sdkError('InvalidRequest', 400),
  );
  const ok = await s3.send(new UploadPartCommand({ Bucket, Key: key, UploadId: created.UploadId, PartNumber: 1, Body: 'x', ChecksumAlgorithm: 'CRC32C' }));
  assert.equal(ok.ChecksumCRC32C, (await digest('CRC32C', Buffer.from('x'))).toString('base64'));
});
