// aws CLI v2 (Debian's awscli) against a real tessera server, with the CLI's default settings:
// `aws s3` over a tree (a 100 MiB file goes multipart at the CLI's 8 MiB threshold), then a
// tour of `aws s3api` operations.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { appendFile, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { CreateBucketCommand, GetObjectCommand, HeadBucketCommand, HeadObjectCommand, ListObjectsV2Command, PutObjectCommand } from '@aws-sdk/client-s3';
import { randomBytes } from 'node:crypto';
import { startTessera, withClient, type TesseraProcess } from '../helpers/tessera.js';
import {
  MiB, clients, clientEnv, describeRun, makeTempDir, md5File, md5Hex, multipartETag, removeDir, run,
  sha256, sha256File, skipUnlessInstalled, treeObject, writeNamesTree, writeRandomFile, type RunResult,
} from './lib.js';

const skip = skipUnlessInstalled(clients.aws);
const bigSizeBytes = 100 * MiB;
// The CLI's defaults: multipart_threshold and multipart_chunksize are both 8 MiB.
const cliChunkBytes = 8 * MiB;
const testTimeoutMs = 300_000;

let server: TesseraProcess;
let work: string;
let env: Record<string, string>;

before(async () => {
  if (skip) return;
  server = await startTessera();
  work = await makeTempDir('aws-cli');
  env = clientEnv(join(work, 'home'), {
    AWS_ACCESS_KEY_ID: server.accessKeyId,
    AWS_SECRET_ACCESS_KEY: server.secretAccessKey,
    AWS_DEFAULT_REGION: 'us-east-1',
    AWS_PAGER: '',
    AWS_EC2_METADATA_DISABLED: 'true',
    // No config or credentials file: HOME is empty, and these point nowhere.
    AWS_CONFIG_FILE: join(work, 'home', 'no-config'),
    AWS_SHARED_CREDENTIALS_FILE: join(work, 'home', 'no-credentials'),
  });
  await mkdir(join(work, 'home'));
});

after(async () => {
  if (skip) return;
  await server?.cleanup();
  if (work) await removeDir(work);
});

function aws(args: string[], timeoutMs?: number): Promise<RunResult> {
  return run(clients.aws, ['--endpoint-url', server.url, '--output', 'json', ...args], { env, cwd: work, timeoutMs });
}

/** Runs an aws command that must succeed and returns its parsed JSON output (or null when empty). */
async function awsOk(args: string[], timeoutMs?: number): Promise<any> {
  const r = await aws(args, timeoutMs);
  assert.equal(r.code, 0, describeRun(`aws ${args.join(' ')}`, r));
  return r.stdout.trim() === '' ? null : JSON.parse(r.stdout);
}

/** Runs an aws command that must fail with the given S3 error code. */
async function awsFails(args: string[], errorCode: string): Promise<void> {
  const r = await aws(args);
  assert.notEqual(r.code, 0, describeRun(`aws ${args.join(' ')} should fail`, r));
  assert.match(r.stderr, new RegExp(`\\(${errorCode}\\)`), describeRun(`aws ${args.join(' ')} should fail with ${errorCode}`, r));
}

/** `aws s3 ls --recursive` lines: "2026-01-01 00:00:00       1234 key". */
function parseS3Ls(stdout: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of stdout.split('\n')) {
    const m = /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\s+(\d+) (.*)$/.exec(line);
    if (m) out[m[2]!] = Number(m[1]);
  }
  return out;
}


function sdkHead(bucket: string, key: string) {
  return withClient(server, (s3) => s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key })));
}

function sdkPut(bucket: string, key: string, body: Buffer) {
  return withClient(server, (s3) => s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body })));
}

async function sdkGet(bucket: string, key: string) {
  return withClient(server, async (s3) => {
    const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    return { body: Buffer.from(await got.Body!.transformToByteArray()), metadata: got.Metadata, contentType: got.ContentType };
  });
}

async function sdkKeys(bucket: string): Promise<string[]> {
  return withClient(server, async (s3) => ((await s3.send(new ListObjectsV2Command({ Bucket: bucket }))).Contents ?? []).map((o) => o.Key!));
}

async function sdkBucketExists(bucket: string): Promise<boolean> {
  return withClient(server, async (s3) => {
    try {
      await s3.send(new HeadBucketCommand({ Bucket: bucket }));
      return true;
    } catch (err) {
      if ((err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode === 404) return false;
      throw err;
    }
  });
}

// The two scenarios use separate buckets and run side by side: most of their time is CLI start-up.
describe('aws CLI', { concurrency: 2 }, () => {
  test('aws s3 - cp, ls, sync and rm of a tree with a multipart file and awkward names', { skip, timeout: testTimeoutMs }, async () => {
    const source = join(work, 'tree');
    const names = await writeNamesTree(source);
    await writeRandomFile(join(source, 'big', '100mib.bin'), bigSizeBytes);
    const bucket = 'cli-tree';
    const mb = await aws(['s3', 'mb', `s3://${bucket}`]);
    assert.equal(mb.code, 0, describeRun('aws s3 mb', mb));

    const cp = await aws(['s3', 'cp', '--recursive', '--no-progress', source, `s3://${bucket}/up/`]);
    assert.equal(cp.code, 0, describeRun('aws s3 cp --recursive', cp));
    assert.equal(cp.stdout.split('\n').filter((l) => l.startsWith('upload:')).length, names.length + 1, describeRun('one upload line per file', cp));

    // The listing shows every key with its size.
    const expectedSizes: Record<string, number> = {};
    for (const [path, size] of Object.entries(await treeObject(source))) expectedSizes[`up/${path}`] = Number(size.split(':')[0]);
    const ls = await aws(['s3', 'ls', '--recursive', `s3://${bucket}/up/`]);
    assert.equal(ls.code, 0, describeRun('aws s3 ls --recursive', ls));
    assert.deepEqual(parseS3Ls(ls.stdout), expectedSizes);

    // The big file went multipart with the CLI's 8 MiB parts: the ETag says how many.
    const head = await sdkHead(bucket, 'up/big/100mib.bin');
    assert.equal(head.ContentLength, bigSizeBytes);
    assert.match(head.ETag ?? '', new RegExp(`^"[0-9a-f]{32}-${Math.ceil(bigSizeBytes / cliChunkBytes)}"$`));

    // Sync down into an empty directory: byte-for-byte the same tree (empty file included).
    const down = join(work, 'down');
    const syncDown = await aws(['s3', 'sync', '--no-progress', `s3://${bucket}/up/`, down]);
    assert.equal(syncDown.code, 0, describeRun('aws s3 sync down', syncDown));
    assert.deepEqual(await treeObject(down), await treeObject(source));
    // A second sync finds nothing to do: sizes and LastModified agree between list and files.
    const again = await aws(['s3', 'sync', '--no-progress', `s3://${bucket}/up/`, down]);
    assert.equal(again.code, 0, describeRun('aws s3 sync down again', again));
    assert.equal(again.stdout.trim(), '', describeRun('second sync should transfer nothing', again));

    // Change the source (edit with a new size, delete, add) and sync up with --delete.
    await appendFile(join(source, 'a/b/c/deep.txt'), 'more\n');
    await rm(join(source, 'space dir/file with spaces.txt'));
    await writeFile(join(source, 'ünïcödé/new file ß.txt'), 'added later\n');
    const syncUp = await aws(['s3', 'sync', '--no-progress', '--delete', source, `s3://${bucket}/up/`]);
    assert.equal(syncUp.code, 0, describeRun('aws s3 sync up --delete', syncUp));
    const actions = syncUp.stdout.split('\n').filter(Boolean).map((l) => l.split(':')[0]).sort();
    assert.deepEqual(actions, ['delete', 'upload', 'upload'], describeRun('sync up should send only the changes', syncUp));
    const syncDown2 = await aws(['s3', 'sync', '--no-progress', '--delete', `s3://${bucket}/up/`, down]);
    assert.equal(syncDown2.code, 0, describeRun('aws s3 sync down --delete', syncDown2));
    assert.deepEqual(await treeObject(down), await treeObject(source));

    // rm --recursive leaves nothing under the prefix, so rb succeeds.
    const rmAll = await aws(['s3', 'rm', '--recursive', `s3://${bucket}/up/`]);
    assert.equal(rmAll.code, 0, describeRun('aws s3 rm --recursive', rmAll));
    assert.equal(rmAll.stdout.split('\n').filter((l) => l.startsWith('delete:')).length, Object.keys(await treeObject(source)).length, describeRun('one delete line per object', rmAll));
    assert.deepEqual(await sdkKeys(bucket), []);
    const rb = await aws(['s3', 'rb', `s3://${bucket}`]);
    assert.equal(rb.code, 0, describeRun('aws s3 rb', rb));
    assert.equal(await sdkBucketExists(bucket), false);
  });

  // For an object at or over its 8 MiB multipart threshold, `aws s3 cp s3://… s3://…` (and sync
  // and mv between buckets) does a multipart copy, and with the default --copy-props it first
  // calls GetObjectTagging to carry the tags over. Regression: that call used to get 501
  // NotImplemented, which failed the whole copy (fixed in 2cff88c).
  test('aws s3 - cp from S3 to S3 of a 20 MiB object (multipart copy) with default settings', { skip, timeout: testTimeoutMs }, async () => {
    const bucket = 'cli-s3-copy';
    await withClient(server, (s3) => s3.send(new CreateBucketCommand({ Bucket: bucket })));
    const bytes = randomBytes(20 * MiB);
    await sdkPut(bucket, 'source/big.bin', bytes);
    const cp = await aws(['s3', 'cp', '--no-progress', `s3://${bucket}/source/big.bin`, `s3://${bucket}/copy/big ü.bin`]);
    assert.equal(cp.code, 0, describeRun('aws s3 cp s3:// s3:// (multipart copy)', cp));
    const copied = await sdkGet(bucket, 'copy/big ü.bin');
    assert.equal(sha256(copied.body), sha256(bytes));
    const head = await sdkHead(bucket, 'copy/big ü.bin');
    assert.match(head.ETag ?? '', /^"[0-9a-f]{32}-3"$/, 'a 20 MiB copy in 8 MiB parts has 3 parts');
  });

  test('aws s3api - bucket, object, listing, copy, delete and multipart calls', { skip, timeout: testTimeoutMs }, async () => {
    const bucket = 'cli-api';
    const created = await awsOk(['s3api', 'create-bucket', '--bucket', bucket]);
    assert.equal(created.Location, `/${bucket}`);
    const [location] = await Promise.all([
      awsOk(['s3api', 'get-bucket-location', '--bucket', bucket]),
      awsFails(['s3api', 'create-bucket', '--bucket', 'No_Such-Name'], 'InvalidBucketName'),
    ]);
    // us-east-1 is the empty LocationConstraint, which the CLI shows as null.
    assert.equal(location.LocationConstraint, null);

    // put-object with a valid Content-MD5, then with a wrong one: BadDigest, and nothing stored.
    const body = join(work, 'md5-body.txt');
    const bodyText = 'content-md5 checked\n';
    await writeFile(body, bodyText);
    const md5Base64 = Buffer.from(md5Hex(bodyText), 'hex').toString('base64');
    const wrongMd5Base64 = Buffer.from(md5Hex('something else'), 'hex').toString('base64');
    const [putOk] = await Promise.all([
      awsOk(['s3api', 'put-object', '--bucket', bucket, '--key', 'md5/ok.txt', '--body', body, '--content-md5', md5Base64,
        '--content-type', 'text/plain; charset=utf-8', '--metadata', 'colour=blue,size=large', '--cache-control', 'max-age=60']),
      awsFails(['s3api', 'put-object', '--bucket', bucket, '--key', 'md5/bad.txt', '--body', body, '--content-md5', wrongMd5Base64], 'BadDigest'),
    ]);
    assert.equal(putOk.ETag, `"${md5Hex(bodyText)}"`);
    assert.deepEqual(await sdkKeys(bucket), ['md5/ok.txt']);

    // head-object returns what was stored.
    const head = await awsOk(['s3api', 'head-object', '--bucket', bucket, '--key', 'md5/ok.txt']);
    assert.equal(head.ContentLength, Buffer.byteLength(bodyText));
    assert.equal(head.ETag, `"${md5Hex(bodyText)}"`);
    assert.equal(head.ContentType, 'text/plain; charset=utf-8');
    assert.equal(head.CacheControl, 'max-age=60');
    assert.deepEqual(head.Metadata, { colour: 'blue', size: 'large' });

    // Ranges of a 1 MiB object (stored with the SDK; the CLI's GETs are what is under test).
    const rangeBytes = randomBytes(MiB);
    await sdkPut(bucket, 'dir/e f/range.bin', rangeBytes);
    const [r1, r2] = await Promise.all([
      awsOk(['s3api', 'get-object', '--bucket', bucket, '--key', 'dir/e f/range.bin', '--range', 'bytes=1000-1999', join(work, 'r1')]),
      awsOk(['s3api', 'get-object', '--bucket', bucket, '--key', 'dir/e f/range.bin', '--range', 'bytes=-100', join(work, 'r2')]),
      awsFails(['s3api', 'get-object', '--bucket', bucket, '--key', 'dir/e f/range.bin', '--range', `bytes=${MiB}-`, join(work, 'r3')], 'InvalidRange'),
    ]);
    assert.equal(r1.ContentRange, `bytes 1000-1999/${MiB}`);
    assert.equal(r1.ContentLength, 1000);
    assert.ok((await readFile(join(work, 'r1'))).equals(rangeBytes.subarray(1000, 2000)), 'range 1000-1999: bytes differ');
    assert.equal(r2.ContentRange, `bytes ${MiB - 100}-${MiB - 1}/${MiB}`);
    assert.ok((await readFile(join(work, 'r2'))).equals(rangeBytes.subarray(MiB - 100)), 'suffix range -100: bytes differ');

    // Listing with prefix and delimiter. The CLI sends encoding-type=url and decodes the answer,
    // so unicode, spaces, "+" and "%" must survive the round trip.
    const listKeys = ['dir/a', 'dir/b/c', 'dir/b/d', 'dir/ü/h', 'dir/z+%/k', 'other'];
    await Promise.all(listKeys.map((key) => sdkPut(bucket, key, Buffer.alloc(0))));
    const [listed, paged] = await Promise.all([
      awsOk(['s3api', 'list-objects-v2', '--bucket', bucket, '--prefix', 'dir/', '--delimiter', '/']),
      // One entry per page: the CLI follows continuation tokens across keys and common prefixes.
      awsOk(['s3api', 'list-objects-v2', '--bucket', bucket, '--prefix', 'dir/', '--delimiter', '/', '--page-size', '1']),
    ]);
    const expectedListing = {
      keys: ['dir/a'],
      prefixes: ['dir/b/', 'dir/e f/', 'dir/z+%/', 'dir/ü/'], // UTF-8 byte order: "ü" (0xC3) sorts after "z"
    };
    for (const [name, result] of [['one page', listed], ['page size 1', paged]] as const) {
      assert.deepEqual({
        keys: (result?.Contents ?? []).map((o: { Key: string }) => o.Key),
        prefixes: (result?.CommonPrefixes ?? []).map((p: { Prefix: string }) => p.Prefix),
      }, expectedListing, `list-objects-v2 (${name}): ${JSON.stringify(result)}`);
    }

    // copy-object: COPY keeps the metadata, REPLACE swaps it; the bytes are the same either way.
    const [copied, replaced] = await Promise.all([
      awsOk(['s3api', 'copy-object', '--bucket', bucket, '--key', 'copies/ok copy.txt', '--copy-source', `${bucket}/md5/ok.txt`]),
      awsOk(['s3api', 'copy-object', '--bucket', bucket, '--key', 'copies/range ü.bin', '--copy-source', `${bucket}/dir/e f/range.bin`,
        '--metadata-directive', 'REPLACE', '--content-type', 'application/x-test', '--metadata', 'copied=yes']),
    ]);
    assert.equal(copied.CopyObjectResult.ETag, `"${md5Hex(bodyText)}"`);
    assert.equal(replaced.CopyObjectResult.ETag, `"${md5Hex(rangeBytes)}"`);
    const copiedHead = await sdkHead(bucket, 'copies/ok copy.txt');
    assert.deepEqual(copiedHead.Metadata, { colour: 'blue', size: 'large' });
    assert.equal(copiedHead.ContentType, 'text/plain; charset=utf-8');
    const replacedGot = await sdkGet(bucket, 'copies/range ü.bin');
    assert.deepEqual(replacedGot.metadata, { copied: 'yes' });
    assert.equal(replacedGot.contentType, 'application/x-test');
    assert.equal(sha256(replacedGot.body), sha256(rangeBytes));

    // Multipart through s3api: a 5 MiB part (the minimum for all but the last) and a short last
    // part, uploaded in parallel and out of order.
    const partSizes = [5 * MiB, 12_345];
    const partFiles = partSizes.map((_, i) => join(work, `part${i + 1}.bin`));
    await Promise.all(partFiles.map((path, i) => writeRandomFile(path, partSizes[i]!)));
    const mpKey = 'multipart/ob ject ü.bin';
    const upload = await awsOk(['s3api', 'create-multipart-upload', '--bucket', bucket, '--key', mpKey, '--content-type', 'application/x-mp']);
    assert.equal(upload.Key, mpKey);
    const uploadId: string = upload.UploadId;
    const [second, first] = await Promise.all([2, 1].map((partNumber) =>
      awsOk(['s3api', 'upload-part', '--bucket', bucket, '--key', mpKey, '--upload-id', uploadId, '--part-number', String(partNumber), '--body', partFiles[partNumber - 1]!])));
    const partMd5s = await Promise.all(partFiles.map((p) => md5File(p)));
    const etags = [first.ETag, second.ETag];
    assert.deepEqual(etags, partMd5s.map((m) => `"${m.toString('hex')}"`));
    const manifest = join(work, 'complete.json');
    await writeFile(manifest, JSON.stringify({ Parts: etags.map((ETag, i) => ({ PartNumber: i + 1, ETag })) }));
    const completed = await awsOk(['s3api', 'complete-multipart-upload', '--bucket', bucket, '--key', mpKey, '--upload-id', uploadId,
      '--multipart-upload', `file://${manifest}`]);
    assert.equal(completed.ETag, multipartETag(partMd5s));
    const mpDown = join(work, 'mp-down.bin');
    const mpGot = await awsOk(['s3api', 'get-object', '--bucket', bucket, '--key', mpKey, mpDown]);
    const whole = Buffer.concat(await Promise.all(partFiles.map((p) => readFile(p))));
    assert.equal(mpGot.ContentLength, whole.length);
    assert.equal(mpGot.ContentType, 'application/x-mp');
    assert.equal(mpGot.ETag, multipartETag(partMd5s));
    assert.equal(await sha256File(mpDown), sha256(whole));

    // delete-objects: existing keys and a missing one are all reported deleted, with no errors.
    const toDelete = [...listKeys, 'md5/ok.txt', 'copies/ok copy.txt', 'copies/range ü.bin', 'dir/e f/range.bin', mpKey, 'never/existed'];
    const deleteRequest = join(work, 'delete.json');
    await writeFile(deleteRequest, JSON.stringify({ Objects: toDelete.map((Key) => ({ Key })) }));
    const deleted = await awsOk(['s3api', 'delete-objects', '--bucket', bucket, '--delete', `file://${deleteRequest}`]);
    assert.equal(deleted.Errors, undefined, JSON.stringify(deleted));
    assert.deepEqual(deleted.Deleted.map((d: { Key: string }) => d.Key).sort(), [...toDelete].sort());
    const remaining = await awsOk(['s3api', 'list-objects-v2', '--bucket', bucket, '--no-paginate']);
    assert.equal(remaining.KeyCount, 0, JSON.stringify(remaining));
    await awsOk(['s3api', 'delete-bucket', '--bucket', bucket]);
    assert.equal(await sdkBucketExists(bucket), false);
  });
});
