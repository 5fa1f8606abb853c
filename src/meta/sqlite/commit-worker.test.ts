// The commit thread's wait for company (batchLingerMs): only after a batch that had company, at most half as
// long as that batch took, never past the bound. The thread itself runs under every SqliteMetaStore test.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { batchLingerMs, commitLingerMaxMs } from './commit-worker.js';

test('commit thread - a batch waits for company only when the batch before had some', () => {
  assert.equal(batchLingerMs({ commits: 0, ms: 0 }), 0, 'the first batch does not wait');
  assert.equal(batchLingerMs({ commits: 1, ms: 12 }), 0, 'a lone writer never waits, however slow its fsync');
  assert.ok(batchLingerMs({ commits: 2, ms: 12 }) > 0, 'two commits in the batch before: the next waits');
});

test('commit thread - the wait is half the last batch\'s time, within the bound', () => {
  assert.equal(batchLingerMs({ commits: 5, ms: 1 }, 2), 0.5, 'a disk that syncs in 1 ms waits 0.5 ms');
  assert.equal(batchLingerMs({ commits: 5, ms: 3 }, 2), 1.5);
  assert.equal(batchLingerMs({ commits: 5, ms: 40 }, 2), 2, 'a slow sync waits the bound, no more');
  assert.equal(batchLingerMs({ commits: 5, ms: 40 }, 0), 0, 'a bound of 0 (TESSERA_COMMIT_LINGER_MS=0) turns it off');
});

test('commit thread - the bound is 2 ms by default', { skip: process.env.TESSERA_COMMIT_LINGER_MS !== undefined ? 'TESSERA_COMMIT_LINGER_MS is set' : false }, () => {
  assert.equal(commitLingerMaxMs, 2);
  assert.equal(batchLingerMs({ commits: 16, ms: 30 }), 2);
});
