import assert from 'node:assert/strict';
import { test } from 'node:test';
import { el, escapeXml, xmlDocument } from './xml.js';

test('escapeXml - plain text comes back as it is, markup and control characters are escaped', () => {
  assert.equal(escapeXml('photos/2024/cat ü.jpg'), 'photos/2024/cat ü.jpg');
  assert.equal(escapeXml(`a&b<c>d"e'f`), 'a&amp;b&lt;c&gt;d&quot;e&apos;f');
  assert.equal(escapeXml('x\u0001y\u007f\tz\n'), 'x&#x1;y&#x7F;\tz\n');
});

test('xmlDocument - nests elements, flattens arrays, skips undefined and null, and escapes every text', () => {
  const doc = xmlDocument('ListBucketResult', [
    el('Name', 'b&b'),
    undefined,
    el('MaxKeys', 1000),
    el('IsTruncated', false),
    [el('Contents', [el('Key', '<k>'), null, el('Size', 0)]), el('Contents', el('Key', 'z'))],
  ]);
  assert.equal(doc, '<?xml version="1.0" encoding="UTF-8"?>\n<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
    + '<Name>b&amp;b</Name><MaxKeys>1000</MaxKeys><IsTruncated>false</IsTruncated>'
    + '<Contents><Key>&lt;k&gt;</Key><Size>0</Size></Contents><Contents><Key>z</Key></Contents></ListBucketResult>');
  assert.equal(xmlDocument('Error', el('Code', 'x'), false), '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>x</Code></Error>');
});
