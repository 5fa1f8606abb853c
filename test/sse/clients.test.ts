// Server-side encryption as users of the real clients meet it, over HTTPS with the server's own CA: the aws
// CLI uploads and downloads with --sse AES256, --sse aws:kms --sse-kms-key-id and --sse-c with a key file
// (a 9 MiB file: the CLI's multipart upload and ranged download, each part with the key); boto3 (verify=)
// writes and reads SSE-C, whole and ranged; rclone copies with SSE-S3 and SSE-C, s3cmd with SSE-S3; and a
// bucket given default encryption with `aws s3api put-bucket-encryption` encrypts what is written into it
// without any header.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CreateBucketCommand, HeadObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import {
  awsClientEnv, clientEnv, clients, describeRun, makeTempDir, rcloneClientEnv, removeDir, run, sha256File, skipUnlessInstalled, skipUnlessPythonModule, writeRandomFile,
} from '../clients/lib.js';
import { createKmsKey, customerKey, startSseServer, type SseServer } from './lib.js';

const skip = skipUnlessInstalled(clients.aws, clients.rclone, clients.s3cmd) || skipUnlessPythonModule('boto3');
const bucket = 'sse-clients';
const defaultBucket = 'sse-default';
const kmsKeyId = 'clients-key';
const MiB = 1024 * 1024;
const customer = customerKey();

let sse: SseServer;
let s3: S3Client;
let work: string;
let home: string;

before(async () => {
  if (skip) return;
  sse = await startSseServer({ driveCount: 0 });
  s3 = sse.client();
  work = await makeTempDir('sse-clients');
  home = join(work, 'home');
  await mkdir(home);
  await writeFile(join(work, 'customer.key'), customer.key);
  await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  await createKmsKey(sse, kmsKeyId);
});

after(async () => {
  if (skip) return;
  s3?.destroy();
  await sse?.cleanup();
  if (work) await removeDir(work);
});

function aws(args: string[]) {
  const env = awsClientEnv(home, sse.server, { AWS_DEFAULT_REGION: 'us-east-1', AWS_PAGER: '' });
  return run(clients.aws, ['--endpoint-url', sse.server.url, '--ca-bundle', sse.caFile, ...args], { env, cwd: work });
}

async function head(key: string, extra: Record<string, string> = {}) {
  return s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key, ...extra }));
}

test('SSE clients - aws s3 cp --sse AES256 and --sse aws:kms --sse-kms-key-id upload encrypted and download whole', { skip, timeout: 180_000 }, async () => {
  await writeRandomFile(join(work, 'small.bin'), 300_000);
  for (const [key, flags] of [['cli-s3.bin', ['--sse', 'AES256']], ['cli-kms.bin', ['--sse', 'aws:kms', '--sse-kms-key-id', kmsKeyId]]] as const) {
    const up = await aws(['s3', 'cp', ...flags, join(work, 'small.bin'), `s3://${bucket}/${key}`]);
    assert.equal(up.code, 0, describeRun(`aws s3 cp ${flags.join(' ')}`, up));
    const down = await aws(['s3', 'cp', `s3://${bucket}/${key}`, join(work, `${key}.down`)]);
    assert.equal(down.code, 0, describeRun('aws s3 cp down', down));
    assert.equal(await sha256File(join(work, `${key}.down`)), await sha256File(join(work, 'small.bin')));
  }
  assert.equal((await head('cli-s3.bin')).ServerSideEncryption, 'AES256');
  const kms = await head('cli-kms.bin');
  assert.equal(kms.ServerSideEncryption, 'aws:kms');
  assert.match(kms.SSEKMSKeyId ?? '', new RegExp(`${kmsKeyId}$`));
});

test('SSE clients - aws s3 cp --sse-c AES256 --sse-c-key fileb:// uploads 9 MiB in parts and downloads it in ranges; without the key the download fails', { skip, timeout: 180_000 }, async () => {
  await writeRandomFile(join(work, 'big.bin'), 9 * MiB + 321);
  const ssec = ['--sse-c', 'AES256', '--sse-c-key', `fileb://${join(work, 'customer.key')}`];
  const up = await aws(['s3', 'cp', ...ssec, join(work, 'big.bin'), `s3://${bucket}/cli-c.bin`]);
  assert.equal(up.code, 0, describeRun('aws s3 cp --sse-c up', up));
  const down = await aws(['s3', 'cp', ...ssec, `s3://${bucket}/cli-c.bin`, join(work, 'big.down')]);
  assert.equal(down.code, 0, describeRun('aws s3 cp --sse-c down', down));
  assert.equal(await sha256File(join(work, 'big.down')), await sha256File(join(work, 'big.bin')));
  const refused = await aws(['s3', 'cp', `s3://${bucket}/cli-c.bin`, join(work, 'refused.down')]);
  assert.notEqual(refused.code, 0, 'a download without the key fails');
  assert.match(refused.stderr, /400|403|Bad Request|Forbidden/);
  const h = await head('cli-c.bin', { SSECustomerAlgorithm: 'AES256', SSECustomerKey: customer.base64 });
  assert.equal(h.SSECustomerAlgorithm, 'AES256');
  assert.equal(h.ContentLength, 9 * MiB + 321);
});

test('SSE clients - boto3 with verify= the CA puts and gets SSE-C, whole and a range, and a wrong key is refused', { skip, timeout: 60_000 }, async () => {
  const script = [
    'import boto3, botocore, json, os, sys',
    'endpoint, ca, bucket, key_hex = sys.argv[1:5]',
    'key = bytes.fromhex(key_hex)',
    's3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1", verify=ca)',
    'body = os.urandom(200000)',
    'c = dict(SSECustomerAlgorithm="AES256", SSECustomerKey=key)',
    'put = s3.put_object(Bucket=bucket, Key="boto3-c", Body=body, **c)',
    'whole = s3.get_object(Bucket=bucket, Key="boto3-c", **c)["Body"].read()',
    'part = s3.get_object(Bucket=bucket, Key="boto3-c", Range="bytes=65530-131080", **c)',
    'wrong = None',
    'try:',
    '    s3.get_object(Bucket=bucket, Key="boto3-c", SSECustomerAlgorithm="AES256", SSECustomerKey=bytes(32))',
    'except botocore.exceptions.ClientError as e:',
    '    wrong = e.response["ResponseMetadata"]["HTTPStatusCode"]',
    'print(json.dumps({"putAlgorithm": put.get("SSECustomerAlgorithm"), "whole": whole == body,',
    '  "range": part["Body"].read() == body[65530:131081], "contentRange": part["ContentRange"], "wrongKeyStatus": wrong}))',
  ].join('\n');
  const env = awsClientEnv(home, sse.server, { PYTHONDONTWRITEBYTECODE: '1' });
  const r = await run(clients.python3, ['-c', script, sse.server.url, sse.caFile, bucket, customer.key.toString('hex')], { env, cwd: work });
  assert.equal(r.code, 0, describeRun('boto3 SSE-C', r));
  const summary = JSON.parse(r.stdout.trim().split('\n').pop()!) as Record<string, unknown>;
  const { wrongKeyStatus, ...rest } = summary;
  assert.deepEqual(rest, { putAlgorithm: 'AES256', whole: true, range: true, contentRange: 'bytes 65530-131080/200000' });
  // AWS's reference says only that the request fails; the public conformance suite expects 400, S3 answers 403.
  assert.ok(wrongKeyStatus === 400 || wrongKeyStatus === 403, `a wrong key answered ${String(wrongKeyStatus)}`);
});

test('SSE clients - rclone copies with --s3-server-side-encryption AES256 and with an SSE-C key, and reads both back', { skip, timeout: 120_000 }, async () => {
  await writeRandomFile(join(work, 'rclone.bin'), 1_500_000);
  const env = rcloneClientEnv(home, sse.server);
  await writeFile(join(work, 'rclone.conf'), '');
  const rclone = (flags: readonly string[], from: string, to: string) =>
    run(clients.rclone, ['--config', join(work, 'rclone.conf'), '--ca-cert', sse.caFile, '--retries', '1', ...flags, 'copyto', from, to], { env, cwd: work });
  const ssec = ['--s3-sse-customer-algorithm', 'AES256', '--s3-sse-customer-key-base64', customer.base64];
  for (const [key, flags] of [['rclone-s3.bin', ['--s3-server-side-encryption', 'AES256']], ['rclone-c.bin', ssec]] as const) {
    const up = await rclone(flags, join(work, 'rclone.bin'), `t:${bucket}/${key}`);
    assert.equal(up.code, 0, describeRun(`rclone copyto up ${key}`, up));
    const down = await rclone(flags, `t:${bucket}/${key}`, join(work, `${key}.down`));
    assert.equal(down.code, 0, describeRun(`rclone copyto down ${key}`, down));
    assert.equal(await sha256File(join(work, `${key}.down`)), await sha256File(join(work, 'rclone.bin')));
  }
  assert.equal((await head('rclone-s3.bin')).ServerSideEncryption, 'AES256');
  assert.equal((await head('rclone-c.bin', { SSECustomerAlgorithm: 'AES256', SSECustomerKey: customer.base64 })).SSECustomerAlgorithm, 'AES256');
});

test('SSE clients - s3cmd put --server-side-encryption stores SSE-S3 and get reads it back', { skip, timeout: 120_000 }, async () => {
  await writeRandomFile(join(work, 's3cmd.bin'), 700_000);
  const hostPort = `127.0.0.1:${sse.server.port}`;
  const s3cfg = join(home, '.s3cfg');
  await writeFile(s3cfg, ['[default]', `access_key = ${sse.server.accessKeyId}`, `secret_key = ${sse.server.secretAccessKey}`, `host_base = ${hostPort}`,
    `host_bucket = ${hostPort}`, 'use_https = True', 'signature_v2 = False', 'bucket_location = us-east-1', ''].join('\n'));
  const s3cmd = (args: string[]) => run(clients.s3cmd, ['-c', s3cfg, '--no-progress', '--ca-certs', sse.caFile, ...args], { env: clientEnv(home), cwd: work });
  const up = await s3cmd(['put', '--server-side-encryption', join(work, 's3cmd.bin'), `s3://${bucket}/s3cmd.bin`]);
  assert.equal(up.code, 0, describeRun('s3cmd put', up));
  const down = await s3cmd(['get', `s3://${bucket}/s3cmd.bin`, join(work, 's3cmd.down')]);
  assert.equal(down.code, 0, describeRun('s3cmd get', down));
  assert.equal(await sha256File(join(work, 's3cmd.down')), await sha256File(join(work, 's3cmd.bin')));
  assert.equal((await head('s3cmd.bin')).ServerSideEncryption, 'AES256');
});

test('SSE clients - a bucket given default encryption with aws s3api put-bucket-encryption encrypts an object written without headers', { skip, timeout: 120_000 }, async () => {
  const mb = await aws(['s3api', 'create-bucket', '--bucket', defaultBucket]);
  assert.equal(mb.code, 0, describeRun('create-bucket', mb));
  const config = JSON.stringify({ Rules: [{ ApplyServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }] });
  const put = await aws(['s3api', 'put-bucket-encryption', '--bucket', defaultBucket, '--server-side-encryption-configuration', config]);
  assert.equal(put.code, 0, describeRun('put-bucket-encryption', put));
  const got = await aws(['s3api', 'get-bucket-encryption', '--bucket', defaultBucket]);
  assert.equal(got.code, 0, describeRun('get-bucket-encryption', got));
  const rules = (JSON.parse(got.stdout) as { ServerSideEncryptionConfiguration: { Rules: { ApplyServerSideEncryptionByDefault: { SSEAlgorithm: string } }[] } })
    .ServerSideEncryptionConfiguration.Rules;
  assert.equal(rules[0]?.ApplyServerSideEncryptionByDefault.SSEAlgorithm, 'AES256');
  await writeFile(join(work, 'plain.txt'), 'written without any encryption header');
  const cp = await aws(['s3', 'cp', join(work, 'plain.txt'), `s3://${defaultBucket}/plain.txt`]);
  assert.equal(cp.code, 0, describeRun('aws s3 cp', cp));
  const h = await aws(['s3api', 'head-object', '--bucket', defaultBucket, '--key', 'plain.txt']);
  assert.equal(h.code, 0, describeRun('head-object', h));
  assert.equal((JSON.parse(h.stdout) as { ServerSideEncryption?: string }).ServerSideEncryption, 'AES256');
  const down = await aws(['s3', 'cp', `s3://${defaultBucket}/plain.txt`, join(work, 'plain.down')]);
  assert.equal(down.code, 0, describeRun('aws s3 cp down', down));
  assert.equal(await readFile(join(work, 'plain.down'), 'utf8'), 'written without any encryption header');
});
