// One node RPC request and its answer, as an undici dispatch handler: it gathers the response body as
// the chunks that arrive (no stream, no copy), and bounds the call by its own timers and the caller's
// signal. Every failure settles it as a StoreError; the transport and signing are remote-node.ts's.
import type { IncomingHttpHeaders } from 'node:http';
import type { Dispatcher } from 'undici';
import { assert } from '../util/assert.js';
import { StoreError } from '../util/errors.js';
import { abortError } from './streams.js';

/** A node as its exchanges see it: who to name in errors, and who to tell when it stops answering. */
export interface ExchangePeer {
  readonly nodeId: string;
  readonly url: URL;
  /** How often a probe has cleared the node's suspicion: a call remembers it when sent. */
  readonly clears: number;
  /** `clearsAtSend`: the count when the timed-out call was sent (a call older than the last clear is stale evidence). */
  markSuspect(clearsAtSend?: number): void;
}

export interface ExchangeBounds {
  /** What failed, for messages: `Cannot read shard "1" of block "…" from n1/…`. */
  action: string;
  signal?: AbortSignal | undefined;
  /** Bytes of response body accepted; beyond, the call fails. */
  bytesMax: number;
  /** The longest gap between two pieces of the response body. */
  idleTimeoutMs: number;
}

export interface Answer {
  status: number;
  /** The body as it arrived: views of the socket's reads. */
  chunks: Buffer[];
  bytes: number;
  trailers: IncomingHttpHeaders;
}

/** undici errors that mean the node did not answer in time rather than failed. */
const timeoutCodes = new Set(['UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT']);

export class RpcExchange implements Dispatcher.DispatchHandler {
  /** Settles once: with the whole answer, or with the first failure. */
  readonly answer: Promise<Answer>;
  /** Whether any response arrived: a failure before one may be a stale keep-alive socket, worth one retry. */
  responded = false;
  private resolve!: (answer: Answer) => void;
  private reject!: (err: StoreError) => void;
  private controller: Dispatcher.DispatchController | undefined;
  private failure: StoreError | undefined;
  private settled = false;
  private timer: NodeJS.Timeout | undefined;
  private timerMs = 0;
  private stalled = '';
  private status = 0;
  private readonly chunks: Buffer[] = [];
  private bytes = 0;
  private readonly clearsAtSend: number;

  constructor(
    private readonly peer: ExchangePeer,
    private readonly bounds: ExchangeBounds,
  ) {
    this.clearsAtSend = peer.clears;
    this.answer = new Promise<Answer>((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
    });
    this.answer.catch(() => undefined);
    if (bounds.signal?.aborted) this.fail(abortError(bounds.signal, bounds.action));
    else bounds.signal?.addEventListener('abort', this.onAbort, { once: true });
  }

  /** The failure that settled the exchange, if one did. */
  get failed(): StoreError | undefined {
    return this.failure;
  }

  /**
   * Bounds the next step by `timeoutMs`: past it the node is suspect and the call fails
   * ERR_TARGET_TIMEOUT, saying `stalled` ("did not answer"). Re-arming replaces the bound; once the
   * response starts, the gaps within its body are bounded instead.
   */
  arm(timeoutMs: number, stalled: string): void {
    if (this.settled) return;
    assert(timeoutMs > 0, 'An RPC bound must be positive');
    clearTimeout(this.timer);
    this.timerMs = timeoutMs;
    this.stalled = stalled;
    this.timer = setTimeout(this.onTimeout, timeoutMs);
  }

  /** Stops bounding until the next arm(): a shard write idles while its caller gathers the next stripe. */
  disarm(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** Settles the exchange with `err` (the first failure wins) and cuts the request. */
  fail(err: StoreError): void {
    if (this.settled) return;
    this.failure = err;
    this.finish();
    this.reject(err);
    this.controller?.abort(err);
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.controller = controller;
    if (this.failure) controller.abort(this.failure); // failed while queued for a connection
  }

  onResponseStart(_controller: Dispatcher.DispatchController, statusCode: number): void {
    if (statusCode < 200) return; // informational
    this.responded = true;
    this.status = statusCode;
    if (this.timer) this.arm(this.bounds.idleTimeoutMs, 'sent nothing more of its answer');
  }

  onResponseData(_controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (this.settled) return;
    this.bytes += chunk.length;
    if (this.bytes > this.bounds.bytesMax) {
      this.fail(new StoreError('ERR_SHARD_MISSING', `${this.bounds.action}: the answer of node "${this.peer.nodeId}" exceeds ${this.bounds.bytesMax} bytes`));
      return;
    }
    this.chunks.push(chunk);
    this.timer?.refresh();
  }

  onResponseEnd(_controller: Dispatcher.DispatchController, trailers: IncomingHttpHeaders): void {
    if (this.settled) return;
    this.finish();
    this.resolve({ status: this.status, chunks: this.chunks, bytes: this.bytes, trailers });
  }

  onResponseError(_controller: Dispatcher.DispatchController, err: Error): void {
    if (this.settled) return;
    const code = (err as { code?: string }).code ?? err.name;
    const { action } = this.bounds;
    const where = `node "${this.peer.nodeId}" at ${this.peer.url.host}`;
    if (timeoutCodes.has(code)) {
      this.peer.markSuspect(this.clearsAtSend);
      this.fail(new StoreError('ERR_TARGET_TIMEOUT', `${action}: ${where} did not answer in time (${code})`, { cause: err }));
      return;
    }
    const what = this.responded ? 'its answer was cut off' : 'failed';
    this.fail(new StoreError('ERR_SHARD_MISSING', `${action}: ${where} ${what}: ${code}`, { cause: err }));
  }

  private readonly onTimeout = () => {
    this.peer.markSuspect(this.clearsAtSend);
    this.fail(new StoreError('ERR_TARGET_TIMEOUT', `${this.bounds.action}: node "${this.peer.nodeId}" ${this.stalled} within ${this.timerMs} ms`));
  };

  private readonly onAbort = () => this.fail(abortError(this.bounds.signal!, this.bounds.action));

  private finish(): void {
    this.settled = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    this.bounds.signal?.removeEventListener('abort', this.onAbort);
  }
}
