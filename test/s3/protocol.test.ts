// HTTP protocol and connection handling: pipelined garbage after a request, Expect: 100-continue, bodies
// refused before they are read, and clients that hang up mid-body. Raw sockets, since the SDK cannot send
// these requests or show what happens on the connection.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { createReadStream } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { CompleteMultipartUploadCommand, CreateMultipartUploadCommand, GetObjectCommand, HeadObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { guardWithCanary, startTesseraForFile, type TesseraProcess } from '../helpers/tessera.js';
import { assertS3Error, objectPath, parseErrorBody, raw, sdkError, send, signedHeaders, socketExchange, streamingSignedPut } from './raw-http.js';

const { server, s3 } = await startTesseraForFile();
const Bucket = 'protocol';
const MiB = 1024 * 1024;
guardWithCanary({ server, s3, bucket: Bucket, forbiddenLog: /"level":"error"/ });

/** The request line and headers of a request signed for `server`, as raw bytes. */
async function head(req: { method: string; path: string; body?: string; payloadHash?: string; headers?: Record<string, string> }): Promise<string> {
  const headers = await signedHeaders(server, {
    method: req.method, path: req.path, ...(req.body !== undefined ? { body: req.body } : {}),
    ...(req.payloadHash ? { payloadHash: req.payloadHash } : {}), ...(req.headers ? { headers: req.headers } : {}),
  });
  if (req.body !== undefined && headers['content-length'] === undefined) headers['content-length'] = String(Buffer.byteLength(req.body));
  return `${req.method} ${req.path} HTTP/1.1\r\n${Object.entries(headers).map(([k, v]) => `${k}: ${v}`).join('\r\n')}\r\n\r\n`;
}

function statuses(answer: string): string[] {
  return [...answer.matchAll(/HTTP\/1\.1 (\d{3}) [A-Z]/g)].map((m) => m[1]!);
}

async function metric(name: string): Promise<number> {
  const res = await raw(server, { path: '/_tessera/metrics' }); // signed: metrics are for the root key only
  const m = new RegExp(`^tessera_${name} (\\d+)$`, 'm').exec(res.text);
  assert.ok(m, `metric ${name} missing: ${res.text}`);
  return Number(m[1]);
}

// ---- A request followed by bytes that do not parse ------------------------------------------------

test('Pipelined garbage - a PUT whose body is longer than its Content-Length is answered 200, the rest 400', async () => {
  const path = objectPath(Bucket, 'overlong');
  const request = await head({ method: 'PUT', path, body: '0123456789' });
  const answer = await socketExchange(server, `${request}0123456789abcdefghij`, { idleMs: 3000 });
  assert.deepEqual(statuses(answer), ['200', '400'], answer);
  const got = await s3.send(new GetObjectCommand({ Bucket, Key: 'overlong' }));
  assert.equal(await got.Body!.transformToString(), '0123456789');
});

test('Pipelined garbage - GET, DELETE and PUT followed by garbage on one connection get their own answers first', async () => {
  await s3.send(new PutObjectCommand({ Bucket, Key: 'doomed', Body: 'x' }));
  const requests = [
    await head({ method: 'GET', path: objectPath(Bucket, 'canary') }),
    await head({ method: 'DELETE', path: objectPath(Bucket, 'doomed') }),
    await head({ method: 'PUT', path: objectPath(Bucket, 'pipelined'), body: 'abc' }) + 'abc',
  ];
  const answer = await socketExchange(server, `${requests.join('')}GARBAGE\r\n\r\n`, { idleMs: 3000 });
  assert.deepEqual(statuses(answer), ['200', '204', '200', '400'], answer);
  assert.match(answer, /still here/);
  const last = answer.slice(answer.lastIndexOf('HTTP/1.1 400'));
  assert.match(last, /connection: close/i);
  assert.equal(parseErrorBody(last).Code, 'InvalidRequest');
  await assert.rejects(s3.send(new HeadObjectCommand({ Bucket, Key: 'doomed' })), sdkError('NotFound', 404));
  await s3.send(new HeadObjectCommand({ Bucket, Key: 'pipelined' }));
});

// ---- Expect: 100-continue ----------------------------------------------------------------------------

test('Expect 100-continue - a refused PUT is answered with the error, never 100 Continue, and the connection closes', async () => {
  const expect = { expect: '100-continue', 'content-length': '123' };
  const anonymous = `PUT ${objectPath(Bucket, 'anon')} HTTP/1.1\r\nHost: 127.0.0.1\r\nExpect: 100-continue\r\nContent-Length: 123\r\n\r\n`;
  const cases: Array<[string, string, string]> = [
    ['anonymous', anonymous, '403'],
    ['no such bucket', await head({ method: 'PUT', path: objectPath('no-such-bucket', 'k'), payloadHash: 'UNSIGNED-PAYLOAD', headers: expect }), '404'],
    ['too large', await head({ method: 'PUT', path: objectPath(Bucket, 'big'), payloadHash: 'UNSIGNED-PAYLOAD', headers: { ...expect, 'content-length': String(6 * 1024 ** 3) } }), '400'],
    ['bad signature', (await head({ method: 'PUT', path: objectPath(Bucket, 'sig'), payloadHash: 'UNSIGNED-PAYLOAD', headers: expect })).replace(/Signature=[0-9a-f]/, 'Signature=x'), '403'],
  ];
  for (const [what, request, status] of cases) {
    // No body is sent: a server that answers 100 Continue and then waits for it would time out here.
    const answer = await socketExchange(server, request, { idleMs: 3000 });
    assert.deepEqual(statuses(answer), [status], `${what}: ${answer}`);
    assert.match(answer, /connection: close/i, what);
  }
});

/** Sends `request`, then `body` only after the server said 100 Continue; resolves with everything it answered. */
function exchangeWithContinue(server: TesseraProcess, request: string, body: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket: Socket = connect(server.port, '127.0.0.1');
    let answer = '';
    let sent = false;
    const timer = setTimeout(() => {
      socket.destroy();
      resolve(answer);
    }, 5000);
    socket.on('connect', () => socket.write(request));
    socket.on('data', (chunk: Buffer) => {
      answer += chunk.toString('latin1');
      if (!sent && answer.startsWith('HTTP/1.1 100 Continue\r\n\r\n')) {
        sent = true;
        socket.write(body);
      }
      if (/^HTTP\/1\.1 200 [\s\S]*\r\n\r\n/m.test(answer.replace(/^HTTP\/1\.1 100 Continue\r\n\r\n/, ''))) {
        clearTimeout(timer);
        socket.destroy();
        resolve(answer);
      }
    });
    socket.on('error', reject);
  });
}

test('Expect 100-continue - an accepted PUT gets 100 Continue, then its answer once the body is sent', async () => {
  const request = await head({ method: 'PUT', path: objectPath(Bucket, 'continued'), body: 'hello', headers: { expect: '100-continue' } });
  const answer = await exchangeWithContinue(server, request, 'hello');
  assert.deepEqual(statuses(answer), ['100', '200'], answer);
  const got = await s3.send(new GetObjectCommand({ Bucket, Key: 'continued' }));
  assert.equal(await got.Body!.transformToString(), 'hello');
});

test('Expect - a value other than 100-continue is ignored, as AWS does, not answered 417', async () => {
  const request = await head({ method: 'PUT', path: objectPath(Bucket, 'odd-expect'), body: 'odd', headers: { expect: 'something-else' } });
  const answer = await socketExchange(server, `${request}odd`, { idleMs: 2000 });
  assert.deepEqual(statuses(answer), ['200'], answer);
});

// ---- Bodies refused before they are read -----------------------------------------------------------

/**
 * Sends `request`, then streams up to `bodyBytes` of body while the server takes it; resolves with the
 * answer, the bytes the socket accepted and whether the server closed the connection.
 */
function streamIntoRefusal(request: string, bodyBytes: number): Promise<{ answer: string; written: number; closed: boolean }> {
  return new Promise((resolve) => {
    const socket = connect(server.port, '127.0.0.1');
    let answer = '';
    let written = 0;
    let closed = false;
    let idle: NodeJS.Timeout | undefined;
    const finish = () => {
      clearTimeout(idle);
      socket.destroy();
      resolve({ answer, written, closed });
    };
    // A server that keeps the connection open is given a moment to close it after the whole body went out.
    const armIdle = () => {
      clearTimeout(idle);
      idle = setTimeout(finish, 2000);
    };
    const piece = Buffer.alloc(MiB, 'b');
    const pump = () => {
      while (!closed && written < bodyBytes) {
        written += piece.length;
        if (!socket.write(piece)) return void socket.once('drain', pump);
      }
      armIdle();
    };
    socket.on('connect', () => {
      socket.write(request);
      pump();
    });
    socket.on('data', (chunk: Buffer) => (answer += chunk.toString('latin1')));
    socket.on('error', () => undefined); // EPIPE / ECONNRESET once the server has closed
    socket.on('close', () => {
      closed = true;
      finish();
    });
  });
}

test('Refused bodies - a PUT declaring more than 5 GiB gets EntityTooLarge and the connection closes without reading the body', async () => {
  const request = await head({
    method: 'PUT', path: objectPath(Bucket, 'huge'), payloadHash: 'UNSIGNED-PAYLOAD', headers: { 'content-length': String(6 * 1024 ** 3) },
  });
  const { answer, written, closed } = await streamIntoRefusal(request, 64 * MiB);
  assert.deepEqual(statuses(answer), ['400'], answer);
  assert.equal(parseErrorBody(answer).Code, 'EntityTooLarge');
  assert.match(answer, /connection: close/i);
  assert.ok(closed, 'the server kept the connection open');
  assert.ok(written < 64 * MiB, `the server read all ${written} bytes of a refused body`);
});

test('Refused bodies - any early error on a large body closes the connection instead of draining it', async () => {
  const request = await head({
    method: 'PUT', path: objectPath('no-such-bucket', 'k'), payloadHash: 'UNSIGNED-PAYLOAD', headers: { 'content-length': String(1024 ** 3) },
  });
  const { answer, written, closed } = await streamIntoRefusal(request, 64 * MiB);
  assert.deepEqual(statuses(answer), ['404'], answer);
  assert.ok(closed, 'the server kept the connection open');
  assert.ok(written < 64 * MiB, `the server read all ${written} bytes of a refused body`);
});

test('Refused bodies - a client that sends its whole body before reading gets the early answer even when it pauses for over a second', async () => {
  // Python's http.client (boto3) writes the whole body before it reads: if the server gives up lingering
  // while it still writes, the reset throws the answer away and the client sees a broken connection.
  const bodyBytes = 4 * MiB;
  const request = await head({ method: 'PUT', path: objectPath('no-such-bucket', 'k'), payloadHash: 'UNSIGNED-PAYLOAD', headers: { 'content-length': String(bodyBytes) } });
  const answer = await new Promise<string>((resolve, reject) => {
    const socket = connect(server.port, '127.0.0.1');
    let text = '';
    socket.pause(); // nothing read until the whole body is written
    socket.on('error', reject);
    socket.on('connect', async () => {
      socket.write(request);
      socket.write(Buffer.alloc(bodyBytes / 2, 'p'));
      await new Promise((r) => setTimeout(r, 1500));
      socket.write(Buffer.alloc(bodyBytes / 2, 'p'), () => {
        // The answer, whole; the connection may stay open (a body this size is drained, not cut off).
        socket.on('data', (chunk: Buffer) => {
          text += chunk.toString('latin1');
          if (text.includes('</Error>')) {
            socket.destroy();
            resolve(text);
          }
        });
        socket.on('end', () => resolve(text));
        socket.resume();
      });
    });
  });
  assert.deepEqual(statuses(answer), ['404'], answer);
});

test('Refused bodies - a small refused body is drained and the connection kept for the next request', async () => {
  const refused = await head({ method: 'PUT', path: objectPath('no-such-bucket', 'k'), body: 'tiny' });
  const next = await head({ method: 'GET', path: objectPath(Bucket, 'canary') });
  const answer = await socketExchange(server, `${refused}tiny${next}`, { idleMs: 2000 });
  assert.deepEqual(statuses(answer), ['404', '200'], answer);
});

// ---- Clients that hang up ------------------------------------------------------------------------------

test('Client aborts - a client that drops a small PUT mid-body is counted as aborted, not as a server error', async () => {
  const aborted = await metric('requests_aborted_total');
  const errors = await metric('responses_5xx_total');
  const request = await head({ method: 'PUT', path: objectPath(Bucket, 'dropped'), payloadHash: 'UNSIGNED-PAYLOAD', headers: { 'content-length': '1000' } });
  await socketExchange(server, `${request}${'z'.repeat(10)}`, { idleMs: 300, closeAfterWrite: true });
  for (let i = 0; i < 50 && (await metric('requests_aborted_total')) === aborted; i++) await new Promise((r) => setTimeout(r, 100));
  assert.equal(await metric('requests_aborted_total'), aborted + 1);
  assert.equal(await metric('responses_5xx_total'), errors);
  await assert.rejects(s3.send(new HeadObjectCommand({ Bucket, Key: 'dropped' })), sdkError('NotFound', 404));
});

// ---- aws-chunked chunk sizes -----------------------------------------------------------------------------

test('aws-chunked - a chunk under 8 KiB before the last gets 403 InvalidChunkSizeError and stores nothing', async () => {
  const path = objectPath(Bucket, 'small-chunks');
  const { headers, body } = await streamingSignedPut(server, path, [Buffer.alloc(1000, 'a'), Buffer.alloc(9000, 'b')]);
  const res = await send(server, { method: 'PUT', path, headers, body });
  const error = assertS3Error(res, 403, 'InvalidChunkSizeError');
  assert.equal(error.BadChunkSize, '1000');
  await assert.rejects(s3.send(new HeadObjectCommand({ Bucket, Key: 'small-chunks' })), sdkError('NotFound', 404));
});

test('aws-chunked - the SDK streaming a file (aws-chunked, unsigned payload with a trailer) is accepted', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'tessera-protocol-'));
  try {
    const data = randomBytes(300_000);
    await writeFile(join(dir, 'file'), data);
    await s3.send(new PutObjectCommand({ Bucket, Key: 'sdk-stream', Body: createReadStream(join(dir, 'file')), ContentLength: data.length }));
    const got = await s3.send(new GetObjectCommand({ Bucket, Key: 'sdk-stream' }));
    assert.ok(Buffer.from(await got.Body!.transformToByteArray()).equals(data));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

// ---- Chunked transfer encoding without a length -------------------------------------------------------------

test('Transfer-Encoding chunked - PutObject and UploadPart without a Content-Length store the streamed body', async () => {
  const put = async (path: string, body: Buffer, query = '') => {
    const headers = await signedHeaders(server, {
      method: 'PUT', path, payloadHash: 'UNSIGNED-PAYLOAD', ...(query ? { query: Object.fromEntries(new URLSearchParams(query)) } : {}),
    });
    return send(server, { method: 'PUT', path: query ? `${path}?${query}` : path, headers: { ...headers, 'transfer-encoding': 'chunked' }, body });
  };
  for (const [key, size] of [['chunked-small', 10], ['chunked-large', 300_000]] as const) {
    const data = randomBytes(size);
    const res = await put(objectPath(Bucket, key), data);
    assert.equal(res.status, 200, res.text);
    const got = await s3.send(new GetObjectCommand({ Bucket, Key: key }));
    assert.ok(Buffer.from(await got.Body!.transformToByteArray()).equals(data), key);
  }
  const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket, Key: 'chunked-part' }));
  const part = randomBytes(100_000);
  const res = await put(objectPath(Bucket, 'chunked-part'), part, `partNumber=1&uploadId=${encodeURIComponent(UploadId!)}`);
  assert.equal(res.status, 200, res.text);
  await s3.send(new CompleteMultipartUploadCommand({
    Bucket, Key: 'chunked-part', UploadId, MultipartUpload: { Parts: [{ PartNumber: 1, ETag: String(res.headers.etag) }] },
  }));
  const got = await s3.send(new GetObjectCommand({ Bucket, Key: 'chunked-part' }));
  assert.ok(Buffer.from(await got.Body!.transformToByteArray()).equals(part));
});
