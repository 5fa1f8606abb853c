// The fault proxy the cluster tests put between a gateway and its nodes: pass, blackhole, reset, and back.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { startFaultProxy, type FaultProxy } from './fault-proxy.js';

/** An upstream that echoes every byte back and counts what reached it. */
async function startEcho(): Promise<{ server: Server; address: string; received: () => number; close: () => Promise<void> }> {
  let received = 0;
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    socket.on('data', (chunk: Buffer) => {
      received += chunk.length;
      socket.write(chunk);
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    server,
    address: `127.0.0.1:${(server.address() as AddressInfo).port}`,
    received: () => received,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

/** A client connection that records what it got back and how it ended. */
async function dial(proxy: FaultProxy) {
  const socket = connect(proxy.port, '127.0.0.1');
  socket.on('error', () => {});
  let got = '';
  let ended: string | undefined;
  socket.on('data', (d: Buffer) => (got += d.toString()));
  socket.on('error', (err: NodeJS.ErrnoException) => (ended ??= err.code ?? 'error'));
  socket.on('close', () => (ended ??= 'close'));
  await once(socket, 'connect');
  return {
    socket,
    got: () => got,
    ended: () => ended,
    /** Writes `text` and waits until it came back or `waitMs` passed. */
    async echo(text: string, waitMs = 2000): Promise<string> {
      const before = got.length;
      socket.write(text);
      const deadline = Date.now() + waitMs;
      while (got.length < before + text.length && ended === undefined && Date.now() < deadline) await sleep(10);
      return got.slice(before);
    },
  };
}

test('fault proxy - forwards both ways in pass mode', async () => {
  const echo = await startEcho();
  const proxy = await startFaultProxy(echo.address);
  try {
    const c = await dial(proxy);
    assert.equal(await c.echo('hello'), 'hello');
    assert.equal(proxy.stats().passing, 1);
    c.socket.destroy();
  } finally {
    await proxy.close();
    await echo.close();
  }
});

test('fault proxy - blackhole swallows bytes on open and new connections without answering or closing', async () => {
  const echo = await startEcho();
  const proxy = await startFaultProxy(echo.address);
  try {
    const open = await dial(proxy);
    assert.equal(await open.echo('before'), 'before');
    const receivedBefore = echo.received();
    proxy.setMode('blackhole');
    assert.equal(await open.echo('lost in the cut', 300), '');
    const fresh = await dial(proxy); // accepted, as a partitioned peer's SYN-ACK never tells anything
    assert.equal(await fresh.echo('also lost', 300), '');
    await sleep(200);
    assert.equal(open.ended(), undefined, 'a partition does not close the connection');
    assert.equal(fresh.ended(), undefined);
    assert.equal(echo.received(), receivedBefore, 'nothing reached the target');
    assert.ok(proxy.stats().swallowedBytes >= 'lost in the cut'.length + 'also lost'.length);
    assert.equal(proxy.stats().blackholed, 2);
    open.socket.destroy();
    fresh.socket.destroy();
  } finally {
    await proxy.close();
    await echo.close();
  }
});

test('fault proxy - back to pass serves new connections while blackholed ones stay dead', async () => {
  const echo = await startEcho();
  const proxy = await startFaultProxy(echo.address);
  try {
    const old = await dial(proxy);
    proxy.setMode('blackhole');
    proxy.setMode('pass');
    assert.equal(await old.echo('still cut', 300), '');
    assert.equal(old.ended(), undefined);
    const fresh = await dial(proxy);
    assert.equal(await fresh.echo('healed'), 'healed');
    old.socket.destroy();
    fresh.socket.destroy();
  } finally {
    await proxy.close();
    await echo.close();
  }
});

test('fault proxy - reset destroys open connections and refuses new ones until pass again', async () => {
  const echo = await startEcho();
  const proxy = await startFaultProxy(echo.address);
  try {
    const open = await dial(proxy);
    assert.equal(await open.echo('x'), 'x');
    proxy.setMode('reset');
    const deadline = Date.now() + 2000;
    while (open.ended() === undefined && Date.now() < deadline) await sleep(10);
    assert.ok(open.ended() === 'ECONNRESET' || open.ended() === 'close', `ended with ${open.ended()}`);
    const refused = await dial(proxy).catch(() => undefined); // the reset may beat the connect event
    if (refused) {
      assert.equal(await refused.echo('y', 500), '');
      assert.notEqual(refused.ended(), undefined, 'a new connection is reset');
    }
    proxy.setMode('pass');
    const fresh = await dial(proxy);
    assert.equal(await fresh.echo('z'), 'z');
    fresh.socket.destroy();
    assert.ok(proxy.stats().resets >= 1);
  } finally {
    await proxy.close();
    await echo.close();
  }
});

test('fault proxy - close ends blackholed connections too', async () => {
  const echo = await startEcho();
  const proxy = await startFaultProxy(echo.address, { mode: 'blackhole' });
  const c = await dial(proxy);
  await proxy.close();
  const deadline = Date.now() + 2000;
  while (c.ended() === undefined && Date.now() < deadline) await sleep(10);
  assert.notEqual(c.ended(), undefined);
  await echo.close();
});
