// Users acting under their identity policies, through HTTP: a read-only user's aws CLI upload fails with
// AccessDenied while its download works; a prefix-limited user lists and reads only its prefix (case and
// encoding tricks included); a user whose policy is detached after presigning gets its URL refused; a
// bucket policy naming a user grants it without an identity policy, and its Deny beats the user's Allow.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { readFile, writeFile, mkdir } from 'node:fs/promises';
import { CreateBucketCommand, DeleteBucketPolicyCommand, GetObjectCommand, ListObjectsV2Command, PutBucketPolicyCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { startTesseraForFile } from '../helpers/tessera.js';
import { createUserWithKey, signingAs, type UserKey } from '../helpers/iam.js';
import { assertS3Error, raw, sdkError } from '../s3/raw-http.js';
import { clients, clientEnv, describeRun, makeTempDir, removeDir, run, skipUnlessInstalled } from '../clients/lib.js';

const { server, s3 } = await startTesseraForFile();
const Bucket = 'shared';
const doc = (statements: unknown[]) => JSON.stringify({ Version: '2012-10-17', Statement: statements });
const readOnly = doc([{ Effect: 'Allow', Action: ['s3:GetObject', 's3:ListBucket'], Resource: [`arn:aws:s3:::${Bucket}`, `arn:aws:s3:::${Bucket}/*`] }]);
const prefixOnly = doc([
  { Effect: 'Allow', Action: 's3:ListBucket', Resource: `arn:aws:s3:::${Bucket}`, Condition: { StringLike: { 's3:prefix': 'team/*' } } },
  { Effect: 'Allow', Action: ['s3:GetObject', 's3:PutObject'], Resource: `arn:aws:s3:::${Bucket}/team/*` },
]);
let reader: UserKey;
let teamer: UserKey;

const clientOf = (key: UserKey) => new S3Client({ endpoint: server.url, region: server.region, forcePathStyle: true, credentials: key, maxAttempts: 1 });

before(async () => {
  await s3.send(new CreateBucketCommand({ Bucket }));
  for (const Key of ['readme.txt', 'team/plan.txt', 'teamx/other.txt', 'TEAM/upper.txt', 'secret.txt']) await s3.send(new PutObjectCommand({ Bucket, Key, Body: `body of ${Key}` }));
  reader = await createUserWithKey(server, 'reader', { read: readOnly });
  teamer = await createUserWithKey(server, 'teamer', { team: prefixOnly });
});

const cliSkip = skipUnlessInstalled(clients.aws);

test('Read-only user - aws s3 cp upload fails with AccessDenied, download works', { skip: cliSkip }, async (t) => {
  const work = await makeTempDir('iam-cli');
  t.after(() => removeDir(work));
  await mkdir(join(work, 'home'));
  const env = clientEnv(join(work, 'home'), {
    AWS_ACCESS_KEY_ID: reader.accessKeyId, AWS_SECRET_ACCESS_KEY: reader.secretAccessKey, AWS_DEFAULT_REGION: 'us-east-1', AWS_PAGER: '',
    AWS_EC2_METADATA_DISABLED: 'true', AWS_CONFIG_FILE: join(work, 'home', 'no-config'), AWS_SHARED_CREDENTIALS_FILE: join(work, 'home', 'no-credentials'),
  });
  await writeFile(join(work, 'up.txt'), 'from the reader');
  const up = await run(clients.aws, ['--endpoint-url', server.url, 's3', 'cp', join(work, 'up.txt'), `s3://${Bucket}/by-reader.txt`], { env });
  assert.notEqual(up.code, 0, describeRun('upload', up));
  assert.match(up.stderr, /AccessDenied/, describeRun('upload', up));
  const down = await run(clients.aws, ['--endpoint-url', server.url, 's3', 'cp', `s3://${Bucket}/readme.txt`, join(work, 'down.txt')], { env });
  assert.equal(down.code, 0, describeRun('download', down));
  assert.equal(await readFile(join(work, 'down.txt'), 'utf8'), 'body of readme.txt');
  await assert.rejects(s3.send(new GetObjectCommand({ Bucket, Key: 'by-reader.txt' })), sdkError('NoSuchKey'));
});

test('Prefix-limited user - lists and reads only under its prefix; siblings, case and encoding tricks are refused', async () => {
  const client = clientOf(teamer);
  try {
    const listed = await client.send(new ListObjectsV2Command({ Bucket, Prefix: 'team/' }));
    assert.deepEqual(listed.Contents?.map((o) => o.Key), ['team/plan.txt']);
    await assert.rejects(client.send(new ListObjectsV2Command({ Bucket })), sdkError('AccessDenied', 403));
    await assert.rejects(client.send(new ListObjectsV2Command({ Bucket, Prefix: 'teamx' })), sdkError('AccessDenied', 403));
    assert.equal(await (await client.send(new GetObjectCommand({ Bucket, Key: 'team/plan.txt' }))).Body!.transformToString(), 'body of team/plan.txt');
    await client.send(new PutObjectCommand({ Bucket, Key: 'team/new.txt', Body: 'x' }));
    for (const Key of ['secret.txt', 'teamx/other.txt', 'TEAM/upper.txt', 'team']) {
      await assert.rejects(client.send(new GetObjectCommand({ Bucket, Key })), sdkError('AccessDenied', 403), Key);
    }
    const as = signingAs(server, teamer);
    for (const path of [`/${Bucket}/%2e%2e/secret.txt`, `/${Bucket}/TEAM/upper.txt`, `/${Bucket}/team%2F..%2F..%2Fsecret.txt`, `/${Bucket}//team/plan.txt`]) {
      const res = await raw(as, { path });
      assert.ok(res.status === 403 || res.status === 404, `${path}: ${res.status} ${res.text}`);
      assert.ok(!res.text.includes('body of secret.txt'));
    }
    await assert.rejects(client.send(new PutObjectCommand({ Bucket, Key: 'teamx/new.txt', Body: 'x' })), sdkError('AccessDenied', 403));
  } finally {
    client.destroy();
  }
});

test('Revoked policy - a URL presigned while the policy was attached is refused once it is detached', async () => {
  const user = await createUserWithKey(server, 'revoked', { read: readOnly });
  const client = clientOf(user);
  try {
    const url = await getSignedUrl(client, new GetObjectCommand({ Bucket, Key: 'readme.txt' }), { expiresIn: 600 });
    assert.equal((await fetch(url)).status, 200);
    const detached = await raw(server, { method: 'POST', path: '/_tessera/admin/iam/policies/detach', body: JSON.stringify({ userName: 'revoked', policyName: 'read' }) });
    assert.equal(detached.status, 200, detached.text);
    const res = await fetch(url);
    assert.equal(res.status, 403);
    assert.match(await res.text(), /AccessDenied/);
  } finally {
    client.destroy();
  }
});

test('Bucket policy - naming a user grants it without an identity policy; its Deny beats the user\'s Allow', async () => {
  const nobody = await createUserWithKey(server, 'nobody');
  const as = signingAs(server, nobody);
  assertS3Error(await raw(as, { path: `/${Bucket}/readme.txt` }), 403, 'AccessDenied');
  const policy = doc([
    { Effect: 'Allow', Principal: { AWS: 'arn:aws:iam::000000000000:user/nobody' }, Action: 's3:GetObject', Resource: `arn:aws:s3:::${Bucket}/readme.txt` },
    { Effect: 'Deny', Principal: { AWS: 'arn:aws:iam::000000000000:user/reader' }, Action: 's3:GetObject', Resource: `arn:aws:s3:::${Bucket}/secret.txt` },
  ]);
  await s3.send(new PutBucketPolicyCommand({ Bucket, Policy: policy }));
  assert.equal((await raw(as, { path: `/${Bucket}/readme.txt` })).status, 200);
  assertS3Error(await raw(as, { path: `/${Bucket}/secret.txt` }), 403, 'AccessDenied');
  assertS3Error(await raw(signingAs(server, reader), { path: `/${Bucket}/secret.txt` }), 403, 'AccessDenied');
  assert.equal((await raw(signingAs(server, reader), { path: `/${Bucket}/readme.txt` })).status, 200);
});

test('Cached decisions - each change to what a decision was made from applies on the very next request', async () => {
  const flips = 'flips';
  await s3.send(new CreateBucketCommand({ Bucket: flips }));
  await s3.send(new PutObjectCommand({ Bucket: flips, Key: 'k', Body: 'k' }));
  const user = await createUserWithKey(server, 'flipper');
  const as = signingAs(server, user);
  const path = `/${flips}/k`;
  // Each state is asked twice, so the second answer comes from the decision the first one left.
  const expect = async (who: typeof server, status: number, what: string) => {
    for (let i = 0; i < 2; i++) assert.equal((await raw(who, { path })).status, status, `${what} (request ${i + 1})`);
  };
  const iam = async (path: string, body: unknown) => {
    const res = await raw(server, { method: 'POST', path: `/_tessera/admin/iam/${path}`, body: JSON.stringify(body) });
    assert.equal(res.status, 200, res.text);
  };
  await expect(as, 403, 'no policy');
  await iam('policies/attach', { userName: 'flipper', policyName: 'read', document: doc([{ Effect: 'Allow', Action: 's3:GetObject', Resource: `arn:aws:s3:::${flips}/*` }]) });
  await expect(as, 200, 'identity policy attached');
  await s3.send(new PutBucketPolicyCommand({ Bucket: flips, Policy: doc([{ Effect: 'Deny', Principal: '*', Action: 's3:GetObject', Resource: `arn:aws:s3:::${flips}/*`, Condition: { NotIpAddress: { 'aws:SourceIp': '10.0.0.0/8' } } }]) }));
  await expect(as, 403, 'bucket policy denies every address outside 10/8');
  await expect(server, 403, 'the root too');
  await s3.send(new PutBucketPolicyCommand({ Bucket: flips, Policy: doc([{ Effect: 'Deny', Principal: '*', Action: 's3:GetObject', Resource: `arn:aws:s3:::${flips}/*`, Condition: { NotIpAddress: { 'aws:SourceIp': ['127.0.0.0/8', '::1/128'] } } }]) }));
  await expect(as, 200, 'bucket policy denies only other addresses');
  await expect(server, 200, 'the root again');
  await s3.send(new DeleteBucketPolicyCommand({ Bucket: flips }));
  await expect(as, 200, 'bucket policy deleted');
  await iam('policies/detach', { userName: 'flipper', policyName: 'read' });
  await expect(as, 403, 'identity policy detached');
});

test('aws:userid - a user\'s is its unique id (AIDA...), not its name, as AWS defines it', async () => {
  const created = await raw(server, { method: 'POST', path: '/_tessera/admin/iam/users/create', body: JSON.stringify({ userName: 'idholder' }) });
  const userId = (JSON.parse(created.text) as { userId: string }).userId;
  assert.match(userId, /^AIDA[A-Z0-9]+$/);
  const attached = await raw(server, { method: 'POST', path: '/_tessera/admin/iam/policies/attach', body: JSON.stringify({ userName: 'idholder', policyName: 'own', document: doc([{ Effect: 'Allow', Action: 's3:GetObject', Resource: `arn:aws:s3:::${Bucket}/ids/\${aws:userid}/*` }]) }) });
  assert.equal(attached.status, 200, attached.text);
  const key = JSON.parse((await raw(server, { method: 'POST', path: '/_tessera/admin/iam/keys/create', body: JSON.stringify({ userName: 'idholder' }) })).text) as { accessKeyId: string; secretAccessKey: string };
  for (const Key of [`ids/${userId}/a.txt`, 'ids/idholder/a.txt']) await s3.send(new PutObjectCommand({ Bucket, Key, Body: Key }));
  const as = signingAs(server, key);
  assert.equal((await raw(as, { path: `/${Bucket}/ids/${userId}/a.txt` })).status, 200);
  assertS3Error(await raw(as, { path: `/${Bucket}/ids/idholder/a.txt` }), 403, 'AccessDenied');
});

test('Object tags - s3:ExistingObjectTag lets a user read only objects tagged so', async () => {
  await s3.send(new PutObjectCommand({ Bucket, Key: 'tagged/open.txt', Body: 'open', Tagging: 'class=public' }));
  await s3.send(new PutObjectCommand({ Bucket, Key: 'tagged/closed.txt', Body: 'closed', Tagging: 'class=secret' }));
  const user = await createUserWithKey(server, 'tagreader', {
    tags: doc([{ Effect: 'Allow', Action: 's3:GetObject', Resource: `arn:aws:s3:::${Bucket}/*`, Condition: { StringEquals: { 's3:ExistingObjectTag/class': 'public' } } }]),
  });
  const as = signingAs(server, user);
  assert.equal((await raw(as, { path: `/${Bucket}/tagged/open.txt` })).text, 'open');
  assertS3Error(await raw(as, { path: `/${Bucket}/tagged/closed.txt` }), 403, 'AccessDenied');
  assertS3Error(await raw(as, { path: `/${Bucket}/readme.txt` }), 403, 'AccessDenied');
});

test('ListBuckets - a user allowed s3:ListAllMyBuckets sees the account\'s buckets; one without it is refused', async () => {
  const lister = await createUserWithKey(server, 'lister', { list: doc([{ Effect: 'Allow', Action: 's3:ListAllMyBuckets', Resource: '*' }]) });
  const listed = await raw(signingAs(server, lister), { path: '/' });
  assert.equal(listed.status, 200, listed.text);
  assert.match(listed.text, new RegExp(`<Name>${Bucket}</Name>`));
  assertS3Error(await raw(signingAs(server, reader), { path: '/' }), 403, 'AccessDenied');
});

test('ListBuckets - the root key sees the buckets a user of the account created', async () => {
  const maker = await createUserWithKey(server, 'maker', { make: doc([{ Effect: 'Allow', Action: 's3:CreateBucket', Resource: '*' }]) });
  assert.equal((await raw(signingAs(server, maker), { method: 'PUT', path: '/made-by-user' })).status, 200);
  const listed = await raw(server, { path: '/' });
  assert.equal(listed.status, 200, listed.text);
  assert.match(listed.text, /<Name>made-by-user<\/Name>/);
  assert.match(listed.text, new RegExp(`<Name>${Bucket}</Name>`));
});

test('Bucket owner - the account owns a bucket a user created: its ACL names the account, and re-creating it by another key is the owner\'s re-create', async () => {
  const maker = await createUserWithKey(server, 'maker2', { make: doc([{ Effect: 'Allow', Action: ['s3:CreateBucket', 's3:GetBucketAcl'], Resource: '*' }]) });
  const other = await createUserWithKey(server, 'maker3', { make: doc([{ Effect: 'Allow', Action: 's3:CreateBucket', Resource: '*' }]) });
  assert.equal((await raw(signingAs(server, maker), { method: 'PUT', path: '/owned-by-account' })).status, 200);
  const rootAcl = await raw(server, { path: '/owned-by-account', query: { acl: '' } });
  const makerAcl = await raw(signingAs(server, maker), { path: '/owned-by-account', query: { acl: '' } });
  const listed = await raw(server, { path: '/' });
  const ownerId = /<Owner><ID>([0-9a-f]{64})<\/ID>/.exec(listed.text)?.[1];
  assert.ok(ownerId, listed.text);
  for (const acl of [rootAcl, makerAcl]) assert.match(acl.text, new RegExp(`<Owner><ID>${ownerId}</ID>`), acl.text);
  // us-east-1's legacy answer to the owner re-creating its bucket is 200; another account would get 409 BucketAlreadyExists.
  assert.equal((await raw(signingAs(server, other), { method: 'PUT', path: '/owned-by-account' })).status, 200);
  assert.equal((await raw(server, { method: 'PUT', path: '/owned-by-account' })).status, 200);
});
