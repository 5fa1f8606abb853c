import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac, randomBytes } from 'node:crypto';
import { hexSignatureMatches, hmacHex, signingKey } from './signing-key.js';

const messages = ['', 'a', 'AWS4-HMAC-SHA256\n20240506T070809Z\n20240506/us-east-1/s3/aws4_request\n' + 'f'.repeat(64), 'ü✓ 日本', '😀'.repeat(300), 'x'.repeat(5000)];

test('hmacHex - equals createHmac for keys shorter, as long as and longer than a block', () => {
  for (const keyBytes of [0, 1, 32, 63, 64, 65, 200]) {
    const key = randomBytes(keyBytes);
    for (const message of messages) {
      assert.equal(hmacHex(key, message), createHmac('sha256', key).update(message, 'utf8').digest('hex'), `key of ${keyBytes} bytes, message of ${message.length} characters`);
    }
  }
});

test('hmacHex - stays right when one key signs messages of changing lengths in turn', () => {
  const key = signingKey('secret', '20240506', 'us-east-1');
  for (const message of [...messages, ...messages.slice().reverse(), 'short']) {
    assert.equal(hmacHex(key, message), createHmac('sha256', key).update(message, 'utf8').digest('hex'));
  }
});

test('hexSignatureMatches - accepts only the same lowercase hex', () => {
  const expected = hmacHex(Buffer.from('key'), 'message');
  assert.equal(hexSignatureMatches(expected, expected), true);
  assert.equal(hexSignatureMatches(expected, expected.toUpperCase()), false);
  assert.equal(hexSignatureMatches(expected, expected.slice(0, -1)), false);
  assert.equal(hexSignatureMatches(expected, `${expected.slice(0, -1)}${expected.endsWith('0') ? '1' : '0'}`), false);
  assert.equal(hexSignatureMatches(expected, ''), false);
});
