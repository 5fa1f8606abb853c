// Node RPC authentication: only requests signed with the cluster secret, for this node, recently and
// once, are served; everything else is refused with a clear error and the node keeps serving.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { request } from 'node:http';
import { connect } from 'node:net';
import { emptyBodySha256, rpcHeaders, signRequest } from '../../src/blocks/rpc-protocol.js';
import { isStoreError } from '../../src/util/errors.js';
import { startTestNode, type TestNode } from './helpers.js';

interface Signing {
  secret: Buffer;
  node?: string;
  dateMs?: number;
  nonce?: string;
  method?: string;
  extraHeaders?: Record<string, string>;
}

function signedHeaders(path: string, s: Signing): Record<string, string> {
  const signed = {
    method: s.method ?? 'GET',
    url: path,
    node: s.node ?? 'n1',
    dateMs: String(s.dateMs ?? Date.now()),
    nonce: s.nonce ?? randomBytes(16).toString('hex'),
    bodySha256: emptyBodySha256,
  };
  return {
    [rpcHeaders.node]: signed.node,
    [rpcHeaders.date]: signed.dateMs,
    [rpcHeaders.nonce]: signed.nonce,
    [rpcHeaders.bodySha256]: signed.bodySha256,
    [rpcHeaders.authorization]: signRequest(s.secret, signed),
    ...s.extraHeaders,
  };
}

function send(t: TestNode, path: string, headers: Record<string, string>, method = 'GET'): Promise<{ status: number; body: { code?: string; message?: string } }> {
  return new Promise((resolve, reject) => {
    const req = request(`${t.node.url}${path}`, { method, headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(Buffer.concat(chunks).toString() || '{}') }));
    });
    req.on('error', reject);
    req.end();
  });
}

async function withNode(body: (t: TestNode, probePath: string) => Promise<void>): Promise<void> {
  const t = await startTestNode();
  try {
    await body(t, `/rpc/v1/${t.drive.id}/probe`);
  } finally {
    await t.cleanup();
  }
}

test('node RPC auth - a request signed with the cluster secret is served', () =>
  withNode(async (t, path) => {
    const answer = await send(t, path, signedHeaders(path, { secret: t.secret }));
    assert.equal(answer.status, 200);
  }));

test('node RPC auth - a request signed with a wrong secret is refused, and the client sees ERR_SHARD_MISSING', () =>
  withNode(async (t, path) => {
    const answer = await send(t, path, signedHeaders(path, { secret: randomBytes(32) }));
    assert.equal(answer.status, 403);
    assert.equal(answer.body.code, 'ERR_RPC_AUTH');
    const { store } = t.client({ secret: randomBytes(32) });
    await assert.rejects(store.probe(), (err) => isStoreError(err, 'ERR_SHARD_MISSING') && /Signature does not match/.test(err.message));
  }));

test('node RPC auth - a replayed request is refused within the window', () =>
  withNode(async (t, path) => {
    const headers = signedHeaders(path, { secret: t.secret });
    assert.equal((await send(t, path, headers)).status, 200);
    const replay = await send(t, path, headers);
    assert.equal(replay.status, 403);
    assert.match(replay.body.message ?? '', /replayed/);
  }));

test('node RPC auth - a request whose timestamp is skewed beyond 5 minutes is refused', () =>
  withNode(async (t, path) => {
    for (const skewMs of [-6 * 60_000, 6 * 60_000]) {
      const answer = await send(t, path, signedHeaders(path, { secret: t.secret, dateMs: Date.now() + skewMs }));
      assert.equal(answer.status, 403);
      assert.match(answer.body.message ?? '', /away from the node's clock/);
    }
    assert.equal((await send(t, path, signedHeaders(path, { secret: t.secret, dateMs: Date.now() - 60_000 }))).status, 200);
  }));

test('node RPC auth - a request signed for another node, or altered after signing, is refused', () =>
  withNode(async (t, path) => {
    assert.equal((await send(t, path, signedHeaders(path, { secret: t.secret, node: 'n2', extraHeaders: { [rpcHeaders.node]: 'n2' } }))).status, 403);
    const other = `/rpc/v1/${t.drive.id}/prefixes`;
    assert.equal((await send(t, other, signedHeaders(path, { secret: t.secret }))).status, 403);
    assert.equal((await send(t, path, signedHeaders(path, { secret: t.secret }), 'DELETE')).status, 403);
  }));

test('node RPC auth - missing or malformed headers get 401 and the node keeps serving', () =>
  withNode(async (t, path) => {
    assert.equal((await send(t, path, {})).status, 401);
    assert.equal((await send(t, path, { ...signedHeaders(path, { secret: t.secret }), [rpcHeaders.nonce]: 'zz' })).status, 401);
    assert.equal((await send(t, path, signedHeaders(path, { secret: t.secret }))).status, 200);
  }));

test('node RPC - bad paths and parameters get 400/404 with an error body, never a crash', () =>
  withNode(async (t) => {
    const cases: [string, string, number][] = [
      ['GET', '/nope', 404],
      ['GET', `/rpc/v1/0000000000000000/probe`, 404],
      ['GET', `/rpc/v1/${t.drive.id}/shards/xyz/0`, 400],
      ['GET', `/rpc/v1/${t.drive.id}/shards/${'a'.repeat(32)}/99`, 400],
      ['GET', `/rpc/v1/${t.drive.id}/shards/${'a'.repeat(32)}/0?shard-bytes=10&start=5&end=2`, 400],
      ['GET', `/rpc/v1/${t.drive.id}/prefixes/zz`, 400],
      ['POST', `/rpc/v1/${t.drive.id}/probe`, 405],
    ];
    for (const [method, path, status] of cases) {
      const answer = await send(t, path, signedHeaders(path, { secret: t.secret, method }), method);
      assert.equal(answer.status, status, `${method} ${path}`);
      assert.ok(answer.body.code && answer.body.message, `${method} ${path} has an error body`);
    }
  }));

test('node RPC - oversize headers and garbage bytes get an HTTP error, and the node keeps serving', () =>
  withNode(async (t, path) => {
    const big = await send(t, path, { ...signedHeaders(path, { secret: t.secret }), 'x-pad': 'a'.repeat(32 * 1024) }).catch(() => ({ status: 431 }));
    assert.equal(big.status, 431);
    const port = Number(new URL(t.node.url).port);
    const reply = await new Promise<string>((resolve) => {
      const socket = connect(port, '127.0.0.1', () => socket.write('NOT HTTP AT ALL\r\n\r\n'));
      let text = '';
      socket.on('data', (d) => (text += d.toString()));
      socket.on('close', () => resolve(text));
    });
    assert.match(reply, /^HTTP\/1\.1 400/);
    assert.equal((await send(t, path, signedHeaders(path, { secret: t.secret }))).status, 200);
  }));
