// The access log: one line per request through the S3 listener (S3, admin API, metrics), written once the
// answer is complete or the client has gone away. It names who asked (the access key id, never a secret or
// a signature), what ran and how it ended; a 4xx carries its error code, never a stack.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import { jsonString, type Logger } from '../util/log.js';

/** What handle() learns about a request as it goes; each stays unset if the request failed before it. */
export interface AccessFacts {
  operation?: string;
  accessKeyId?: string;
  /** The IAM user the access key belongs to; unset for the root key and unsigned requests. */
  userName?: string;
  bucket?: string;
  key?: string;
  /** The S3 error code the request was answered with. */
  errorCode?: string;
  /** The client's address when a trusted proxy forwarded it (remoteAddress is then the client's, this the proxy's). */
  proxyAddress?: string;
  clientAddress?: string;
}

export interface AccessTrack {
  facts: AccessFacts;
  startMs: number;
  bytesWrittenBefore: number;
  bytesIn: number;
}

/**
 * Starts tracking a request, for its access line and the request metrics. Body bytes are counted as Node's
 * parser hands them to the request stream (its push()), which sees every byte whoever reads them, and which
 * reads none itself. A request without a body (a GET) gets no wrapper: a push() of its own on the request
 * was a measurable part of a small GET's cost.
 */
export function trackRequest(req: IncomingMessage): AccessTrack {
  const track: AccessTrack = { facts: {}, startMs: performance.now(), bytesWrittenBefore: req.socket.bytesWritten, bytesIn: 0 };
  if (!hasBody(req)) return track;
  const push = req.push;
  req.push = function countingPush(this: IncomingMessage, chunk: unknown, encoding?: BufferEncoding): boolean {
    if (chunk !== null && chunk !== undefined) track.bytesIn += (chunk as Buffer).length;
    return push.call(this, chunk, encoding);
  };
  return track;
}

/** Whether a body follows the headers (RFC 9112 §6.3): a Transfer-Encoding, or a Content-Length above 0. */
function hasBody(req: IncomingMessage): boolean {
  const length = req.headers['content-length'];
  return req.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
}

/** Whether access lines are written at all (not at --log-level warn): else no line is built. */
export function accessLogOn(log: Logger): boolean {
  return !log.enabled || log.enabled('info');
}

/** The access line of a finished request; `answered` false: the client went away before the answer was complete. */
export function logAccess(log: Logger, track: AccessTrack, requestId: string, req: IncomingMessage, res: ServerResponse, answered: boolean): void {
  const line = accessLine(track, requestId, req, res, answered);
  if (log.infoPrepared) log.infoPrepared('request', () => accessFields(line), () => accessJson(line));
  else log.info('request', accessFields(line));
}

/** What an access line says, gathered once for either form. */
export interface AccessLine {
  facts: AccessFacts;
  requestId: string;
  method: string | undefined;
  /** Without a bucket the path says what was asked (the admin API's routes, a refused address). */
  path: string | undefined;
  status: number | null;
  aborted: boolean;
  bytesIn: number;
  /** Bytes written to the connection for this answer, its status line and headers included. */
  bytesOut: number;
  durationMs: number;
  remoteAddress: string | undefined;
}

function accessLine(track: AccessTrack, requestId: string, req: IncomingMessage, res: ServerResponse, answered: boolean): AccessLine {
  const url = req.url ?? '/';
  const q = url.indexOf('?');
  return {
    facts: track.facts,
    requestId,
    method: req.method,
    path: track.facts.bucket === undefined ? (q < 0 ? url : url.slice(0, q)) : undefined,
    status: res.headersSent ? res.statusCode : null,
    aborted: !answered,
    bytesIn: track.bytesIn,
    bytesOut: req.socket.bytesWritten - track.bytesWrittenBefore,
    durationMs: Math.round((performance.now() - track.startMs) * 10) / 10,
    remoteAddress: track.facts.clientAddress ?? req.socket.remoteAddress,
  };
}

/** The line as fields, for the pretty format (and a logger without infoPrepared). */
export function accessFields(line: AccessLine): Record<string, unknown> {
  const { facts } = line;
  return {
    requestId: line.requestId,
    accessKeyId: facts.accessKeyId,
    ...(facts.userName !== undefined ? { user: facts.userName } : {}),
    operation: facts.operation,
    method: line.method,
    bucket: facts.bucket,
    key: facts.key,
    ...(line.path !== undefined ? { path: line.path } : {}),
    status: line.status,
    ...(facts.errorCode ? { error: facts.errorCode } : {}),
    ...(line.aborted ? { aborted: true } : {}),
    bytesIn: line.bytesIn,
    bytesOut: line.bytesOut,
    durationMs: line.durationMs,
    remoteAddress: line.remoteAddress,
    ...(facts.proxyAddress !== undefined ? { proxyAddress: facts.proxyAddress } : {}),
  };
}

/**
 * The same fields as JSON, in the same order, written directly: JSON.stringify of the fields object was
 * the largest part of an access line's cost. Every string that comes from the request goes through jsonString().
 */
export function accessJson(line: AccessLine): string {
  const { facts } = line;
  let json = `,"requestId":${jsonString(line.requestId)}`;
  if (facts.accessKeyId !== undefined) json += `,"accessKeyId":${jsonString(facts.accessKeyId)}`;
  if (facts.userName !== undefined) json += `,"user":${jsonString(facts.userName)}`;
  if (facts.operation !== undefined) json += `,"operation":${jsonString(facts.operation)}`;
  if (line.method !== undefined) json += `,"method":${jsonString(line.method)}`;
  if (facts.bucket !== undefined) json += `,"bucket":${jsonString(facts.bucket)}`;
  if (facts.key !== undefined) json += `,"key":${jsonString(facts.key)}`;
  if (line.path !== undefined) json += `,"path":${jsonString(line.path)}`;
  json += `,"status":${line.status === null ? 'null' : line.status}`;
  if (facts.errorCode) json += `,"error":${jsonString(facts.errorCode)}`;
  if (line.aborted) json += ',"aborted":true';
  json += `,"bytesIn":${line.bytesIn},"bytesOut":${line.bytesOut},"durationMs":${line.durationMs}`;
  if (line.remoteAddress !== undefined) json += `,"remoteAddress":${jsonString(line.remoteAddress)}`;
  if (facts.proxyAddress !== undefined) json += `,"proxyAddress":${jsonString(facts.proxyAddress)}`;
  return json;
}
