// One storage node as a client sees it: its address, the keep-alive connections to it, request signing,
// and whether it is suspect. Every call is bounded by a timeout and cancelled by the caller's signal; the
// shard operations over it are in remote-shard-store.ts.
import { randomBytes } from 'node:crypto';
import { Agent, request, type ClientRequest, type IncomingMessage } from 'node:http';
import { StoreError } from '../util/errors.js';
import { clusterSecretBytesMin, emptyBodySha256, errorFromBody, rpcCallTimeoutMs, rpcHeaders, rpcPathPrefix, signRequest, streamingBody, type RpcErrorBody } from './rpc-protocol.js';
import { abortError } from './streams.js';

/** Bytes of a JSON answer the client reads; a listing of one fan-out directory stays far below. */
const jsonBytesMax = 64 * 1024 * 1024;
/** Sockets kept open to one node; requests beyond wait in the agent's queue. */
const socketsPerNodeMax = 64;

export interface RemoteNodeOptions {
  /** http://host:port of the node. */
  url: string;
  nodeId: string;
  secret: Buffer;
  /** A call with no answer after this fails ERR_TARGET_TIMEOUT and makes the node suspect. */
  callTimeoutMs?: number;
  /** Test hook: the client's clock. */
  nowMs?: () => number;
}

/** What a call is bounded by, and what it says when it fails. */
export interface CallBounds {
  action: string;
  signal?: AbortSignal | undefined;
  timeoutMs?: number;
}

export class RemoteNode {
  readonly url: URL;
  readonly nodeId: string;
  readonly callTimeoutMs: number;
  private readonly secret: Buffer;
  private readonly agent = new Agent({ keepAlive: true, maxSockets: socketsPerNodeMax, maxFreeSockets: socketsPerNodeMax });
  private readonly nowMs: () => number;
  private suspectSinceMs = 0;

  constructor(options: RemoteNodeOptions) {
    if (options.secret.length < clusterSecretBytesMin) throw new RangeError(`Cannot use a cluster secret of ${options.secret.length} bytes: at least ${clusterSecretBytesMin} are needed`);
    this.url = new URL(options.url);
    if (this.url.protocol !== 'http:') throw new RangeError(`Cannot reach node at "${options.url}": expected an http:// URL`);
    this.nodeId = options.nodeId;
    this.secret = options.secret;
    this.callTimeoutMs = options.callTimeoutMs ?? rpcCallTimeoutMs;
    this.nowMs = options.nowMs ?? Date.now;
  }

  /** True after a call timed out, until a probe answers in time. */
  get suspect(): boolean {
    return this.suspectSinceMs > 0;
  }

  markSuspect(): void {
    if (this.suspectSinceMs === 0) this.suspectSinceMs = Date.now();
  }

  clearSuspect(): void {
    this.suspectSinceMs = 0;
  }

  /** Fails at once while the node is suspect (probes excepted), as a suspect drive does. */
  checkUsable(action: string, signal: AbortSignal | undefined): void {
    if (signal?.aborted) throw abortError(signal, action);
    if (this.suspect) throw new StoreError('ERR_SHARD_MISSING', `${action}: node "${this.nodeId}" is suspect: a call did not answer within ${this.callTimeoutMs} ms`);
  }

  /** The drive ids the node serves. */
  async drives(bounds: Omit<CallBounds, 'action'> = {}): Promise<string[]> {
    const answer = await this.json<{ drives: string[] }>('GET', `${rpcPathPrefix}/node`, { ...bounds, action: `Cannot list the drives of node "${this.nodeId}"` });
    return answer.drives;
  }

  /** A signed request, not yet sent (streaming: a shard write whose body follows). */
  open(method: string, path: string, streaming: boolean): ClientRequest {
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
    return request({ host: this.url.hostname, port: this.url.port, method, path, headers, agent: this.agent });
  }

  /**
   * Sends a bodiless request and resolves with its response, bounded by the call's timeout and signal.
   * A request on a reused keep-alive socket that the node had just closed is retried once: that race is
   * not a node failure, and these calls are all idempotent.
   */
  async send(method: string, path: string, bounds: CallBounds): Promise<{ res: IncomingMessage; guard: CallGuard }> {
    for (let attempt = 0; ; attempt++) {
      const req = this.open(method, path, false);
      const guard = new CallGuard(this, req, bounds);
      req.end();
      try {
        const res = await guard.wait(new Promise<IncomingMessage>((resolve) => req.once('response', resolve)));
        return { res, guard };
      } catch (err) {
        guard.done();
        const reset = (err as StoreError).cause && ['ECONNRESET', 'EPIPE'].includes(((err as StoreError).cause as NodeJS.ErrnoException).code ?? '');
        if (attempt === 0 && reset && req.reusedSocket) continue;
        throw err;
      }
    }
  }

  /** A JSON call: 200 gives the parsed body, anything else the StoreError the node named. */
  async json<T>(method: string, path: string, bounds: CallBounds): Promise<T> {
    const { res, guard } = await this.send(method, path, bounds);
    try {
      const body = await guard.wait(readBody(res, jsonBytesMax));
      if (res.statusCode !== 200) throw errorOfResponse(body, bounds.action);
      return JSON.parse(body.toString('utf8')) as T;
    } finally {
      guard.done();
    }
  }

  close(): void {
    this.agent.destroy();
  }
}

/**
 * Bounds one request: rejects what it waits on when the timeout passes (and marks the node suspect),
 * when the caller's signal aborts, or when the connection fails; each destroys the request.
 */
export class CallGuard {
  private readonly failed: Promise<never>;
  private fail!: (err: StoreError) => void;
  private timer: NodeJS.Timeout | undefined;
  private readonly timeoutMs: number;
  private finished = false;

  constructor(
    private readonly node: RemoteNode,
    readonly req: ClientRequest,
    private readonly bounds: CallBounds,
  ) {
    this.failed = new Promise<never>((_, reject) => (this.fail = reject));
    this.failed.catch(() => undefined);
    this.timeoutMs = bounds.timeoutMs ?? node.callTimeoutMs;
    this.arm();
    bounds.signal?.addEventListener('abort', this.onAbort, { once: true });
    req.on('error', (err: NodeJS.ErrnoException) => {
      this.abort(new StoreError('ERR_SHARD_MISSING', `${bounds.action}: node "${node.nodeId}" at ${node.url.host} failed: ${err.code ?? err.message}`, { cause: err }));
    });
  }

  private readonly onAbort = () => this.abort(abortError(this.bounds.signal!, this.bounds.action));

  /** Fails the call with `err` (the first failure wins) and cuts the request. */
  abort(err: StoreError): void {
    this.fail(err);
    this.req.destroy();
    this.done();
  }

  /** Races `promise` against the call's failure. */
  wait<T>(promise: Promise<T>): Promise<T> {
    return Promise.race([promise, this.failed]);
  }

  /** (Re)starts the timeout: a long call (a shard write) is bounded per step, not as a whole. */
  arm(): void {
    if (this.finished) return;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.node.markSuspect();
      this.abort(new StoreError('ERR_TARGET_TIMEOUT', `${this.bounds.action}: node "${this.node.nodeId}" did not answer within ${this.timeoutMs} ms`));
    }, this.timeoutMs);
  }

  /** Stops the timeout between steps: a shard write idles while its caller gathers the next stripe. */
  disarm(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** Stops bounding: the call is over. */
  done(): void {
    if (this.finished) return;
    this.finished = true;
    clearTimeout(this.timer);
    this.bounds.signal?.removeEventListener('abort', this.onAbort);
  }
}

/** The whole body of a response, refused beyond `bytesMax`. */
export async function readBody(res: IncomingMessage, bytesMax: number): Promise<Buffer> {
  const chunks = await readChunks(res, bytesMax);
  return chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
}

/** The body of a response as the chunks that arrived (no copy), refused beyond `bytesMax`. */
export async function readChunks(res: IncomingMessage, bytesMax: number): Promise<Buffer[]> {
  const chunks: Buffer[] = [];
  let bytes = 0;
  try {
    for await (const chunk of res as AsyncIterable<Buffer>) {
      bytes += chunk.length;
      if (bytes > bytesMax) {
        res.destroy();
        throw new StoreError('ERR_SHARD_MISSING', `Node answer exceeds ${bytesMax} bytes`);
      }
      chunks.push(chunk);
    }
  } catch (err) {
    if (err instanceof StoreError) throw err;
    throw new StoreError('ERR_SHARD_MISSING', `Node answer was cut off: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, { cause: err });
  }
  if (!res.complete) throw new StoreError('ERR_SHARD_MISSING', 'Node answer was cut off');
  return chunks;
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
