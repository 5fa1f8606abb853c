import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { pacedStream } from './paced-stream.js';

test('pacedStream - passes every byte through, waiting after each piece as long as take says', async () => {
  const pieces = [Buffer.from('ab'), Buffer.from('cde'), Buffer.from('f')];
  const taken: number[] = [];
  const startMs = performance.now();
  const out = pacedStream(Readable.from(pieces), (bytes) => {
    taken.push(bytes);
    return taken.length === 1 ? 50 : 0;
  });
  const chunks: Buffer[] = [];
  for await (const chunk of out) chunks.push(chunk as Buffer);
  assert.equal(Buffer.concat(chunks).toString(), 'abcdef');
  assert.deepEqual(taken, [2, 3, 1]);
  assert.ok(performance.now() - startMs >= 45, 'the first wait was kept');
});

test('pacedStream - a wait ends with the signal\'s reason when it aborts', async () => {
  const controller = new AbortController();
  const out = pacedStream(Readable.from([Buffer.from('x'), Buffer.from('y')]), () => 60_000, controller.signal);
  const read = (async () => {
    for await (const chunk of out) void chunk;
  })();
  setTimeout(() => controller.abort(new Error('client went away')), 20);
  await assert.rejects(read, /client went away|aborted/);
});

test('pacedStream - an error of the source reaches the reader', async () => {
  const source = new Readable({ read() {} });
  const out = pacedStream(source, () => 0);
  setImmediate(() => source.destroy(new Error('body cut')));
  await assert.rejects((async () => {
    for await (const chunk of out) void chunk;
  })(), /body cut/);
});
