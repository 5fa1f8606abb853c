import assert from 'node:assert/strict';
import { test } from 'node:test';
import { el, escapeXml, isoDate, parseXml, rawXml, xmlCanCarry, xmlDocument } from './xml.js';
import { S3Error } from './errors.js';

test('escapeXml - plain text comes back as it is, markup and control characters are escaped', () => {
  assert.equal(escapeXml('photos/2024/cat ü.jpg'), 'photos/2024/cat ü.jpg');
  assert.equal(escapeXml(`a&b<c>d"e'f`), 'a&amp;b&lt;c&gt;d&quot;e&apos;f');
  assert.equal(escapeXml('x\u007f\tz\n\r'), 'x&#x7F;\tz\n&#xD;');
});

test('escapeXml - characters XML 1.0 cannot carry become U+FFFD instead of references no parser takes (issue 10)', () => {
  assert.equal(escapeXml('nul\u0000key\u0001\u001f'), 'nul\ufffdkey\ufffd\ufffd');
  assert.equal(escapeXml('lone\ud800 pair\ud83d\ude00 \uffff'), 'lone\ufffd pair\ud83d\ude00 \ufffd');
});

test('xmlCanCarry - false for NUL, C0 controls but tab, LF and CR, U+FFFF and unpaired surrogates', () => {
  for (const ok of ['plain', 'tab\tlf\ncr\r', 'emoji \ud83d\ude00', '\u007f\u0080']) assert.equal(xmlCanCarry(ok), true, JSON.stringify(ok));
  for (const bad of ['\u0000', 'a\u0001', '\u001f', '\ufffe', 'x\udc00', '\ud800y']) assert.equal(xmlCanCarry(bad), false, JSON.stringify(bad));
});

function malformed(err: unknown): boolean {
  return err instanceof S3Error && err.code === 'MalformedXML';
}

test('parseXml - undefined entities, HTML entities and references to forbidden characters get MalformedXML (issue 10)', () => {
  for (const text of ['&xxe;', '&nbsp;', '&#0;', '&#x1;', '&#xD800;', '&amp', 'a & b']) {
    assert.throws(() => parseXml(Buffer.from(`<Tagging><Value>${text}</Value></Tagging>`), 'Tagging'), malformed, text);
  }
});

test('parseXml - DOCTYPE and entity declarations get MalformedXML', () => {
  const laughs = '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;">]><Tagging>&lol2;</Tagging>';
  assert.throws(() => parseXml(Buffer.from(laughs), 'Tagging'), malformed);
  const xxe = '<!DOCTYPE t [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><Tagging><V>&xxe;</V></Tagging>';
  assert.throws(() => parseXml(Buffer.from(xxe), 'Tagging'), malformed);
});

test('parseXml - a 2 MiB body of unclosed CDATA sections, comments or references gets MalformedXML', () => {
  // Checking references before validating made this quadratic: each unclosed opener scanned to the end.
  for (const piece of ['<![CDATA[', '<!--', '<?x ', '&']) {
    const body = Buffer.from(`<Tagging>${piece.repeat(Math.floor(2 * 1024 * 1024 / piece.length))}`);
    assert.throws(() => parseXml(body, 'Tagging'), malformed, piece);
  }
});

test('parseXml - predefined entities, numeric references and CDATA decode', () => {
  const doc = parseXml(Buffer.from('<D><K>a&amp;b&lt;&#13;&#x1F600;</K><C><![CDATA[x & y]]></C><!-- & --></D>'), 'D');
  assert.deepEqual(doc, { K: 'a&b<\r\u{1F600}', C: 'x & y' });
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

test("escapeXml - an ETag's quotes become references, and markup beside a forbidden character is escaped too", () => {
  assert.equal(escapeXml('"9dd4e461268c8034f5c8564e155c67a6-12"'), '&quot;9dd4e461268c8034f5c8564e155c67a6-12&quot;');
  assert.equal(escapeXml('a<b\u0001&"\r'), 'a&lt;b\ufffd&amp;&quot;&#xD;');
  assert.equal(escapeXml('"a&b"'), '&quot;a&amp;b&quot;');
  assert.equal(escapeXml('""'), '&quot;&quot;');
  assert.equal(escapeXml('"'), '&quot;');
  assert.equal(escapeXml('"x\u0000"'), '&quot;x\ufffd&quot;');
});

test('isoDate - the same text as Date.toISOString for times across days, years, leap days and before 1970', () => {
  const samples = [0, 1, 999, 1000, 59_999, 86_399_999, 86_400_000, -1, -86_400_001, 951_782_400_000, 1_796_290_123_456, 253_402_300_799_999, 253_402_300_800_000, -62_198_755_200_000];
  for (let ms = 1_700_000_000_000; ms < 1_700_000_000_000 + 3 * 86_400_000; ms += 3_599_999) samples.push(ms);
  for (const ms of samples) assert.equal(isoDate(ms), new Date(ms).toISOString(), String(ms));
  assert.equal(isoDate(1.5), new Date(1.5).toISOString());
  assert.throws(() => isoDate(Number.NaN), RangeError);
});

test('xmlDocument - raw markup goes in as it is', () => {
  assert.equal(xmlDocument('R', [el('A', '<'), rawXml('<B>&amp;</B>')], false), '<?xml version="1.0" encoding="UTF-8"?>\n<R><A>&lt;</A><B>&amp;</B></R>');
});
