// One storage node as a client sees it: its address, the undici pool of keep-alive connections to it,
// request signing, and whether it is suspect (then probed in the background until it answers). Every
// call is bounded (rpc-exchange.ts) and cancelled by the caller's signal; the shard operations over it
// are in remote-shard-store.ts.
import { randomBytes } from 'node:crypto';
import { Client, Pool, type Dispatcher } from 'undici';
import { isStoreError, StoreError } from '../util/errors.js';
import { RpcExchange, type Answer, type ExchangeBounds } from './rpc-exchange.js';
import { RangeStream } from './remote-range-stream.js';
import {
  clusterSecretBytesMin,
  emptyBodySha256,
  errorFromBody,
  rpcCallTimeoutMs,
  rpcConnectTimeoutMs,
  rpcHeaders,
  rpcPathPrefix,
  rpcProbeIntervalMs,
  signRequest,
  streamingBody,
  type RpcErrorBody,
} from './rpc-protocol.js';
import { abortError } from './streams.js';

/** Bytes of a JSON answer the client reads; a listing of one fan-out directory stays far below. */
const jsonBytesMax = 64 * 1024 * 1024;
/** Bytes of an error answer read; they are small JSON bodies. */
export const errorBytesMax = 64 * 1024;
/** Connections kept open to one node; requests beyond wait in the pool's queue (inside their call bound). */
const connectionsPerNodeMax = 64;
/** Background probes of a suspect node waiting at once, at most (each holds one connection to it). */
const backgroundProbesMax = 8;
/** Socket failures before any answer that mean a keep-alive connection the node had just closed. */
const staleSocketCodes = new Set(['UND_ERR_SOCKET', 'ECONNRESET', 'EPIPE']);

export interface RemoteNodeOptions {
  /** http://host:port of the node, or https:// with `ca`. */
  url: string;
  nodeId: string;
  secret: Buffer;
  /** The CA certificates (PEM) a TLS node's certificate is checked against: set for https:// URLs only. */
  ca?: Buffer;
  /**
   * A call with no response headers this long after it was sent (waiting for a connection included)
   * fails ERR_TARGET_TIMEOUT and makes the node suspect (default rpcCallTimeoutMs; `--node-timeout`).
   */
  callTimeoutMs?: number;
  /** The longest gap within a streamed answer, or for a shard write to take its next bytes (default: callTimeoutMs). */
  idleTimeoutMs?: number;
  /** A TCP connect slower than this fails ERR_TARGET_TIMEOUT (default: the lesser of rpcConnectTimeoutMs and callTimeoutMs). */
  connectTimeoutMs?: number;
  /** How often a suspect node is probed in the background (default rpcProbeIntervalMs). */
  probeIntervalMs?: number;
  /** Test hook: the client's clock. */
  nowMs?: () => number;
}

/** What a call is bounded by, and what it says when it fails. */
export interface CallBounds {
  action: string;
  signal?: AbortSignal | undefined;
  /** Replaces callTimeoutMs for this call. */
  timeoutMs?: number;
}

/** A probe's bounds; `recheck`: run even beside another probe of the suspect node still waiting. */
export interface ProbeBounds extends CallBounds {
  recheck?: boolean;
}

/** The URL of the node at `address` (host:port): https when the cluster's node RPC uses TLS (a CA is given). */
export function nodeUrlOf(address: string, tls: { ca?: Buffer | undefined }): string {
  return `${tls.ca ? 'https' : 'http'}://${address}`;
}

export class RemoteNode {
  readonly url: URL;
  readonly nodeId: string;
  readonly callTimeoutMs: number;
  readonly idleTimeoutMs: number;
  readonly connectTimeoutMs: number;
  readonly probeIntervalMs: number;
  private readonly secret: Buffer;
  private readonly ca: Buffer | undefined;
  /** Replaced when the node turns suspect (retirePool): its idle connections may have died with the network. */
  private pool: Pool;
  private readonly nowMs: () => number;
  private suspectSinceMs = 0;
  private clearCount = 0;
  private prober: NodeJS.Timeout | undefined;
  private probesInFlight = 0;
  private closed = false;

  constructor(options: RemoteNodeOptions) {
    if (options.secret.length < clusterSecretBytesMin) throw new RangeError(`Cannot use a cluster secret of ${options.secret.length} bytes: at least ${clusterSecretBytesMin} are needed`);
    this.url = new URL(options.url);
    const scheme = options.ca ? 'https:' : 'http:';
    if (this.url.protocol !== scheme) throw new RangeError(`Cannot reach node at "${options.url}": expected an ${scheme}// URL${options.ca ? ' (the cluster uses TLS)' : ''}`);
    this.ca = options.ca;
    const positive = (name: string, value: number | undefined, fallback: number) => {
      if (value === undefined) return fallback;
      if (!(Number.isSafeInteger(value) && value > 0)) throw new RangeError(`Cannot use ${name} "${value}" ms: expected a positive integer`);
      return value;
    };
    this.nodeId = options.nodeId;
    this.secret = options.secret;
    this.callTimeoutMs = positive('call timeout', options.callTimeoutMs, rpcCallTimeoutMs);
    this.idleTimeoutMs = positive('idle timeout', options.idleTimeoutMs, this.callTimeoutMs);
    this.connectTimeoutMs = positive('connect timeout', options.connectTimeoutMs, Math.min(rpcConnectTimeoutMs, this.callTimeoutMs));
    this.probeIntervalMs = positive('probe interval', options.probeIntervalMs, rpcProbeIntervalMs);
    this.nowMs = options.nowMs ?? Date.now;
    this.pool = this.newPool();
  }

  private newPool(): Pool {
    // undici's own header and body timers are off: RpcExchange bounds each call and names the node.
    return new Pool(this.url.origin, { ...this.connectionOptions(), connections: connectionsPerNodeMax });
  }

  private connectionOptions(): Pool.Options {
    return { pipelining: 1, connect: { timeout: this.connectTimeoutMs, ...(this.ca ? { ca: this.ca } : {}) }, headersTimeout: 0, bodyTimeout: 0 };
  }

  /**
   * A call timed out: the idle keep-alive connections to the node may be dead too (a partition drops
   * them silently, and a connection once cut may stay dead after the network heals). Later calls and
   * probes take a new pool, so none of them waits out a bound on a connection that died meanwhile;
   * the old pool closes once its calls in flight end (each bounded by its own timers).
   */
  private retirePool(): void {
    const old = this.pool;
    this.pool = this.newPool();
    void old.close().catch(() => undefined);
  }

  /** True after a call timed out, until a probe answers in time. */
  get suspect(): boolean {
    return this.suspectSinceMs > 0;
  }

  /** How often a probe has cleared the node's suspicion. */
  get clears(): number {
    return this.clearCount;
  }

  /**
   * Skips the node in later calls and probes it in the background until it answers in time. A timeout of
   * a call sent before a probe last cleared the node (`clearsAtSend` below the count) changes nothing: it
   * waited on a connection that died before the node answered again (a probe sent during a partition ends
   * after the network healed), and must not make a node that answers suspect again.
   */
  markSuspect(clearsAtSend?: number): void {
    if (this.closed || (clearsAtSend !== undefined && clearsAtSend < this.clearCount)) return;
    if (this.suspectSinceMs === 0) {
      this.suspectSinceMs = Date.now();
      this.retirePool();
    }
    if (this.prober) return;
    this.prober = setInterval(() => void this.probeInBackground(), this.probeIntervalMs);
    this.prober.unref(); // never what keeps a process alive
  }

  clearSuspect(): void {
    if (this.suspectSinceMs > 0) this.clearCount++;
    this.suspectSinceMs = 0;
    clearInterval(this.prober);
    this.prober = undefined;
  }

  /** Fails at once while the node is suspect (probes excepted), as a suspect drive does. */
  checkUsable(action: string, signal: AbortSignal | undefined): void {
    if (signal?.aborted) throw abortError(signal, action);
    if (this.suspect) throw new StoreError('ERR_SHARD_MISSING', `${action}: node "${this.nodeId}" is suspect: a call did not answer in time`);
  }

  /**
   * A probe call (`GET path`): runs even while the node is suspect, and an answer in time clears it.
   * While the node is suspect and another probe of it still waits, fails at once instead, as DriveIo
   * does for a drive: health checks (the block store looks at every target every few seconds, inside
   * writes) must not each wait out a call bound on a hung node. A `recheck` runs anyway.
   *
   * A probe of a suspect node goes on a new connection of its own, closed after it: the pool may hold
   * idle connections opened during a partition (undici reconnects at once when a timed-out call's socket
   * is destroyed), which a cut kept dead after the network healed. A probe sent on one would wait out its
   * bound while the node answers again, and a heal would give the node's shards up.
   */
  async probe<T>(path: string, bounds: ProbeBounds): Promise<T> {
    if (bounds.signal?.aborted) throw abortError(bounds.signal, bounds.action);
    if (this.suspect && this.probesInFlight > 0 && bounds.recheck !== true) {
      throw new StoreError('ERR_SHARD_MISSING', `${bounds.action}: node "${this.nodeId}" is suspect and an earlier probe of it is still waiting`);
    }
    const own = this.suspect ? new Client(this.url.origin, this.connectionOptions()) : undefined;
    this.probesInFlight++;
    try {
      const answer = await this.json<T>('GET', path, { action: bounds.action, signal: bounds.signal, ...(bounds.timeoutMs ? { timeoutMs: bounds.timeoutMs } : {}) }, own);
      this.clearSuspect();
      return answer;
    } finally {
      this.probesInFlight--;
      void own?.destroy().catch(() => undefined);
    }
  }

  /** The drive ids the node serves. */
  async drives(bounds: Omit<CallBounds, 'action'> = {}): Promise<string[]> {
    const answer = await this.json<{ drives: string[] }>('GET', `${rpcPathPrefix}/node`, { ...bounds, action: `Cannot list the drives of node "${this.nodeId}"` });
    return answer.drives;
  }

  /** The signed headers of a request (streaming: a shard write, whose framed body carries its own CRC). */
  signedHeaders(method: string, path: string, streaming: boolean): Record<string, string> {
    const headers: Record<string, string> = {
      [rpcHeaders.node]: this.nodeId,
      [rpcHeaders.date]: String(this.nowMs()),
      [rpcHeaders.nonce]: randomBytes(16).toString('hex'),
      [rpcHeaders.bodySha256]: streaming ? streamingBody : emptyBodySha256,
    };
    headers[rpcHeaders.authorization] = signRequest(this.secret, {
      method,
      url: path,
      node: this.nodeId,
      dateMs: headers[rpcHeaders.date]!,
      nonce: headers[rpcHeaders.nonce]!,
      bodySha256: headers[rpcHeaders.bodySha256]!,
    });
    return headers;
  }

  /**
   * Sends a signed request and returns its exchange, not yet bounded (the caller arms it). `body` is the
   * framed shard stream of a write; undici sends it chunked as the writer feeds it.
   */
  exchange(method: 'GET' | 'PUT' | 'DELETE', path: string, bounds: Omit<ExchangeBounds, 'idleTimeoutMs'>, body?: AsyncIterable<Buffer>, via: Dispatcher = this.pool): RpcExchange {
    const exchange = new RpcExchange(this, { ...bounds, idleTimeoutMs: this.idleTimeoutMs });
    if (exchange.failed) return exchange; // the signal had aborted already
    const options: Dispatcher.DispatchOptions = { method, path, headers: this.signedHeaders(method, path, body !== undefined) };
    // undici sends any async iterable as a chunked body; its types list only streams.
    if (body) options.body = body as unknown as Dispatcher.DispatchOptions['body'];
    via.dispatch(options, exchange);
    return exchange;
  }

  /** Sends a signed framed read (`path` asks for shard bytes [start, end) with framed=1) and returns its stream. */
  streamRange(path: string, start: number, end: number): RangeStream {
    const stream = new RangeStream(this, start, end, { callTimeoutMs: this.callTimeoutMs, idleTimeoutMs: this.idleTimeoutMs });
    this.pool.dispatch({ method: 'GET', path, headers: this.signedHeaders('GET', path, false) }, stream);
    return stream;
  }

  /**
   * A bodiless call, bounded by the call timeout to its response headers and the idle bound within its
   * body. One that failed on a keep-alive socket the node had just closed, before any answer, is sent
   * once more: that race is not a node failure, and these calls are all idempotent. `via`: a connection
   * of the caller's instead of the pool.
   */
  async call(method: 'GET' | 'DELETE', path: string, bounds: CallBounds & { bytesMax: number }, via?: Dispatcher): Promise<Answer> {
    for (let attempt = 0; ; attempt++) {
      const exchange = this.exchange(method, path, bounds, undefined, via);
      exchange.arm(bounds.timeoutMs ?? this.callTimeoutMs, 'did not answer');
      try {
        return await exchange.answer;
      } catch (err) {
        const cause = isStoreError(err, 'ERR_SHARD_MISSING') ? (err.cause as { code?: string } | undefined) : undefined;
        if (attempt === 0 && !exchange.responded && staleSocketCodes.has(cause?.code ?? '')) continue;
        throw err;
      }
    }
  }

  /** A JSON call: 200 gives the parsed body, anything else the StoreError the node named. */
  async json<T>(method: 'GET' | 'DELETE', path: string, bounds: CallBounds, via?: Dispatcher): Promise<T> {
    const answer = await this.call(method, path, { ...bounds, bytesMax: jsonBytesMax }, via);
    const body = bodyOf(answer);
    if (answer.status !== 200) throw errorOfResponse(body, bounds.action);
    return JSON.parse(body.toString('utf8')) as T;
  }

  close(): void {
    this.closed = true;
    this.clearSuspect();
    void this.pool.destroy().catch(() => undefined);
  }

  /**
   * Probes every interval, beside the probes still waiting (a few, each bounded): one sent before the
   * network healed waits out its whole bound, and the node must not stay suspect that long after it
   * answers again. An answer in time clears the suspicion (and stops the probing).
   */
  private async probeInBackground(): Promise<void> {
    const waitingMax = Math.min(backgroundProbesMax, Math.ceil(this.callTimeoutMs / this.probeIntervalMs) + 1);
    if (this.probesInFlight >= waitingMax || !this.suspect) return;
    await this.probe(`${rpcPathPrefix}/node`, { action: `Cannot probe node "${this.nodeId}"`, recheck: true }).catch(() => undefined); // still down or hung: the next tick tries again
  }
}

/** The body of an answer as one buffer. */
export function bodyOf(answer: Answer): Buffer {
  return answer.chunks.length === 1 ? answer.chunks[0]! : Buffer.concat(answer.chunks, answer.bytes);
}

/** The StoreError of a non-200 answer; an unreadable body still names the status. */
export function errorOfResponse(body: Buffer, action: string): StoreError {
  let parsed: Partial<RpcErrorBody> | undefined;
  try {
    parsed = JSON.parse(body.toString('utf8')) as Partial<RpcErrorBody>;
  } catch {
    parsed = undefined;
  }
  if (typeof parsed?.code !== 'string' || typeof parsed.message !== 'string') {
    return new StoreError('ERR_SHARD_MISSING', `${action}: the node answered without an error body`);
  }
  return errorFromBody(parsed as RpcErrorBody, action);
}
