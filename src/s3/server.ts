// The S3 HTTP endpoint: request ids, addressing (path- and virtual-hosted-style), authentication, routing
// to one handler per operation, and the S3 error response. Nothing here knows how objects are stored.
import { createServer, STATUS_CODES, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { randomBytes } from 'node:crypto';
import type { ObjectContext } from '../objects/context.js';
import { S3Error, toS3Error } from './errors.js';
import { authenticate } from './sigv4/authenticate.js';
import { route } from './router.js';
import { Query } from './query.js';
import { withRequestId, type RequestContext, type S3Config } from './context.js';
import { validateKey } from './names.js';
import { escapeXml } from './xml.js';
import { headersTimeoutMs, keepAliveTimeoutMs, requestHeaderBytesMax, requestTimeoutMs } from '../constants.js';
import type { Logger } from '../util/log.js';
import { adminPathPrefix, handleAdmin, handleMetrics, metricsPath, type AdminDeps } from '../admin/admin-api.js';

export interface S3ServerOptions {
  objects: ObjectContext;
  config: S3Config;
  log: Logger;
  /** Serves /_tessera/admin/ and /_tessera/metrics (root only) when given. */
  admin?: AdminDeps;
  /** Access key allowed on the admin API. */
  rootAccessKeyId?: string;
  counters?: RequestCounters;
}

export interface RequestCounters {
  requests_total: number;
  responses_4xx_total: number;
  responses_5xx_total: number;
}

export function newRequestCounters(): RequestCounters {
  return { requests_total: 0, responses_4xx_total: 0, responses_5xx_total: 0 };
}

// A random per-process prefix and a counter: unique without a randomBytes call per request, which cost
// 5% of a small GET (bench/http.ts profile).
const requestIdPrefix = randomBytes(4).toString('hex').toUpperCase();
let requestCounter = 0;

function newRequestId(): string {
  requestCounter = (requestCounter + 1) % 0x1_0000_0000;
  return requestIdPrefix + requestCounter.toString(16).toUpperCase().padStart(8, '0');
}

function decodePathPart(raw: string): string {
  try {
    return decodeURIComponent(raw);
  } catch {
    throw new S3Error('InvalidURI');
  }
}

/** Splits the request target into bucket and key, from the Host header or the first path segment. */
export function addressOf(rawPath: string, host: string | undefined, baseDomains: string[]): { bucket?: string; key?: string } {
  const hostname = (host ?? '').replace(/:\d+$/, '').toLowerCase();
  const path = rawPath.startsWith('/') ? rawPath.slice(1) : rawPath;
  for (const domain of baseDomains) {
    if (hostname.endsWith(`.${domain}`)) {
      const bucket = hostname.slice(0, -domain.length - 1);
      return path === '' ? { bucket } : { bucket, key: decodePathPart(path) };
    }
  }
  if (path === '') return {};
  const slash = path.indexOf('/');
  if (slash < 0) return { bucket: decodePathPart(path) };
  const bucket = decodePathPart(path.slice(0, slash));
  const key = path.slice(slash + 1);
  return key === '' ? { bucket } : { bucket, key: decodePathPart(key) };
}

/** For the admin API, which writes its own answers: the same identity headers through setHeader. */
function setRequestId(res: ServerResponse, requestId: string): void {
  for (const [name, value] of Object.entries(withRequestId(requestId, {}))) res.setHeader(name, value);
}

/** The XML body of an S3 error answer. */
function errorDocument(err: S3Error, resource: string, requestId: string): Buffer {
  const extra = Object.entries(err.extra).map(([k, v]) => `<${k}>${escapeXml(v)}</${k}>`).join('');
  return Buffer.from(`<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${err.code}</Code><Message>${escapeXml(err.message)}</Message>${extra}<Resource>${escapeXml(resource)}</Resource><RequestId>${requestId}</RequestId><HostId>${requestId}</HostId></Error>`);
}

/** The path of the request line in what the parser received, if it got that far; for error bodies. */
function requestTargetOf(rawPacket: unknown): string {
  if (!Buffer.isBuffer(rawPacket)) return '';
  const line = rawPacket.subarray(0, 4096).toString('latin1').split('\r\n', 1)[0] ?? '';
  const target = /^[A-Z]+ (\/\S*) HTTP\/1\.[01]$/.exec(line)?.[1] ?? '';
  return target.split('?', 1)[0]!;
}

/** The S3 error for a request Node's parser refused before any handler ran. */
function clientErrorOf(err: NodeJS.ErrnoException): S3Error {
  switch (err.code) {
    case 'HPE_HEADER_OVERFLOW': return new S3Error('RequestHeaderSectionTooLarge');
    case 'ERR_HTTP_REQUEST_TIMEOUT': return new S3Error('RequestTimeout');
    default: return new S3Error('InvalidRequest', 'The request could not be parsed.');
  }
}

function sendError(c: { req: IncomingMessage; res: ServerResponse; requestId: string; resource: string }, err: S3Error): void {
  const { res } = c;
  if (res.headersSent) {
    // The status line is gone; cutting the connection is the only way to tell the client the body is incomplete.
    res.destroy();
    return;
  }
  const body = err.httpStatus === 304 || c.req.method === 'HEAD' ? Buffer.alloc(0) : errorDocument(err, c.resource, c.requestId);
  res.writeHead(err.httpStatus, withRequestId(c.requestId, {
    ...err.headers,
    ...(body.length > 0 ? { 'content-type': 'application/xml' } : {}),
    'content-length': String(body.length),
  }));
  res.end(c.req.method === 'HEAD' ? undefined : body);
}

/**
 * An AbortSignal that fires when the response closes unfinished: the client went away. (The request's own
 * 'close' also fires when its body has merely been read, so it cannot tell.) Made only for handlers that
 * ask: a small GET answered from inline data never does, and the controller and listener were 1.5% of it.
 */
function abortSignalOf(res: ServerResponse): AbortSignal {
  const controller = new AbortController();
  if (res.closed) {
    if (!res.writableFinished) controller.abort();
  } else {
    res.on('close', () => {
      if (!res.writableFinished) controller.abort();
    });
  }
  return controller.signal;
}

async function handle(options: S3ServerOptions, req: IncomingMessage, res: ServerResponse, requestId: string): Promise<void> {
  const url = req.url ?? '/';
  const q = url.indexOf('?');
  const rawPath = q < 0 ? url : url.slice(0, q);
  const rawQuery = q < 0 ? '' : url.slice(q + 1);
  const c: Partial<RequestContext> & { req: IncomingMessage; res: ServerResponse; requestId: string; resource: string } = { req, res, requestId, resource: rawPath };
  try {
    const address = addressOf(rawPath, req.headers.host, options.config.baseDomains);
    c.resource = address.bucket === undefined ? '/' : `/${address.bucket}${address.key === undefined ? '' : `/${address.key}`}`;
    if (address.key !== undefined) validateKey(address.key);
    const query = Query.parse(rawQuery);
    const auth = authenticate({ method: req.method ?? 'GET', rawPath, rawQuery, query: query.pairs, headers: req.headers }, {
      region: options.config.region,
      secretFor: options.config.secretFor,
      nowMs: options.config.nowMs,
    });
    if (!auth) throw new S3Error('AccessDenied');
    // Metrics name drives and count requests: root only here; an unauthenticated scraper gets its own
    // listener (--metrics-address).
    if (options.admin && rawPath === metricsPath && req.method === 'GET') {
      if (auth.accessKeyId !== options.rootAccessKeyId) throw new S3Error('AccessDenied');
      setRequestId(res, requestId);
      return await handleMetrics(options.admin, res);
    }
    if (options.admin && rawPath.startsWith(adminPathPrefix)) {
      if (auth.accessKeyId !== options.rootAccessKeyId) throw new S3Error('AccessDenied');
      setRequestId(res, requestId);
      return await handleAdmin(options.admin, req, res, rawPath);
    }
    let signal: AbortSignal | undefined;
    const context: RequestContext = {
      req,
      res,
      requestId,
      resource: c.resource,
      objects: options.objects,
      config: options.config,
      bucket: address.bucket,
      key: address.key,
      query,
      auth,
      get signal() {
        signal ??= abortSignalOf(res);
        return signal;
      },
    };
    await route(context)(context);
  } catch (err) {
    const s3err = toS3Error(err);
    if (s3err.httpStatus >= 500) options.log.error('Request failed', { requestId, method: req.method, path: rawPath, err });
    sendError(c, s3err);
  }
  // Whatever part of the body a handler did not read (an early error) is drained, so the connection
  // stays usable and the client sees the answer instead of a reset.
  if (!req.complete && !req.destroyed) req.resume();
}

export function createS3Server(options: S3ServerOptions): Server {
  const server = createServer({ maxHeaderSize: requestHeaderBytesMax, requestTimeout: requestTimeoutMs, headersTimeout: headersTimeoutMs, keepAliveTimeout: keepAliveTimeoutMs }, (req, res) => {
    const requestId = newRequestId();
    const counters = options.counters;
    if (counters) counters.requests_total++;
    // Counted once the handler is done rather than from a 'finish' listener per response; an answer whose
    // client went away mid-body counts by the status it began with.
    handle(options, req, res, requestId).then(() => {
      if (!counters || !res.headersSent) return;
      if (res.statusCode >= 500) counters.responses_5xx_total++;
      else if (res.statusCode >= 400) counters.responses_4xx_total++;
    }, (err: unknown) => {
      options.log.error('Unhandled request failure', { requestId, err });
      res.destroy();
    });
  });
  server.on('clientError', (err: NodeJS.ErrnoException & { rawPacket?: unknown }, socket) => {
    // Node rejects oversize headers and garbled requests before any handler runs; answer them in S3's
    // form, request id included, unless the peer is gone or an answer on this socket has begun.
    const inFlight = (socket as { _httpMessage?: ServerResponse | null })._httpMessage;
    if (err.code === 'ECONNRESET' || !socket.writable || inFlight?.headersSent) return socket.destroy();
    const requestId = newRequestId();
    const s3err = clientErrorOf(err);
    const body = errorDocument(s3err, requestTargetOf(err.rawPacket), requestId);
    socket.end(Buffer.concat([
      Buffer.from(`HTTP/1.1 ${s3err.httpStatus} ${STATUS_CODES[s3err.httpStatus]}\r\nContent-Type: application/xml\r\nContent-Length: ${body.length}\r\n`
        + `x-amz-request-id: ${requestId}\r\nx-amz-id-2: ${requestId}\r\nServer: Tessera\r\nConnection: close\r\n\r\n`),
      body,
    ]));
  });
  return server;
}
