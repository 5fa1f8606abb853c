// The access log: one line per request through the S3 listener (S3, admin API, metrics), written once the
// answer is complete or the client has gone away. It names who asked (the access key id, never a secret or
// a signature), what ran and how it ended; a 4xx carries its error code, never a stack.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import type { Logger } from '../util/log.js';

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
}

export interface AccessTrack {
  facts: AccessFacts;
  startMs: number;
  bytesWrittenBefore: number;
  bytesIn: number;
}

/**
 * Starts tracking a request, or undefined when info entries are dropped (--log-level warn): then the
 * access log costs nothing at all. Body bytes are counted as Node's parser hands them to the request
 * stream (its push()), which sees every byte whoever reads them, and which reads none itself.
 */
export function trackAccess(log: Logger, req: IncomingMessage): AccessTrack | undefined {
  if (log.enabled && !log.enabled('info')) return undefined;
  const track: AccessTrack = { facts: {}, startMs: performance.now(), bytesWrittenBefore: req.socket.bytesWritten, bytesIn: 0 };
  const push = req.push;
  req.push = function countingPush(this: IncomingMessage, chunk: unknown, encoding?: BufferEncoding): boolean {
    if (chunk !== null && chunk !== undefined) track.bytesIn += (chunk as Buffer).length;
    return push.call(this, chunk, encoding);
  };
  return track;
}

/** The access line of a finished request; `answered` false: the client went away before the answer was complete. */
export function logAccess(log: Logger, track: AccessTrack, requestId: string, req: IncomingMessage, res: ServerResponse, answered: boolean): void {
  const { facts } = track;
  const url = req.url ?? '/';
  const q = url.indexOf('?');
  log.info('request', {
    requestId,
    accessKeyId: facts.accessKeyId,
    ...(facts.userName !== undefined ? { user: facts.userName } : {}),
    operation: facts.operation,
    method: req.method,
    bucket: facts.bucket,
    key: facts.key,
    // Without a bucket the path says what was asked (the admin API's routes, a refused address).
    ...(facts.bucket === undefined ? { path: q < 0 ? url : url.slice(0, q) } : {}),
    status: res.headersSent ? res.statusCode : null,
    ...(facts.errorCode ? { error: facts.errorCode } : {}),
    ...(answered ? {} : { aborted: true }),
    bytesIn: track.bytesIn,
    // Bytes written to the connection for this answer, its status line and headers included.
    bytesOut: req.socket.bytesWritten - track.bytesWrittenBefore,
    durationMs: Math.round((performance.now() - track.startMs) * 10) / 10,
    remoteAddress: req.socket.remoteAddress,
  });
}
