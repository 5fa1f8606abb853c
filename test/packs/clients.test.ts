// Pack files through real clients (issue 17): rclone and the aws CLI, with their default settings, copy a
// directory of 200 small files (1-600 KiB: inline and packed shards) into a server of six drives and two
// worker processes, and back out byte for byte.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes, randomInt } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { TesseraProcess } from '../helpers/tessera.js';
import { awsClientEnv, clients, describeRun, makeTempDir, rcloneClientEnv, removeDir, run, skipUnlessInstalled, treeObject, type RunResult } from '../clients/lib.js';
import { KiB, makeDrives, serverErrorLines, startPackServer, type DriveSet } from './helpers.js';

const skipRclone = skipUnlessInstalled(clients.rclone);
const skipAws = skipUnlessInstalled(clients.aws);
const fileCount = 200;
const testTimeoutMs = 180_000;

let set: DriveSet;
let server: TesseraProcess;
let work: string;
let source: string;

before(async () => {
  if (skipRclone && skipAws) return;
  set = await makeDrives(6);
  server = await startPackServer(set, { args: ['--workers', '2'] });
  work = await makeTempDir('packs-clients');
  await mkdir(join(work, 'home'));
  source = join(work, 'source');
  // Ten directories of twenty files each.
  for (let i = 0; i < fileCount; i++) {
    const dir = join(source, `d${i % 10}`);
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, `f${i}.bin`), randomBytes(randomInt(1 * KiB, 600 * KiB + 1)));
  }
});

after(async () => {
  await server?.stop();
  await set?.remove();
  if (work) await removeDir(work);
});

/** The server's log lines above info, at most the last 40. */
function problemLines(log: string): string {
  return log.split('\n').filter((l) => /"level":"(warn|error)"/.test(l)).slice(-40).join('\n');
}

async function ok(what: string, running: Promise<RunResult>): Promise<RunResult> {
  const r = await running;
  // The server's side of a failure (which drive, which error) is in its log, not in the client's output.
  assert.equal(r.code, 0, `${describeRun(what, r)}\n--- server log (warnings and errors)\n${problemLines(server.logs())}`);
  return r;
}

test('packs clients - rclone copies 200 small files in and out unchanged', { skip: skipRclone, timeout: testTimeoutMs }, async () => {
  const errorsBefore = serverErrorLines(server).length; // the tests share one server
  const env = rcloneClientEnv(join(work, 'home'), server);
  const configPath = join(work, 'home', 'rclone.conf');
  await writeFile(configPath, '');
  const rclone = (...args: string[]) => ok(`rclone ${args.join(' ')}`, run(clients.rclone, ['--config', configPath, '--retries', '1', '--low-level-retries', '1', ...args], { env, cwd: work }));
  await rclone('mkdir', 'T:packs-rclone');
  await rclone('copy', source, 'T:packs-rclone/tree');
  // check compares sizes and MD5s (the ETags); the copy back compares the bytes.
  await rclone('check', source, 'T:packs-rclone/tree');
  const down = join(work, 'rclone-down');
  await rclone('copy', 'T:packs-rclone/tree', down);
  const [want, got] = [await treeObject(source), await treeObject(down)];
  assert.equal(Object.keys(got).length, fileCount);
  assert.deepEqual(got, want);
  assert.deepEqual(serverErrorLines(server).slice(errorsBefore), [], 'no request was answered 5xx (a client may have retried it)');
});

test('packs clients - the aws CLI copies 200 small files in and out unchanged', { skip: skipAws, timeout: testTimeoutMs }, async () => {
  const errorsBefore = serverErrorLines(server).length; // the tests share one server
  const env = awsClientEnv(join(work, 'home'), server, { AWS_DEFAULT_REGION: 'us-east-1', AWS_PAGER: '' });
  const aws = (...args: string[]) => ok(`aws ${args.join(' ')}`, run(clients.aws, ['--endpoint-url', server.url, ...args], { env, cwd: work }));
  await aws('s3', 'mb', 's3://packs-aws');
  await aws('s3', 'cp', '--recursive', '--only-show-errors', source, 's3://packs-aws/tree');
  const down = join(work, 'aws-down');
  await aws('s3', 'cp', '--recursive', '--only-show-errors', 's3://packs-aws/tree', down);
  const [want, got] = [await treeObject(source), await treeObject(down)];
  assert.equal(Object.keys(got).length, fileCount);
  assert.deepEqual(got, want);
  assert.deepEqual(serverErrorLines(server).slice(errorsBefore), [], 'no request was answered 5xx (a client may have retried it)');
});
