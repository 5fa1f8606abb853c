// Raw HTTP for the S3 integration tests: requests the SDK will not send (malformed, hostile, unsigned,
// wrongly signed), signed with the SDK's own signer (@smithy/signature-v4), and checks of S3 error bodies.
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { connect } from 'node:net';
import { createHash, createHmac } from 'node:crypto';
import assert from 'node:assert/strict';
import { Hash } from '@smithy/hash-node';
import { SignatureV4 } from '@smithy/signature-v4';
import type { SourceData } from '@smithy/types';
import type { TesseraProcess } from '../helpers/tessera.js';

class Sha256 extends Hash {
  constructor(secret?: SourceData) {
    super('sha256', secret);
  }
}

export interface RawResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
  text: string;
}

export interface RawRequest {
  method?: string;
  /** Already percent-encoded path, e.g. "/bucket/a%20b". */
  path: string;
  /** Query parameters, RFC 3986-encoded on the wire. A null value sends a bare name ("?uploads"). */
  query?: Record<string, string | null>;
  headers?: Record<string, string>;
  body?: Buffer | string;
  /** Sign the request (default true). */
  sign?: boolean;
  /** Sign with this secret instead of the server's. */
  secret?: string;
  /** Sign as if at this time. */
  date?: Date;
  /** x-amz-content-sha256 to sign; default: the SHA-256 of the body. */
  payloadHash?: string;
}

export function sha256Hex(data: Buffer | string): string {
  return createHash('sha256').update(data).digest('hex');
}

export function md5Base64(data: Buffer | string): string {
  return createHash('md5').update(data).digest('base64');
}

export function rfc3986(s: string): string {
  return encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

export function queryString(query: Record<string, string | null>): string {
  return Object.entries(query).map(([k, v]) => (v === null ? rfc3986(k) : `${rfc3986(k)}=${rfc3986(v)}`)).join('&');
}

export function signer(server: TesseraProcess, secret = server.secretAccessKey): SignatureV4 {
  return new SignatureV4({
    credentials: { accessKeyId: server.accessKeyId, secretAccessKey: secret },
    region: server.region, service: 's3', sha256: Sha256, uriEscapePath: false, applyChecksum: false,
  });
}

/** The headers of a request signed for `server` (host included). */
export async function signedHeaders(server: TesseraProcess, req: RawRequest): Promise<Record<string, string>> {
  const body = req.body === undefined ? Buffer.alloc(0) : Buffer.from(req.body);
  const headers: Record<string, string> = { host: `127.0.0.1:${server.port}`, ...req.headers };
  if (req.sign === false) return headers;
  headers['x-amz-content-sha256'] = req.payloadHash ?? sha256Hex(body);
  const query: Record<string, string> = {};
  for (const [k, v] of Object.entries(req.query ?? {})) query[k] = v ?? '';
  const signed = await signer(server, req.secret).sign(
    { method: req.method ?? 'GET', protocol: 'http:', hostname: '127.0.0.1', port: server.port, path: req.path, query, headers },
    { signingDate: req.date ?? new Date() },
  );
  return signed.headers as Record<string, string>;
}

/** Sends one request and reads the whole answer. */
export async function raw(server: TesseraProcess, req: RawRequest): Promise<RawResponse> {
  const headers = await signedHeaders(server, req);
  const body = req.body === undefined ? undefined : Buffer.from(req.body);
  if (body !== undefined && headers['content-length'] === undefined) headers['content-length'] = String(body.length);
  const qs = req.query ? queryString(req.query) : '';
  return send(server, { method: req.method ?? 'GET', path: qs ? `${req.path}?${qs}` : req.path, headers, ...(body ? { body } : {}) });
}

/** The path of an object, each key segment RFC 3986-encoded as the SDKs send it. */
export function objectPath(bucket: string, key: string): string {
  return `/${bucket}/${key.split('/').map(rfc3986).join('/')}`;
}

/**
 * Creates many small objects quickly (raw signed PUTs, `concurrency` at a time; the SDK's per-request
 * overhead makes it several times slower for bulk seeding). Each body is the key itself.
 */
export async function seedObjects(server: TesseraProcess, bucket: string, keys: readonly string[], concurrency = 64): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < keys.length) {
      const key = keys[next++]!;
      const res = await raw(server, { method: 'PUT', path: objectPath(bucket, key), body: key });
      assert.equal(res.status, 200, `seeding "${key}": ${res.text}`);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, keys.length) }, worker));
}

/** Sends a request exactly as given (no signing, no encoding). */
export function send(server: TesseraProcess, req: { method: string; path: string; headers: Record<string, string>; body?: Buffer }): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const r = httpRequest({ host: '127.0.0.1', port: server.port, method: req.method, path: req.path, headers: req.headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', reject);
      res.on('end', () => {
        const body = Buffer.concat(chunks);
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body, text: body.toString('utf8') });
      });
    });
    r.on('error', reject);
    r.end(req.body);
  });
}

/**
 * Writes bytes on a raw socket and collects whatever comes back until the server closes or
 * `idleMs` pass without data. `closeAfterWrite` half-closes after writing (a client that gives up).
 */
export function socketExchange(server: TesseraProcess, data: Buffer | string, options: { idleMs?: number; closeAfterWrite?: boolean } = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(server.port, '127.0.0.1');
    const chunks: Buffer[] = [];
    let timer: NodeJS.Timeout | undefined;
    const finish = () => {
      clearTimeout(timer);
      socket.destroy();
      resolve(Buffer.concat(chunks).toString('utf8'));
    };
    const arm = () => {
      clearTimeout(timer);
      timer = setTimeout(finish, options.idleMs ?? 2000);
    };
    socket.on('connect', () => {
      socket.write(data);
      if (options.closeAfterWrite) socket.end();
      arm();
    });
    socket.on('data', (c: Buffer) => {
      chunks.push(c);
      arm();
    });
    socket.on('end', finish);
    socket.on('close', finish);
    socket.on('error', (err) => (chunks.length > 0 ? finish() : reject(err)));
  });
}

export interface ErrorBody {
  Code?: string;
  Message?: string;
  Resource?: string;
  RequestId?: string;
  [name: string]: string | undefined;
}

export function parseErrorBody(text: string): ErrorBody {
  const out: ErrorBody = {};
  const inner = /<Error>([\s\S]*)<\/Error>/.exec(text)?.[1] ?? '';
  for (const m of inner.matchAll(/<([A-Za-z0-9-]+)>([\s\S]*?)<\/\1>/g)) out[m[1]!] = m[2]!;
  return out;
}

/** Asserts a complete S3 error answer: status, XML body with Code, Message, Resource, RequestId, and x-amz-request-id. */
export function assertS3Error(res: RawResponse, status: number, code: string): ErrorBody {
  assert.equal(res.status, status, `expected ${status} ${code}, got ${res.status}: ${res.text}`);
  const requestId = res.headers['x-amz-request-id'];
  assert.ok(typeof requestId === 'string' && requestId.length > 0, 'x-amz-request-id header is missing');
  const body = parseErrorBody(res.text);
  assert.equal(body.Code, code, `unexpected error body: ${res.text}`);
  assert.ok(body.Message !== undefined && body.Message.length > 0, `Message missing: ${res.text}`);
  assert.ok(body.Resource !== undefined, `Resource missing: ${res.text}`);
  assert.equal(body.RequestId, requestId, 'RequestId in the body differs from x-amz-request-id');
  assert.match(String(res.headers['content-type']), /xml/);
  return body;
}

/** The SDK's error as code and status, for assert.rejects. */
export function sdkError(code: string, status?: number): (err: unknown) => boolean {
  return (err: unknown) => {
    const e = err as { name?: string; Code?: string; $metadata?: { httpStatusCode?: number } };
    assert.equal(e.name === 'Unknown' || e.name === 'UnknownError' ? e.Code : e.name, code, `unexpected error: ${String(err)}`);
    if (status !== undefined) assert.equal(e.$metadata?.httpStatusCode, status);
    return true;
  };
}

// ---- aws-chunked with chunk signatures (STREAMING-AWS4-HMAC-SHA256-PAYLOAD) -----------------------

function hmac(key: Buffer | string, data: string): Buffer {
  return createHmac('sha256', key).update(data, 'utf8').digest();
}

function signingKey(secret: string, date: string, region: string): Buffer {
  return hmac(hmac(hmac(hmac(`AWS4${secret}`, date), region), 's3'), 'aws4_request');
}

/**
 * A signed aws-chunked PUT: seed-signs the headers with the SDK signer, then frames `chunks` with
 * chained chunk signatures computed here by hand, as AWS documents (sigv4-streaming). `tamper`
 * lets a test corrupt the framing or one signature.
 */
export async function streamingSignedPut(
  server: TesseraProcess,
  path: string,
  chunks: Buffer[],
  options: { badChunkSignature?: number; headers?: Record<string, string> } = {},
): Promise<{ headers: Record<string, string>; body: Buffer }> {
  const decoded = chunks.reduce((n, c) => n + c.length, 0);
  const date = new Date();
  const framedLength = (sizes: number[]) =>
    [...sizes, 0].reduce((n, size) => n + size.toString(16).length + ';chunk-signature='.length + 64 + 2 + size + 2, 0);
  const headers = await signedHeaders(server, {
    method: 'PUT', path, date, payloadHash: 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD',
    headers: {
      'content-encoding': 'aws-chunked',
      'x-amz-decoded-content-length': String(decoded),
      'content-length': String(framedLength(chunks.map((c) => c.length))),
      ...options.headers,
    },
  });
  const seed = /Signature=([0-9a-f]{64})/.exec(headers['authorization'] ?? headers['Authorization']!)![1]!;
  const amzDate = headers['x-amz-date']!;
  const scope = `${amzDate.slice(0, 8)}/${server.region}/s3/aws4_request`;
  const key = signingKey(server.secretAccessKey, amzDate.slice(0, 8), server.region);
  let previous = seed;
  const parts: Buffer[] = [];
  [...chunks, Buffer.alloc(0)].forEach((chunk, i) => {
    const toSign = ['AWS4-HMAC-SHA256-PAYLOAD', amzDate, scope, previous, sha256Hex(''), sha256Hex(chunk)].join('\n');
    let signature = hmac(key, toSign).toString('hex');
    previous = signature;
    if (options.badChunkSignature === i) signature = signature.replace(/^./, (c) => (c === '0' ? '1' : '0'));
    parts.push(Buffer.from(`${chunk.length.toString(16)};chunk-signature=${signature}\r\n`), chunk, Buffer.from('\r\n'));
  });
  return { headers, body: Buffer.concat(parts) };
}
