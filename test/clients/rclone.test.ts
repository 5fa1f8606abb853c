// rclone (Debian's package) against a real tessera server. The remote is configured only
// through RCLONE_CONFIG_T_* variables, with an empty config file.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { appendFile, mkdir, rm, writeFile } from 'node:fs/promises';
import { HeadBucketCommand, HeadObjectCommand } from '@aws-sdk/client-s3';
import { startTessera, withClient, type TesseraProcess } from '../helpers/tessera.js';
import {
  MiB, clients, describeRun, makeTempDir, rcloneClientEnv, removeDir, run, skipUnlessInstalled, treeObject, writeNamesTree,
  writeRandomFile, type RunResult,
} from './lib.js';

const skip = skipUnlessInstalled(clients.rclone);
const testTimeoutMs = 240_000;
// Bigger than 5 MiB, so the run with a 5M cutoff uploads it in three 5 MiB-or-less parts.
const midSizeBytes = 12 * MiB + 4321;

let server: TesseraProcess;
let work: string;
let env: Record<string, string>;
let configPath: string;

before(async () => {
  if (skip) return;
  server = await startTessera();
  work = await makeTempDir('rclone');
  await mkdir(join(work, 'home'));
  configPath = join(work, 'home', 'rclone.conf');
  await writeFile(configPath, '');
  env = rcloneClientEnv(join(work, 'home'), server);
});

after(async () => {
  if (skip) return;
  await server?.cleanup();
  if (work) await removeDir(work);
});

/** rclone with one low-level retry and one high-level retry, so a failure shows at once. */
function rclone(args: string[]): Promise<RunResult> {
  return run(clients.rclone, ['--config', configPath, '--retries', '1', '--low-level-retries', '1', ...args], { env, cwd: work });
}

async function rcloneOk(args: string[]): Promise<RunResult> {
  const r = await rclone(args);
  assert.equal(r.code, 0, describeRun(`rclone ${args.join(' ')}`, r));
  return r;
}


/** `rclone lsf -R --files-only` of a local tree should list exactly its files. */
async function lsfFiles(remote: string): Promise<string[]> {
  const r = await rcloneOk(['lsf', '-R', '--files-only', remote]);
  return r.stdout.split('\n').filter(Boolean).sort();
}

async function localFiles(dir: string): Promise<string[]> {
  return Object.keys(await treeObject(dir)).sort();
}

describe('rclone', { concurrency: 2 }, () => {
  test('rclone - mkdir, sync, check, change, sync, check, lsf and purge with default settings', { skip, timeout: testTimeoutMs }, async () => {
    const source = join(work, 'default-src');
    await writeNamesTree(source);
    await writeRandomFile(join(source, 'big/mid.bin'), midSizeBytes);
    const remote = 'T:rc-default/tree';
    await rcloneOk(['mkdir', 'T:rc-default']);
    assert.equal(await withClient(server, (s3) => s3.send(new HeadBucketCommand({ Bucket: 'rc-default' })).then(() => true)), true);

    await rcloneOk(['sync', source, remote]);
    // check compares sizes and MD5s (the ETag of a single PUT); --download compares the bytes.
    await rcloneOk(['check', source, remote]);
    await rcloneOk(['check', '--download', source, remote]);
    assert.deepEqual(await lsfFiles(remote), await localFiles(source));

    // Modify (new size), modify (same size), delete and add, then sync again: only the changes move.
    await appendFile(join(source, 'a/b/c/deep.txt'), 'appended\n');
    await writeFile(join(source, 'top.txt'), 'TOP LEVEL\n');
    await rm(join(source, 'space dir/file with spaces.txt'));
    await writeFile(join(source, 'ünïcödé/new file ß.txt'), 'added later\n');
    const sync2 = await rcloneOk(['sync', '-v', source, remote]);
    assert.match(sync2.stderr, /Deleted/, describeRun('second sync should delete the removed file', sync2));
    await rcloneOk(['check', source, remote]);
    assert.deepEqual(await lsfFiles(remote), await localFiles(source));

    // Copy back down and compare byte for byte (the empty file included).
    const down = join(work, 'default-down');
    await rcloneOk(['sync', remote, down]);
    assert.deepEqual(await treeObject(down), await treeObject(source));

    // A check against a tree that differs must fail.
    await appendFile(join(source, 'odd/plus+and%percent.txt'), 'local only\n');
    const mismatch = await rclone(['check', source, remote]);
    assert.notEqual(mismatch.code, 0, describeRun('rclone check should find the difference', mismatch));
    assert.match(mismatch.stderr, /1 differences found/, describeRun('rclone check output', mismatch));

    await rcloneOk(['purge', 'T:rc-default']);
    const buckets = await rcloneOk(['lsf', 'T:']);
    assert.ok(!buckets.stdout.split('\n').includes('rc-default/'), describeRun('the purged bucket is gone', buckets));
    await assert.rejects(withClient(server, (s3) => s3.send(new HeadBucketCommand({ Bucket: 'rc-default' }))), (err: { $metadata?: { httpStatusCode?: number } }) => err.$metadata?.httpStatusCode === 404);
  });

  // rclone is a Go program, and Go's encoding/xml escapes the quotes of each ETag in
  // CompleteMultipartUpload as &#34;. Regression: the request XML parser used to leave numeric
  // character references undecoded, so Complete failed with InvalidPart after uploads and
  // server-side part copies alike (fixed in 9013a37).
  test('rclone - multipart sync (--s3-upload-cutoff 5M --s3-chunk-size 5M) completes and checks', { skip, timeout: testTimeoutMs }, async () => {
    const source = join(work, 'multipart-src');
    await writeNamesTree(source);
    await writeRandomFile(join(source, 'big/mid.bin'), midSizeBytes);
    const remote = 'T:rc-multipart/tree';
    const multipart = ['--s3-upload-cutoff', '5M', '--s3-chunk-size', '5M'];
    await rcloneOk(['mkdir', 'T:rc-multipart']);
    await rcloneOk(['sync', ...multipart, source, remote]);
    const head = await withClient(server, (s3) => s3.send(new HeadObjectCommand({ Bucket: 'rc-multipart', Key: 'tree/big/mid.bin' })));
    assert.equal(head.ContentLength, midSizeBytes);
    assert.match(head.ETag ?? '', /^"[0-9a-f]{32}-3"$/, 'mid.bin should be a 3-part multipart object');
    // rclone keeps the whole-file MD5 in metadata for multipart objects, so check still compares hashes.
    await rcloneOk(['check', source, remote]);
    await rcloneOk(['check', '--download', source, remote]);
    // A server-side copy in parts (UploadPartCopy), completed the same way.
    await rcloneOk(['copyto', '--s3-copy-cutoff', '5M', `${remote}/big/mid.bin`, 'T:rc-multipart/copy/big/mid.bin']);
    await rcloneOk(['check', '--download', join(source, 'big'), 'T:rc-multipart/copy/big']);

    await writeRandomFile(join(source, 'big/mid.bin'), midSizeBytes + MiB);
    await rcloneOk(['sync', ...multipart, source, remote]);
    await rcloneOk(['check', '--download', source, remote]);
    await rcloneOk(['purge', 'T:rc-multipart']);
  });
});
