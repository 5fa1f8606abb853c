import assert from 'node:assert/strict';
import { test } from 'node:test';
import { evaluate, type AccessInputs, type Decision } from './evaluate.js';
import { parsePolicy, accountRootArn, type Policy } from './policy.js';
import { matchArn, matchWildcard } from './wildcard.js';
import type { Identity, PublicAccessBlock } from './types.js';

const off: PublicAccessBlock = { BlockPublicAcls: false, IgnorePublicAcls: false, BlockPublicPolicy: false, RestrictPublicBuckets: false };
const on: PublicAccessBlock = { BlockPublicAcls: true, IgnorePublicAcls: true, BlockPublicPolicy: true, RestrictPublicBuckets: true };
const root: Identity = { kind: 'root', accessKeyId: 'ROOT', arn: accountRootArn };
const anonymous: Identity = { kind: 'anonymous' };
const userArn = (name: string) => `arn:aws:iam::000000000000:user/${name}`;
const user = (name: string, policies: string[] = []): Identity => ({ kind: 'user', accessKeyId: `K${name}`, userName: name, userId: `AIDA${name.toUpperCase()}`, arn: userArn(name), policies });

const pick = <T>(list: readonly T[]): T => list[Math.floor(Math.random() * list.length)]!;
const actions = ['s3:GetObject', 's3:Get*', 's3:*', '*', 's3:PutObject', 's3:ListBucket', 's3:?etObject', 's3:getobject', 's3:DeleteObject'];
const resources = ['arn:aws:s3:::b/*', 'arn:aws:s3:::b/p/*', 'arn:aws:s3:::b', 'arn:aws:s3:::*', '*', 'arn:aws:s3:::c/*', 'arn:aws:s3:::b/p/x', 'arn:aws:s3:::b/?'];
const principals: unknown[] = ['*', { AWS: '*' }, { AWS: userArn('alice') }, { AWS: userArn('bob') }, { AWS: '000000000000' }];
const conditions: (Record<string, unknown> | undefined)[] = [undefined, undefined, { IpAddress: { 'aws:SourceIp': '10.0.0.0/8' } }, { Bool: { 'aws:SecureTransport': 'true' } }];
const requestActions = ['s3:GetObject', 's3:PutObject', 's3:ListBucket', 's3:DeleteObject', 's3:GetObjectTagging', 's3:getobject'];
const requestResources = ['arn:aws:s3:::b/p/x', 'arn:aws:s3:::b/p', 'arn:aws:s3:::b/px/y', 'arn:aws:s3:::b', 'arn:aws:s3:::c/p/x', 'arn:aws:s3:::b/q', 'arn:aws:s3:::bb/p/x'];
const ips = ['10.1.2.3', '192.168.0.1', '::ffff:10.9.9.9', '2001:db8::1'];

function randomStatement(kind: 'bucket' | 'identity', effect?: 'Allow' | 'Deny'): Record<string, unknown> {
  const s: Record<string, unknown> = { Effect: effect ?? pick(['Allow', 'Allow', 'Deny']), Action: pick(actions) };
  s.Resource = kind === 'bucket' ? pick(resources.filter((r) => r.startsWith('arn:aws:s3:::b'))) : pick(resources);
  if (kind === 'bucket') s.Principal = pick(principals);
  const condition = pick(conditions);
  if (condition) s.Condition = condition;
  return s;
}

function randomDoc(kind: 'bucket' | 'identity', statements = 1 + Math.floor(Math.random() * 3)): string {
  return JSON.stringify({ Version: '2012-10-17', Statement: Array.from({ length: statements }, () => randomStatement(kind)) });
}

interface Case {
  identity: Identity;
  identityPolicies: Policy[];
  bucketPolicy?: Policy;
  action: string;
  resource: string;
  ip: string;
  acl: boolean;
}

function randomCase(): Case {
  const identityPolicies = Array.from({ length: Math.floor(Math.random() * 3) }, () => parsePolicy(randomDoc('identity'), { kind: 'identity' }));
  const identity = pick<Identity>([root, anonymous, user('alice', []), user('bob', [])]);
  const c: Case = { identity, identityPolicies: identity.kind === 'user' ? identityPolicies : [], action: pick(requestActions), resource: pick(requestResources), ip: pick(ips), acl: Math.random() < 0.2 };
  if (Math.random() < 0.7) c.bucketPolicy = parsePolicy(randomDoc('bucket'), { kind: 'bucket', bucket: 'b' });
  return c;
}

function run(c: Case, block: PublicAccessBlock = off): Decision {
  const values = (key: string) => (key === 'aws:sourceip' ? [c.ip] : key === 'aws:securetransport' ? ['false'] : undefined);
  const inputs: AccessInputs = { identityPolicies: c.identityPolicies, bucketPolicy: c.bucketPolicy, publicAccessBlock: block, aclAllows: c.acl };
  return evaluate({ identity: c.identity, action: c.action, resource: c.resource, values }, inputs);
}

/** An independent wildcard matcher for the oracle: a RegExp built from the pattern. */
function oracleMatch(pattern: string, value: string): boolean {
  const source = pattern.split('').map((ch) => (ch === '*' ? '.*' : ch === '?' ? '.' : ch.replace(/[.+^${}()|[\]\\/]/g, '\\$&'))).join('');
  return new RegExp(`^${source}$`, 's').test(value);
}

test('evaluate - an explicit Deny anywhere wins over every Allow, for random policies', () => {
  for (let i = 0; i < 3000; i++) {
    const c = randomCase();
    if (c.identity.kind === 'root' && /policy$/i.test(c.action)) continue;
    const deny = { Effect: 'Deny', Action: c.action, Resource: c.resource, ...(Math.random() < 0.5 ? {} : { Condition: { IpAddress: { 'aws:SourceIp': ['0.0.0.0/0', '::/0'] } } }) };
    const where = c.identity.kind === 'user' && Math.random() < 0.5 ? 'identity' : 'bucket';
    const resourceInBucket = c.resource === 'arn:aws:s3:::b' || c.resource.startsWith('arn:aws:s3:::b/');
    if (where === 'bucket' && !resourceInBucket) continue;
    if (where === 'identity') {
      c.identityPolicies = [...c.identityPolicies, parsePolicy(JSON.stringify({ Version: '2012-10-17', Statement: [deny] }), { kind: 'identity' })];
    } else {
      const base = c.bucketPolicy ? c.bucketPolicy.statements : [];
      const extra = parsePolicy(JSON.stringify({ Statement: [{ ...deny, Principal: '*' }] }), { kind: 'bucket', bucket: 'b' });
      c.bucketPolicy = { version: '2012-10-17', statements: [...base, ...extra.statements].sort(() => Math.random() - 0.5) };
    }
    assert.equal(run(c), 'deny', JSON.stringify(c));
  }
});

test('evaluate - no Allow means no access for users and anonymous, for random policies', () => {
  for (let i = 0; i < 3000; i++) {
    const c = randomCase();
    if (c.identity.kind === 'root') continue;
    c.acl = false;
    c.identityPolicies = c.identityPolicies.map((p) => ({ ...p, statements: p.statements.filter((s) => s.effect === 'Deny') }));
    if (c.bucketPolicy) c.bucketPolicy = { ...c.bucketPolicy, statements: c.bucketPolicy.statements.filter((s) => s.effect === 'Deny') };
    assert.notEqual(run(c), 'allow', JSON.stringify(c));
  }
});

test('evaluate - an allowed request has an Allow that a naive oracle also finds, for random policies', () => {
  for (let i = 0; i < 3000; i++) {
    const c = randomCase();
    if (c.identity.kind === 'root' || c.acl || run(c) !== 'allow') continue;
    const applies = (s: Policy['statements'][number], principalChecked: boolean): boolean => {
      if (s.effect !== 'Allow') return false;
      if (principalChecked) {
        const p = s.principal!;
        if (!p.everyone && !(c.identity.kind === 'user' && p.arns.includes(c.identity.arn))) return false;
      }
      if (!s.actions!.some((a) => oracleMatch(a, c.action.toLowerCase()))) return false;
      if (!s.resources!.some((r) => oracleMatch(r, c.resource))) return false;
      return s.conditions.every((cond) => (cond.key === 'aws:sourceip' ? c.ip.replace('::ffff:', '').startsWith('10.') : false));
    };
    const found = c.identityPolicies.some((p) => p.statements.some((s) => applies(s, false))) || (c.bucketPolicy?.statements.some((s) => applies(s, true)) ?? false);
    assert.ok(found, JSON.stringify(c));
  }
});

test('evaluate - RestrictPublicBuckets keeps anonymous out of a public policy while users of the account still get in', () => {
  const policy = parsePolicy(JSON.stringify({ Statement: [{ Effect: 'Allow', Principal: '*', Action: 's3:GetObject', Resource: 'arn:aws:s3:::b/*' }] }), { kind: 'bucket', bucket: 'b' });
  const base = { identityPolicies: [], bucketPolicy: policy, ip: '1.2.3.4', acl: false, action: 's3:GetObject', resource: 'arn:aws:s3:::b/k' };
  assert.equal(run({ ...base, identity: anonymous }, off), 'allow');
  assert.equal(run({ ...base, identity: anonymous }, on), 'implicit');
  assert.equal(run({ ...base, identity: user('alice') }, on), 'allow');
});

test('evaluate - the root is allowed by default, denied by a bucket policy Deny, but keeps the bucket policy actions', () => {
  const policy = parsePolicy(JSON.stringify({ Statement: [{ Effect: 'Deny', Principal: '*', Action: 's3:*', Resource: ['arn:aws:s3:::b', 'arn:aws:s3:::b/*'] }] }), { kind: 'bucket', bucket: 'b' });
  const base = { identity: root, identityPolicies: [], ip: '1.2.3.4', acl: false, resource: 'arn:aws:s3:::b' };
  assert.equal(run({ ...base, action: 's3:ListBucket' }), 'allow');
  assert.equal(run({ ...base, action: 's3:ListBucket', bucketPolicy: policy }), 'deny');
  for (const action of ['s3:GetBucketPolicy', 's3:PutBucketPolicy', 's3:DeleteBucketPolicy']) assert.equal(run({ ...base, action, bucketPolicy: policy }), 'allow');
});

test('evaluate - an account principal in an Allow delegates to the account: a user still needs an identity policy', () => {
  const policy = parsePolicy(JSON.stringify({ Statement: [{ Effect: 'Allow', Principal: { AWS: '000000000000' }, Action: 's3:GetObject', Resource: 'arn:aws:s3:::b/*' }] }), { kind: 'bucket', bucket: 'b' });
  const base = { identityPolicies: [], bucketPolicy: policy, ip: '1.2.3.4', acl: false, action: 's3:GetObject', resource: 'arn:aws:s3:::b/k' };
  assert.equal(run({ ...base, identity: user('alice') }), 'implicit');
  assert.equal(run({ ...base, identity: anonymous }), 'implicit');
});

test('evaluate - ${aws:username} in a resource limits each user to its own prefix', () => {
  const doc = JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 's3:GetObject', Resource: 'arn:aws:s3:::b/home/${aws:username}/*' }] });
  const policies = [parsePolicy(doc, { kind: 'identity' })];
  const ask = (name: string, resource: string) => evaluate(
    { identity: user(name, [doc]), action: 's3:GetObject', resource, values: (k) => (k === 'aws:username' ? [name] : undefined) },
    { identityPolicies: policies, publicAccessBlock: on },
  );
  assert.equal(ask('alice', 'arn:aws:s3:::b/home/alice/x'), 'allow');
  assert.equal(ask('alice', 'arn:aws:s3:::b/home/bob/x'), 'implicit');
  assert.equal(ask('a*', 'arn:aws:s3:::b/home/alice/x'), 'implicit');
});

test('wildcard - a prefix/* resource never matches the prefix itself, a longer sibling, or another bucket', () => {
  const letters = 'ab/.%*?xyzAB';
  const word = () => Array.from({ length: 1 + Math.floor(Math.random() * 5) }, () => pick(letters.replace('*', '').replace('?', '').split(''))).join('');
  for (let i = 0; i < 5000; i++) {
    const prefix = word();
    const pattern = `arn:aws:s3:::bucket/${prefix}/*`;
    assert.ok(!matchArn(pattern, `arn:aws:s3:::bucket/${prefix}`));
    assert.ok(!matchArn(pattern, `arn:aws:s3:::bucket/${prefix}other/${word()}`));
    assert.ok(!matchArn(pattern, `arn:aws:s3:::bucket2/${prefix}/${word()}`));
    assert.ok(!matchArn(pattern, `arn:aws:s3:::other/${prefix}/${word()}`));
    assert.ok(!matchArn(pattern, `arn:aws:s3:::BUCKET/${prefix}/${word()}`));
    assert.ok(matchArn(pattern, `arn:aws:s3:::bucket/${prefix}/${word()}`));
    const p = Array.from({ length: Math.floor(Math.random() * 6) }, () => pick(letters.split(''))).join('');
    const v = Array.from({ length: Math.floor(Math.random() * 8) }, () => pick(letters.replace('*', '').split(''))).join('');
    assert.equal(matchWildcard(p, v), oracleMatch(p, v), `${JSON.stringify(p)} ~ ${JSON.stringify(v)}`);
  }
});

test('wildcard - a pattern of many stars against a long value ends quickly', () => {
  assert.equal(matchWildcard('*a*a*a*a*a*a*a*a*b', 'a'.repeat(5000)), false);
});
