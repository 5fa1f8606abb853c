// CORS rule matching: one-wildcard patterns (the ceph s3-tests origins), methods and requested headers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { matchingCorsRule, wildcardMatches } from './cors.js';

test('wildcardMatches - one "*" stands for any run of characters, possibly empty', () => {
  assert.equal(wildcardMatches('*suffix', 'foo.suffix'), true);
  assert.equal(wildcardMatches('*suffix', 'foo.suffix.get'), false);
  assert.equal(wildcardMatches('start*end', 'startend'), true);
  assert.equal(wildcardMatches('start*end', 'start12end'), true);
  assert.equal(wildcardMatches('start*end', '0start12end'), false);
  assert.equal(wildcardMatches('start*end', 'startend'.slice(0, 6)), false);
  assert.equal(wildcardMatches('prefix*', 'prefix'), true);
  assert.equal(wildcardMatches('prefix*', 'bla.prefix'), false);
  assert.equal(wildcardMatches('*', 'anything'), true);
  assert.equal(wildcardMatches('exact', 'exact'), true);
  assert.equal(wildcardMatches('exact', 'exactly'), false);
});

test('matchingCorsRule - the first rule allowing origin, method and every requested header wins', () => {
  const rules = [
    { allowedOrigins: ['https://a.test'], allowedMethods: ['PUT'], allowedHeaders: ['x-amz-*'], exposeHeaders: [] },
    { allowedOrigins: ['*'], allowedMethods: ['GET', 'PUT'], allowedHeaders: ['*'], exposeHeaders: [] },
  ];
  assert.equal(matchingCorsRule(rules, { origin: 'https://a.test', method: 'PUT', headers: ['x-amz-date'] }), rules[0]);
  assert.equal(matchingCorsRule(rules, { origin: 'https://a.test', method: 'PUT', headers: ['x-amz-date', 'content-type'] }), rules[1]);
  assert.equal(matchingCorsRule(rules, { origin: 'https://b.test', method: 'DELETE', headers: [] }), undefined);
  assert.equal(matchingCorsRule([{ ...rules[0]!, allowedHeaders: ['X-Amz-*'] }], { origin: 'https://a.test', method: 'PUT', headers: ['x-amz-meta-a'] }) !== undefined, true, 'headers compare without case');
});
