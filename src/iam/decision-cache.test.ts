import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DecisionCache } from './decision-cache.js';
import { evaluate, type AccessInputs, type AccessRequest } from './evaluate.js';
import { parsePolicy, accountRootArn, type Policy } from './policy.js';
import type { ConditionValues } from './conditions.js';
import type { Identity, PublicAccessBlock } from './types.js';

const on: PublicAccessBlock = { BlockPublicAcls: true, IgnorePublicAcls: true, BlockPublicPolicy: true, RestrictPublicBuckets: true };
const root: Identity = Object.freeze({ kind: 'root', accessKeyId: 'ROOT', arn: accountRootArn });
const t0 = Date.parse('2026-12-03T10:00:00.000Z');

const bucketPolicy = (statements: unknown[]): Policy => parsePolicy(JSON.stringify({ Version: '2012-10-17', Statement: statements }), { kind: 'bucket', bucket: 'b' });
const request = (values: Record<string, string>, nowMs: number, resource = 'arn:aws:s3:::b/k'): AccessRequest => ({
  identity: root,
  action: 's3:GetObject',
  resource,
  values: (key) => (key === 'aws:currenttime' ? [new Date(nowMs).toISOString()] : values[key] === undefined ? undefined : [values[key]!]),
});

function decide(cache: DecisionCache, scope: object[], req: AccessRequest, inputs: AccessInputs, nowMs: number): string {
  const key = cache.keyOf(scope, req.action, req.resource);
  return cache.lookup(key, req.values, nowMs) ?? cache.evaluate(key, req, inputs);
}

test('DecisionCache - a decision is found again only by a request reading the same condition values', () => {
  const cache = new DecisionCache(100);
  const policy = bucketPolicy([{ Effect: 'Deny', Principal: '*', Action: 's3:GetObject', Resource: 'arn:aws:s3:::b/*', Condition: { NotIpAddress: { 'aws:SourceIp': '10.0.0.0/8' } } }]);
  const inputs: AccessInputs = { identityPolicies: [], bucketPolicy: policy, publicAccessBlock: on };
  const scope = [root, policy];
  const inside = request({ 'aws:sourceip': '10.1.1.1' }, t0);
  const key = cache.keyOf(scope, inside.action, inside.resource);
  assert.equal(cache.lookup(key, inside.values, t0), undefined);
  assert.equal(cache.evaluate(key, inside, inputs), 'allow');
  assert.equal(cache.lookup(key, inside.values, t0), 'allow');
  const outside = request({ 'aws:sourceip': '192.168.1.1' }, t0);
  assert.equal(cache.lookup(key, outside.values, t0), undefined, 'another source address is not the same request');
  assert.equal(cache.evaluate(key, outside, inputs), 'deny');
  assert.equal(cache.lookup(key, outside.values, t0), 'deny');
  assert.equal(cache.lookup(cache.keyOf([root, {}], inside.action, inside.resource), inside.values, t0), undefined, 'a new scope object finds nothing');
});

test('DecisionCache - a decision that read aws:CurrentTime in Date conditions holds until the next fixed time they name, not past it', () => {
  const cache = new DecisionCache(100);
  const until = t0 + 60_000;
  const policy = bucketPolicy([{ Effect: 'Deny', Principal: '*', Action: 's3:GetObject', Resource: 'arn:aws:s3:::b/*', Condition: { DateGreaterThan: { 'aws:CurrentTime': new Date(until).toISOString() } } }]);
  const inputs: AccessInputs = { identityPolicies: [], bucketPolicy: policy, publicAccessBlock: on };
  const key = cache.keyOf([root, policy], 's3:GetObject', 'arn:aws:s3:::b/k');
  assert.equal(cache.evaluate(key, request({}, t0), inputs), 'allow');
  assert.equal(cache.lookup(key, request({}, t0 + 1000).values, t0 + 1000), 'allow', 'a later instant before the edge');
  assert.equal(cache.lookup(key, request({}, until - 1).values, until - 1), 'allow', 'the last millisecond before the edge');
  assert.equal(cache.lookup(key, request({}, until).values, until), undefined, 'from the fixed time on the decision is made again');
  assert.equal(cache.lookup(key, request({}, until + 1).values, until + 1), undefined);
  assert.equal(cache.lookup(key, request({}, t0 - 1).values, t0 - 1), 'allow', 'a clock set back stays within the window');
  assert.equal(cache.evaluate(key, request({}, until + 1), inputs), 'deny');
  assert.equal(cache.lookup(key, request({}, t0).values, t0), undefined, 'a clock set back before the edge is not in the new window');
});

test('DecisionCache - a decision that read aws:CurrentTime by a string operator is not kept', () => {
  const cache = new DecisionCache(100);
  const policy = bucketPolicy([{ Effect: 'Deny', Principal: '*', Action: 's3:GetObject', Resource: 'arn:aws:s3:::b/*', Condition: { StringLike: { 'aws:CurrentTime': '2026-12-03T10:00:00.5*' } } }]);
  const inputs: AccessInputs = { identityPolicies: [], bucketPolicy: policy, publicAccessBlock: on };
  const key = cache.keyOf([root, policy], 's3:GetObject', 'arn:aws:s3:::b/k');
  assert.equal(cache.evaluate(key, request({}, t0), inputs), 'allow');
  assert.equal(cache.lookup(key, request({}, t0).values, t0), undefined);
  assert.equal(cache.size, 0);
  assert.equal(cache.evaluate(key, request({}, t0 + 500), inputs), 'deny');
});

test('DecisionCache - holds at most its bound of entries, dropping the oldest', () => {
  const cache = new DecisionCache(3);
  const inputs: AccessInputs = { identityPolicies: [], bucketPolicy: bucketPolicy([{ Effect: 'Allow', Principal: '*', Action: 's3:GetObject', Resource: 'arn:aws:s3:::b/*' }]), publicAccessBlock: on };
  const keys = ['a', 'b', 'c', 'd'].map((k) => cache.keyOf([root], 's3:GetObject', `arn:aws:s3:::b/${k}`));
  for (const [i, key] of keys.entries()) cache.evaluate(key, request({}, t0, `arn:aws:s3:::b/${'abcd'[i]}`), inputs);
  assert.equal(cache.size, 3);
  assert.equal(cache.lookup(keys[0]!, request({}, t0).values, t0), undefined);
  assert.equal(cache.lookup(keys[3]!, request({}, t0).values, t0), 'allow');
});

const pick = <T>(list: readonly T[]): T => list[Math.floor(Math.random() * list.length)]!;

test('DecisionCache - property: a remembered decision always equals a fresh evaluation of the same request', () => {
  const edges = [t0 - 5, t0, t0 + 3, t0 + 10];
  const conditions = [
    undefined,
    { IpAddress: { 'aws:SourceIp': '10.0.0.0/8' } },
    { Bool: { 'aws:SecureTransport': 'true' } },
    { StringLike: { 's3:prefix': 'home/*' } },
    { StringEquals: { 'aws:Referer': 'https://example.com/' } },
    ...edges.flatMap((ms) => ['DateLessThan', 'DateGreaterThanEquals', 'DateEquals', 'DateLessThanEquals'].map((op) => ({ [op]: { 'aws:CurrentTime': new Date(ms).toISOString() } }))),
    { NumericLessThan: { 'aws:EpochTime': String(Math.floor(t0 / 1000) + 1) } },
  ];
  const users = ['alice', 'bob'].map((name) => Object.freeze({ kind: 'user' as const, accessKeyId: `K${name}`, userName: name, userId: `AIDA${name}`, arn: `arn:aws:iam::000000000000:user/${name}`, policies: [] }));
  for (let round = 0; round < 200; round++) {
    const statements = Array.from({ length: 1 + Math.floor(Math.random() * 4) }, () => {
      const condition = pick(conditions);
      return { Effect: pick(['Allow', 'Deny']), Principal: pick(['*', { AWS: users[0]!.arn }]), Action: pick(['s3:GetObject', 's3:*', 's3:ListBucket']), Resource: pick(['arn:aws:s3:::b/*', 'arn:aws:s3:::b/p/*', 'arn:aws:s3:::b']), ...(condition ? { Condition: condition } : {}) };
    });
    const policy = bucketPolicy(statements);
    const identityPolicies = [parsePolicy(JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: pick(['Allow', 'Deny']), Action: 's3:*', Resource: '*', ...(Math.random() < 0.5 ? { Condition: pick(conditions.filter(Boolean)) } : {}) }] }), { kind: 'identity' })];
    const cache = new DecisionCache(1000);
    for (let i = 0; i < 50; i++) {
      const identity: Identity = pick<Identity>([root, ...users]);
      const nowMs = t0 + Math.floor(Math.random() * 30) - 10 + pick([0, 0, 1000]);
      const raw: Record<string, string> = { 'aws:sourceip': pick(['10.1.2.3', '192.168.0.1']), 'aws:securetransport': pick(['true', 'false']), 'aws:epochtime': String(Math.floor(nowMs / 1000)) };
      if (Math.random() < 0.5) raw['s3:prefix'] = pick(['home/x', 'other']);
      if (Math.random() < 0.5) raw['aws:referer'] = 'https://example.com/';
      const values: ConditionValues = (key) => (key === 'aws:currenttime' ? [new Date(nowMs).toISOString()] : raw[key] === undefined ? undefined : [raw[key]!]);
      const req: AccessRequest = { identity, action: pick(['s3:GetObject', 's3:ListBucket']), resource: pick(['arn:aws:s3:::b/p/x', 'arn:aws:s3:::b']), values };
      const inputs: AccessInputs = { identityPolicies: identity.kind === 'user' ? identityPolicies : [], bucketPolicy: policy, publicAccessBlock: on };
      const fresh = evaluate(req, inputs);
      assert.equal(decide(cache, [identity, policy], req, inputs, nowMs), fresh, JSON.stringify({ statements, identity, nowMs, raw, action: req.action, resource: req.resource }));
    }
  }
});
