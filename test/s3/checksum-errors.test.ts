// The errors of flexible checksums (issue 10): a value that does not match the body is 400 BadDigest with
// AWS's "The <ALG> you specified did not match the calculated checksum." for every algorithm, as a header
// and as an aws-chunked trailer; a value that is not base64 of the digest's size is 400 InvalidRequest.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { CreateBucketCommand, HeadObjectCommand } from '@aws-sdk/client-s3';
import { startTesseraForFile } from '../helpers/tessera.js';
import { assertS3Error, md5Base64, objectPath, raw, sdkError, type RawResponse } from './raw-http.js';

const { server, s3 } = await startTesseraForFile();
const Bucket = 'checksum-errors';
before(() => s3.send(new CreateBucketCommand({ Bucket })));

const digestBytes = { CRC32: 4, CRC32C: 4, CRC64NVME: 8, SHA1: 20, SHA256: 32 } as const;
type Algorithm = keyof typeof digestBytes;
const algorithms = Object.keys(digestBytes) as Algorithm[];
const data = Buffer.from('the body the checksum is checked against');

/** Right size, wrong value: no checksum of `data` is all zero bytes. */
function wrongValue(alg: Algorithm): string {
  return Buffer.alloc(digestBytes[alg]).toString('base64');
}

function putWithHeader(key: string, alg: Algorithm, value: string): Promise<RawResponse> {
  return raw(server, { method: 'PUT', path: objectPath(Bucket, key), body: data, headers: { [`x-amz-checksum-${alg.toLowerCase()}`]: value } });
}

function putWithTrailer(key: string, alg: Algorithm, value: string): Promise<RawResponse> {
  const name = `x-amz-checksum-${alg.toLowerCase()}`;
  const framed = Buffer.concat([Buffer.from(`${data.length.toString(16)}\r\n`), data, Buffer.from(`\r\n0\r\n${name}:${value}\r\n\r\n`)]);
  return raw(server, {
    method: 'PUT', path: objectPath(Bucket, key), body: framed, payloadHash: 'STREAMING-UNSIGNED-PAYLOAD-TRAILER',
    headers: { 'content-encoding': 'aws-chunked', 'x-amz-decoded-content-length': String(data.length), 'x-amz-trailer': name },
  });
}

async function assertAbsent(key: string): Promise<void> {
  await assert.rejects(s3.send(new HeadObjectCommand({ Bucket, Key: key })), sdkError('NotFound', 404));
}

test('checksum errors - a wrong checksum header or trailer is BadDigest with AWS\'s message for every algorithm', async () => {
  for (const alg of algorithms) {
    for (const [where, put] of [['header', putWithHeader], ['trailer', putWithTrailer]] as const) {
      const key = `wrong/${where}/${alg}`;
      const body = assertS3Error(await put(key, alg, wrongValue(alg)), 400, 'BadDigest');
      assert.equal(body.Message, `The ${alg} you specified did not match the calculated checksum.`, `${alg} ${where}`);
      await assertAbsent(key);
    }
  }
});

test('checksum errors - a checksum that is not base64 of the digest size is InvalidRequest, not BadDigest', async () => {
  // ceph/s3-tests test_object_checksum_sha256 expects BadDigest for "bad"; AWS answers InvalidRequest.
  for (const alg of algorithms) {
    const name = `x-amz-checksum-${alg.toLowerCase()}`;
    for (const value of ['bad', 'AAAA', Buffer.alloc(digestBytes[alg] + 1).toString('base64')]) {
      const inHeader = assertS3Error(await putWithHeader(`malformed/${alg}`, alg, value), 400, 'InvalidRequest');
      assert.equal(inHeader.Message, `Value for ${name} header is invalid.`);
      const inTrailer = assertS3Error(await putWithTrailer(`malformed/${alg}`, alg, value), 400, 'InvalidRequest');
      assert.equal(inTrailer.Message, `Value for ${name} trailing header is invalid.`);
    }
    await assertAbsent(`malformed/${alg}`);
  }
});

test('checksum errors - a Content-MD5 that does not match the body stays BadDigest', async () => {
  const res = await raw(server, { method: 'PUT', path: objectPath(Bucket, 'md5'), body: data, headers: { 'content-md5': md5Base64('another body') } });
  assertS3Error(res, 400, 'BadDigest');
  await assertAbsent('md5');
});
