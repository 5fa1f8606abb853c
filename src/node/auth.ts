// Authentication of node RPC requests: the HMAC signature over the cluster secret, the timestamp window
// and the nonce cache that refuses a replay within it. It never logs or echoes the secret or a signature.
import type { IncomingHttpHeaders } from 'node:http';
import { rpcClockSkewMaxMs, rpcHeaders, signatureMatches, streamingBody, emptyBodySha256, type SignedRequest } from '../blocks/rpc-protocol.js';

/** A request the node refuses to serve; `code` goes on the wire, the message must not carry secrets. */
export class RpcRefusal extends Error {
  override name = 'RpcRefusal';
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/**
 * Nonces seen within the clock window. A nonce is kept until its request's timestamp leaves the window,
 * after which the timestamp check refuses a replay by itself. Bounded: when full of live nonces it
 * refuses new requests (503) rather than forget one, which would let a replay through.
 */
export class NonceCache {
  private readonly seen = new Map<string, number>();

  constructor(private readonly entriesMax: number) {}

  get size(): number {
    return this.seen.size;
  }

  /** Records `nonce` (signed at `dateMs`); false when it was seen already. */
  admit(nonce: string, dateMs: number, nowMs: number): boolean {
    if (this.seen.has(nonce)) return false;
    this.pruneOldest(nowMs);
    if (this.seen.size >= this.entriesMax) this.sweep(nowMs);
    if (this.seen.size >= this.entriesMax) throw new RpcRefusal(503, 'ERR_RPC_BUSY', 'Too many requests within the replay window');
    this.seen.set(nonce, dateMs + rpcClockSkewMaxMs);
    return true;
  }

  /**
   * Drops expired nonces from the oldest end, stopping at the first live one: amortised O(1) per request,
   * so the cache holds about the window's requests rather than growing to its bound. Arrival order is
   * only close to date order (clocks differ within the window), so sweep() catches the stragglers.
   */
  private pruneOldest(nowMs: number): void {
    for (const [nonce, expiresMs] of this.seen) {
      if (expiresMs >= nowMs) return;
      this.seen.delete(nonce);
    }
  }

  /** Drops every nonce whose request has left the window. */
  sweep(nowMs: number): void {
    for (const [nonce, expiresMs] of this.seen) {
      if (expiresMs < nowMs) this.seen.delete(nonce);
    }
  }
}

const noncePattern = /^[0-9a-f]{32}$/;
const datePattern = /^\d{1,16}$/;

function header(headers: IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name];
  return typeof value === 'string' ? value : undefined;
}

/**
 * Checks a request's signature, node id, timestamp and nonce, in that order: the nonce is recorded only
 * for a request that is authentic, so a forger cannot fill the cache. Returns the body hash it declared.
 */
export function authenticate(
  request: { method: string; url: string; headers: IncomingHttpHeaders },
  context: { secret: Buffer; nodeId: string; nonces: NonceCache; nowMs: number },
): string {
  const h = request.headers;
  const signed: SignedRequest = {
    method: request.method,
    url: request.url,
    node: header(h, rpcHeaders.node) ?? '',
    dateMs: header(h, rpcHeaders.date) ?? '',
    nonce: header(h, rpcHeaders.nonce) ?? '',
    bodySha256: header(h, rpcHeaders.bodySha256) ?? '',
  };
  const authorization = header(h, rpcHeaders.authorization);
  if (!authorization || !datePattern.test(signed.dateMs) || !noncePattern.test(signed.nonce)) {
    throw new RpcRefusal(401, 'ERR_RPC_AUTH', 'Missing or malformed RPC authentication headers');
  }
  if (signed.bodySha256 !== streamingBody && signed.bodySha256 !== emptyBodySha256) {
    throw new RpcRefusal(400, 'ERR_RPC_BAD_REQUEST', `Cannot accept body hash "${signed.bodySha256}": requests carry no body but a shard write`);
  }
  if (!signatureMatches(context.secret, signed, authorization)) {
    throw new RpcRefusal(403, 'ERR_RPC_AUTH', 'Signature does not match: wrong cluster secret or altered request');
  }
  if (signed.node !== context.nodeId) {
    throw new RpcRefusal(403, 'ERR_RPC_AUTH', `Request was signed for node "${signed.node}", not "${context.nodeId}"`);
  }
  const skewMs = Math.abs(context.nowMs - Number(signed.dateMs));
  if (skewMs > rpcClockSkewMaxMs) {
    throw new RpcRefusal(403, 'ERR_RPC_AUTH', `Request time is ${Math.round(skewMs / 1000)} s away from the node's clock (at most ${rpcClockSkewMaxMs / 1000} s)`);
  }
  if (!context.nonces.admit(signed.nonce, Number(signed.dateMs), context.nowMs)) {
    throw new RpcRefusal(403, 'ERR_RPC_AUTH', 'Request was replayed: its nonce was seen already');
  }
  return signed.bodySha256;
}
