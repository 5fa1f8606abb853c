// Real clients signing SigV2 against a real tessera server: boto3 with Config(signature_version='s3')
// (scripts/boto3_sigv2_scenario.py), s3cmd with --signature-v2, and SigV2 presigned URLs fetched with
// curl and fetch(). Raw-request SigV2 cases are in test/s3/sigv2.test.ts.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { HeadObjectCommand } from '@aws-sdk/client-s3';
import { startTessera, withClient, type TesseraProcess } from '../helpers/tessera.js';
import {
  awsClientEnv, clients, clientEnv, describeRun, makeTempDir, removeDir, run, sha256File, skipUnlessInstalled, skipUnlessPythonModule,
  writeRandomFile, type RunResult,
} from './lib.js';

const curl = '/usr/bin/curl';
const skipBoto3 = skipUnlessPythonModule('boto3');
const skipS3cmd = skipUnlessInstalled(clients.s3cmd);
const skipCurl = skipUnlessInstalled(curl);
const scriptPath = join(import.meta.dirname, 'scripts', 'boto3_sigv2_scenario.py');
const testTimeoutMs = 240_000;

interface Summary {
  ok: boolean;
  getUrl: string;
  virtualGetUrl: string;
  putUrl: string;
  expiredUrl: string;
  overrideUrl: string;
  rangeBody: string;
  requests: number;
}

let server: TesseraProcess;
let work: string;
let scenario: RunResult | undefined;

before(async () => {
  server = await startTessera();
  work = await makeTempDir('sigv2-clients');
  await mkdir(join(work, 'home'));
});

after(async () => {
  await server?.cleanup();
  if (work) await removeDir(work);
});

function summary(): Summary {
  assert.ok(scenario, 'the boto3 scenario did not run');
  assert.equal(scenario.code, 0, describeRun('boto3_sigv2_scenario.py', scenario));
  const lines = scenario.stdout.trim().split('\n');
  return JSON.parse(lines[lines.length - 1]!) as Summary;
}

test('boto3 SigV2 - put, get, range, copy, multipart, tagging, list, delete_objects; wrong secret is SignatureDoesNotMatch', { skip: skipBoto3, timeout: testTimeoutMs }, async () => {
  const env = awsClientEnv(join(work, 'home'), server);
  scenario = await run(clients.python3, [scriptPath, String(server.port), 'boto3-sigv2'], { env, cwd: work, timeoutMs: testTimeoutMs - 10_000 });
  const s = summary();
  assert.equal(s.ok, true);
  assert.ok(s.requests > 10);
  for (const url of [s.getUrl, s.putUrl, s.expiredUrl]) assert.match(url, /[?&]AWSAccessKeyId=.*&Signature=|[?&]Signature=/);
});

test('boto3 SigV2 presigned URLs - GET with curl and fetch, PUT with fetch, response overrides, expired is 403', { skip: skipBoto3 || skipCurl, timeout: 60_000 }, async () => {
  const s = summary();
  const env = clientEnv(join(work, 'home'));
  const viaCurl = await run(curl, ['-sS', '-o', '-', '-w', '\n%{http_code}', s.getUrl], { env });
  assert.equal(viaCurl.code, 0, describeRun('curl', viaCurl));
  assert.equal(viaCurl.stdout, 'hello sigv2 \u2713\n200');
  // The virtual-hosted one names the bucket in the host, and signs it into the resource.
  assert.match(s.virtualGetUrl, /^http:\/\/boto3-sigv2\.localhost:\d+\/dir\//);
  const virtual = await run(curl, ['-sS', '--connect-to', '::127.0.0.1:', '-o', '-', '-w', '\n%{http_code}', s.virtualGetUrl], { env });
  assert.equal(virtual.stdout, 'hello sigv2 \u2713\n200', describeRun('curl virtual-hosted', virtual));

  const viaFetch = await fetch(s.getUrl);
  assert.equal(viaFetch.status, 200);
  assert.equal(await viaFetch.text(), 'hello sigv2 \u2713');
  const ranged = await fetch(s.getUrl, { headers: { range: 'bytes=2-5' } });
  assert.equal(ranged.status, 206);
  assert.equal(Buffer.from(await ranged.arrayBuffer()).toString('latin1'), s.rangeBody);

  // botocore signed Content-Type into the URL: the upload must send the same one.
  const put = await fetch(s.putUrl, { method: 'PUT', body: 'a,b\n1,2\n', headers: { 'content-type': 'text/csv' } });
  assert.equal(put.status, 200, await put.text());
  const head = await withClient(server, (s3) => s3.send(new HeadObjectCommand({ Bucket: 'boto3-sigv2', Key: 'presigned-put.txt' })));
  assert.equal(head.ContentType, 'text/csv');
  const otherType = await fetch(s.putUrl, { method: 'PUT', body: 'x', headers: { 'content-type': 'text/html' } });
  assert.equal(otherType.status, 403);
  assert.match(await otherType.text(), /<Code>SignatureDoesNotMatch<\/Code>/);

  const override = await fetch(s.overrideUrl);
  assert.equal(override.status, 200);
  assert.equal(override.headers.get('content-disposition'), 'attachment; filename="x y.txt"');

  const expired = await run(curl, ['-sS', '-o', '-', '-w', '\n%{http_code}', s.expiredUrl], { env });
  assert.match(expired.stdout, /<Code>AccessDenied<\/Code><Message>Request has expired<\/Message>/);
  assert.match(expired.stdout, /\n403$/);
});

test('s3cmd --signature-v2 - mb, put (single and multipart), get, ls, signurl, del, rb', { skip: skipS3cmd || skipCurl, timeout: testTimeoutMs }, async () => {
  const home = join(work, 's3cmd-home');
  await mkdir(home, { recursive: true });
  const configPath = join(home, '.s3cfg');
  const hostPort = `127.0.0.1:${server.port}`;
  await writeFile(configPath, [
    '[default]', `access_key = ${server.accessKeyId}`, `secret_key = ${server.secretAccessKey}`,
    `host_base = ${hostPort}`, `host_bucket = ${hostPort}`, 'use_https = False', 'signature_v2 = True', 'bucket_location = us-east-1', '',
  ].join('\n'));
  const env = clientEnv(home);
  const s3cmd = async (args: string[]): Promise<RunResult> => {
    const r = await run(clients.s3cmd, ['-c', configPath, '--no-progress', '--signature-v2', ...args], { env, cwd: work });
    assert.equal(r.code, 0, describeRun(`s3cmd ${args.join(' ')}`, r));
    return r;
  };
  const bucket = 's3cmd-sigv2';
  const small = join(work, 'small v2.txt');
  await writeFile(small, 'small object through SigV2\n');
  const big = join(work, 'big-v2.bin');
  await writeRandomFile(big, 11 * 1024 * 1024);

  await s3cmd(['mb', `s3://${bucket}`]);
  // s3cmd sends header values as UTF-8 bytes and signs their text.
  await s3cmd(['put', '--add-header=x-amz-meta-note:café ✓', small, `s3://${bucket}/dir/small ü.txt`]);
  await s3cmd(['put', '--multipart-chunk-size-mb=5', big, `s3://${bucket}/big.bin`]);
  const head = await withClient(server, (s3) => s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'big.bin' })));
  assert.match(head.ETag ?? '', /-3"$/, 'an 11 MiB file in 5 MiB chunks is three parts');

  const back = join(work, 'big-back.bin');
  await s3cmd(['get', `s3://${bucket}/big.bin`, back]);
  assert.equal(await sha256File(back), await sha256File(big));
  const smallBack = join(work, 'small-back.txt');
  await s3cmd(['get', `s3://${bucket}/dir/small ü.txt`, smallBack]);
  assert.equal(await readFile(smallBack, 'utf8'), 'small object through SigV2\n');
  const listing = await s3cmd(['ls', '--recursive', `s3://${bucket}`]);
  assert.match(listing.stdout, /s3:\/\/s3cmd-sigv2\/big\.bin/);
  assert.match(listing.stdout, /s3:\/\/s3cmd-sigv2\/dir\/small ü\.txt/);

  const signed = await s3cmd(['signurl', `s3://${bucket}/dir/small ü.txt`, '+300']);
  const url = signed.stdout.trim().split('\n').pop()!;
  assert.match(url, /Signature=/);
  const fetched = await run(curl, ['-sS', '-o', '-', '-w', '\n%{http_code}', url], { env });
  assert.equal(fetched.stdout, 'small object through SigV2\n\n200', describeRun('curl signurl', fetched));

  await s3cmd(['del', '--recursive', '--force', `s3://${bucket}`]);
  await s3cmd(['rb', `s3://${bucket}`]);
});
