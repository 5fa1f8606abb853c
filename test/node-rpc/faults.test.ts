// Node RPC under faults: a write cut off mid-way leaves no committed shard, bytes damaged on the wire
// are detected in both directions, and a node that stops answering is timed out and marked suspect.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { execFile } from 'node:child_process';
import { constants } from 'node:fs';
import { mkdtemp, open, readdir, rm, unlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { request } from 'node:http';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { crc32 } from '@node-rs/crc32';
import { dirname } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { newBlockId } from '../../src/blocks/ids.js';
import { dataFrame, endFrame, shardPath } from '../../src/blocks/rpc-protocol.js';
import type { ShardName } from '../../src/blocks/shard-store.js';
import { isStoreError } from '../../src/util/errors.js';
import { startTestNode, type TestNode } from './helpers.js';

const blockBytes = 64 * 1024;

/** A TCP proxy in front of the node that can flip one byte of the next request or response body, or stall. */
interface Proxy {
  url: string;
  /** Flip the byte 1000 bytes after the end of the next header block going this way. */
  flip(direction: 'toNode' | 'toClient'): void;
  stall(on: boolean): void;
  close(): Promise<void>;
}

async function startProxy(target: string): Promise<Proxy> {
  const { hostname, port } = new URL(target);
  const armed = { toNode: false, toClient: false };
  let stalled = false;
  const sockets = new Set<Socket>();
  const pump = (from: Socket, to: Socket, direction: 'toNode' | 'toClient') => {
    let flipAt = -1;
    from.on('data', (chunk: Buffer) => {
      if (stalled) return; // dropped: the other side sees silence
      if (armed[direction] && flipAt < 0) {
        const end = chunk.indexOf('\r\n\r\n');
        if (end >= 0) flipAt = end + 4 + 1000;
      }
      if (flipAt >= 0 && flipAt < chunk.length) {
        chunk = Buffer.from(chunk);
        chunk[flipAt] = chunk[flipAt]! ^ 0x01;
        armed[direction] = false;
        flipAt = -1;
      } else if (flipAt >= 0) flipAt -= chunk.length;
      to.write(chunk);
    });
    from.on('close', () => to.destroy());
    from.on('error', () => to.destroy());
  };
  const server: Server = createServer((client) => {
    const upstream = connect(Number(port), hostname);
    for (const s of [client, upstream]) sockets.add(s);
    pump(client, upstream, 'toNode');
    pump(upstream, client, 'toClient');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${address.port}`,
    flip: (direction) => (armed[direction] = true),
    stall: (on) => (stalled = on),
    close: () => {
      for (const s of sockets) s.destroy();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

async function filesOf(path: string): Promise<string[]> {
  return readdir(dirname(path)).catch(() => []);
}

test('RemoteShardStore - a write cut off by the caller signal leaves no committed shard and no tmp file', async () => {
  const t = await startTestNode();
  try {
    const { store } = t.client();
    const shard = { blockId: newBlockId(), shardIndex: 0 };
    const controller = new AbortController();
    const writer = await store.createShard(shard, { blockBytes });
    await writer.append(randomBytes(300 * 1024));
    const path = t.drive.shardPath(shard.blockId, shard.shardIndex);
    // The request goes out with the first frame, and the node creates the tmp file as it arrives.
    for (let i = 0; i < 100 && (await filesOf(path)).length === 0; i++) await sleep(20);
    assert.equal((await filesOf(path)).length, 1, 'the tmp file exists while the write runs');
    controller.abort();
    await assert.rejects(writer.append(randomBytes(1000), { signal: controller.signal }), (err) => isStoreError(err, 'ERR_ABORTED'));
    await assert.rejects(writer.commit(), (err) => isStoreError(err));
    await writer.abort();
    for (let i = 0; i < 100 && (await filesOf(path)).length > 0; i++) await sleep(20);
    assert.deepEqual(await filesOf(path), []);
    assert.equal(await t.drive.statShard(shard), undefined);
  } finally {
    await t.cleanup();
  }
});

/** A shard write PUT sent by hand with the client's signed headers; resolves with the node's answer. */
function rawShardPut(t: TestNode, shard: ShardName, body: Buffer, framing: 'chunked' | 'content-length'): Promise<{ status: number; text: string }> {
  const path = `${shardPath(t.drive.id, shard.blockId, shard.shardIndex)}?block-bytes=${blockBytes}`;
  const headers: Record<string, string | number> = t.client().remote.signedHeaders('PUT', path, true);
  if (framing === 'content-length') headers['content-length'] = body.length;
  return new Promise((resolve, reject) => {
    const req = request(`${t.node.url}${path}`, { method: 'PUT', headers, agent: false }, (res) => {
      let text = '';
      res.on('data', (d: Buffer) => (text += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

test('node RPC - a shard body that ends without its end frame is refused and not committed', async () => {
  const t = await startTestNode();
  try {
    const shard = { blockId: newBlockId(), shardIndex: 1 };
    const { status, text } = await rawShardPut(t, shard, dataFrame(randomBytes(5000)), 'chunked');
    assert.equal(status, 400);
    assert.match(text, /end frame/);
    assert.equal(await t.drive.statShard(shard), undefined);
    assert.deepEqual(await filesOf(t.drive.shardPath(shard.blockId, 1)), []);
  } finally {
    await t.cleanup();
  }
});

test('node RPC - a shard body that is not frames, or has bytes after its end frame, is refused and leaves no file', async () => {
  const t = await startTestNode();
  try {
    const data = randomBytes(5000);
    const shard = { blockId: newBlockId(), shardIndex: 2 };
    const garbage = await rawShardPut(t, shard, Buffer.from('PUT this in the shard please'), 'content-length');
    assert.equal(garbage.status, 400);
    assert.match(garbage.text, /unknown frame type/);
    const trailing = await rawShardPut(t, shard, Buffer.concat([dataFrame(data), endFrame(crc32(data), data.length), Buffer.from('x')]), 'chunked');
    assert.equal(trailing.status, 400);
    assert.match(trailing.text, /follow the closing frame/);
    assert.deepEqual(await filesOf(t.drive.shardPath(shard.blockId, 2)), []);
    const framed = await rawShardPut(t, shard, Buffer.concat([dataFrame(data), endFrame(crc32(data), data.length)]), 'content-length');
    assert.equal(framed.status, 200, 'the framing, not the transfer encoding, delimits the shard');
  } finally {
    await t.cleanup();
  }
});

test('RemoteShardStore - a byte flipped on the wire fails the read ERR_SHARD_CORRUPT and the write uncommitted', async () => {
  const t = await startTestNode();
  const proxy = await startProxy(t.node.url);
  try {
    const { store } = t.client({ url: proxy.url });
    const data = randomBytes(3 * blockBytes);
    const shard = { blockId: newBlockId(), shardIndex: 0 };
    const writer = await store.createShard(shard, { blockBytes });
    await writer.append(data);
    await writer.commit();
    const reader = await store.openShard(shard, { shardBytes: data.length });
    proxy.flip('toClient');
    await assert.rejects(reader.readPieces(0, data.length), (err) => isStoreError(err, 'ERR_SHARD_CORRUPT') && /in transit/.test(err.message));
    assert.deepEqual(Buffer.concat(await reader.readPieces(0, data.length)), data, 'the shard itself is fine');

    const damaged = { blockId: newBlockId(), shardIndex: 0 };
    proxy.flip('toNode'); // lands in the body: 1000 bytes past the PUT's header block
    const second = await store.createShard(damaged, { blockBytes });
    await second.append(data);
    await assert.rejects(second.commit(), (err) => isStoreError(err, 'ERR_SHARD_CORRUPT'));
    assert.equal(await t.drive.statShard(damaged), undefined);
  } finally {
    await proxy.close();
    await t.cleanup();
  }
});

test('RemoteShardStore - a node that stops answering times out, is suspect, and a probe in time clears it', async () => {
  const t = await startTestNode();
  const proxy = await startProxy(t.node.url);
  try {
    // A bound short enough to keep the test quick, long enough that a loaded machine answers in time once
    // the stall ends (300 ms was not, under a full test run beside other work). No background probes: the
    // test's own probes are the ones it means.
    const { store } = t.client({ url: proxy.url, callTimeoutMs: 1000, probeIntervalMs: 60_000 });
    proxy.stall(true);
    await assert.rejects(store.listPrefixes(undefined), (err) => isStoreError(err, 'ERR_TARGET_TIMEOUT'));
    assert.equal(store.suspect, true);
    await assert.rejects(store.statShard({ blockId: newBlockId(), shardIndex: 0 }), (err) => isStoreError(err, 'ERR_SHARD_MISSING') && /suspect/.test(err.message));
    await assert.rejects(store.probe(), (err) => isStoreError(err, 'ERR_TARGET_TIMEOUT'));
    proxy.stall(false);
    assert.equal((await store.probe()).state, 'ok');
    assert.equal(store.suspect, false);
    assert.deepEqual(await store.listPrefixes(undefined), []);
  } finally {
    await proxy.close();
    await t.cleanup();
  }
});

test('RemoteShardStore - while a suspect node has a probe waiting, other probes fail at once instead of queueing', async () => {
  const t = await startTestNode();
  const proxy = await startProxy(t.node.url);
  try {
    const { store } = t.client({ url: proxy.url, callTimeoutMs: 1000, probeIntervalMs: 60_000 });
    proxy.stall(true);
    await assert.rejects(store.listPrefixes(undefined), (err) => isStoreError(err, 'ERR_TARGET_TIMEOUT'));
    const waiting = store.probe();
    waiting.catch(() => undefined);
    const startMs = performance.now();
    await assert.rejects(store.probe(), (err) => isStoreError(err, 'ERR_SHARD_MISSING') && /still waiting/.test(err.message));
    assert.ok(performance.now() - startMs < 500, 'the second probe did not wait for the first');
    await assert.rejects(waiting, (err) => isStoreError(err, 'ERR_TARGET_TIMEOUT'));
    proxy.stall(false);
    assert.equal((await store.probe()).state, 'ok');
    assert.equal(store.suspect, false);
    assert.deepEqual(await store.listPrefixes(undefined), []);
  } finally {
    await proxy.close();
    await t.cleanup();
  }
});

test('RemoteShardStore - a drive that times out on its node makes the remote target suspect until a probe answers', async () => {
  const fifoDir = await mkdtemp(join(tmpdir(), 'tessera-fifo-'));
  const fifo = join(fifoDir, 'hang.fifo');
  const t = await startTestNode({ hangFifo: fifo });
  try {
    const { store } = t.client();
    const shard = { blockId: newBlockId(), shardIndex: 0 };
    await promisify(execFile)('mkfifo', [fifo]); // from now on every call on the drive blocks
    await assert.rejects(store.statShard(shard), (err) => isStoreError(err, 'ERR_TARGET_TIMEOUT'));
    assert.equal(store.suspect, true);
    assert.equal(t.client().remote.suspect, false, 'the node itself answered');
    await assert.rejects(store.listPrefixes(undefined), (err) => isStoreError(err, 'ERR_SHARD_MISSING') && /suspect/.test(err.message));
    // Let the blocked threadpool call go (open the FIFO for writing while it waits to read), then remove it.
    const writer = await open(fifo, constants.O_WRONLY | constants.O_NONBLOCK).catch(() => undefined);
    await unlink(fifo);
    await writer?.close();
    for (let i = 0; i < 50 && store.suspect; i++) {
      await store.probe().catch(() => undefined);
      if (store.suspect) await sleep(50);
    }
    assert.equal(store.suspect, false);
    assert.equal(await store.statShard(shard), undefined);
  } finally {
    await t.cleanup();
    await rm(fifoDir, { recursive: true, force: true });
  }
});

/** Writes `data` as shard 0 of a new block through `store` and opens it. */
async function storedShard(store: ReturnType<TestNode['client']>['store'], data: Buffer) {
  const shard = { blockId: newBlockId(), shardIndex: 0 };
  const writer = await store.createShard(shard, { blockBytes });
  await writer.append(data);
  await writer.commit();
  return store.openShard(shard, { shardBytes: data.length });
}

test('RemoteShardStore - readInOrder streams a range piece by piece, and serves a read out of order exactly', async () => {
  const t = await startTestNode();
  try {
    const { store } = t.client();
    const data = randomBytes(40 * blockBytes + 123);
    const reader = await storedShard(store, data);
    const piece = 4 * blockBytes;
    const inOrder = reader.readInOrder!(piece, data.length);
    const got: Buffer[] = [];
    // Reads ahead as the block reader does: several in flight, taken in order.
    for (let at = piece; at < data.length; at += 3 * piece) {
      const reads = [0, 1, 2].map((i) => at + i * piece).filter((from) => from < data.length).map((from) => inOrder.read(from, Math.min(data.length, from + piece)));
      for (const pieces of await Promise.all(reads)) got.push(...pieces);
    }
    assert.deepEqual(Buffer.concat(got), data.subarray(piece));
    assert.deepEqual(Buffer.concat(await inOrder.read(0, 100)), data.subarray(0, 100), 'a read behind the stream is a plain read');
    inOrder.close();
    assert.deepEqual(Buffer.concat(await inOrder.read(data.length - 10, data.length)), data.subarray(data.length - 10));
  } finally {
    await t.cleanup();
  }
});

test('RemoteShardStore - readInOrder never hands out a frame damaged on the wire: the read is served exactly by a plain request', async () => {
  const t = await startTestNode();
  const proxy = await startProxy(t.node.url);
  try {
    const { store } = t.client({ url: proxy.url });
    const data = randomBytes(24 * blockBytes);
    const reader = await storedShard(store, data);
    const inOrder = reader.readInOrder!(0, data.length);
    proxy.flip('toClient'); // lands in the first frame's payload
    const got: Buffer[] = [];
    for (let at = 0; at < data.length; at += 4 * blockBytes) got.push(...(await inOrder.read(at, at + 4 * blockBytes)));
    assert.deepEqual(Buffer.concat(got), data);
    inOrder.close();
  } finally {
    await proxy.close();
    await t.cleanup();
  }
});

test('RemoteShardStore - readInOrder from a node that stops answering fails within the call bound and makes the node suspect', async () => {
  const t = await startTestNode();
  const proxy = await startProxy(t.node.url);
  try {
    const { store } = t.client({ url: proxy.url, callTimeoutMs: 300 });
    const data = randomBytes(8 * blockBytes);
    const reader = await storedShard(store, data);
    proxy.stall(true);
    const inOrder = reader.readInOrder!(0, data.length);
    const started = performance.now();
    await assert.rejects(inOrder.read(0, 2 * blockBytes), (err) => isStoreError(err));
    assert.ok(performance.now() - started < 2000, `the read failed after ${Math.round(performance.now() - started)} ms`);
    assert.equal(store.suspect, true);
    inOrder.close();
  } finally {
    await proxy.close();
    await t.cleanup();
  }
});
