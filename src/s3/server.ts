// The S3 HTTP endpoint: request ids, addressing (path- and virtual-hosted-style), authentication, routing
// to one handler per operation, and the S3 error response. Nothing here knows how objects are stored, nor
// what else the composition root mounts beside it (the admin API goes through rootOnlyListener()).
import { createServer, STATUS_CODES, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import type { TlsMaterial } from '../util/tls.js';
import type { Socket } from 'node:net';
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type { ObjectContext } from '../objects/context.js';
import { S3Error, toS3Error } from './errors.js';
import { authenticateRequest } from './authenticate.js';
import { identityOf } from './identity.js';
import { operationName, route } from './router.js';
import { accessLogOn, logAccess, trackRequest, type AccessFacts } from './access-log.js';
import { RequestMetrics } from './request-metrics.js';
import { handlePostObject, type FormPostContext } from './handlers/post-object.js';
import { handleCorsPreflight, setCorsHeaders } from './handlers/bucket-cors.js';
import { authorizeRequest } from './authorize.js';
import { assert } from '../util/assert.js';
import { Query } from './query.js';
import { HandlerContext, withRequestId, type RequestContext, type S3Config } from './context.js';
import { createsKey, validateKey, validateNewKey } from './names.js';
import { escapeXml } from './xml.js';
import { headersTimeoutMs, keepAliveTimeoutMs, refusedBodyDrainBytesMax, refusedBodyLingerBytesMax, refusedBodyLingerMs, requestHeaderBytesMax, requestTimeoutMs } from '../constants.js';
import type { Logger } from '../util/log.js';
import { joinMeters, RateRefusal, type ByteMeter, type RateLimiter } from '../util/rate-limiter.js';
import { clientAddressOf } from './client-address.js';

export interface S3ServerOptions {
  objects: ObjectContext;
  config: S3Config;
  log: Logger;
  /** The access key rootOnlyListener() lets through. */
  rootAccessKeyId?: string;
  /** Requests by operation and status, latency and bytes; also counted into its old totals. */
  metrics?: RequestMetrics;
  /** Rate limits per access key, bucket and client IP; the admin API (rootOnlyListener) is never limited. */
  limits?: RateLimiter;
}

/** Answers a request; the promise, when there is one, settles once the answer is complete or abandoned. */
export type RequestListener = (req: IncomingMessage, res: ServerResponse) => void | Promise<void>;

/** A route served beside S3 once SigV4 proved the root key signed the request (the admin API). */
export type RootRoute = (req: IncomingMessage, res: ServerResponse, rawPath: string) => Promise<void>;

/**
 * A credential besides SigV4 that a root route accepts (the metrics bearer token): 'granted' serves the
 * route unsigned, 'denied' answers AccessDenied, 'absent' leaves the request to SigV4.
 */
export type BearerCheck = (req: IncomingMessage) => 'granted' | 'denied' | 'absent';

export { newRequestCounters, RequestMetrics, type RequestCounters } from './request-metrics.js';

// A random per-process prefix and a counter: unique without a randomBytes call per request, which cost
// 5% of a small GET (bench/http.ts profile).
const requestIdPrefix = randomBytes(4).toString('hex').toUpperCase();
let requestCounter = 0;

function newRequestId(): string {
  requestCounter = (requestCounter + 1) % 0x1_0000_0000;
  return requestIdPrefix + requestCounter.toString(16).toUpperCase().padStart(8, '0');
}

function decodePathPart(raw: string): string {
  if (!raw.includes('%')) return raw; // nothing to decode: most bucket names and keys
  try {
    return decodeURIComponent(raw);
  } catch {
    throw new S3Error('InvalidURI');
  }
}

/** `host` without a trailing ":digits" port: what /:\d+$/ removes, found without a regex per request. */
function withoutPort(host: string): string {
  const colon = host.lastIndexOf(':');
  if (colon < 0 || colon === host.length - 1) return host;
  for (let i = colon + 1; i < host.length; i++) {
    const c = host.charCodeAt(i);
    if (c < 0x30 || c > 0x39) return host;
  }
  return host.slice(0, colon);
}

/** Splits the request target into bucket and key, from the Host header or the first path segment. */
export function addressOf(rawPath: string, host: string | undefined, baseDomains: string[]): { bucket?: string; key?: string; virtualHosted?: true } {
  const hostname = withoutPort(host ?? '').toLowerCase();
  const path = rawPath.startsWith('/') ? rawPath.slice(1) : rawPath;
  for (const domain of baseDomains) {
    if (hostname.endsWith(`.${domain}`)) {
      const bucket = hostname.slice(0, -domain.length - 1);
      return path === '' ? { bucket, virtualHosted: true } : { bucket, key: decodePathPart(path), virtualHosted: true };
    }
  }
  if (path === '') return {};
  const slash = path.indexOf('/');
  if (slash < 0) return { bucket: decodePathPart(path) };
  const bucket = decodePathPart(path.slice(0, slash));
  const key = path.slice(slash + 1);
  return key === '' ? { bucket } : { bucket, key: decodePathPart(key) };
}

/** For a root route, which writes its own answers: the same identity headers through setHeader. */
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
  if (cutsOffBody(c.req)) {
    // Node then sends "Connection: close" and calls destroySoon() once the answer is flushed.
    res.shouldKeepAlive = false;
    lingerOnClose(c.req);
  }
  res.writeHead(err.httpStatus, withRequestId(c.requestId, {
    ...err.headers,
    ...(body.length > 0 ? { 'content-type': 'application/xml' } : {}),
    'content-length': String(body.length),
  }));
  res.end(c.req.method === 'HEAD' ? undefined : body);
}

/** Requests with `Expect: 100-continue` whose body no handler has asked for yet: the client is waiting to send it. */
const awaitingContinue = new WeakSet<IncomingMessage>();

/**
 * Sends 100 Continue when the body is first read, not on arrival: by then the request has passed
 * authentication and the handler's checks of its headers (bucket, size, conditions), so a refused request
 * is answered before the client sends a byte of its body. The hook sits on _read, which every way of
 * reading a Readable goes through.
 */
function continueOnFirstRead(req: IncomingMessage, res: ServerResponse): void {
  awaitingContinue.add(req);
  const read = req._read;
  req._read = function readAfterContinue(this: IncomingMessage, size: number): void {
    req._read = read;
    awaitingContinue.delete(req);
    if (!res.headersSent) res.writeContinue();
    read.call(this, size);
  };
}

/**
 * Whether the unread rest of the body is cut off (the connection closed after the answer) rather than read
 * and discarded: when its length is unknown (chunked), beyond what draining is worth, or not yet sent by a
 * client waiting for 100 Continue, which will not send it now and would leave the next request parsed as body.
 */
function cutsOffBody(req: IncomingMessage): boolean {
  if (req.complete) return false;
  if (req.headers['transfer-encoding'] !== undefined) return true;
  const length = Number(req.headers['content-length'] ?? '0'); // Node's parser refused a malformed one
  if (length === 0) return false;
  return awaitingContinue.has(req) || length > refusedBodyDrainBytesMax;
}

/** After the handler: the body nobody read is drained, so the connection stays usable, or the connection is closed. */
function settleBody(req: IncomingMessage, res: ServerResponse): void {
  if (req.complete || req.destroyed) return;
  if (!res.shouldKeepAlive) {
    // Node closes the socket once the answer is flushed (an error answer that cut the body off, or a
    // client that asked for Connection: close); it lingers first unless that has already happened.
    if (!res.writableFinished) lingerOnClose(req);
    return;
  }
  if (!cutsOffBody(req)) {
    req.resume();
    return;
  }
  // An answer that went out as keep-alive (a handler that ignored a large body) cannot say Connection:
  // close any more; the socket is closed once it is flushed.
  const socket = req.socket;
  if (res.writableFinished) closeLingering(socket, req);
  else res.once('finish', () => closeLingering(socket, req));
}

/** Makes the close Node does after a Connection: close answer (its destroySoon()) a lingering one. */
function lingerOnClose(req: IncomingMessage): void {
  const socket = req.socket as Socket & { destroySoon?: () => void };
  socket.destroySoon = () => closeLingering(socket, req);
}

/**
 * Closes a connection whose request body is still arriving without losing the answer already sent. Closed
 * at once, the socket would reset the client's writes, and a client failing a write may drop the answer
 * unread (RFC 9112 §9.6). So the write side is shut and what still arrives is read and dropped, for a
 * bounded time and amount, then the socket is destroyed.
 */
function closeLingering(socket: Socket, req: IncomingMessage): void {
  if (socket.destroyed) return;
  socket.end();
  let bytes = 0;
  const timer = setTimeout(() => socket.destroy(), refusedBodyLingerMs).unref();
  socket.on('data', (chunk: Buffer) => {
    bytes += chunk.length;
    if (bytes > refusedBodyLingerBytesMax) socket.destroy();
  });
  socket.once('close', () => clearTimeout(timer));
  req.resume();
}

/** True once the client has gone away before the answer was complete (its socket closed under us). */
function clientGone(res: ServerResponse): boolean {
  return res.destroyed && !res.writableFinished;
}

/**
 * Answers one request, or hands it to `root` once authenticated as the root key; resolves with false when
 * the client went away before the answer was complete.
 */
async function handle(options: S3ServerOptions, req: IncomingMessage, res: ServerResponse, requestId: string, root: RootedRoute | undefined, bearer: BearerCheck | undefined, facts: AccessFacts): Promise<boolean> {
  const url = req.url ?? '/';
  const q = url.indexOf('?');
  const rawPath = q < 0 ? url : url.slice(0, q);
  const rawQuery = q < 0 ? '' : url.slice(q + 1);
  const c: Partial<RequestContext> & { req: IncomingMessage; res: ServerResponse; requestId: string; resource: string } = { req, res, requestId, resource: rawPath };
  try {
    const address = addressOf(rawPath, req.headers.host, options.config.baseDomains);
    facts.bucket = address.bucket;
    facts.key = address.key;
    if (root) facts.operation = root.operation;
    c.resource = address.bucket === undefined ? '/' : `/${address.bucket}${address.key === undefined ? '' : `/${address.key}`}`;
    if (address.key !== undefined) validateKey(address.key);
    const query = Query.parse(rawQuery);
    if (address.key !== undefined && createsKey(req.method, query)) validateNewKey(address.key);
    const bearerVerdict = root && bearer ? bearer(req) : 'absent';
    if (bearerVerdict === 'denied') throw new S3Error('AccessDenied');
    if (bearerVerdict === 'granted') {
      setRequestId(res, requestId);
      await root!.route(req, res, rawPath);
      return true;
    }
    // A CORS preflight is never signed (browsers send no credentials with it), whatever its URL carries.
    const preflight = !root && req.method === 'OPTIONS' && address.bucket !== undefined;
    const handler = root || preflight ? undefined : route({ req, query, bucket: address.bucket, key: address.key });
    if (handler) facts.operation = operationName(handler);
    if (preflight) facts.operation = 'CorsPreflight';
    // The per-IP limit comes before the signature check, so a flood of forged requests costs no HMAC.
    const limits = root ? undefined : options.limits;
    const client = clientAddressOf(options.config.trustedProxies, req);
    const forwarded = client !== req.socket.remoteAddress;
    if (forwarded && client !== undefined) Object.assign(facts, { clientAddress: client, proxyAddress: req.socket.remoteAddress });
    // The rate limits' own trustedProxies (their file) still apply to a peer --trusted-proxies does not name.
    let meter = limits?.active ? admitted(limits.admit({ ip: forwarded && client !== undefined ? client : limits.clientIp(req.socket.remoteAddress, req.headers['x-forwarded-for']) })) : undefined;
    if (preflight) {
      await handleCorsPreflight({ req, res, requestId, objects: options.objects, bucket: address.bucket!, key: address.key });
      settleBody(req, res);
      return true;
    }
    // Before authentication, so a refused request (a bad signature, an expired presigned URL) still
    // tells the browser's page why, as AWS's answers do.
    if (!root && address.bucket !== undefined && req.headers.origin !== undefined) await setCorsHeaders(options.objects, req, res, address.bucket);
    const auth = authenticateRequest({
      method: req.method ?? 'GET', rawPath, rawQuery, query: query.pairs, headers: req.headers,
      headersDistinct: () => req.headersDistinct, virtualBucket: address.virtualHosted ? address.bucket : undefined,
    }, options.config);
    if (auth) facts.accessKeyId = auth.accessKeyId;
    const identity = identityOf(options.config, auth);
    if (identity.kind === 'user') facts.userName = identity.userName;
    if (root) {
      if (!auth || options.rootAccessKeyId === undefined || auth.accessKeyId !== options.rootAccessKeyId) throw new S3Error('AccessDenied');
      setRequestId(res, requestId);
      await root.route(req, res, rawPath);
      return true;
    }
    // A form POST names its key inside the body: only its bucket's (and IP's) limits apply before it is read.
    if (limits?.active) meter = joinMeters(meter, admitted(limits.admit({ key: auth?.accessKeyId, bucket: address.bucket })));
    if (meter) chargeResponse(req, res, meter);
    assert(handler);
    const context = new HandlerContext({ req, res, requestId, resource: c.resource, objects: options.objects, config: options.config, address, query, auth, identity, meter });
    // Anonymous requests too: they are served where a bucket policy (or ACL) lets anyone in. A browser
    // POST upload carries its signature in the form, so its handler authorizes once it has read it.
    await authorizeRequest(context, facts.operation ?? operationName(handler));
    await handler(context);
  } catch (err) {
    // A client that hung up mid-body or mid-answer surfaces here as whatever its stream threw; it is not
    // a server fault, so it is neither logged as one nor answered.
    if (clientGone(res)) {
      options.log.debug('Client went away', { requestId, method: req.method, path: rawPath, err: String(err) });
      return false;
    }
    const s3err = toS3Error(err);
    facts.errorCode = s3err.code;
    // A rate limit's SlowDown is the server working as configured, not a fault: logging each one (with its
    // stack) under a flood cost more than answering it (bench/rate-limits.ts).
    if (s3err.httpStatus >= 500 && s3err.code !== 'SlowDown') options.log.error('Request failed', { requestId, method: req.method, path: rawPath, err });
    sendError(c, s3err);
  }
  settleBody(req, res);
  return !clientGone(res);
}

/**
 * A request over a rate limit gets 503 SlowDown with Retry-After, before its body is read, as AWS answers:
 * the SDKs take SlowDown as throttling and back off (docs/architecture.md "Rate limits").
 */
function admitted(admission: RateRefusal | ByteMeter | undefined): ByteMeter | undefined {
  if (admission instanceof RateRefusal) throw new S3Error('SlowDown', undefined, { headers: { 'retry-after': String(admission.retryAfterSec) } });
  return admission;
}

/** Charges what the answer sent to the byte limits once it is done; a download is not paced, its debt delays what follows. */
function chargeResponse(req: IncomingMessage, res: ServerResponse, meter: ByteMeter): void {
  const socket = req.socket;
  const before = socket.bytesWritten;
  res.once('close', () => meter.take(socket.bytesWritten - before));
}

/** The answer to a request Node's parser refused, as raw bytes: the parser gave us no ServerResponse for it. */
function clientErrorAnswer(err: NodeJS.ErrnoException & { rawPacket?: unknown }, resource: string): Buffer {
  const requestId = newRequestId();
  const s3err = clientErrorOf(err);
  const body = errorDocument(s3err, resource, requestId);
  return Buffer.concat([
    Buffer.from(`HTTP/1.1 ${s3err.httpStatus} ${STATUS_CODES[s3err.httpStatus]}\r\nContent-Type: application/xml\r\nContent-Length: ${body.length}\r\n`
      + `x-amz-request-id: ${requestId}\r\nx-amz-id-2: ${requestId}\r\nServer: Tessera\r\nConnection: close\r\n\r\n`),
    body,
  ]);
}

/** Sockets whose parser failed; Node may report the same failure again as more bytes arrive. */
const parserFailed = new WeakSet<Socket>();

/**
 * Node rejects oversize headers and garbled requests before any handler runs; they are answered in S3's
 * form, request id included, then the connection is closed. Requests parsed before the bad bytes on the
 * same connection (pipelined, or a body longer than its Content-Length) are carried out and answered
 * first, in order: the parse error is the answer to what followed them, not to them.
 */
function onClientError(err: NodeJS.ErrnoException & { rawPacket?: unknown }, socket: Socket): void {
  if (parserFailed.has(socket)) return;
  parserFailed.add(socket);
  if (err.code === 'ECONNRESET' || !socket.writable) {
    socket.destroy();
    return;
  }
  // The packet starts with the failed request unless earlier ones came in it too; then its target is unknown.
  const pending = (socket as { _httpMessage?: ServerResponse | null })._httpMessage;
  const answer = clientErrorAnswer(err, pending?.req.complete ? '' : requestTargetOf(err.rawPacket));
  const answerWhenIdle = (): void => {
    const inFlight = (socket as { _httpMessage?: ServerResponse | null })._httpMessage;
    if (!inFlight) {
      if (socket.writable) socket.end(answer);
      else socket.destroy();
      return;
    }
    // A timeout or a bad body belongs to the request in flight itself (its body is still being parsed):
    // it is answered now unless its answer has begun, which only a cut connection can end.
    if (!inFlight.req.complete) {
      if (inFlight.headersSent) socket.destroy();
      else socket.end(answer);
      return;
    }
    // Node's own 'finish' listener runs first and hands the socket to the next queued answer, if any.
    const next = (): void => {
      inFlight.off('finish', next);
      inFlight.off('close', next);
      if (inFlight.writableFinished) answerWhenIdle();
      else socket.destroy();
    };
    inFlight.on('finish', next);
    inFlight.on('close', next);
  };
  answerWhenIdle();
}

/** The listener that answers S3 requests. */
export function s3Listener(options: S3ServerOptions): RequestListener {
  return listenerOf(options, undefined, undefined);
}

/** A root route and the operation name its access lines carry ("Admin", "Metrics"). */
interface RootedRoute {
  route: RootRoute;
  operation: string;
}

/**
 * A listener for a route mounted beside S3 (the admin API, metrics): the same request ids, counters, SigV4
 * and S3 error answers, and only the root key (or, when `bearer` is given, the credential it grants) gets
 * through to `route`; anyone else gets AccessDenied.
 */
export function rootOnlyListener(options: S3ServerOptions, route: RootRoute, bearer?: BearerCheck, operation = 'Admin'): RequestListener {
  return listenerOf(options, { route, operation }, bearer);
}

function listenerOf(options: S3ServerOptions, root: RootedRoute | undefined, bearer: BearerCheck | undefined): RequestListener {
  const metrics = options.metrics;
  const counters = metrics?.counters;
  return (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const requestId = newRequestId();
    if (counters) counters.requests_total++;
    const track = trackRequest(req);
    // Counted (and the access line written) once the handler is done rather than from a 'finish' listener
    // per response; an answer whose client went away mid-body counts as aborted whatever status it began with.
    return handle(options, req, res, requestId, root, bearer, track.facts).then((answered) => {
      if (accessLogOn(options.log)) logAccess(options.log, track, requestId, req, res, answered);
      if (!metrics || !counters) return;
      const status = answered ? (res.headersSent ? res.statusCode : undefined) : undefined;
      if (answered && status === undefined) return; // a route that sent nothing and has nothing to count
      metrics.record(track.facts.operation, status, (performance.now() - track.startMs) / 1000, track.bytesIn, req.socket.bytesWritten - track.bytesWrittenBefore);
      if (!answered) counters.requests_aborted_total++;
      else if (res.statusCode >= 500) counters.responses_5xx_total++;
      else if (res.statusCode >= 400) counters.responses_4xx_total++;
    }, (err: unknown) => {
      options.log.error('Unhandled request failure', { requestId, err });
      res.destroy();
    });
  };
}

/**
 * The HTTP server of the S3 endpoint: its limits and timeouts, 100 Continue on the body's first read, and
 * parser errors answered in S3's form. `onRequest` decides who answers each request.
 */
/** The S3 endpoint's HTTP server, or HTTPS with `tls`: the same limits, timeouts and answers either way. */
export function createS3HttpServer(onRequest: RequestListener, tls?: TlsMaterial): Server {
  const options = { maxHeaderSize: requestHeaderBytesMax, requestTimeout: requestTimeoutMs, headersTimeout: headersTimeoutMs, keepAliveTimeout: keepAliveTimeoutMs };
  const server = tls ? createTlsServer({ ...options, ...tls }, onRequest) : createServer(options, onRequest);
  // With a listener here Node sends no 100 Continue of its own; the body's first read does (see above).
  server.on('checkContinue', (req: IncomingMessage, res: ServerResponse) => {
    continueOnFirstRead(req, res);
    onRequest(req, res);
  });
  // AWS ignores Expect values other than 100-continue; Node would answer them 417 without this listener.
  server.on('checkExpectation', onRequest);
  server.on('clientError', onClientError);
  return server;
}
