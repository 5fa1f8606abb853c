import assert from 'node:assert/strict';
import { test } from 'node:test';
import { conditionHolds, parseConditions } from './conditions.js';
import { PolicyError } from './policy-error.js';

function holds(block: Record<string, unknown>, values: Record<string, string[]>): boolean {
  const lookup = (key: string) => values[key];
  return parseConditions(block).every((c) => conditionHolds(c, lookup));
}

test('conditions - IpAddress matches IPv4, IPv4-mapped and IPv6 clients by CIDR, NotIpAddress the rest', () => {
  const ip = (v: string) => ({ 'aws:sourceip': [v] });
  assert.ok(holds({ IpAddress: { 'aws:SourceIp': '10.0.0.0/8' } }, ip('10.200.1.1')));
  assert.ok(holds({ IpAddress: { 'aws:SourceIp': '10.0.0.0/8' } }, ip('::ffff:10.200.1.1')));
  assert.ok(!holds({ IpAddress: { 'aws:SourceIp': '10.0.0.0/8' } }, ip('11.0.0.1')));
  assert.ok(!holds({ IpAddress: { 'aws:SourceIp': '10.0.0.0/8' } }, ip('2001:db8::1')));
  assert.ok(holds({ IpAddress: { 'aws:SourceIp': '2001:db8::/32' } }, ip('2001:db8:ffff::1')));
  assert.ok(!holds({ IpAddress: { 'aws:SourceIp': '2001:db8::/32' } }, ip('2001:db9::1')));
  assert.ok(holds({ IpAddress: { 'aws:SourceIp': '127.0.0.1' } }, ip('127.0.0.1')));
  assert.ok(holds({ NotIpAddress: { 'aws:SourceIp': ['10.0.0.0/8', '192.168.0.0/16'] } }, ip('8.8.8.8')));
  assert.ok(!holds({ NotIpAddress: { 'aws:SourceIp': ['10.0.0.0/8', '192.168.0.0/16'] } }, ip('192.168.3.4')));
  assert.ok(!holds({ IpAddress: { 'aws:SourceIp': '10.0.0.0/8' } }, ip('not-an-ip')));
});

test('conditions - a malformed CIDR or number or date is refused when the policy is parsed', () => {
  for (const block of [
    { IpAddress: { 'aws:SourceIp': '10.0.0.0/33' } }, { IpAddress: { 'aws:SourceIp': '10.0.0' } }, { NotIpAddress: { 'aws:SourceIp': 'x' } },
    { NumericLessThan: { 's3:max-keys': 'ten' } }, { DateLessThan: { 'aws:CurrentTime': 'yesterday' } }, { Bool: { 'aws:SecureTransport': 'yes' } },
    { StringEqualz: { 's3:prefix': 'a' } }, { StringEquals: { 's3:nosuchkey': 'a' } }, { StringEquals: { 'foo:bar': 'a' } }, { NullIfExists: { 's3:prefix': 'true' } },
  ]) {
    assert.throws(() => parseConditions(block), PolicyError, JSON.stringify(block));
  }
});

test('conditions - string operators: equality, case, wildcards, negation, and keys case-insensitive', () => {
  assert.ok(holds({ StringEquals: { 'S3:Prefix': 'home/' } }, { 's3:prefix': ['home/'] }));
  assert.ok(!holds({ StringEquals: { 's3:prefix': 'home/' } }, { 's3:prefix': ['HOME/'] }));
  assert.ok(holds({ StringEqualsIgnoreCase: { 's3:prefix': 'home/' } }, { 's3:prefix': ['HOME/'] }));
  assert.ok(holds({ StringLike: { 's3:prefix': ['home/*', 'pub?/'] } }, { 's3:prefix': ['pub1/'] }));
  assert.ok(!holds({ StringLike: { 's3:prefix': 'home/*' } }, { 's3:prefix': ['home'] }));
  assert.ok(holds({ StringNotEquals: { 's3:prefix': 'a' } }, { 's3:prefix': ['b'] }));
  assert.ok(!holds({ StringNotLike: { 'aws:Referer': 'https://example.com/*' } }, { 'aws:referer': ['https://example.com/x'] }));
});

test('conditions - a missing key fails positive operators, passes negated ones, IfExists and ForAllValues', () => {
  assert.ok(!holds({ StringEquals: { 's3:prefix': 'a' } }, {}));
  assert.ok(holds({ StringNotEquals: { 's3:prefix': 'a' } }, {}));
  assert.ok(holds({ StringEqualsIfExists: { 's3:prefix': 'a' } }, {}));
  assert.ok(!holds({ StringEqualsIfExists: { 's3:prefix': 'a' } }, { 's3:prefix': ['b'] }));
  assert.ok(holds({ 'ForAllValues:StringEquals': { 'aws:TagKeys': ['a', 'b'] } }, {}));
  assert.ok(!holds({ 'ForAnyValue:StringEquals': { 'aws:TagKeys': ['a', 'b'] } }, {}));
  assert.ok(holds({ 'ForAllValues:StringEquals': { 'aws:TagKeys': ['a', 'b'] } }, { 'aws:tagkeys': ['a', 'b'] }));
  assert.ok(!holds({ 'ForAllValues:StringEquals': { 'aws:TagKeys': ['a', 'b'] } }, { 'aws:tagkeys': ['a', 'c'] }));
  assert.ok(holds({ 'ForAnyValue:StringEquals': { 'aws:TagKeys': ['a', 'b'] } }, { 'aws:tagkeys': ['c', 'b'] }));
  assert.ok(holds({ Null: { 's3:x-amz-acl': 'true' } }, {}));
  assert.ok(!holds({ Null: { 's3:x-amz-acl': 'true' } }, { 's3:x-amz-acl': ['private'] }));
  assert.ok(holds({ Null: { 's3:x-amz-acl': 'false' } }, { 's3:x-amz-acl': ['private'] }));
});

test('conditions - numeric, date, Bool and Arn operators', () => {
  assert.ok(holds({ NumericLessThanEquals: { 's3:max-keys': '10' } }, { 's3:max-keys': ['10'] }));
  assert.ok(!holds({ NumericLessThan: { 's3:max-keys': '10' } }, { 's3:max-keys': ['10'] }));
  assert.ok(!holds({ NumericLessThan: { 's3:max-keys': '10' } }, { 's3:max-keys': ['abc'] }));
  assert.ok(holds({ NumericGreaterThan: { 's3:max-keys': 5 } }, { 's3:max-keys': ['6'] }));
  assert.ok(holds({ DateLessThan: { 'aws:CurrentTime': '2030-01-01T00:00:00Z' } }, { 'aws:currenttime': ['2026-12-03T06:00:00.000Z'] }));
  assert.ok(!holds({ DateGreaterThan: { 'aws:CurrentTime': '2030-01-01T00:00:00Z' } }, { 'aws:currenttime': ['2026-12-03T06:00:00.000Z'] }));
  assert.ok(holds({ DateGreaterThan: { 'aws:EpochTime': '1000' } }, { 'aws:epochtime': ['2000'] }));
  assert.ok(holds({ Bool: { 'aws:SecureTransport': 'false' } }, { 'aws:securetransport': ['false'] }));
  assert.ok(!holds({ Bool: { 'aws:SecureTransport': true } }, { 'aws:securetransport': ['false'] }));
  assert.ok(holds({ ArnLike: { 'aws:PrincipalArn': 'arn:aws:iam::*:user/a*' } }, { 'aws:principalarn': ['arn:aws:iam::000000000000:user/alice'] }));
  assert.ok(!holds({ ArnLike: { 'aws:PrincipalArn': 'arn:aws:iam::*:user/a*' } }, { 'aws:principalarn': ['arn:aws:iam::000000000000:root'] }));
  assert.ok(holds({ ArnNotLike: { 'aws:PrincipalArn': 'arn:aws:iam::*:root' } }, { 'aws:principalarn': ['arn:aws:iam::000000000000:user/alice'] }));
});

test('conditions - the SSE-C algorithm key is known, so a policy requiring customer-provided keys parses', () => {
  const block = { Null: { 's3:x-amz-server-side-encryption-customer-algorithm': 'true' } };
  assert.ok(holds(block, {}), 'no algorithm header: Null is true');
  assert.ok(!holds(block, { 's3:x-amz-server-side-encryption-customer-algorithm': ['AES256'] }));
});
