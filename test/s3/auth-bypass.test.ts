// The auth-bypass corpus (issue 13): anonymous requests of every shape against a bucket that opens one
// prefix to the public, key tricks (case, dot segments, percent-encoding, siblings of the prefix), policy
// conditions that must fail (wrong IP, plain HTTP where TLS is required), forged signatures and forms.
// None may read or change what the policy does not open, and none may get a 5xx.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { CreateBucketCommand, HeadObjectCommand, PutBucketPolicyCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { startTesseraForFile } from '../helpers/tessera.js';
import { raw, send, type RawResponse } from './raw-http.js';
import { formBody, postForm } from './post-form.js';

const { server, s3 } = await startTesseraForFile();
const Bucket = 'bypass';
const Guarded = 'guarded';
const secret = 'TOP-SECRET-CONTENT';
const arn = (path: string) => `arn:aws:s3:::${Bucket}/${path}`;

before(async () => {
  const res = await raw(server, { method: 'PUT', path: '/_tessera/admin/public-access-block', body: JSON.stringify({ BlockPublicAcls: false, IgnorePublicAcls: false, BlockPublicPolicy: false, RestrictPublicBuckets: false }) });
  assert.equal(res.status, 200, res.text);
  await s3.send(new CreateBucketCommand({ Bucket }));
  await s3.send(new CreateBucketCommand({ Bucket: Guarded }));
  for (const Key of ['secret.txt', 'pub', 'pubx/y', 'PUB/x', 'ip/x', 'tls/x', '../secret.txt']) await s3.send(new PutObjectCommand({ Bucket, Key, Body: secret }));
  await s3.send(new PutObjectCommand({ Bucket, Key: 'pub/ok.txt', Body: 'public' }));
  await s3.send(new PutObjectCommand({ Bucket: Guarded, Key: 'x', Body: secret }));
  const policy = {
    Version: '2012-10-17',
    Statement: [
      { Sid: 'Pub', Effect: 'Allow', Principal: '*', Action: 's3:GetObject', Resource: arn('pub/*') },
      { Sid: 'List', Effect: 'Allow', Principal: '*', Action: 's3:ListBucket', Resource: `arn:aws:s3:::${Bucket}`, Condition: { StringLike: { 's3:prefix': 'pub/*' } } },
      { Sid: 'Ip', Effect: 'Allow', Principal: '*', Action: 's3:GetObject', Resource: arn('ip/*'), Condition: { IpAddress: { 'aws:SourceIp': ['10.0.0.0/8', '2001:db8::/32'] } } },
      { Sid: 'Tls', Effect: 'Allow', Principal: '*', Action: 's3:GetObject', Resource: arn('tls/*'), Condition: { Bool: { 'aws:SecureTransport': 'true' } } },
    ],
  };
  await s3.send(new PutBucketPolicyCommand({ Bucket, Policy: JSON.stringify(policy) }));
  // The root itself is held to conditions by Deny statements: only from 10/8, only over TLS.
  const guard = {
    Version: '2012-10-17',
    Statement: [
      { Effect: 'Deny', Principal: '*', Action: 's3:GetObject', Resource: `arn:aws:s3:::${Guarded}/*`, Condition: { NotIpAddress: { 'aws:SourceIp': '10.0.0.0/8' } } },
      { Effect: 'Deny', Principal: '*', Action: 's3:PutObject', Resource: `arn:aws:s3:::${Guarded}/*`, Condition: { Bool: { 'aws:SecureTransport': 'false' } } },
    ],
  };
  await s3.send(new PutBucketPolicyCommand({ Bucket: Guarded, Policy: JSON.stringify(guard) }));
});

function refused(res: RawResponse, what: string): void {
  assert.ok(res.status < 500, `${what}: ${res.status} ${res.text}`);
  assert.ok(res.status === 403 || res.status === 404 || res.status === 400 || res.status === 405, `${what}: got ${res.status} ${res.text}`);
  assert.ok(!res.text.includes(secret), `${what}: the secret leaked`);
}

const anon = (method: string, path: string, headers: Record<string, string> = {}, body?: Buffer) =>
  send(server, { method, path, headers: { ...(body ? { 'content-length': String(body.length) } : {}), ...headers }, ...(body ? { body } : {}) });

test('Anonymous - the opened prefix reads, and every trick around it is refused without a 5xx', async () => {
  const ok = await anon('GET', `/${Bucket}/pub/ok.txt`);
  assert.equal(ok.status, 200);
  assert.equal(ok.text, 'public');
  const cases: [string, string][] = [
    ['GET', `/${Bucket}/secret.txt`], ['HEAD', `/${Bucket}/secret.txt`], ['GET', `/${Bucket}/pub`], ['GET', `/${Bucket}/pubx/y`],
    ['GET', `/${Bucket}/PUB/x`], ['GET', `/${Bucket}/Pub/ok.txt`], ['GET', `/${Bucket}/%2e%2e/secret.txt`], ['GET', `/${Bucket}/../secret.txt`],
    ['GET', `/${Bucket}/%2E%2E%2Fsecret.txt`], ['GET', `/${Bucket}//pub/ok.txt`], ['GET', `/${Bucket}/%70ub%78/y`], ['GET', `/${Bucket}/pub%00/x`],
    ['GET', `/${Bucket}/ip/x`], ['GET', `/${Bucket}/tls/x`], ['GET', `/${Guarded}/x`], ['GET', `/${Bucket}/pub/ok.txt?versionId=null`],
    ['GET', `/${Bucket}/pub/ok.txt?tagging`], ['GET', `/${Bucket}/pub/ok.txt?acl`], ['GET', `/${Bucket}/pub/ok.txt?attributes`],
    ['GET', `/${Bucket}`], ['GET', `/${Bucket}?list-type=2`], ['GET', `/${Bucket}?list-type=2&prefix=secret`], ['GET', `/${Bucket}?prefix=PUB/`],
    ['GET', `/${Bucket}?list-type=2&prefix=pubx`], ['GET', `/${Bucket}?versions`], ['GET', `/${Bucket}?versions&prefix=pub/`], ['GET', `/${Bucket}?uploads`],
    ['GET', `/${Bucket}?policy`], ['GET', `/${Bucket}?policyStatus`], ['GET', `/${Bucket}?publicAccessBlock`], ['GET', `/${Bucket}?versioning`],
    ['GET', `/${Bucket}?tagging`], ['GET', `/${Bucket}?location`], ['HEAD', `/${Bucket}`], ['GET', '/'], ['PUT', '/anon-new-bucket'],
    ['DELETE', `/${Bucket}/pub/ok.txt`], ['DELETE', `/${Bucket}?policy`], ['DELETE', `/${Bucket}?publicAccessBlock`], ['DELETE', `/${Bucket}`],
    ['GET', `/${Bucket}?acl`], ['GET', `/${Bucket}?cors`], ['POST', `/${Bucket}/pub/new?uploads`], ['GET', `/${Bucket}/secret.txt?x-id=GetObject`],
  ];
  for (const [method, path] of cases) refused(await anon(method, path), `${method} ${path}`);
  const listed = await anon('GET', `/${Bucket}?list-type=2&prefix=pub/`);
  assert.equal(listed.status, 200, listed.text);
  assert.ok(listed.text.includes('pub/ok.txt') && !listed.text.includes('secret.txt'));
});

test('Anonymous - writes, policy changes and copies of what is not public are refused', async () => {
  const body = Buffer.from('x');
  refused(await anon('PUT', `/${Bucket}/pub/new.txt`, {}, body), 'PutObject');
  refused(await anon('PUT', `/${Bucket}/pub/copy.txt`, { 'x-amz-copy-source': `/${Bucket}/secret.txt` }), 'CopyObject');
  refused(await anon('PUT', `/${Bucket}?policy`, { 'content-type': 'application/json' }, Buffer.from(JSON.stringify({ Statement: [{ Effect: 'Allow', Principal: '*', Action: 's3:*', Resource: arn('*') }] }))), 'PutBucketPolicy');
  refused(await anon('PUT', `/${Bucket}?publicAccessBlock`, {}, Buffer.from('<PublicAccessBlockConfiguration/>')), 'PutPublicAccessBlock');
  refused(await anon('PUT', `/${Bucket}?versioning`, {}, Buffer.from('<VersioningConfiguration><Status>Enabled</Status></VersioningConfiguration>')), 'PutBucketVersioning');
  const form = formBody([['key', 'pub/form.txt'], ['file', 'data', 'f.txt']]);
  refused(await postForm(server, Bucket, form), 'anonymous PostObject');
  const del = Buffer.from(`<Delete><Object><Key>pub/ok.txt</Key></Object><Object><Key>secret.txt</Key></Object></Delete>`);
  const deleted = await anon('POST', `/${Bucket}?delete`, { 'content-md5': (await import('node:crypto')).createHash('md5').update(del).digest('base64') }, del);
  assert.ok(deleted.status < 500);
  assert.ok(!deleted.text.includes('<Deleted>'), deleted.text);
  await s3.send(new HeadObjectCommand({ Bucket, Key: 'pub/ok.txt' }));
  await s3.send(new HeadObjectCommand({ Bucket, Key: 'secret.txt' }));
});

test('Forged credentials - a bad signature, an unknown key or a broken presigned URL never reads the secret', async () => {
  refused(await anon('GET', `/${Bucket}/secret.txt`, { authorization: 'AWS4-HMAC-SHA256 Credential=NOPE/20260101/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=00' }), 'forged header');
  refused(await anon('GET', `/${Bucket}/secret.txt?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=${server.accessKeyId}%2F20260101%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20260101T000000Z&X-Amz-Expires=60&X-Amz-SignedHeaders=host&X-Amz-Signature=00`), 'forged presign');
  refused(await raw(server, { path: `/${Bucket}/secret.txt`, secret: 'wrong-secret' }), 'wrong secret');
});

test('Policy conditions - the root is held to a Deny on a foreign IP and on plain HTTP', async () => {
  refused(await raw(server, { path: `/${Guarded}/x` }), 'root GET from 127.0.0.1 with NotIpAddress 10/8 denied');
  refused(await raw(server, { method: 'PUT', path: `/${Guarded}/y`, body: 'x' }), 'root PUT over HTTP with SecureTransport false denied');
  assert.equal((await raw(server, { method: 'DELETE', path: `/${Guarded}/x` })).status, 204);
});
