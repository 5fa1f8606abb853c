import assert from 'node:assert/strict';
import { test } from 'node:test';
import { S3Error } from './errors.js';
import { checkLength, checkPostPolicy, parsePostPolicy, type FormField } from './post-policy.js';

const nowMs = Date.UTC(2026, 11, 3, 12, 0, 0);
const later = '2026-12-03T13:00:00.000Z';

function encode(doc: unknown): string {
  return Buffer.from(typeof doc === 'string' ? doc : JSON.stringify(doc), 'utf8').toString('base64');
}

function fieldsOf(record: Record<string, string>): Map<string, FormField> {
  return new Map(Object.entries(record).map(([name, value]) => [name.toLowerCase(), { name, value }]));
}

function error(code: string, message?: RegExp) {
  return (err: unknown) => {
    assert.ok(err instanceof S3Error, String(err));
    assert.equal(err.code, code);
    if (message) assert.match(err.message, message);
    return true;
  };
}

const signing = { 'x-amz-algorithm': 'AWS4-HMAC-SHA256', 'x-amz-credential': 'AK/20261203/us-east-1/s3/aws4_request', 'x-amz-date': '20261203T110000Z' };
const signingConditions = Object.entries(signing).map(([k, v]) => ({ [k]: v }));

function check(conditions: unknown[], fields: Record<string, string>, options: { expiration?: string; bucket?: string } = {}) {
  const policy = parsePostPolicy(encode({ expiration: options.expiration ?? later, conditions: [...signingConditions, ...conditions] }));
  return checkPostPolicy(policy, { fields: fieldsOf({ ...signing, 'x-amz-signature': 'sig', policy: 'p', ...fields }), bucket: options.bucket ?? 'photos', nowMs });
}

test('checkPostPolicy - a form within its conditions passes and returns the length ranges', () => {
  const ranges = check([
    { bucket: 'photos' },
    ['starts-with', '$key', 'user/alice/'],
    ['eq', '$acl', 'private'],
    ['starts-with', '$Content-Type', 'image/'],
    ['starts-with', '$x-amz-meta-tag', ''],
    ['content-length-range', 1, 1048576],
  ], { key: 'user/alice/cat.jpg', acl: 'private', 'Content-Type': 'image/jpeg', 'x-amz-meta-tag': 'anything', 'x-ignore-tracking': '1' });
  assert.deepEqual(ranges, [{ min: 1, max: 1048576 }]);
});

test('checkPostPolicy - a failed condition is AccessDenied naming the condition', () => {
  assert.throws(() => check([['starts-with', '$key', 'user/alice/']], { key: 'user/bob/x' }),
    error('AccessDenied', /^Invalid according to Policy: Policy Condition failed: \["starts-with", "\$key", "user\/alice\/"\]$/));
  assert.throws(() => check([{ key: 'a' }], { key: 'A' }), error('AccessDenied', /Policy Condition failed: \["eq", "\$key", "a"\]/));
  assert.throws(() => check([{ key: 'a' }, { bucket: 'photos' }], { key: 'a' }, { bucket: 'other' }), error('AccessDenied', /\$bucket/));
  // A field a condition names and the form lacks counts as empty.
  assert.throws(() => check([{ key: 'a' }, ['starts-with', '$x-amz-meta-foo', 'bar']], { key: 'a' }), error('AccessDenied', /x-amz-meta-foo/));
});

test('checkPostPolicy - a field no condition names is AccessDenied, except the documented exemptions', () => {
  assert.throws(() => check([{ key: 'a' }], { key: 'a', 'Content-Type': 'text/plain' }), error('AccessDenied', /^Invalid according to Policy: Extra input fields: Content-Type$/));
  // The signing fields are fields like any other: a policy must name them.
  const policy = parsePostPolicy(encode({ expiration: later, conditions: [{ key: 'a' }] }));
  assert.throws(() => checkPostPolicy(policy, { fields: fieldsOf({ key: 'a', ...signing }), bucket: 'b', nowMs }), error('AccessDenied', /Extra input fields: x-amz-algorithm/));
  assert.doesNotThrow(() => checkPostPolicy(policy, { fields: fieldsOf({ key: 'a', policy: 'p', 'X-Amz-Signature': 's', File: '', 'x-ignore-a': '' }), bucket: 'b', nowMs }));
});

test('checkPostPolicy - names and operations match case-insensitively, values case-sensitively', () => {
  assert.doesNotThrow(() => check([{ bUcKeT: 'photos' }, ['StArTs-WiTh', '$KeY', 'foo'], { AcL: 'private' }], { kEy: 'foo.txt', aCl: 'private' }));
  assert.throws(() => check([{ acl: 'private' }, { key: 'k' }], { key: 'k', acl: 'PRIVATE' }), error('AccessDenied'));
});

test('checkPostPolicy - a comma-separated Content-Type passes starts-with only if every type does', () => {
  assert.doesNotThrow(() => check([['starts-with', '$Content-Type', 'image/'], { key: 'k' }], { key: 'k', 'Content-Type': 'image/jpg,image/png' }));
  assert.throws(() => check([['starts-with', '$Content-Type', 'image/'], { key: 'k' }], { key: 'k', 'Content-Type': 'image/jpg,text/html' }), error('AccessDenied'));
});

test('checkPostPolicy - an expired policy is AccessDenied "Policy expired."', () => {
  assert.throws(() => check([{ key: 'k' }], { key: 'k' }, { expiration: '2026-12-03T11:59:59Z' }), error('AccessDenied', /^Invalid according to Policy: Policy expired\.$/));
});

test('parsePostPolicy - malformed documents are InvalidPolicyDocument', () => {
  const cases: [string, string][] = [
    ['not base64', '!!!'],
    ['not JSON', encode('{"expiration": ')],
    ['a list', encode([])],
    ['no expiration', encode({ conditions: [] })],
    ['EXPIRATION is not expiration', encode({ EXPIRATION: later, conditions: [] })],
    ['no conditions', encode({ expiration: later })],
    ['CONDITIONS is not conditions', encode({ expiration: later, CONDITIONS: [] })],
    ['a Python str() date', encode({ expiration: '2026-12-03 13:00:00.123+00:00', conditions: [] })],
    ['a date that does not exist', encode({ expiration: '2026-02-30T00:00:00Z', conditions: [] })],
    ['an empty condition', encode({ expiration: later, conditions: [{}] })],
    ['two properties', encode({ expiration: later, conditions: [{ a: '1', b: '2' }] })],
    ['a number value', encode({ expiration: later, conditions: [{ a: 1 }] })],
    ['a field without $', encode({ expiration: later, conditions: [['eq', 'key', 'a']] })],
    ['an unknown operation', encode({ expiration: later, conditions: [['matches', '$key', 'a']] })],
    ['one bound', encode({ expiration: later, conditions: [['content-length-range', 0]] })],
    ['a negative bound', encode({ expiration: later, conditions: [['content-length-range', -1, 0]] })],
    ['min above max', encode({ expiration: later, conditions: [['content-length-range', 10, 1]] })],
  ];
  for (const [what, policy] of cases) assert.throws(() => parsePostPolicy(policy), error('InvalidPolicyDocument', /^Invalid Policy: /), what);
});

test('parsePostPolicy - AWS escapes \\$ and \\v are read, and \\\\ stays a backslash', () => {
  const text = `{"expiration": "${later}", "conditions": [["starts-with", "$key", "\\$foo\\\\$bar\\v"]]}`;
  const policy = parsePostPolicy(encode(text));
  assert.deepEqual(policy.conditions, [{ kind: 'starts-with', field: 'key', value: '$foo\\$bar\u000b' }]);
  assert.equal(policy.expirationMs, Date.UTC(2026, 11, 3, 13, 0, 0));
});

test('checkLength - EntityTooLarge as soon as the size passes the maximum, EntityTooSmall only at the end', () => {
  const ranges = [{ min: 10, max: 20 }];
  assert.doesNotThrow(() => checkLength(ranges, 5, false));
  assert.throws(() => checkLength(ranges, 5, true), error('EntityTooSmall'));
  assert.throws(() => checkLength(ranges, 21, false), error('EntityTooLarge'));
  assert.doesNotThrow(() => checkLength(ranges, 20, true));
  assert.doesNotThrow(() => checkLength([], 1e12, true));
});
