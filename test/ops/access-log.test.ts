// The access log of a real server: one line per request with what ran and how it ended, and never a
// credential beyond the access key id.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CreateBucketCommand, GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { startTessera, startTesseraForFile, type TesseraProcess } from '../helpers/tessera.js';

const { server, s3 } = await startTesseraForFile();
const Bucket = 'access-log';
const body = 'hello, access log';

type Line = Record<string, unknown>;

function accessLines(p: TesseraProcess): Line[] {
  return p.logs().split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Line).filter((l) => l.message === 'request');
}

/** The line is written once the server's handler is done, which may be just after the client has the answer. */
async function lineFor(p: TesseraProcess, match: (l: Line) => boolean): Promise<Line> {
  for (let i = 0; i < 100; i++) {
    const found = accessLines(p).find(match);
    if (found) return found;
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.fail(`no matching access line in:\n${server.logs()}`);
}

test('access log - a PUT, a GET, a missing key and a presigned GET each get a line with their operation, status and bytes', async () => {
  await s3.send(new CreateBucketCommand({ Bucket }));
  await s3.send(new PutObjectCommand({ Bucket, Key: 'dir/a.txt', Body: body }));
  const got = await s3.send(new GetObjectCommand({ Bucket, Key: 'dir/a.txt' }));
  assert.equal(await got.Body!.transformToString(), body);
  await assert.rejects(s3.send(new GetObjectCommand({ Bucket, Key: 'missing' })));
  const url = await getSignedUrl(s3, new GetObjectCommand({ Bucket, Key: 'dir/a.txt' }), { expiresIn: 300 });
  const presigned = await fetch(url);
  assert.equal(await presigned.text(), body);

  const put = await lineFor(server, (l) => l.operation === 'PutObject');
  assert.equal(put.level, 'info');
  assert.equal(put.method, 'PUT');
  assert.equal(put.bucket, Bucket);
  assert.equal(put.key, 'dir/a.txt');
  assert.equal(put.status, 200);
  assert.equal(put.accessKeyId, server.accessKeyId);
  assert.ok((put.bytesIn as number) >= body.length, `bytesIn ${String(put.bytesIn)}`);
  assert.equal(typeof put.requestId, 'string');
  assert.equal(typeof put.durationMs, 'number');
  assert.match(String(put.remoteAddress), /127\.0\.0\.1/);

  const gets = await (async () => {
    await lineFor(server, (l) => l.operation === 'GetObject' && l.status === 200 && accessLines(server).filter((x) => x.operation === 'GetObject' && x.status === 200).length === 2);
    return accessLines(server).filter((l) => l.operation === 'GetObject' && l.status === 200);
  })();
  for (const get of gets) {
    assert.equal(get.key, 'dir/a.txt');
    assert.equal(get.accessKeyId, server.accessKeyId, 'a presigned GET names its key too');
    assert.equal(get.bytesIn, 0);
    assert.ok((get.bytesOut as number) > body.length, `bytesOut ${String(get.bytesOut)}`);
    assert.equal(get.error, undefined);
  }

  const missing = await lineFor(server, (l) => l.key === 'missing');
  assert.equal(missing.operation, 'GetObject');
  assert.equal(missing.status, 404);
  assert.equal(missing.error, 'NoSuchKey');
  assert.doesNotMatch(server.logs(), /NoSuchKey.*stack|"stack"/, 'a client error carries its code, not a stack');

  const logged = server.logs();
  const signature = new URL(url).searchParams.get('X-Amz-Signature')!;
  assert.ok(!logged.includes(server.secretAccessKey), 'the secret key is never logged');
  assert.ok(!logged.includes(signature), 'the presigned URL\'s signature is never logged');
  assert.ok(!logged.includes('AWS4-HMAC-SHA256 Credential'), 'the Authorization header is never logged');
  assert.doesNotMatch(logged, /X-Amz-Signature|X-Amz-Credential/i);
});

test('access log - --log-level warn writes no access lines', async () => {
  const quiet = await startTessera({ args: ['--log-level', 'warn'] });
  const client = quiet.client();
  try {
    await client.send(new CreateBucketCommand({ Bucket }));
    await client.send(new PutObjectCommand({ Bucket, Key: 'k', Body: body }));
    await client.send(new GetObjectCommand({ Bucket, Key: 'k' }));
    await new Promise((r) => setTimeout(r, 200));
    assert.deepEqual(accessLines(quiet), []);
    assert.doesNotMatch(quiet.logs(), /"level":"info"/);
  } finally {
    client.destroy();
    await quiet.cleanup();
  }
});
