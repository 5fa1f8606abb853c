// PostObject (browser uploads with a POST form) through raw multipart bodies: the answers AWS documents
// for success (204, 200, 201 PostResponse, 303 redirect) and for forms the policy or signature refuses.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, createHmac, randomBytes } from 'node:crypto';
import { request } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { CreateBucketCommand, GetObjectCommand, HeadObjectCommand, PutBucketVersioningCommand, GetObjectTaggingCommand } from '@aws-sdk/client-s3';
import { startTesseraForFile } from '../helpers/tessera.js';
import { assertS3Error, parseErrorBody, raw } from './raw-http.js';
import { formBody, formBoundary, postForm, signedFields, type FormEntry } from './post-form.js';

const { server, s3 } = await startTesseraForFile();
const Bucket = 'post-uploads';
before(async () => {
  await s3.send(new CreateBucketCommand({ Bucket }));
});

async function objectBody(key: string): Promise<string> {
  return (await s3.send(new GetObjectCommand({ Bucket, Key: key }))).Body!.transformToString();
}

async function assertMissing(key: string): Promise<void> {
  await assert.rejects(s3.send(new HeadObjectCommand({ Bucket, Key: key })), (err: { name?: string }) => err.name === 'NotFound');
}

const file = (content: string | Buffer, filename = 'upload.bin'): FormEntry => ['file', content, filename];

test('PostObject - a signed form is stored with its metadata and answered 204 with ETag and Location', async () => {
  const fields = signedFields(server, [{ bucket: Bucket }, ['starts-with', '$key', 'user/'], ['starts-with', '$Content-Type', 'text/'], { 'x-amz-meta-owner': 'alice' }, ['content-length-range', 0, 100]]);
  const res = await postForm(server, Bucket, formBody([['key', 'user/${filename}'], ['Content-Type', 'text/plain'], ['x-amz-meta-owner', 'alice'], ...fields, file('hello', 'C:\\photos\\hello.txt')]));
  assert.equal(res.status, 204, res.text);
  assert.equal(res.headers.etag, `"${createHash('md5').update('hello').digest('hex')}"`);
  assert.equal(res.headers.location, `http://127.0.0.1:${server.port}/${Bucket}/user/hello.txt`);
  const got = await s3.send(new GetObjectCommand({ Bucket, Key: 'user/hello.txt' }));
  assert.equal(await got.Body!.transformToString(), 'hello');
  assert.equal(got.ContentType, 'text/plain');
  assert.deepEqual(got.Metadata, { owner: 'alice' });
});

test('PostObject - an empty file is stored as an empty object', async () => {
  const res = await postForm(server, Bucket, formBody([['key', 'empty'], ...signedFields(server, [{ key: 'empty' }, ['content-length-range', 0, 10]]), file('')]));
  assert.equal(res.status, 204, res.text);
  assert.equal(res.headers.etag, `"${createHash('md5').digest('hex')}"`);
  assert.equal(await objectBody('empty'), '');
});

test('PostObject - success_action_status 201 answers a PostResponse, 200 an empty 200, anything else 204', async () => {
  for (const [status, expected] of [['201', 201], ['200', 200], ['404', 204]] as const) {
    const key = `status-${status}`;
    const fields = signedFields(server, [{ key }, { success_action_status: status }]);
    const res = await postForm(server, Bucket, formBody([['key', key], ['success_action_status', status], ...fields, file('x')]));
    assert.equal(res.status, expected, res.text);
    if (expected === 201) {
      assert.match(res.text, new RegExp(`<PostResponse><Location>http://127\\.0\\.0\\.1:${server.port}/${Bucket}/${key}</Location><Bucket>${Bucket}</Bucket><Key>${key}</Key><ETag>&quot;[0-9a-f]{32}&quot;</ETag></PostResponse>`));
    } else {
      assert.equal(res.body.length, 0);
    }
    assert.equal(await objectBody(key), 'x');
  }
});

test('PostObject - success_action_redirect answers 303 to the URL with bucket, key and etag in its query', async () => {
  const redirect = 'https://example.com/done?from=form';
  const key = 'redirect me';
  const fields = signedFields(server, [{ key }, ['starts-with', '$success_action_redirect', 'https://example.com/']]);
  const res = await postForm(server, Bucket, formBody([['key', key], ['success_action_redirect', redirect], ...fields, file('r')]));
  assert.equal(res.status, 303, res.text);
  const etag = createHash('md5').update('r').digest('hex');
  assert.equal(res.headers.location, `${redirect}&bucket=${Bucket}&key=redirect%20me&etag=%22${etag}%22`);
});

test('PostObject - a versioned bucket answers with the version id; fields after the file are ignored', async () => {
  const versioned = 'post-versioned';
  await s3.send(new CreateBucketCommand({ Bucket: versioned }));
  await s3.send(new PutBucketVersioningCommand({ Bucket: versioned, VersioningConfiguration: { Status: 'Enabled' } }));
  const fields = signedFields(server, [{ key: 'v' }]);
  const res = await postForm(server, versioned, formBody([['key', 'v'], ...fields, file('one'), ['not-in-policy', 'ignored']]));
  assert.equal(res.status, 204, res.text);
  assert.match(String(res.headers['x-amz-version-id']), /^[0-9a-f]+$/);
});

test('PostObject - tagging, checksum and Content-MD5 fields are applied as on PutObject', async () => {
  const content = 'checked';
  const sha256 = createHash('sha256').update(content).digest('base64');
  const md5 = createHash('md5').update(content).digest('base64');
  const tagging = '<Tagging><TagSet><Tag><Key>team</Key><Value>web</Value></Tag></TagSet></Tagging>';
  const fields = signedFields(server, [{ key: 'sum' }, { tagging }, { 'x-amz-checksum-sha256': sha256 }, { 'Content-MD5': md5 }]);
  const ok = await postForm(server, Bucket, formBody([['key', 'sum'], ['tagging', tagging], ['x-amz-checksum-sha256', sha256], ['Content-MD5', md5], ...fields, file(content)]));
  assert.equal(ok.status, 204, ok.text);
  assert.equal(ok.headers['x-amz-checksum-sha256'], sha256);
  const tags = await s3.send(new GetObjectTaggingCommand({ Bucket, Key: 'sum' }));
  assert.deepEqual(tags.TagSet, [{ Key: 'team', Value: 'web' }]);
  const wrong = createHash('sha256').update('other').digest('base64');
  const badFields = signedFields(server, [{ key: 'badsum' }, { 'x-amz-checksum-sha256': wrong }]);
  const bad = await postForm(server, Bucket, formBody([['key', 'badsum'], ['x-amz-checksum-sha256', wrong], ...badFields, file(content)]));
  assertS3Error(bad, 400, 'BadDigest');
  await assertMissing('badsum');
});

test('PostObject - a failed condition, an extra field or an expired policy is 403 AccessDenied and stores nothing', async () => {
  const cases: [string, FormEntry[], RegExp][] = [
    ['condition', [['key', 'other/x'], ...signedFields(server, [['starts-with', '$key', 'user/']]), file('x')], /^Invalid according to Policy: Policy Condition failed: \["starts-with", "\$key", "user\/"\]$/],
    ['bucket', [['key', 'k1'], ...signedFields(server, [{ key: 'k1' }, { bucket: 'another-bucket' }]), file('x')], /Policy Condition failed: \["eq", "\$bucket", "another-bucket"\]/],
    ['extra field', [['key', 'k2'], ['acl', 'private'], ...signedFields(server, [{ key: 'k2' }]), file('x')], /^Invalid according to Policy: Extra input fields: acl$/],
    ['expired', [['key', 'k3'], ...signedFields(server, [{ key: 'k3' }], { expiresMs: -1000 }), file('x')], /^Invalid according to Policy: Policy expired\.$/],
  ];
  for (const [what, entries, message] of cases) {
    const res = await postForm(server, Bucket, formBody(entries));
    const body = assertS3Error(res, 403, 'AccessDenied');
    assert.match(body.Message!.replaceAll('&quot;', '"'), message, what);
  }
  for (const key of ['other/x', 'k1', 'k2', 'k3']) await assertMissing(key);
  // x-ignore- fields need no condition.
  const ok = await postForm(server, Bucket, formBody([['key', 'k4'], ['x-ignore-tracking', '1'], ...signedFields(server, [{ key: 'k4' }]), file('x')]));
  assert.equal(ok.status, 204, ok.text);
});

test('PostObject - content-length-range refuses a larger file with EntityTooLarge and a smaller one with EntityTooSmall', async () => {
  const large = await postForm(server, Bucket, formBody([['key', 'big'], ...signedFields(server, [{ key: 'big' }, ['content-length-range', 0, 1000]]), file(randomBytes(300_000))]));
  const body = assertS3Error(large, 400, 'EntityTooLarge');
  assert.equal(body.MaxSizeAllowed, '1000');
  const small = await postForm(server, Bucket, formBody([['key', 'small'], ...signedFields(server, [{ key: 'small' }, ['content-length-range', 10, 1000]]), file('tiny')]));
  assert.equal(assertS3Error(small, 400, 'EntityTooSmall').MinSizeAllowed, '10');
  await assertMissing('big');
  await assertMissing('small');
});

test('PostObject - a wrong signature (SigV4 or SigV2) or an unknown key is refused; an unsigned form is AccessDenied', async () => {
  const wrongSecret = await postForm(server, Bucket, formBody([['key', 's1'], ...signedFields(server, [{ key: 's1' }], { secret: 'not-the-secret' }), file('x')]));
  assertS3Error(wrongSecret, 403, 'SignatureDoesNotMatch');
  const unknownKey = await postForm(server, Bucket, formBody([['key', 's2'], ...signedFields(server, [{ key: 's2' }], { accessKeyId: 'AKIDUNKNOWN000000000' }), file('x')]));
  assertS3Error(unknownKey, 403, 'InvalidAccessKeyId');
  const policy = Buffer.from(JSON.stringify({ expiration: new Date(Date.now() + 60_000).toISOString(), conditions: [{ key: 's3' }] })).toString('base64');
  const sigv2 = await postForm(server, Bucket, formBody([['key', 's3'], ['AWSAccessKeyId', server.accessKeyId], ['policy', policy], ['signature', 'c2lnbmF0dXJl'], file('x')]));
  assertS3Error(sigv2, 403, 'SignatureDoesNotMatch');
  const sigv2Policy = Buffer.from(JSON.stringify({ expiration: new Date(Date.now() + 60_000).toISOString(), conditions: [{ key: 'v2' }] })).toString('base64');
  const sigv2Signature = createHmac('sha1', server.secretAccessKey).update(sigv2Policy).digest('base64');
  const sigv2Signed = await postForm(server, Bucket, formBody([['key', 'v2'], ['AWSAccessKeyId', server.accessKeyId], ['policy', sigv2Policy], ['signature', sigv2Signature], file('x')]));
  assert.equal(sigv2Signed.status, 204, sigv2Signed.body.toString());
  const anonymous = await postForm(server, Bucket, formBody([['key', 's4'], file('x')]));
  assertS3Error(anonymous, 403, 'AccessDenied');
  const noSignature = await postForm(server, Bucket, formBody([['key', 's5'], ...signedFields(server, [{ key: 's5' }]).filter(([n]) => n !== 'x-amz-signature'), file('x')]));
  assert.equal(assertS3Error(noSignature, 400, 'InvalidArgument').ArgumentName, 'x-amz-signature');
  for (const key of ['s1', 's2', 's3', 's4', 's5']) await assertMissing(key);
});

test('PostObject - a missing key or file, two files and a bad policy document get AWS\'s 400 answers', async () => {
  const noKey = await postForm(server, Bucket, formBody([...signedFields(server, []), file('x')]));
  assert.equal(assertS3Error(noKey, 400, 'InvalidArgument').ArgumentName, 'key');
  const noFile = await postForm(server, Bucket, formBody([['key', 'nofile'], ...signedFields(server, [{ key: 'nofile' }])]));
  assert.equal(assertS3Error(noFile, 400, 'InvalidArgument').ArgumentName, 'file');
  const twoFiles = await postForm(server, Bucket, formBody([['key', 'two'], ...signedFields(server, [{ key: 'two' }]), file('one'), file('two')]));
  assertS3Error(twoFiles, 400, 'IncorrectNumberOfFilesInPostRequest');
  await assertMissing('two');
  const fields = signedFields(server, [{ key: 'badpolicy' }]).map(([n, v]): FormEntry => (n === 'policy' ? [n, Buffer.from('{"conditions": []}').toString('base64')] : [n, v]));
  const badPolicy = await postForm(server, Bucket, formBody([['key', 'badpolicy'], ...fields, file('x')]));
  // The signature no longer matches the policy it was made for; a policy signed as sent is checked next.
  assertS3Error(badPolicy, 403, 'SignatureDoesNotMatch');
});

test('PostObject - a policy without expiration, signed, is 400 InvalidPolicyDocument', async () => {
  const fields = signedFields(server, [], { document: { conditions: [{ key: 'noexp' }] } });
  const res = await postForm(server, Bucket, formBody([['key', 'noexp'], ...fields, file('x')]));
  assert.match(assertS3Error(res, 400, 'InvalidPolicyDocument').Message!, /Policy missing expiration/);
});

test('PostObject - a body that is not multipart/form-data or not well formed is refused', async () => {
  const urlencoded = await postForm(server, Bucket, Buffer.from('key=a'), { 'content-type': 'application/x-www-form-urlencoded' });
  assert.equal(assertS3Error(urlencoded, 412, 'PreconditionFailed').Condition, 'Bucket POST must be of the enclosure-type multipart/form-data');
  // Signed at the HTTP level too (the router's way in, rather than the unsigned one).
  assertS3Error(await raw(server, { method: 'POST', path: `/${Bucket}`, body: 'form' }), 412, 'PreconditionFailed');
  const good = formBody([['key', 'trunc'], ...signedFields(server, [{ key: 'trunc' }]), file('some data')]);
  const truncated = await postForm(server, Bucket, good.subarray(0, good.length - 30));
  assertS3Error(truncated, 400, 'MalformedPOSTRequest');
  await assertMissing('trunc');
  const padded = await postForm(server, Bucket, formBody([['x-ignore-pad', 'p'.repeat(25_000)], ['key', 'pad'], file('x')]));
  assertS3Error(padded, 400, 'MaxPostPreDataLengthExceededError');
});

test('PostObject - a key with a character XML cannot carry is refused as on PutObject', async () => {
  const key = 'bad\u0000key';
  const res = await postForm(server, Bucket, formBody([['key', key], ...signedFields(server, [{ key }]), file('x')]));
  assert.equal(parseErrorBody(res.text).Code, 'InvalidArgument');
});

test('PostObject - cut and corrupted forms never get a 5xx and never store a partial file', async () => {
  const content = randomBytes(40_000);
  const good = formBody([['key', 'fuzz'], ['Content-Type', 'application/octet-stream'], ...signedFields(server, [{ key: 'fuzz' }, { 'Content-Type': 'application/octet-stream' }]), file(content)]);
  let seed = 7;
  const random = (n: number) => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed % n;
  };
  for (let i = 0; i < 60; i++) {
    const body = Buffer.from(good);
    if (i % 2 === 0) {
      const cut = random(body.length);
      const res = await postForm(server, Bucket, body.subarray(0, cut));
      assert.ok(res.status >= 400 && res.status < 500, `cut at ${cut}: ${res.status} ${res.text}`);
    } else {
      for (let j = 0; j < 3; j++) body[random(body.length)] = random(256);
      const res = await postForm(server, Bucket, body);
      assert.ok(res.status < 500, `corrupted: ${res.status} ${res.text}`);
    }
  }
  // Whatever got stored is the whole file or a whole corrupted copy of it, never a piece.
  const stored = await s3.send(new GetObjectCommand({ Bucket, Key: 'fuzz' })).catch(() => undefined);
  if (stored) assert.equal(stored.ContentLength, content.length);
});

test('PostObject - a client that goes away mid-file leaves no object and the server serving', async () => {
  const body = formBody([['key', 'gone'], ...signedFields(server, [{ key: 'gone' }]), file(randomBytes(2 * 1024 * 1024))]);
  await new Promise<void>((resolve) => {
    const req = request({
      host: '127.0.0.1', port: server.port, method: 'POST', path: `/${Bucket}`, agent: false,
      headers: { 'content-type': `multipart/form-data; boundary=${formBoundary}`, 'content-length': String(body.length) },
    });
    req.on('error', () => resolve());
    req.on('close', () => resolve());
    req.write(body.subarray(0, body.length / 2), () => setTimeout(() => req.destroy(), 100));
  });
  await sleep(200);
  await assertMissing('gone');
  const ok = await postForm(server, Bucket, formBody([['key', 'after-gone'], ...signedFields(server, [{ key: 'after-gone' }]), file('still here')]));
  assert.equal(ok.status, 204, ok.text);
});
