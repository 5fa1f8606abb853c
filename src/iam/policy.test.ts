import assert from 'node:assert/strict';
import { test } from 'node:test';
import { accountRootArn, parsePolicy } from './policy.js';
import { accountCanonicalId } from './acl.js';
import { PolicyError } from './policy-error.js';
import { isPublicPolicy } from './public.js';

const bucket = (statement: unknown, extra: Record<string, unknown> = {}) => JSON.stringify({ Version: '2012-10-17', Statement: statement, ...extra });
const parseBucket = (text: string) => parsePolicy(text, { kind: 'bucket', bucket: 'b' });
const read = { Effect: 'Allow', Principal: '*', Action: 's3:GetObject', Resource: 'arn:aws:s3:::b/*' };

test('policy - a bucket policy AWS would refuse raises PolicyError with its message', () => {
  const cases: [string, string][] = [
    ['not json', 'Policies must be valid JSON and the first byte must be \'{\''],
    ['[]', 'Policies must be valid JSON and the first byte must be \'{\''],
    [JSON.stringify({ Version: '2012-10-17' }), 'Missing required field Statement'],
    [bucket([]), 'Could not parse the policy: Statement is empty!'],
    [bucket(read, { Version: '2013-01-01' }), 'The policy must contain a valid version string'],
    [bucket({ ...read, Effect: 'Maybe' }), 'Invalid effect: Maybe'],
    [bucket({ ...read, Principal: undefined }), 'Missing required field Principal'],
    [bucket({ ...read, Principal: { AWS: 'bob' } }), 'Invalid principal in policy'],
    [bucket({ ...read, Principal: { CanonicalUser: 'f'.repeat(64) } }), 'Invalid principal in policy'],
    [bucket({ ...read, Action: 's3:GetObjekt' }), 'Policy has invalid action'],
    [bucket({ ...read, Resource: 'arn:aws:s3:::other/*' }), 'Policy has invalid resource'],
    [bucket({ ...read, Resource: '*' }), 'Policy has invalid resource'],
    [bucket({ ...read, Resource: 'arn:aws:s3:::bb/*' }), 'Policy has invalid resource'],
    [bucket({ ...read, Extra: 1 }), 'Unknown field Extra'],
    [bucket([{ ...read, Sid: 'a' }, { ...read, Sid: 'a' }]), 'Statement IDs (SID) in a single policy must be unique'],
  ];
  for (const [text, message] of cases) assert.throws(() => parseBucket(text), (err: unknown) => err instanceof PolicyError && err.message === message, text);
});

test('policy - actions are case-insensitive, a Statement may be one object, resources may use wildcards inside the bucket', () => {
  const p = parseBucket(JSON.stringify({ Statement: { ...read, Action: ['S3:getobject', 's3:List*'], Resource: ['arn:aws:s3:::b', 'arn:aws:s3:::b*/x'] } }));
  assert.deepEqual(p.statements[0]!.actions, ['s3:getobject', 's3:list*']);
  assert.equal(p.version, '2008-10-17');
});

test('policy - an identity policy must not name a principal', () => {
  assert.throws(() => parsePolicy(bucket(read), { kind: 'identity' }), /should not specify a principal/);
  const { Principal: _, ...noPrincipal } = read;
  assert.equal(parsePolicy(bucket({ ...noPrincipal, Resource: '*' }), { kind: 'identity' }).statements.length, 1);
});

test('policy - public by AWS\'s definition unless a condition pins it to fixed values', () => {
  assert.ok(isPublicPolicy(parseBucket(bucket(read))));
  assert.ok(isPublicPolicy(parseBucket(bucket({ ...read, Principal: { AWS: '*' } }))));
  assert.ok(!isPublicPolicy(parseBucket(bucket({ ...read, Principal: { AWS: 'arn:aws:iam::000000000000:user/alice' } }))));
  assert.ok(!isPublicPolicy(parseBucket(bucket({ ...read, Condition: { IpAddress: { 'aws:SourceIp': '10.0.0.0/8' } } }))));
  assert.ok(isPublicPolicy(parseBucket(bucket({ ...read, Condition: { IpAddress: { 'aws:SourceIp': '0.0.0.0/0' } } }))));
  assert.ok(isPublicPolicy(parseBucket(bucket({ ...read, Condition: { NotIpAddress: { 'aws:SourceIp': '10.0.0.0/8' } } }))));
  assert.ok(!isPublicPolicy(parseBucket(bucket({ ...read, Condition: { StringEquals: { 'aws:PrincipalAccount': '000000000000' } } }))));
  assert.ok(isPublicPolicy(parseBucket(bucket({ ...read, Condition: { StringLike: { 'aws:PrincipalAccount': '0*' } } }))));
  assert.ok(isPublicPolicy(parseBucket(bucket({ ...read, Condition: { StringLike: { 'aws:Referer': 'https://example.com/*' } } }))));
  assert.ok(!isPublicPolicy(parseBucket(bucket({ ...read, Effect: 'Deny' }))));
});

test('policy - a CanonicalUser principal with the account\'s canonical id names the account, as its root ARN', () => {
  const policy = parseBucket(bucket({ ...read, Principal: { CanonicalUser: accountCanonicalId } }));
  assert.deepEqual(policy.statements[0]!.principal, { everyone: false, arns: [accountRootArn], others: [] });
});
