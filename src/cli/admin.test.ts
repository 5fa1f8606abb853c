import { test } from 'node:test';
import assert from 'node:assert/strict';
import { describeRedundancy } from './admin.js';

test('describeRedundancy - says how many drives may fail for each default', () => {
  assert.equal(describeRedundancy({ kind: 'replicate', copies: 1 }), '1 copy: no drive may fail');
  assert.equal(describeRedundancy({ kind: 'replicate', copies: 2 }), '2 copies: any 1 drive may fail');
  assert.equal(describeRedundancy({ kind: 'rs', data: 2, parity: 1 }), 'Reed-Solomon 2+1: any 1 drive may fail');
  assert.equal(describeRedundancy({ kind: 'rs', data: 4, parity: 2 }), 'Reed-Solomon 4+2: any 2 drives may fail');
});
