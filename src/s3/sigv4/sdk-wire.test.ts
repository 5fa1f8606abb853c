// The real AWS SDK v3 against a bare HTTP server that only authenticates and decodes payloads:
// proves the wire formats the SDK actually sends (aws-chunked with trailers, checksum headers).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { S3Client, PutObjectCommand, ListObjectsV2Command, type ChecksumAlgorithm } from '@aws-sdk/client-s3';
import { checksumHeaderName } from '../../util/checksum.js';
import { S3Error, toS3Error } from '../errors.js';
import { authenticate } from './authenticate.js';
import { decodePayload } from './chunked.js';
import { accessKeyId, authConfig, region, secretAccessKey } from './test-signer.js';

interface Seen { method: string; contentSha256: string | undefined; body: Buffer; checksum?: string }

let server: Server;
let client: S3Client;
const seen: Seen[] = [];

async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = req.url ?? '/';
  const q = url.indexOf('?');
  try {
    const signed = { method: req.method ?? 'GET', rawPath: q < 0 ? url : url.slice(0, q), rawQuery: q < 0 ? '' : url.slice(q + 1), headers: req.headers };
    const auth = authenticate(signed, { ...authConfig(), nowMs: () => Date.now() });
    assert.ok(auth, 'the SDK signs every request');
    const payload = decodePayload(req, auth, req.headers);
    const parts: Buffer[] = [];
    for await (const part of payload) parts.push(part as Buffer);
    const checksum = payload.checksum?.valueBase64();
    seen.push({ method: signed.method, contentSha256: req.headers['x-amz-content-sha256'] as string | undefined, body: Buffer.concat(parts), checksum });
    if (payload.checksum && checksum) res.setHeader(checksumHeaderName(payload.checksum.algorithm), checksum);
    if (signed.method === 'GET') {
      res.setHeader('content-type', 'application/xml');
      res.end('<?xml version="1.0" encoding="UTF-8"?><ListBucketResult><Name>b</Name><KeyCount>0</KeyCount><IsTruncated>false</IsTruncated></ListBucketResult>');
      return;
    }
    res.setHeader('etag', '"0"');
    res.end();
  } catch (err) {
    const s3 = err instanceof S3Error ? err : toS3Error(err);
    res.statusCode = s3.httpStatus;
    res.setHeader('content-type', 'application/xml');
    res.end(`<?xml version="1.0" encoding="UTF-8"?><Error><Code>${s3.code}</Code><Message>${s3.message}</Message></Error>`);
  }
}

before(async () => {
  server = createServer((req, res) => void handle(req, res));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  client = new S3Client({ region, endpoint: `http://127.0.0.1:${port}`, forcePathStyle: true, credentials: { accessKeyId, secretAccessKey }, maxAttempts: 1 });
});

after(async () => {
  client.destroy();
  await new Promise((resolve) => server.close(resolve));
});

const payload = Buffer.from(Array.from({ length: 300_000 }, (_, i) => (i * 7) % 256));

test('sdk wire - PutObject with a Buffer body and each checksum algorithm verifies', async () => {
  for (const alg of ['CRC32', 'CRC32C', 'CRC64NVME', 'SHA1', 'SHA256'] as ChecksumAlgorithm[]) {
    seen.length = 0;
    const out = await client.send(new PutObjectCommand({ Bucket: 'b', Key: 'dir/a key+ü', Body: payload, ChecksumAlgorithm: alg }));
    assert.equal(seen.length, 1);
    assert.deepEqual(seen[0]!.body, payload);
    assert.match(seen[0]!.contentSha256 ?? '', /^[0-9a-f]{64}$/, 'over http the SDK signs the payload hash');
    assert.ok(seen[0]!.checksum, `${alg} computed`);
    assert.equal(out.ETag, '"0"');
  }
});

test('sdk wire - PutObject with a stream body uses aws-chunked with a checksum trailer', async () => {
  seen.length = 0;
  const body = Readable.from([payload.subarray(0, 100_000), payload.subarray(100_000)]);
  await client.send(new PutObjectCommand({ Bucket: 'b', Key: 'k', Body: body, ContentLength: payload.length, ChecksumAlgorithm: 'CRC32C' }));
  assert.equal(seen.length, 1);
  assert.equal(seen[0]!.contentSha256, 'STREAMING-UNSIGNED-PAYLOAD-TRAILER');
  assert.deepEqual(seen[0]!.body, payload);
  assert.ok(seen[0]!.checksum);
});

test('sdk wire - ListObjectsV2 with an awkward prefix verifies', async () => {
  seen.length = 0;
  await client.send(new ListObjectsV2Command({ Bucket: 'b', Prefix: "a b+c%d/ü*'()!", Delimiter: '/', MaxKeys: 10 }));
  assert.equal(seen.length, 1);
});

test('sdk wire - PutObject with a wrong precomputed checksum fails with BadDigest', async () => {
  await assert.rejects(
    client.send(new PutObjectCommand({ Bucket: 'b', Key: 'k', Body: payload, ChecksumCRC32: 'AAAAAA==' })),
    (err: unknown) => err instanceof Error && err.name === 'BadDigest',
  );
});
