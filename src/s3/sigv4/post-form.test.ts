import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createHmac } from 'node:crypto';
import { S3Error } from '../errors.js';
import { checkPostPolicy, parsePostPolicy, type FormField } from '../post-policy.js';
import { authenticateForm } from './post-form.js';

// The worked example of the S3 API reference, "Example: Browser-Based Upload using HTTP POST (Using AWS
// Signature Version 4)": its example credentials, policy and the signature the page gives for them.
const accessKeyId = 'AKIAIOSFODNN7EXAMPLE';
const secret = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY';
const policy = 'eyAiZXhwaXJhdGlvbiI6ICIyMDE1LTEyLTMwVDEyOjAwOjAwLjAwMFoiLA0KICAiY29uZGl0aW9ucyI6IFsNCiAgICB7ImJ1Y2tldCI6ICJzaWd2NGV4YW1wbGVidWNrZXQifSwNCiAgICBbInN0YXJ0cy13aXRoIiwgIiRrZXkiLCAidXNlci91c2VyMS8iXSwNCiAgICB7ImFjbCI6ICJwdWJsaWMtcmVhZCJ9LA0KICAgIHsic3VjY2Vzc19hY3Rpb25fcmVkaXJlY3QiOiAiaHR0cDovL3NpZ3Y0ZXhhbXBsZWJ1Y2tldC5zMy5hbWF6b25hd3MuY29tL3N1Y2Nlc3NmdWxfdXBsb2FkLmh0bWwifSwNCiAgICBbInN0YXJ0cy13aXRoIiwgIiRDb250ZW50LVR5cGUiLCAiaW1hZ2UvIl0sDQogICAgeyJ4LWFtei1tZXRhLXV1aWQiOiAiMTQzNjUxMjM2NTEyNzQifSwNCiAgICB7IngtYW16LXNlcnZlci1zaWRlLWVuY3J5cHRpb24iOiAiQUVTMjU2In0sDQogICAgWyJzdGFydHMtd2l0aCIsICIkeC1hbXotbWV0YS10YWciLCAiIl0sDQoNCiAgICB7IngtYW16LWNyZWRlbnRpYWwiOiAiQUtJQUlPU0ZPRE5ON0VYQU1QTEUvMjAxNTEyMjkvdXMtZWFzdC0xL3MzL2F3czRfcmVxdWVzdCJ9LA0KICAgIHsieC1hbXotYWxnb3JpdGhtIjogIkFXUzQtSE1BQy1TSEEyNTYifSwNCiAgICB7IngtYW16LWRhdGUiOiAiMjAxNTEyMjlUMDAwMDAwWiIgfQ0KICBdDQp9';
const signature = '8afdbf4008c03f22c2cd3cdb72e4afbb1f6a588f3255ac628749a66d7f09699e';

const exampleForm: Record<string, string> = {
  key: 'user/user1/${filename}',
  acl: 'public-read',
  success_action_redirect: 'http://sigv4examplebucket.s3.amazonaws.com/successful_upload.html',
  'Content-Type': 'image/jpeg',
  'x-amz-meta-uuid': '14365123651274',
  'x-amz-server-side-encryption': 'AES256',
  'X-Amz-Credential': `${accessKeyId}/20151229/us-east-1/s3/aws4_request`,
  'X-Amz-Algorithm': 'AWS4-HMAC-SHA256',
  'X-Amz-Date': '20151229T000000Z',
  'x-amz-meta-tag': '',
  Policy: policy,
  'X-Amz-Signature': signature,
};

function fieldsOf(record: Record<string, string>): Map<string, FormField> {
  return new Map(Object.entries(record).map(([name, value]) => [name.toLowerCase(), { name, value }]));
}

const config = { region: 'us-east-1', secretFor: (id: string) => (id === accessKeyId ? secret : undefined), nowMs: () => Date.UTC(2015, 11, 29, 10), sigv2: true };
const code = (expected: string) => (err: unknown) => err instanceof S3Error && err.code === expected;

test('authenticateForm - the S3 API reference example form verifies, and its policy admits the form', () => {
  assert.deepEqual(authenticateForm(fieldsOf(exampleForm), config), { accessKeyId, signatureVersion: 4 });
  const fields = fieldsOf({ ...exampleForm, key: 'user/user1/photo.jpg' });
  assert.deepEqual(checkPostPolicy(parsePostPolicy(policy), { fields, bucket: 'sigv4examplebucket', nowMs: config.nowMs() }), []);
  assert.throws(() => checkPostPolicy(parsePostPolicy(policy), { fields, bucket: 'sigv4examplebucket', nowMs: Date.UTC(2015, 11, 31) }), /Policy expired/);
});

test('authenticateForm - a changed policy, signature or credential is refused', () => {
  const changedPolicy = `${policy.slice(0, -4)}fQ==`;
  assert.throws(() => authenticateForm(fieldsOf({ ...exampleForm, Policy: changedPolicy }), config), code('SignatureDoesNotMatch'));
  assert.throws(() => authenticateForm(fieldsOf({ ...exampleForm, 'X-Amz-Signature': signature.toUpperCase() }), config), code('SignatureDoesNotMatch'));
  assert.throws(() => authenticateForm(fieldsOf({ ...exampleForm, 'X-Amz-Credential': `AKIAOTHER/20151229/us-east-1/s3/aws4_request` }), config), code('InvalidAccessKeyId'));
  assert.throws(() => authenticateForm(fieldsOf({ ...exampleForm, 'X-Amz-Credential': `${accessKeyId}/20151229/eu-west-1/s3/aws4_request` }), config), code('AuthorizationHeaderMalformed'));
  assert.throws(() => authenticateForm(fieldsOf({ ...exampleForm, 'X-Amz-Date': '20151230T000000Z' }), config), code('AuthorizationHeaderMalformed'));
  assert.throws(() => authenticateForm(fieldsOf({ ...exampleForm, 'X-Amz-Algorithm': 'AWS4-HMAC-SHA512' }), config), code('InvalidRequest'));
});

test('authenticateForm - a missing signing field is InvalidArgument naming it; SigV2 is refused when off; no signature is anonymous', () => {
  for (const name of ['X-Amz-Credential', 'X-Amz-Date', 'X-Amz-Signature', 'Policy']) {
    const form = { ...exampleForm };
    delete form[name];
    assert.throws(() => authenticateForm(fieldsOf(form), config), (err: unknown) => err instanceof S3Error && err.code === 'InvalidArgument' && err.extra.ArgumentName === name.toLowerCase(), name);
  }
  assert.throws(() => authenticateForm(fieldsOf({ key: 'k', AWSAccessKeyId: accessKeyId, policy, signature: 'c2ln' }), { ...config, sigv2: false }), code('InvalidRequest'));
  assert.throws(() => authenticateForm(fieldsOf({ key: 'k', policy }), config), code('InvalidArgument'));
  assert.equal(authenticateForm(fieldsOf({ key: 'k', acl: 'public-read' }), config), null);
});

test('authenticateForm - a SigV2 form verifies by HMAC-SHA1 of its policy; a wrong one is SignatureDoesNotMatch', () => {
  const v2 = { key: 'user/user1/photo.jpg', AWSAccessKeyId: accessKeyId, policy, signature: createHmac('sha1', secret).update(policy).digest('base64') };
  assert.deepEqual(authenticateForm(fieldsOf(v2), config), { accessKeyId, signatureVersion: 2 });
  assert.throws(() => authenticateForm(fieldsOf({ ...v2, signature: createHmac('sha1', 'other').update(policy).digest('base64') }), config), code('SignatureDoesNotMatch'));
  assert.throws(() => authenticateForm(fieldsOf({ ...v2, signature: 'not base64' }), config), code('SignatureDoesNotMatch'));
  const { signature: _dropped, ...unsigned } = v2;
  assert.throws(() => authenticateForm(fieldsOf(unsigned), config), (err: unknown) => err instanceof S3Error && err.code === 'InvalidArgument' && err.extra.ArgumentName === 'signature');
});

test('checkPostPolicy - the signature fields of the form\'s own version need no condition, the other version\'s do', () => {
  const simple = Buffer.from(JSON.stringify({ expiration: '2030-01-01T00:00:00.000Z', conditions: [{ bucket: 'b' }, ['starts-with', '$key', '']] })).toString('base64');
  const check = (fields: Record<string, string>, signatureVersion: 2 | 4) => checkPostPolicy(parsePostPolicy(simple), { fields: fieldsOf(fields), bucket: 'b', nowMs: 0, signatureVersion });
  assert.deepEqual(check({ key: 'k', AWSAccessKeyId: accessKeyId, signature: 'x', policy: simple }, 2), []);
  assert.throws(() => check({ key: 'k', AWSAccessKeyId: accessKeyId, signature: 'x', policy: simple }, 4), /Extra input fields: AWSAccessKeyId, signature/);
  assert.throws(() => check({ key: 'k', 'X-Amz-Signature': 'x', policy: simple }, 2), /Extra input fields: X-Amz-Signature/);
});
