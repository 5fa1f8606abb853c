import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createLogger, type Logger } from '../util/log.js';
import { logAccess, trackRequest } from './access-log.js';

function request(url: string): { req: IncomingMessage; res: ServerResponse } {
  const socket = { bytesWritten: 100, remoteAddress: '::ffff:10.0.0.7' };
  const req = { url, method: 'GET', socket, headers: {}, push: () => true } as unknown as IncomingMessage;
  const res = { headersSent: true, statusCode: 404 } as unknown as ServerResponse;
  return { req, res };
}

/** The access line as the JSON logger writes it, and the fields a logger without infoPrepared is given. */
function bothForms(facts: Record<string, string>, url: string, answered: boolean): { written: Record<string, unknown>; fields: Record<string, unknown> } {
  const { req, res } = request(url);
  const track = trackRequest(req);
  Object.assign(track.facts, facts);
  let line = '';
  logAccess(createLogger({ format: 'json', level: 'info', write: (l) => (line += l) }), track, 'ABC123', req, res, answered);
  let fields: Record<string, unknown> = {};
  const plain: Logger = { debug: () => undefined, info: (_m, f) => (fields = f ?? {}), warn: () => undefined, error: () => undefined };
  logAccess(plain, track, 'ABC123', req, res, answered);
  return { written: JSON.parse(line) as Record<string, unknown>, fields };
}

test('access log - the JSON written directly reads back as the fields would, whatever the key and bucket hold', () => {
  const cases: [Record<string, string>, string, boolean][] = [
    [{ operation: 'GetObject', accessKeyId: 'AKEXAMPLE', bucket: 'photos', key: 'a "quoted"\\ key\n\u0001\u2028é😀\ud800', errorCode: 'NoSuchKey' }, '/photos/x', true],
    [{ operation: 'Admin' }, '/_tessera/admin/status?x=1', false],
    [{}, '/', true],
  ];
  for (const [facts, url, answered] of cases) {
    const { written, fields } = bothForms(facts, url, answered);
    const { time, level, message, ...rest } = written;
    assert.equal(level, 'info');
    assert.equal(message, 'request');
    assert.match(String(time), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    const expected = JSON.parse(JSON.stringify(fields)) as Record<string, unknown>;
    // durationMs is read again for the second form; the rest must match exactly, in the same order.
    assert.deepEqual(Object.keys(rest), Object.keys(expected));
    assert.deepEqual({ ...rest, durationMs: 0 }, { ...expected, durationMs: 0 });
  }
});
