import assert from 'node:assert/strict';
import { test } from 'node:test';
import { encoderFor, pageEncoder, urlEncodeName } from './list-params.js';
import { Query } from './query.js';

test('urlEncodeName - space is %20 and plus %2B; slash and RFC 3986 unreserved characters stay (issue 10)', () => {
  assert.equal(urlEncodeName('quux ab/thud'), 'quux%20ab/thud');
  assert.equal(urlEncodeName('asdf+b'), 'asdf%2Bb');
  assert.equal(urlEncodeName("a-_.~z!*'()"), 'a-_.~z%21%2A%27%28%29');
  assert.equal(urlEncodeName('nl\ncr\r\u0001ü'), 'nl%0Acr%0D%01%C3%BC');
  assert.equal(urlEncodeName('lone\ud800'), 'lone%EF%BF%BD');
});

test('pageEncoder - switches to url only when a name cannot be carried in XML, and keeps an explicit choice', () => {
  const plain = encoderFor(Query.parse(''));
  assert.equal(pageEncoder(plain, ['a b', undefined, 'ü']).type, undefined);
  const switched = pageEncoder(plain, ['ok', 'bad\u0001']);
  assert.equal(switched.type, 'url');
  assert.equal(switched.encode('a b'), 'a%20b');
  const url = encoderFor(Query.parse('encoding-type=url'));
  assert.equal(pageEncoder(url, ['plain']).type, 'url');
});
