import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { keyNames, keys } from './keys.js';
import { keyNameOf } from '../meta/types.js';

const utf8 = (s: string) => Buffer.from(s, 'utf8');

test('keys - string parts are UTF-8, each ended by 0x00, a NUL inside one escaped as 0x00 0xff', () => {
  assert.deepEqual(keys.current('photos', 'a/cat.jpg'), Buffer.concat([Buffer.from([0x63]), utf8('photos'), Buffer.from([0]), utf8('a/cat.jpg'), Buffer.from([0])]));
  assert.deepEqual(keys.current('photos', 'é\u0000x'), Buffer.concat([Buffer.from([0x63]), utf8('photos\u0000'), utf8('é'), Buffer.from([0, 0xff]), utf8('x'), Buffer.from([0])]));
  const versionKey = randomBytes(12);
  assert.deepEqual(keys.version('photos', 'k', versionKey), Buffer.concat([Buffer.from([0x76]), utf8('photos\u0000k\u0000'), versionKey]));
  assert.deepEqual(keys.version('photos', 'k\u0000', versionKey), Buffer.concat([Buffer.from([0x76]), utf8('photos\u0000k'), Buffer.from([0, 0xff, 0]), versionKey]));
});

test('keys - object keys sort as their UTF-8 bytes and read back, with and without NULs', () => {
  const alphabet = ['a', 'b', '\u0000', '\u0001', '/', 'é', '\u{1f600}', '\uffff', ' '];
  const randomKey = () => Array.from({ length: 1 + Math.floor(Math.random() * 6) }, () => alphabet[Math.floor(Math.random() * alphabet.length)]).join('');
  for (let i = 0; i < 2000; i++) {
    const [x, y] = [randomKey(), randomKey()];
    const expected = Math.sign(Buffer.compare(utf8(x), utf8(y)));
    assert.equal(Math.sign(Buffer.compare(keys.current('bkt', x), keys.current('bkt', y))), expected, `${JSON.stringify(x)} vs ${JSON.stringify(y)}`);
    assert.equal(keys.objectKeyFromCurrent(keys.current('bkt', x), 'bkt'), x);
  }
});

test('keyNames - each name is the latin1 of its key\'s bytes when parts are ASCII, non-ASCII, NUL or surrogates', () => {
  // U+0101 and U+0001, U+00C4 and its UTF-8 bytes' chars: strings a careless latin1 encoding would merge.
  const alphabet = ['a', '/', '\u0000', '\u0001', '\u007f', '\u0080', '\u00c4', '\u00c3\u0084', '\u00ff', '\u0101', '\u{1f600}', '\ud800', '\uffff'];
  const randomPart = () => Array.from({ length: Math.floor(Math.random() * 5) }, () => alphabet[Math.floor(Math.random() * alphabet.length)]).join('');
  const seen = new Map<string, string>();
  for (let i = 0; i < 3000; i++) {
    const bucket = i % 3 === 0 ? randomPart() : 'bkt';
    const key = randomPart();
    const versionKey = randomBytes(12);
    assert.equal(keyNames.bucket(bucket), keyNameOf(keys.bucket(bucket)), JSON.stringify(bucket));
    assert.equal(keyNames.current(bucket, key), keyNameOf(keys.current(bucket, key)), JSON.stringify([bucket, key]));
    assert.equal(keyNames.version(bucket, key, versionKey.toString('hex')), keyNameOf(keys.version(bucket, key, versionKey)), JSON.stringify([bucket, key]));
    // Distinct keys, distinct names (a lone surrogate is UTF-8 encoded as U+FFFD, as the key Buffer has it).
    const bytes = keys.current(bucket, key).toString('hex');
    const name = keyNames.current(bucket, key);
    assert.equal(seen.get(name) ?? bytes, bytes, JSON.stringify([bucket, key]));
    seen.set(name, bytes);
  }
});
