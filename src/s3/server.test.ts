import { test } from 'node:test';
import assert from 'node:assert/strict';
import { addressOf } from './server.js';
import { S3Error } from './errors.js';

test('addressOf - virtual-hosted bucket from Host with or without a port, as a port-stripping regex reads it', () => {
  const domains = ['localhost', 's3.example.com'];
  const cases: [string | undefined, string, ReturnType<typeof addressOf>][] = [
    ['bucket.localhost:9000', '/key', { bucket: 'bucket', key: 'key', virtualHosted: true }],
    ['Bucket.LOCALHOST', '/', { bucket: 'bucket', virtualHosted: true }],
    ['b.s3.example.com:443', '/a/b', { bucket: 'b', key: 'a/b', virtualHosted: true }],
    ['bucket.localhost:', '/key', { bucket: 'key' }], // a colon without digits is not a port
    ['bucket.localhost:90a', '/key', { bucket: 'key' }],
    ['[::1]:9000', '/b/k', { bucket: 'b', key: 'k' }],
    ['[::1]', '/b/k', { bucket: 'b', key: 'k' }],
    ['127.0.0.1:9000', '/b', { bucket: 'b' }],
    [undefined, '/b/k', { bucket: 'b', key: 'k' }],
  ];
  for (const [host, path, expected] of cases) assert.deepEqual(addressOf(path, host, domains), expected, `${host} ${path}`);
});

test('addressOf - bucket and key percent-decoded, a bad escape refused with InvalidURI', () => {
  assert.deepEqual(addressOf('/b/a%20b%2Fc', '127.0.0.1', []), { bucket: 'b', key: 'a b/c' });
  assert.deepEqual(addressOf('/b/plain+key', '127.0.0.1', []), { bucket: 'b', key: 'plain+key' });
  assert.throws(() => addressOf('/b/a%zz', '127.0.0.1', []), (err: unknown) => err instanceof S3Error && err.code === 'InvalidURI');
});
