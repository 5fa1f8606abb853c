// Browser-style POST uploads with forms made by boto3's generate_presigned_post (Debian's python3-boto3),
// sent with python-requests and curl -F: scripts/boto3_post_upload.py does the work and prints a JSON
// summary on its last line; this file runs it against a real tessera server and checks the summary.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { mkdir } from 'node:fs/promises';
import { startTessera, type TesseraProcess } from '../helpers/tessera.js';
import { clients, awsClientEnv, describeRun, makeTempDir, removeDir, run, skipUnlessInstalled, skipUnlessPythonModule } from './lib.js';

const skip = skipUnlessPythonModule('boto3') || skipUnlessPythonModule('requests') || skipUnlessInstalled('/usr/bin/curl');
const scriptPath = join(import.meta.dirname, 'scripts', 'boto3_post_upload.py');
const testTimeoutMs = 120_000;

let server: TesseraProcess;
let work: string;

before(async () => {
  if (skip) return;
  server = await startTessera();
  work = await makeTempDir('boto3-post');
  await mkdir(join(work, 'home'));
});

after(async () => {
  if (skip) return;
  await server?.cleanup();
  if (work) await removeDir(work);
});

test('boto3 generate_presigned_post - requests and curl uploads, 201 and 303 answers, SigV2 forms, policy refusals', { skip, timeout: testTimeoutMs }, async () => {
  const env = awsClientEnv(join(work, 'home'), server);
  const r = await run(clients.python3, [scriptPath, server.url, 'boto3-post', work], { env, cwd: work, timeoutMs: testTimeoutMs - 10_000 });
  assert.equal(r.code, 0, describeRun('boto3_post_upload.py', r));
  const lines = r.stdout.trim().split('\n');
  const summary = JSON.parse(lines[lines.length - 1]!) as Record<string, unknown>;
  assert.deepEqual(summary, {
    created: 201,
    redirect: 303,
    tooLarge: [400, 'EntityTooLarge'],
    extraField: [403, 'AccessDenied'],
    curl: 204,
    // boto3's default (SigV2) form uploads; the same form with its signature changed is refused.
    sigv2: [204, 403, 'SignatureDoesNotMatch'],
    ok: true,
  });
});
