// s3cmd (Debian's package) against a real tessera server, with a config file that sets only
// the endpoint, the keys and plain HTTP; everything else is s3cmd's default (SigV4, 15 MiB
// multipart chunks).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { mkdir, writeFile } from 'node:fs/promises';
import { HeadBucketCommand, HeadObjectCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import { startTessera, withClient, type TesseraProcess } from '../helpers/tessera.js';
import {
  clients, clientEnv, describeRun, makeTempDir, md5Hex, removeDir, run, sha256File, skipUnlessInstalled,
  writeRandomFile, type RunResult,
} from './lib.js';

const skip = skipUnlessInstalled(clients.s3cmd);
const testTimeoutMs = 240_000;
const bigSizeBytes = 20 * 1000 * 1000; // 20 MB: two parts at s3cmd's default 15 MiB chunk

let server: TesseraProcess;
let work: string;
let env: Record<string, string>;
let configPath: string;

before(async () => {
  if (skip) return;
  server = await startTessera();
  work = await makeTempDir('s3cmd');
  const home = join(work, 'home');
  await mkdir(home);
  configPath = join(home, '.s3cfg');
  const hostPort = `127.0.0.1:${server.port}`;
  await writeFile(configPath, [
    '[default]',
    `access_key = ${server.accessKeyId}`,
    `secret_key = ${server.secretAccessKey}`,
    `host_base = ${hostPort}`,
    `host_bucket = ${hostPort}`,
    'use_https = False',
    'signature_v2 = False',
    'bucket_location = us-east-1',
    '',
  ].join('\n'));
  env = clientEnv(home);
});

after(async () => {
  if (skip) return;
  await server?.cleanup();
  if (work) await removeDir(work);
});

function s3cmd(args: string[]): Promise<RunResult> {
  return run(clients.s3cmd, ['-c', configPath, '--no-progress', ...args], { env, cwd: work });
}

async function s3cmdOk(args: string[]): Promise<RunResult> {
  const r = await s3cmd(args);
  assert.equal(r.code, 0, describeRun(`s3cmd ${args.join(' ')}`, r));
  return r;
}


test('s3cmd - mb, put (single and multipart), get, ls, la, del and rb', { skip, timeout: testTimeoutMs }, async () => {
  const bucket = 's3cmd-bucket';
  const small = join(work, 'small file.txt');
  const smallText = 'small object from s3cmd\n';
  await writeFile(small, smallText);
  const big = join(work, 'big.bin');
  await writeRandomFile(big, bigSizeBytes);
  const smallKey = 'dir/small ü.txt';
  const bigKey = 'dir/sub/big.bin';

  await s3cmdOk(['mb', `s3://${bucket}`]);
  await s3cmdOk(['put', small, `s3://${bucket}/${smallKey}`]);
  await s3cmdOk(['put', big, `s3://${bucket}/${bigKey}`]);

  // What the server stored: a plain MD5 ETag, and a two-part multipart ETag.
  const [smallHead, bigHead] = await withClient(server, (s3) => Promise.all([
    s3.send(new HeadObjectCommand({ Bucket: bucket, Key: smallKey })),
    s3.send(new HeadObjectCommand({ Bucket: bucket, Key: bigKey })),
  ]));
  assert.equal(smallHead.ETag, `"${md5Hex(smallText)}"`);
  assert.equal(bigHead.ContentLength, bigSizeBytes);
  assert.match(bigHead.ETag ?? '', /^"[0-9a-f]{32}-2"$/, 's3cmd should upload 20 MB in two 15 MiB-chunk parts');

  // get both back and compare bytes.
  const smallDown = join(work, 'small.down');
  const bigDown = join(work, 'big.down');
  await s3cmdOk(['get', `s3://${bucket}/${smallKey}`, smallDown]);
  await s3cmdOk(['get', `s3://${bucket}/${bigKey}`, bigDown]);
  assert.equal(await sha256File(smallDown), await sha256File(small));
  assert.equal(await sha256File(bigDown), await sha256File(big));
  const missing = await s3cmd(['get', `s3://${bucket}/dir/no such key`, join(work, 'missing.down')]);
  assert.notEqual(missing.code, 0, describeRun('s3cmd get of a missing key should fail', missing));

  // ls: buckets, one level (a DIR line), recursive; la: every object in every bucket.
  const buckets = await s3cmdOk(['ls']);
  assert.match(buckets.stdout, new RegExp(`\\ss3://${bucket}$`, 'm'), describeRun('s3cmd ls', buckets));
  const top = await s3cmdOk(['ls', `s3://${bucket}`]);
  assert.deepEqual(lsLines(top.stdout), [['DIR', `s3://${bucket}/dir/`]]);
  const level = await s3cmdOk(['ls', `s3://${bucket}/dir/`]);
  assert.deepEqual(lsLines(level.stdout), [
    ['DIR', `s3://${bucket}/dir/sub/`],
    [String(Buffer.byteLength(smallText)), `s3://${bucket}/${smallKey}`],
  ]);
  const recursive = await s3cmdOk(['ls', '--recursive', `s3://${bucket}`]);
  assert.deepEqual(lsLines(recursive.stdout), [
    [String(Buffer.byteLength(smallText)), `s3://${bucket}/${smallKey}`],
    [String(bigSizeBytes), `s3://${bucket}/${bigKey}`],
  ]);
  const all = await s3cmdOk(['la', '--recursive']);
  assert.deepEqual(lsLines(all.stdout), lsLines(recursive.stdout));

  // rb of a non-empty bucket fails; del then rb succeeds.
  const notEmpty = await s3cmd(['rb', `s3://${bucket}`]);
  assert.notEqual(notEmpty.code, 0, describeRun('s3cmd rb of a non-empty bucket should fail', notEmpty));
  assert.match(notEmpty.stderr, /BucketNotEmpty/, describeRun('s3cmd rb of a non-empty bucket', notEmpty));
  await s3cmdOk(['del', `s3://${bucket}/${smallKey}`]);
  await s3cmdOk(['del', `s3://${bucket}/${bigKey}`]);
  const left = await withClient(server, (s3) => s3.send(new ListObjectsV2Command({ Bucket: bucket })));
  assert.equal(left.KeyCount, 0);
  await s3cmdOk(['rb', `s3://${bucket}`]);
  await assert.rejects(withClient(server, (s3) => s3.send(new HeadBucketCommand({ Bucket: bucket }))), (err: { $metadata?: { httpStatusCode?: number } }) => err.$metadata?.httpStatusCode === 404);
  const afterRb = await s3cmdOk(['ls']);
  assert.doesNotMatch(afterRb.stdout, new RegExp(`s3://${bucket}$`, 'm'));
});

/** s3cmd ls lines as [size or "DIR", url], dropping the date columns. */
function lsLines(stdout: string): string[][] {
  return stdout.split('\n').filter((l) => l.trim() !== '').map((line) => {
    const m = /^\s*(?:\d{4}-\d\d-\d\d \d\d:\d\d\s+)?(DIR|\d+)\s+(s3:\/\/.*)$/.exec(line);
    assert.ok(m, `Unexpected s3cmd ls line "${line}"`);
    return [m[1]!, m[2]!];
  });
}
