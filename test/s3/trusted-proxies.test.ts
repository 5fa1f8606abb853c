// --trusted-proxies: behind a load balancer every connection comes from the balancer, so the client's
// address is what it forwards in X-Forwarded-For, believed only from the proxies named. aws:SourceIp
// conditions, the per-IP rate limits and the access log read that address.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { CreateBucketCommand, PutBucketPolicyCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { startTessera, waitForLog, type TesseraProcess } from '../helpers/tessera.js';
import { assertS3Error, raw } from './raw-http.js';

const Bucket = 'behind-proxy';
const policy = JSON.stringify({
  Version: '2012-10-17',
  Statement: [{ Effect: 'Deny', Principal: '*', Action: 's3:GetObject', Resource: `arn:aws:s3:::${Bucket}/*`, Condition: { NotIpAddress: { 'aws:SourceIp': '203.0.113.0/24' } } }],
});

async function prepared(args: string[]): Promise<TesseraProcess> {
  const server = await startTessera({ args });
  const s3 = new S3Client({ endpoint: server.url, region: server.region, forcePathStyle: true, credentials: server });
  try {
    await s3.send(new CreateBucketCommand({ Bucket }));
    await s3.send(new PutObjectCommand({ Bucket, Key: 'k', Body: 'k' }));
    await s3.send(new PutBucketPolicyCommand({ Bucket, Policy: policy }));
  } finally {
    s3.destroy();
  }
  return server;
}

const proxied = await prepared(['--trusted-proxies', '127.0.0.1,::1']);
const direct = await prepared([]);
after(async () => {
  await proxied.cleanup();
  await direct.cleanup();
});

const get = (server: TesseraProcess, forwardedFor?: string) => raw(server, { path: `/${Bucket}/k`, headers: forwardedFor === undefined ? {} : { 'x-forwarded-for': forwardedFor } });

test('aws:SourceIp - behind a trusted proxy it is the forwarded client address, not the proxy\'s', async () => {
  assert.equal((await get(proxied, '203.0.113.7')).status, 200);
  assertS3Error(await get(proxied, '198.51.100.1'), 403, 'AccessDenied');
  assertS3Error(await get(proxied), 403, 'AccessDenied');
  // A client's own X-Forwarded-For comes first; the trusted proxy's entry is the last one, and counts.
  assertS3Error(await get(proxied, '203.0.113.7, 198.51.100.1'), 403, 'AccessDenied');
});

test('aws:SourceIp - without --trusted-proxies X-Forwarded-For is ignored, so a client cannot claim an address', async () => {
  assertS3Error(await get(direct, '203.0.113.7'), 403, 'AccessDenied');
});

test('Access log - remoteAddress is the forwarded client, proxyAddress the trusted proxy it came through', async () => {
  await get(proxied, '203.0.113.99');
  const logs = await waitForLog(() => proxied.logs(), /"remoteAddress":"203\.0\.113\.99"/);
  const line = logs.split('\n').find((l) => l.includes('"remoteAddress":"203.0.113.99"'))!;
  assert.match(line, /"proxyAddress":"(::ffff:)?127\.0\.0\.1"/);
});
