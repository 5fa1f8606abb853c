// Non-ASCII user metadata: signed and sent by botocore as UTF-8 bytes and by the JS SDK as latin1 bytes;
// either must authenticate and read back as the text the client set.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { CreateBucketCommand, GetObjectCommand, HeadObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { startTesseraForFile } from '../helpers/tessera.js';
import { clients, describeRun, run, skipUnlessPythonModule } from '../clients/lib.js';

const { server, s3 } = await startTesseraForFile();
const Bucket = 'unicode-meta';
before(async () => {
  await s3.send(new CreateBucketCommand({ Bucket }));
});

test('Unicode metadata - the JS SDK puts latin1 metadata and reads the same text back', async () => {
  await s3.send(new PutObjectCommand({ Bucket, Key: 'unicode-js', Body: 'bar', Metadata: { meta1: 'Hello World\u00e9', meta2: 'caf\u00e9 \u00fcber' } }));
  const got = await s3.send(new GetObjectCommand({ Bucket, Key: 'unicode-js' }));
  assert.equal(got.Metadata?.meta1, 'Hello World\u00e9');
  assert.equal(got.Metadata?.meta2, 'caf\u00e9 \u00fcber');
  await got.Body!.transformToString();
});

const skipBoto3 = skipUnlessPythonModule('boto3');

test('Unicode metadata - boto3 puts UTF-8 metadata (s3-tests test_object_set_get_unicode_metadata) and reads it back', { skip: skipBoto3 }, async () => {
  const script = join(import.meta.dirname, '..', 'clients', 'scripts', 'boto3_unicode_metadata.py');
  const runWith = (value: string) => run(clients.python3, [script, server.url, server.accessKeyId, server.secretAccessKey, Bucket, value], {
    env: { PATH: '/usr/bin:/bin', LANG: 'C.UTF-8', HOME: '/nonexistent', AWS_CONFIG_FILE: '/dev/null', AWS_SHARED_CREDENTIALS_FILE: '/dev/null' },
  });
  const latin = await runWith('Hello World\u00e9');
  assert.equal(latin.code, 0, describeRun('boto3', latin));
  assert.equal(JSON.parse(latin.stdout.trim().split('\n').at(-1)!).meta1, 'Hello World\u00e9');
  // Text beyond latin1 cannot go back as raw header bytes; it comes back RFC 2047-encoded, as AWS sends it.
  const wide = await runWith('\u65e5\u672c \u00e0 la carte');
  assert.equal(wide.code, 0, describeRun('boto3', wide));
  const encoded = JSON.parse(wide.stdout.trim().split('\n').at(-1)!).meta1 as string;
  assert.equal(encoded, `=?UTF-8?B?${Buffer.from('\u65e5\u672c \u00e0 la carte').toString('base64')}?=`);
  const head = await s3.send(new HeadObjectCommand({ Bucket, Key: 'unicode-boto3' }));
  assert.equal(head.Metadata?.meta1, encoded);
});
