// Graceful stop and rolling restart (issue #14). On SIGTERM a server stops accepting, closes idle keep-alive
// connections at once, lets the requests in flight finish (their answers say Connection: close), and exits
// 0. Under a load of concurrent PUTs and GETs (SDK v3) a restart on the same data directory and port shows
// no client error beyond the SDK's own retries, and every acknowledged write reads back.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { Agent, request as httpRequest, type IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateBucketCommand, GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { startTessera, withClient, type TesseraProcess } from '../helpers/tessera.js';
import { signedHeaders } from '../s3/raw-http.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const md5 = (data: Uint8Array) => createHash('md5').update(data).digest('hex');

/** SIGTERM, then the exit code (null if a signal ended it). */
async function terminate(server: TesseraProcess): Promise<number | null> {
  const exited = new Promise<number | null>((r) => server.process.once('exit', (code) => r(code)));
  server.process.kill('SIGTERM');
  return exited;
}

function responseOf(req: ReturnType<typeof httpRequest>): Promise<{ res: IncomingMessage; body: string }> {
  return new Promise((resolve, reject) => {
    req.once('error', reject);
    req.once('response', (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.once('end', () => resolve({ res, body }));
      res.once('error', reject);
    });
  });
}

test('graceful stop - idle keep-alive connections close at once; a PUT mid-body finishes with Connection: close; exit 0', async () => {
  const dataDir = await mkdtemp(join(tmpdir(), 'tessera-graceful-'));
  let server = await startTessera({ dataDir });
  try {
    await withClient(server, (s3) => s3.send(new CreateBucketCommand({ Bucket: 'drain' })));
    // An idle keep-alive connection: one answered request, the socket kept in the agent's pool.
    const idleAgent = new Agent({ keepAlive: true });
    const listing = httpRequest({ host: '127.0.0.1', port: server.port, path: '/', headers: await signedHeaders(server, { path: '/' }), agent: idleAgent });
    let idleSocket: Socket | undefined;
    listing.once('socket', (s) => (idleSocket = s));
    listing.end();
    assert.equal((await responseOf(listing)).res.statusCode, 200);
    const idleClosed = new Promise<void>((r) => idleSocket!.once('close', () => r()));

    // A PUT whose body is half sent when the signal comes.
    const body = randomBytes(256 * 1024);
    const headers = await signedHeaders(server, { method: 'PUT', path: '/drain/slow', payloadHash: 'UNSIGNED-PAYLOAD', headers: { 'content-length': String(body.length) } });
    const put = httpRequest({ host: '127.0.0.1', port: server.port, method: 'PUT', path: '/drain/slow', headers, agent: new Agent({ keepAlive: true }) });
    const answered = responseOf(put);
    put.write(body.subarray(0, body.length / 2));
    await sleep(300);
    const exitCode = terminate(server);
    await Promise.race([idleClosed, sleep(5_000).then(() => assert.fail('the idle connection was still open 5 s after SIGTERM'))]);
    assert.equal(server.process.exitCode, null, 'the server waits for the PUT in flight');
    put.end(body.subarray(body.length / 2));
    const { res } = await answered;
    assert.equal(res.statusCode, 200);
    assert.equal(res.headers.connection, 'close');
    assert.equal(await exitCode, 0);
    assert.match(server.logs(), /"Stopped"/);
    idleAgent.destroy();

    server = await startTessera({ dataDir });
    const got = await withClient(server, async (s3) => (await s3.send(new GetObjectCommand({ Bucket: 'drain', Key: 'slow' }))).Body!.transformToByteArray());
    assert.equal(md5(got), md5(body), 'the PUT that finished during the stop is durable');
  } finally {
    await server.stop();
    await rm(dataDir, { recursive: true, force: true });
  }
});

test('graceful stop - a stop cuts a request still in flight after --shutdown-timeout and still exits 0', async () => {
  const dataDir = await mkdtemp(join(tmpdir(), 'tessera-graceful-'));
  const server = await startTessera({ dataDir, args: ['--shutdown-timeout', '1'] });
  try {
    await withClient(server, (s3) => s3.send(new CreateBucketCommand({ Bucket: 'drain' })));
    const headers = await signedHeaders(server, { method: 'PUT', path: '/drain/stalled', payloadHash: 'UNSIGNED-PAYLOAD', headers: { 'content-length': '1000' } });
    const put = httpRequest({ host: '127.0.0.1', port: server.port, method: 'PUT', path: '/drain/stalled', headers, agent: false });
    const failed = new Promise<string>((r) => put.once('error', (err: NodeJS.ErrnoException) => r(err.code ?? err.message)));
    put.write(Buffer.alloc(10));
    await sleep(300);
    const started = Date.now();
    const sigtermMs = Date.now();
    assert.equal(await terminate(server), 0);
    assert.ok(Date.now() - started >= 900, 'the stop waited for the request');
    assert.match(await failed, /ECONNRESET|socket hang up/);
    assert.match(server.logs(), /Cut requests still in flight/);
  } finally {
    await server.stop();
    await rm(dataDir, { recursive: true, force: true });
  }
});

test('rolling restart - concurrent PUTs and GETs through SIGTERM and a restart see no error and lose no acknowledged write', async () => {
  const dataDir = await mkdtemp(join(tmpdir(), 'tessera-rolling-'));
  let server = await startTessera({ dataDir });
  const port = server.port;
  const endpoint = server.url;
  // One client per worker: the SDK's retry quota is per client. The endpoint stays the same across the
  // restart; the SDK retries refused connections (ECONNREFUSED is transient) with its default backoff.
  const clients = Array.from({ length: 6 }, () => new S3Client({ endpoint, region: 'us-east-1', forcePathStyle: true, maxAttempts: 20, credentials: { accessKeyId: server.accessKeyId, secretAccessKey: server.secretAccessKey } }));
  const acknowledged = new Map<string, string>();
  const failures: string[] = [];
  /** Every request's span and the attempts the SDK made: those well under way at SIGTERM must finish on their first. */
  const spans: { what: string; startMs: number; endMs: number; attempts: number }[] = [];
  const timed = async <T extends { $metadata: { attempts?: number } }>(what: string, send: () => Promise<T>): Promise<T> => {
    const startMs = Date.now();
    const out = await send();
    spans.push({ what, startMs, endMs: Date.now(), attempts: out.$metadata.attempts ?? 1 });
    return out;
  };
  let stop = false;
  let opsAfterRestart = 0;
  let restarted = false;
  try {
    await clients[0]!.send(new CreateBucketCommand({ Bucket: 'rolling' }));
    const worker = async (s3: S3Client, w: number): Promise<void> => {
      for (let n = 0; !stop; n++) {
        const key = `w${w}/${n}`;
        const body = randomBytes(n % 3 === 0 ? 3_000_000 + n : 2_000 + n);
        try {
          await timed(`PUT ${key}`, () => s3.send(new PutObjectCommand({ Bucket: 'rolling', Key: key, Body: body })));
          acknowledged.set(key, md5(body));
          const earlier = `w${w}/${Math.floor(n / 2)}`;
          const got = await timed(`GET ${earlier}`, () => s3.send(new GetObjectCommand({ Bucket: 'rolling', Key: earlier })));
          const bytes = await got.Body!.transformToByteArray();
          if (md5(bytes) !== acknowledged.get(earlier)) failures.push(`GET ${earlier} returned other bytes`);
          if (restarted) opsAfterRestart++;
        } catch (err) {
          failures.push(`${key}: ${(err as Error).name}: ${(err as Error).message}`);
        }
      }
    };
    const load = clients.map((s3, w) => worker(s3, w));
    // Under a loaded machine the first PUTs (3 MB bodies among them) can take longer than a fixed pause.
    const loadDeadlineMs = Date.now() + 30_000;
    await sleep(1_500);
    while (acknowledged.size < clients.length && Date.now() < loadDeadlineMs) await sleep(100);
    assert.ok(acknowledged.size > 0, 'the load runs before the stop');
    const sigtermMs = Date.now();
    assert.equal(await terminate(server), 0);
    server = await startTessera({ dataDir, args: ['--address', `127.0.0.1:${port}`] });
    restarted = true;
    const deadlineMs = Date.now() + 60_000;
    while (opsAfterRestart < 20 && Date.now() < deadlineMs) await sleep(100);
    stop = true;
    await Promise.all(load);
    assert.deepEqual(failures, [], 'every request succeeded, with the SDK retries at most');
    // A request sent well before the signal (its headers surely read) was in flight, not refused: it
    // finishes on the old process. Those sent just before may have met a keep-alive connection closing.
    const retriedInFlight = spans.filter((s) => s.startMs < sigtermMs - 100 && s.endMs > sigtermMs && s.attempts > 1);
    assert.deepEqual(retriedInFlight.map((s) => s.what), [], 'requests in flight at SIGTERM finished without a retry');
    assert.ok(opsAfterRestart >= 20, 'the load went on against the new process');
    assert.doesNotMatch(server.logs(), /"level":"error"/);
    // Every acknowledged write reads back from the new process, exactly.
    await withClient(server, async (s3) => {
      for (const [key, digest] of acknowledged) {
        const got = await s3.send(new GetObjectCommand({ Bucket: 'rolling', Key: key }));
        assert.equal(md5(await got.Body!.transformToByteArray()), digest, key);
      }
    });
  } finally {
    stop = true;
    for (const s3 of clients) s3.destroy();
    await server.stop();
    await rm(dataDir, { recursive: true, force: true });
  }
});
