import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createLogger, parseLogFormat, parseLogLevel, prettyLine } from './log.js';

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

test('log - the pretty format writes time, level, message and key=value fields on one line', () => {
  const line = prettyLine({ time: '2026-12-03T05:00:00.000Z', level: 'info', message: 'request', fields: { requestId: 'AB12', key: 'a b.txt', status: 200, bucket: undefined, empty: '', tags: ['x'] } });
  assert.equal(line, '2026-12-03T05:00:00.000Z INFO  request requestId=AB12 key="a b.txt" status=200 empty="" tags=["x"]\n');
});

test('log - the pretty format puts an error\'s stack on indented lines after the entry', () => {
  const err = new Error('boom');
  err.stack = 'Error: boom\n    at f (x.js:1:1)';
  const line = prettyLine({ time: 't', level: 'error', message: 'Request failed', fields: { err: { name: 'Error', message: 'boom', stack: err.stack } } });
  assert.equal(line, 't ERROR Request failed err={"name":"Error","message":"boom"}\n    Error: boom\n        at f (x.js:1:1)\n');
});

test('log - a logger at level warn drops info entries and reports info as disabled', () => {
  const log = createLogger({ level: 'warn', format: 'json' });
  assert.equal(log.enabled?.('info'), false);
  assert.equal(log.enabled?.('warn'), true);
  let written = '';
  const write = process.stderr.write;
  process.stderr.write = ((chunk: string) => {
    written += chunk;
    return true;
  }) as typeof process.stderr.write;
  try {
    log.info('request', { status: 200 });
    log.warn('careful', { secretKey: 'x' });
  } finally {
    process.stderr.write = write;
  }
  assert.doesNotMatch(written, /request/);
  assert.match(written, /"message":"careful","secretKey":"\[redacted\]"/);
});

test('log - levels and formats are checked', () => {
  assert.equal(parseLogLevel('--log-level', 'WARN'), 'warn');
  assert.throws(() => parseLogLevel('--log-level', 'loud'), /Cannot use --log-level "loud": expected debug, info, warn or error/);
  assert.throws(() => parseLogFormat('--log-format', 'xml'), /Cannot use --log-format "xml": expected json or pretty/);
});

test('log - with a shared stderr a batch of info lines goes out in whole lines of at most 4096 bytes, each carrying the base fields', async () => {
  const write = process.stderr.write;
  const chunks: Buffer[] = [];
  process.stderr.write = ((chunk: string | Uint8Array) => {
    chunks.push(Buffer.from(chunk));
    return true;
  }) as typeof process.stderr.write;
  try {
    const log = createLogger({ format: 'json', level: 'info', fields: { worker: 2 }, sharedStderr: true });
    for (let i = 0; i < 200; i++) log.info('request', { n: i, key: `ключ-${'x'.repeat(i % 50)}` });
    await new Promise((r) => setImmediate(r));
  } finally {
    process.stderr.write = write;
  }
  assert.ok(chunks.length > 1, 'the batch was cut');
  for (const chunk of chunks) {
    assert.ok(chunk.length <= 4096, `a write of ${chunk.length} bytes`);
    assert.equal(chunk[chunk.length - 1], 0x0a, 'each write ends a line');
  }
  const lines = Buffer.concat(chunks).toString().trim().split('\n').map((l) => JSON.parse(l) as { n: number; worker: number });
  assert.deepEqual(lines.map((l) => l.n), Array.from({ length: 200 }, (_, i) => i));
  assert.ok(lines.every((l) => l.worker === 2));
});
