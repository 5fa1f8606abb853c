import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decodeSharedRecord, encodeRecord } from './records.js';

test('decodeSharedRecord - one frozen value per Buffer, deeply; another Buffer of the same bytes decodes anew', () => {
  const buf = encodeRecord({ etag: '"x"', data: { blocks: [{ id: 'b1' }] }, headers: { 'content-type': 'text/plain' } });
  const first = decodeSharedRecord<{ etag: string; data: { blocks: { id: string }[] }; headers: Record<string, string> }>(buf);
  assert.equal(decodeSharedRecord(buf), first, 'the same Buffer gives the same value');
  assert.ok(Object.isFrozen(first) && Object.isFrozen(first.data.blocks[0]) && Object.isFrozen(first.headers));
  // ES modules are strict: a write path that mutated a shared record would throw, not corrupt other reads.
  assert.throws(() => {
    first.headers['x-amz-meta-a'] = 'b';
  }, TypeError);
  const copy = decodeSharedRecord<typeof first>(Buffer.from(buf));
  assert.notEqual(copy, first);
  assert.deepEqual(copy, first);
});
