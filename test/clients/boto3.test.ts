// boto3 (Debian's python3-boto3) against a real tessera server: scripts/boto3_scenario.py does
// the work and prints a JSON summary on its last line; this file runs it and checks the summary.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { mkdir } from 'node:fs/promises';
import { startTessera, type TesseraProcess } from '../helpers/tessera.js';
import { clients, awsClientEnv, describeRun, makeTempDir, removeDir, run, skipUnlessPythonModule, type RunResult } from './lib.js';

const skip = skipUnlessPythonModule('boto3');
const scriptPath = join(import.meta.dirname, 'scripts', 'boto3_scenario.py');
const testTimeoutMs = 300_000;

interface Summary {
  ok: boolean;
  bigSha256: string;
  bigETag: string;
  presignedSigV4: boolean;
  presignedDefault: { signature: string; status: number; errorCode: string | null; bodyMatches: boolean };
  listedKeys: number;
  listPages: number;
  deletedKeys: number;
  seconds: number;
}

let server: TesseraProcess;
let work: string;
let scenario: RunResult | undefined;

before(async () => {
  if (skip) return;
  server = await startTessera();
  work = await makeTempDir('boto3');
  await mkdir(join(work, 'home'));
});

after(async () => {
  if (skip) return;
  await server?.cleanup();
  if (work) await removeDir(work);
});

function summaryOf(r: RunResult): Summary {
  const lines = r.stdout.trim().split('\n');
  return JSON.parse(lines[lines.length - 1]!) as Summary;
}

test('boto3 - upload_file and download_file in parts, presigned GET, 1,100-key paginated listing, delete_objects', { skip, timeout: testTimeoutMs }, async () => {
  const env = awsClientEnv(join(work, 'home'), server);
  const r = await run(clients.python3, [scriptPath, server.url, 'boto3-scenario', work], { env, cwd: work, timeoutMs: testTimeoutMs - 10_000 });
  scenario = r;
  assert.equal(r.code, 0, describeRun('boto3_scenario.py', r));
  const summary = summaryOf(r);
  assert.equal(summary.ok, true);
  assert.match(summary.bigETag, /^"[0-9a-f]{32}-6"$/, '40 MiB + 12345 bytes in 8 MiB parts is 6 parts');
  assert.match(summary.bigSha256, /^[0-9a-f]{64}$/);
  assert.equal(summary.presignedSigV4, true);
  assert.equal(summary.listedKeys, 1100);
  assert.equal(summary.listPages, 2);
  assert.equal(summary.deletedKeys, 1100);
});

// boto3 presigns S3 URLs with SigV2 query auth unless told otherwise, even in its newest
// releases. Tessera accepts SigV2 by default (--sigv2 on), as AWS still does for older buckets, so the
// URL a user who configures nothing gets works; --sigv2 off answers it as AWS's SigV4-only regions do
// (test/s3/sigv2.test.ts).
test('boto3 - a default (SigV2) presigned URL serves the object', { skip }, () => {
  assert.ok(scenario, 'the scenario did not run');
  assert.equal(scenario.code, 0, 'the scenario failed; see the test above');
  const { presignedDefault } = summaryOf(scenario);
  assert.equal(presignedDefault.signature, 'sigv2', 'this boto3 now presigns with SigV4 by default; drop this test');
  assert.deepEqual([presignedDefault.status, presignedDefault.errorCode, presignedDefault.bodyMatches], [200, null, true]);
});
