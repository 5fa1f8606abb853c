import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { isStoreError } from '../util/errors.js';
import { computeLayout, decodeLayout, emptyLayout, encodeLayout } from './index.js';
import { clusterChanges } from './test-helpers.js';

const layout = computeLayout(
  computeLayout(emptyLayout({ partitionCount: 256 }), clusterChanges({ count: 6, zones: 3, drives: 2 })),
  [{ kind: 'drainNode', nodeId: 'n0001' }],
);

function reencode(edit: (stored: Record<string, unknown>) => void): Buffer {
  const stored = JSON.parse(encodeLayout(layout).toString('utf8')) as Record<string, unknown>;
  edit(stored);
  return Buffer.from(JSON.stringify(stored), 'utf8');
}

describe('layout encoding', () => {
  test('encodeLayout - decodes to the same layout', () => {
    const decoded = decodeLayout(encodeLayout(layout));
    assert.deepEqual(decoded, layout);
    assert.equal(decoded.nodes.find((n) => n.id === 'n0001')?.state, 'draining');
  });

  test('decodeLayout - ERR_LAYOUT_CORRUPT when a byte of the record changed', () => {
    const stored = reencode((s) => {
      s.epoch = 7; // the checksum still names epoch 2
    });
    assert.throws(() => decodeLayout(stored), (err) => isStoreError(err, 'ERR_LAYOUT_CORRUPT'));
  });

  test('decodeLayout - ERR_LAYOUT_CORRUPT for another format version, truncated JSON or a slot naming no target', () => {
    assert.throws(() => decodeLayout(reencode((s) => (s.version = 2))), (err) => isStoreError(err, 'ERR_LAYOUT_CORRUPT'));
    const whole = encodeLayout(layout);
    assert.throws(() => decodeLayout(whole.subarray(0, whole.length - 10)), (err) => isStoreError(err, 'ERR_LAYOUT_CORRUPT'));
    assert.throws(() => decodeLayout(Buffer.from('null')), (err) => isStoreError(err, 'ERR_LAYOUT_CORRUPT'));
  });

  test('decodeLayout - checks the assignment even when the checksum matches', async () => {
    // A record written by a buggy encoder: consistent checksum, but a slot names target 200 of 12.
    const { checksumOf } = await import('../util/checksum.js');
    const stored = reencode((s) => {
      const raw = Buffer.from(s.assignment as string, 'base64');
      raw.writeUInt16LE(200, 0);
      s.assignment = raw.toString('base64');
      delete s.checksum;
      s.checksum = checksumOf('CRC32C', Buffer.from(JSON.stringify(s), 'utf8')).toString('hex');
    });
    assert.throws(() => decodeLayout(stored), (err) => isStoreError(err, 'ERR_LAYOUT_CORRUPT') && /target index 200/.test((err as Error).message));
  });
});
