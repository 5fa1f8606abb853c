import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import type { LeasedBytes } from '../blocks/types.js';
import { isStoreError } from '../util/errors.js';
import { sendLeased } from './send-leased.js';

const MiB = 1024 * 1024;

/**
 * Leases over copies of `body` in 64 KiB pieces, 1 MiB per lease. release() poisons the bytes at once,
 * the worst a buffer pool can do (the next read refills it), so a release before the socket is done
 * shows up as wrong bytes at the client.
 */
function poisonedLeases(body: Buffer, counts: { leased: number; released: number }): AsyncGenerator<LeasedBytes> {
  return (async function* () {
    for (let at = 0; at < body.length; at += MiB) {
      const copy = Buffer.from(body.subarray(at, Math.min(body.length, at + MiB)));
      const pieces: Buffer[] = [];
      for (let p = 0; p < copy.length; p += 64 * 1024) pieces.push(copy.subarray(p, p + 64 * 1024));
      let released = false;
      counts.leased++;
      await new Promise((r) => setImmediate(r));
      yield {
        pieces,
        release: () => {
          assert.equal(released, false, 'a lease was released twice');
          released = true;
          counts.released++;
          copy.fill(0xee);
        },
      };
    }
  })();
}

async function withServer(body: Buffer, counts: { leased: number; released: number }, errors: unknown[], run: (port: number) => Promise<void>): Promise<void> {
  const server: Server = createServer((req, res) => {
    const controller = new AbortController();
    res.on('close', () => {
      if (!res.writableFinished) controller.abort();
    });
    res.writeHead(200, { 'content-length': String(body.length) });
    sendLeased(res, poisonedLeases(body, counts), controller.signal).catch((err: unknown) => {
      errors.push(err);
      res.destroy();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  try {
    await run((server.address() as AddressInfo).port);
  } finally {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  }
}

/** GETs the body, pausing now and then so the socket backs up; resolves with its sha256, or with the bytes seen when `hangUpAfter` is set. */
function slowGet(port: number, options: { hangUpAfter?: number } = {}): Promise<{ sha256: string; bytes: number }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: '/', agent: false }, (res) => {
      const hash = createHash('sha256');
      let bytes = 0;
      res.on('data', (chunk: Buffer) => {
        hash.update(chunk);
        bytes += chunk.length;
        if (options.hangUpAfter !== undefined && bytes >= options.hangUpAfter) {
          req.destroy();
          resolve({ sha256: '', bytes });
          return;
        }
        if (Math.random() < 0.05) {
          res.pause();
          setTimeout(() => res.resume(), 5);
        }
      });
      res.on('end', () => resolve({ sha256: hash.digest('hex'), bytes }));
      res.on('error', () => resolve({ sha256: '', bytes }));
    });
    req.on('error', (err) => (req.destroyed ? undefined : reject(err)));
    req.end();
  });
}

test('sendLeased - slow clients get exact bytes though every released lease is overwritten at once', async () => {
  const body = randomBytes(6 * MiB + 12345);
  const expected = createHash('sha256').update(body).digest('hex');
  const counts = { leased: 0, released: 0 };
  const errors: unknown[] = [];
  await withServer(body, counts, errors, async (port) => {
    const results = await Promise.all(Array.from({ length: 8 }, () => slowGet(port)));
    for (const r of results) assert.equal(r.sha256, expected);
  });
  assert.deepEqual(errors, []);
  assert.equal(counts.released, counts.leased, 'every lease of a finished response goes back');
});

test('sendLeased - clients that hang up mid-body leave exact bytes for the others and end with ERR_ABORTED', async () => {
  // Large enough that each hang-up leaves more unsent than loopback socket buffers hold (~10 MiB), so
  // every one of them is seen by the server as a cancelled response.
  const body = randomBytes(24 * MiB);
  const expected = createHash('sha256').update(body).digest('hex');
  const counts = { leased: 0, released: 0 };
  const errors: unknown[] = [];
  await withServer(body, counts, errors, async (port) => {
    const hangUps = [1, 100_000, MiB, 3 * MiB, 5 * MiB].map((n) => slowGet(port, { hangUpAfter: n }));
    const full = Array.from({ length: 4 }, () => slowGet(port));
    for (const r of await Promise.all(full)) assert.equal(r.sha256, expected);
    for (const r of await Promise.all(hangUps)) assert.ok(r.bytes < body.length);
    await new Promise((r) => setTimeout(r, 50));
  });
  assert.equal(errors.length, 5);
  for (const err of errors) assert.ok(isStoreError(err) && err.code === 'ERR_ABORTED', String(err));
  assert.ok(counts.released <= counts.leased);
});
