import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Query } from './query.js';

test('Query - get and has answer as URLSearchParams does, for random raw queries', () => {
  // Names and values with '+', good and broken %-escapes, UTF-8 escapes (some cut in half), '=' and empty parts.
  // No raw non-ASCII: HTTP clients escape it, and for a cut escape followed by one ('%e2%82é') Node's
  // URLSearchParams gives two U+FFFD where the WHATWG decoding, which SigV4 and Query share, gives one and 'é'.
  const atoms = ['a', 'b', 'x-id', '+', '%20', '%2B', '%zz', '%', '%e2%82%ac', '%e2%82', '%C3%A9', '=', '', '%3D', '~'];
  const part = () => Array.from({ length: Math.floor(Math.random() * 4) }, () => atoms[Math.floor(Math.random() * atoms.length)]).join('');
  for (let i = 0; i < 3000; i++) {
    const raw = Array.from({ length: 1 + Math.floor(Math.random() * 4) }, part).join('&');
    const ours = Query.parse(raw);
    const theirs = new URLSearchParams(raw);
    const names = new Set([...theirs.keys(), 'a', 'b', 'x-id', ' ', '']);
    for (const name of names) {
      assert.equal(ours.get(name), theirs.get(name), `get(${JSON.stringify(name)}) of ${JSON.stringify(raw)}`);
      assert.equal(ours.has(name), theirs.has(name), `has(${JSON.stringify(name)}) of ${JSON.stringify(raw)}`);
    }
    assert.deepEqual(ours.pairs.map(([n]) => n), [...theirs.keys()], `names of ${JSON.stringify(raw)}`);
  }
});
