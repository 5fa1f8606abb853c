import { test } from 'node:test';
import assert from 'node:assert/strict';
import { amzHeadersOf, canonicalAmzHeaders, canonicalResource, stringToSign } from './string-to-sign.js';

// The worked examples of AWS's "Signing and authenticating REST requests (AWS signature version 2)" page,
// request by request; authenticate.test.ts checks AWS's published signatures of the same requests.

test('stringToSign - AWS example Object GET: virtual-hosted bucket joins the path', () => {
  assert.equal(stringToSign({
    method: 'GET', rawPath: '/photos/puppy.jpg', rawQuery: '', virtualBucket: 'awsexamplebucket1',
    contentMd5: '', contentType: '', date: 'Tue, 27 Mar 2007 19:36:42 +0000', amzHeaders: new Map(),
  }), 'GET\n\n\nTue, 27 Mar 2007 19:36:42 +0000\n/awsexamplebucket1/photos/puppy.jpg');
});

test('stringToSign - AWS example Object PUT: Content-Type in its position, Content-MD5 empty', () => {
  assert.equal(stringToSign({
    method: 'PUT', rawPath: '/photos/puppy.jpg', rawQuery: '', virtualBucket: 'awsexamplebucket1',
    contentMd5: '', contentType: 'image/jpeg', date: 'Tue, 27 Mar 2007 21:15:45 +0000', amzHeaders: new Map(),
  }), 'PUT\n\nimage/jpeg\nTue, 27 Mar 2007 21:15:45 +0000\n/awsexamplebucket1/photos/puppy.jpg');
});

test('canonicalResource - AWS example List: list options are not signed, the slash stays', () => {
  assert.equal(canonicalResource('/', 'prefix=photos&max-keys=50&marker=puppy', 'awsexamplebucket1'), '/awsexamplebucket1/');
});

test('canonicalResource - AWS example Fetch: a sub-resource without a value stays bare', () => {
  assert.equal(canonicalResource('/', 'acl', 'awsexamplebucket1'), '/awsexamplebucket1/?acl');
});

test('stringToSign - AWS example Upload: x-amz-* headers lowercased, sorted, trimmed, repeats comma-joined', () => {
  const amzHeaders = amzHeadersOf({
    'x-amz-acl': ['public-read'],
    'X-Amz-Meta-ReviewedBy': ['joe@example.com', ' jane@example.com '],
    'x-amz-meta-filechecksum': ['0x02661779'],
    'X-Amz-Meta-ChecksumAlgorithm': ['crc32'],
    'content-disposition': ['attachment; filename=database.dat'],
  });
  assert.equal(stringToSign({
    method: 'PUT', rawPath: '/db-backup.dat.gz', rawQuery: '', virtualBucket: 'static.example.com',
    contentMd5: '4gJE4saaMU4BqNR0kLY+lw==', contentType: 'application/x-download', date: 'Tue, 27 Mar 2007 21:06:08 +0000', amzHeaders,
  }), [
    'PUT', '4gJE4saaMU4BqNR0kLY+lw==', 'application/x-download', 'Tue, 27 Mar 2007 21:06:08 +0000',
    'x-amz-acl:public-read', 'x-amz-meta-checksumalgorithm:crc32', 'x-amz-meta-filechecksum:0x02661779',
    'x-amz-meta-reviewedby:joe@example.com,jane@example.com', '/static.example.com/db-backup.dat.gz',
  ].join('\n'));
});

test('canonicalResource - AWS examples List all my buckets and Unicode keys: the path as sent, escapes and case kept', () => {
  assert.equal(canonicalResource('/', ''), '/');
  assert.equal(canonicalResource('', ''), '/');
  assert.equal(canonicalResource('/dictionary/fran%C3%A7ais/pr%c3%a9f%c3%a8re', ''), '/dictionary/fran%C3%A7ais/pr%c3%a9f%c3%a8re');
});

test('canonicalResource - signed names sorted by name with decoded values, others dropped', () => {
  assert.equal(canonicalResource('/b/k', 'uploadId=a%2Bb%20c&partNumber=2&x-id=UploadPart'), '/b/k?partNumber=2&uploadId=a+b c');
  assert.equal(canonicalResource('/b/k', 'versionId=v1&response-content-type=text%2Fplain&foo=bar'), '/b/k?response-content-type=text/plain&versionId=v1');
  assert.equal(canonicalResource('/b', 'delete'), '/b?delete');
  assert.equal(canonicalResource('/b', 'tagging='), '/b?tagging=');
  // Names are matched exactly: AWS's list is case-sensitive.
  assert.equal(canonicalResource('/b', 'ACL&Uploads'), '/b');
});

test('canonicalAmzHeaders - empty without x-amz-* headers', () => {
  assert.equal(canonicalAmzHeaders(amzHeadersOf({ host: 'h', date: 'd' })), '');
});
