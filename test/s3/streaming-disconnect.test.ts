// Streaming under client failure: clients that go away in the middle of a large GET or PUT must not break
// the server, leak a partial object, or stop it serving others.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { request } from 'node:http';
import { CreateBucketCommand, GetObjectCommand, HeadObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { startTesseraForFile } from '../helpers/tessera.js';
import { objectPath, sdkError, signedHeaders } from './raw-http.js';

const { server, s3 } = await startTesseraForFile();
const Bucket = 'streaming';
const MiB = 1024 * 1024;
const large = randomBytes(24 * MiB);
before(async () => {
  await s3.send(new CreateBucketCommand({ Bucket }));
  await s3.send(new PutObjectCommand({ Bucket, Key: 'large', Body: large }));
});

/** Starts a GET of `key`, reads at least `bytes` of the body, then drops the connection. */
async function getAndHangUp(key: string, bytes: number): Promise<number> {
  const path = objectPath(Bucket, key);
  const headers = await signedHeaders(server, { path });
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: server.port, path, headers, agent: false }, (res) => {
      assert.equal(res.statusCode, 200);
      let received = 0;
      res.on('data', (chunk: Buffer) => {
        received += chunk.length;
        if (received >= bytes) {
          req.destroy();
          resolve(received);
        }
      });
      res.on('error', () => resolve(received));
      res.on('end', () => reject(new Error('the whole body arrived before the client hung up')));
    });
    req.on('error', (err) => (req.destroyed ? undefined : reject(err)));
    req.end();
  });
}

async function sha256Of(key: string): Promise<string> {
  const out = await s3.send(new GetObjectCommand({ Bucket, Key: key }));
  return createHash('sha256').update(await out.Body!.transformToByteArray()).digest('hex');
}

test('Streaming - clients that disconnect mid-GET of a large object do not disturb the server', async () => {
  const received = await Promise.all([getAndHangUp('large', 1), getAndHangUp('large', MiB), getAndHangUp('large', 8 * MiB), getAndHangUp('large', 2 * MiB)]);
  for (const n of received) assert.ok(n < large.length);
  // Again while a full read runs beside them.
  const [full] = await Promise.all([sha256Of('large'), getAndHangUp('large', 3 * MiB), getAndHangUp('large', 100)]);
  assert.equal(full, createHash('sha256').update(large).digest('hex'));
  assert.equal(server.process.exitCode, null);
  assert.doesNotMatch(server.logs(), /InternalError|Unhandled request failure/);
});

test('Streaming - a client that disconnects mid-PUT of a large object leaves no object and the server serves on', async () => {
  const path = objectPath(Bucket, 'half-put');
  const headers = await signedHeaders(server, { method: 'PUT', path, payloadHash: 'UNSIGNED-PAYLOAD', headers: { 'content-length': String(16 * MiB) } });
  await new Promise<void>((resolve) => {
    const req = request({ host: '127.0.0.1', port: server.port, method: 'PUT', path, headers, agent: false });
    req.on('error', () => resolve());
    req.write(large.subarray(0, 6 * MiB), () => {
      setTimeout(() => {
        req.destroy();
        resolve();
      }, 100);
    });
  });
  await new Promise((r) => setTimeout(r, 300));
  await assert.rejects(s3.send(new HeadObjectCommand({ Bucket, Key: 'half-put' })), sdkError('NotFound', 404));
  await s3.send(new PutObjectCommand({ Bucket, Key: 'after', Body: large.subarray(0, 5 * MiB) }));
  assert.equal(await sha256Of('after'), createHash('sha256').update(large.subarray(0, 5 * MiB)).digest('hex'));
  assert.doesNotMatch(server.logs(), /InternalError|Unhandled request failure/);
});

/** A raw GET of `key` (optionally a Range) read slowly, so the server's socket backs up; the sha256 of the body. */
async function slowSha256Of(key: string, range?: string): Promise<string> {
  const path = objectPath(Bucket, key);
  const headers = await signedHeaders(server, { path, ...(range ? { headers: { range } } : {}) });
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: server.port, path, headers, agent: false }, (res) => {
      const hash = createHash('sha256');
      res.on('data', (chunk: Buffer) => {
        hash.update(chunk);
        if (Math.random() < 0.03) {
          res.pause();
          setTimeout(() => res.resume(), 3);
        }
      });
      res.on('end', () => resolve(hash.digest('hex')));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

test('Streaming - GETs of different objects sharing pooled read buffers get exact bytes while others hang up', async () => {
  // Read buffers return to a per-process pool once the socket has sent them; a buffer reused too early
  // would hand one client another object's bytes. Distinct objects make any such mix-up visible.
  const bodies = await Promise.all(
    [3 * MiB + 17, 2 * MiB, 5 * MiB - 3, MiB + 65536].map(async (size, i) => {
      const body = randomBytes(size);
      await s3.send(new PutObjectCommand({ Bucket, Key: `pooled-${i}`, Body: body }));
      return body;
    }),
  );
  const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
  for (let round = 0; round < 2; round++) {
    const reads = bodies.flatMap((body, i) => [
      slowSha256Of(`pooled-${i}`).then((got) => assert.equal(got, sha(body), `object ${i}`)),
      slowSha256Of(`pooled-${i}`, 'bytes=70000-1500000').then((got) => assert.equal(got, sha(body.subarray(70000, 1500001)), `range of object ${i}`)),
      slowSha256Of(`pooled-${i}`).then((got) => assert.equal(got, sha(body), `object ${i} again`)),
    ]);
    const hangUps = bodies.map((body, i) => getAndHangUp(`pooled-${i}`, Math.floor((body.length * (i + 1)) / 6)));
    await Promise.all([...reads, ...hangUps]);
  }
  assert.equal(server.process.exitCode, null);
  assert.doesNotMatch(server.logs(), /InternalError|Unhandled request failure/);
});
