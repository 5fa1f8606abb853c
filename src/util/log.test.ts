import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createLogger } from './log.js';

function captured(fn: () => void): Record<string, unknown> {
  const write = process.stderr.write;
  let line = '';
  process.stderr.write = ((chunk: string) => {
    line += chunk;
    return true;
  }) as typeof process.stderr.write;
  try {
    fn();
  } finally {
    process.stderr.write = write;
  }
  return JSON.parse(line) as Record<string, unknown>;
}

test('log - an error is written with its cause chain when it has one', () => {
  const errno = Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
  const err = Object.assign(new Error('Cannot write block "ab"', { cause: errno }), { code: 'ERR_DRIVES_FULL' });
  const entry = captured(() => createLogger().error('Request failed', { err }));
  const logged = entry.err as { code: string; cause?: { code: string; message: string; stack?: string } };
  assert.equal(logged.code, 'ERR_DRIVES_FULL');
  assert.equal(logged.cause?.code, 'ENOSPC');
  assert.match(logged.cause?.message ?? '', /no space left/);
  assert.equal(logged.cause?.stack, undefined, 'one stack is enough');
});

test('log - a cycle of causes is cut off', () => {
  const a = new Error('a');
  const b = new Error('b', { cause: a });
  (a as { cause?: unknown }).cause = b;
  const entry = captured(() => createLogger().error('x', { err: a }));
  assert.ok(JSON.stringify(entry).length < 2000);
});
