import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createLogger, isoTime, jsonLine, parseLogFormat, parseLogLevel, prettyLine } from './log.js';
import { pieceEnd } from './log-writer.js';

function captured(fn: (write: (line: string) => void) => void): Record<string, unknown> {
  let line = '';
  fn((chunk) => (line += chunk));
  return JSON.parse(line) as Record<string, unknown>;
}

test('log - an error is written with its cause chain when it has one', () => {
  const errno = Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
  const err = Object.assign(new Error('Cannot write block "ab"', { cause: errno }), { code: 'ERR_DRIVES_FULL' });
  const entry = captured((write) => createLogger({ write }).error('Request failed', { err }));
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
  const entry = captured((write) => createLogger({ write }).error('x', { err: a }));
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
  let written = '';
  const log = createLogger({ level: 'warn', format: 'json', write: (line) => (written += line) });
  assert.equal(log.enabled?.('info'), false);
  assert.equal(log.enabled?.('warn'), true);
  log.info('request', { status: 200 });
  log.warn('careful', { secretKey: 'x' });
  assert.doesNotMatch(written, /request/);
  assert.match(written, /"message":"careful","secretKey":"\[redacted\]"/);
});

test('log - levels and formats are checked', () => {
  assert.equal(parseLogLevel('--log-level', 'WARN'), 'warn');
  assert.throws(() => parseLogLevel('--log-level', 'loud'), /Cannot use --log-level "loud": expected debug, info, warn or error/);
  assert.throws(() => parseLogFormat('--log-format', 'xml'), /Cannot use --log-format "xml": expected json or pretty/);
});

test('log - every line carries the base fields (the worker number of --workers N), in JSON and pretty', () => {
  const lines: string[] = [];
  const json = createLogger({ format: 'json', level: 'info', fields: { worker: 2 }, write: (l) => lines.push(l) });
  json.info('request', { n: 1 });
  json.warn('slow', {});
  const pretty = createLogger({ format: 'pretty', level: 'info', fields: { worker: 2 }, write: (l) => lines.push(l) });
  pretty.info('request', { n: 1 });
  assert.deepEqual(lines.slice(0, 2).map((l) => (JSON.parse(l) as { worker: number }).worker), [2, 2]);
  assert.match(lines[2]!, / worker=2 n=1$/m);
});

test('log-writer - with a shared stderr queued lines go out in writes of whole lines of at most 4096 bytes', () => {
  const text = Array.from({ length: 200 }, (_, i) => `${JSON.stringify({ n: i, key: `ключ-${'x'.repeat(i % 50)}` })}\n`).join('') + `${'y'.repeat(5000)}\n`;
  const data = Buffer.from(text);
  const pieces: Buffer[] = [];
  for (let offset = 0; offset < data.length;) {
    const end = pieceEnd(data, offset, 4096);
    pieces.push(data.subarray(offset, end));
    offset = end;
  }
  assert.ok(pieces.length > 1, 'the batch was cut');
  for (const piece of pieces.slice(0, -1)) assert.ok(piece.length <= 4096, `a write of ${piece.length} bytes`);
  assert.equal(pieces.at(-1)!.length, 5001, 'a line longer than the limit is one write of its own');
  for (const piece of pieces) assert.equal(piece[piece.length - 1], 0x0a, 'each write ends a line');
  assert.ok(Buffer.concat(pieces).equals(data));
});

test('log - a JSON line reads back as the fields JSON.stringify would write, whatever their strings hold', () => {
  const fields = {
    key: 'plain', quote: 'a"b', backslash: 'c\\d', control: 'e\u0001f\n', lone: 'g\ud800h', pair: 'i\ud83d\ude00j', separator: 'k\u2028l',
    n: 1.5, infinite: Infinity, yes: true, none: null, skipped: undefined, nested: { a: [1, 'x'] }, 'odd"name': 1,
  };
  const line = jsonLine('2026-12-03T06:00:00.000Z', 'info', 'say "hi"', fields);
  assert.ok(line.endsWith('}\n') && !line.slice(0, -1).includes('\n'));
  const parsed = JSON.parse(line) as Record<string, unknown>;
  assert.deepEqual(parsed, JSON.parse(JSON.stringify({ time: '2026-12-03T06:00:00.000Z', level: 'info', message: 'say "hi"', ...fields })));
  assert.equal(line.includes('\\ud800'), true, 'a lone surrogate is escaped, as JSON.stringify does');
});

test('log - isoTime writes the time as toISOString does, across seconds and milliseconds', () => {
  for (const ms of [0, 1, 9, 10, 99, 100, 999, 1000, 1_764_745_200_007, 1_764_745_200_070, 1_764_745_200_700, 1_764_745_201_000]) {
    assert.equal(isoTime(ms), new Date(ms).toISOString());
  }
});
