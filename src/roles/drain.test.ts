import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, request, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { drainerOf } from './drain.js';

/** A server whose handler answers when `release` is called (or at once for GET /fast), wrapped by a drainer. */
async function serverWithDrainer() {
  const held: (() => void)[] = [];
  const server = createServer();
  const drainer = drainerOf(server);
  server.on('request', drainer.wrap((req, res) => {
    if (req.url === '/fast') return void res.end('fast');
    return new Promise<void>((resolve) => held.push(() => {
      res.end('slow');
      resolve();
    }));
  }));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as AddressInfo).port;
  const get = (path: string) => new Promise<IncomingMessage>((resolve, reject) => {
    request({ host: '127.0.0.1', port, path, agent: false, headers: { connection: 'keep-alive' } }, resolve).once('error', reject).end();
  });
  return { server, drainer, held, get };
}

test('drainer - answers in flight finish with Connection: close, and drain resolves once they are done', async () => {
  const { drainer, held, get } = await serverWithDrainer();
  const slow = get('/slow');
  while (held.length === 0) await new Promise((r) => setTimeout(r, 5));
  const drained = drainer.drain(10_000);
  assert.ok(drainer.draining);
  held[0]!();
  const res = await slow;
  assert.equal(res.headers.connection, 'close');
  res.resume();
  assert.deepEqual(await drained, { finished: 1, cut: 0 });
});

test('drainer - cuts what is still in flight after the grace', async () => {
  const { drainer, held, get } = await serverWithDrainer();
  const failed = get('/stuck').then(() => 'answered', (err: NodeJS.ErrnoException) => err.code);
  while (held.length === 0) await new Promise((r) => setTimeout(r, 5));
  const result = drainer.drain(50);
  assert.equal(await failed, 'ECONNRESET');
  held[0]!(); // the handler settles after its connection was cut
  assert.deepEqual(await result, { finished: 0, cut: 1 });
});
