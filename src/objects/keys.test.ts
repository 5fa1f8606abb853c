import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { keys } from './keys.js';

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
