// boto3 (Debian's python3-boto3) with ACLs and Object Ownership (issue 13): scripts/boto3_acl_scenario.py
// does the work against a server whose store-wide Block Public Access is off, and prints a JSON summary.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { mkdir } from 'node:fs/promises';
import { startTessera, type TesseraProcess } from '../helpers/tessera.js';
import { clients, awsClientEnv, describeRun, makeTempDir, removeDir, run, skipUnlessPythonModule } from './lib.js';

const skip = skipUnlessPythonModule('boto3');
const scriptPath = join(import.meta.dirname, 'scripts', 'boto3_acl_scenario.py');
const allUsers = 'http://acs.amazonaws.com/groups/global/AllUsers';
const authenticatedUsers = 'http://acs.amazonaws.com/groups/global/AuthenticatedUsers';

let server: TesseraProcess;
let work: string;

before(async () => {
  if (skip) return;
  server = await startTessera({ args: ['--block-public-access', 'off'] });
  work = await makeTempDir('boto3-acl');
  await mkdir(join(work, 'home'));
});

after(async () => {
  if (skip) return;
  await server?.cleanup();
  if (work) await removeDir(work);
});

test('boto3 - bucket and object ACLs, canned and granted, on PUT, copy and multipart; ownership controls', { skip, timeout: 120_000 }, async () => {
  const env = awsClientEnv(join(work, 'home'), server);
  const r = await run(clients.python3, [scriptPath, server.url, 'boto3-acl'], { env, cwd: work, timeoutMs: 100_000 });
  assert.equal(r.code, 0, describeRun('boto3_acl_scenario.py', r));
  const lines = r.stdout.trim().split('\n');
  const s = JSON.parse(lines[lines.length - 1]!) as Record<string, unknown> & { ownerId: string };
  const owner = `CanonicalUser:${s.ownerId}`;
  assert.match(s.ownerId, /^[0-9a-f]{64}$/);
  assert.equal(s.defaultOwnership, 'BucketOwnerEnforced');
  assert.deepEqual(s.enforcedPublicPut, [400, 'AccessControlListNotSupported']);
  assert.deepEqual(s.enforcedObjectAcl, [`${owner}:FULL_CONTROL`]);
  assert.deepEqual(s.bucketAcl, [`${owner}:FULL_CONTROL`, `Group:${allUsers}:READ`]);
  assert.deepEqual(s.grantedObjectAcl, [`${owner}:FULL_CONTROL`, `Group:${authenticatedUsers}:READ`]);
  assert.deepEqual(s.replacedObjectAcl, [`${owner}:FULL_CONTROL`, `Group:${allUsers}:READ`]);
  assert.deepEqual(s.copyAcl, [`${owner}:FULL_CONTROL`, `Group:${authenticatedUsers}:READ`]);
  assert.deepEqual(s.multipartAcl, [`${owner}:FULL_CONTROL`, `Group:${allUsers}:READ`]);
  assert.deepEqual(s.badGrant, [400, 'InvalidArgument']);
  assert.deepEqual(s.afterEnforce, [`${owner}:FULL_CONTROL`]);
  assert.deepEqual(s.afterDelete, [404, 'OwnershipControlsNotFoundError']);
});
