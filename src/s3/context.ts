// The per-request context handlers receive, and the helpers they answer with.
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import type { ObjectContext } from '../objects/context.js';
import type { RequestAuth } from './authenticate.js';
import type { Identity } from '../iam/types.js';
import { S3Error } from './errors.js';
import type { Query } from './query.js';
import { xmlDocument, type XmlNode } from './xml.js';
import { xmlBodyBytesMax } from '../constants.js';
import { decodePayload, type PayloadStream } from './sigv4/chunked.js';
import type { ByteMeter } from '../util/rate-limiter.js';
import { pacedStream } from '../util/paced-stream.js';
import { IterableSource } from '../util/chunk-source.js';
import type { TrustedProxies } from './client-address.js';

export interface S3Config {
  region: string;
  /** Host names under which bucket.host virtual-hosted-style requests are served. */
  baseDomains: string[];
  /** The secret of an active access key; undefined for an unknown, inactive or deleted one. */
  secretFor(accessKeyId: string): string | undefined;
  /** Who an access key signs as, asked once its signature is verified; undefined when secretFor has no secret for it. */
  identityFor(accessKeyId: string): Identity | undefined;
  nowMs(): number;
  /** Whether SigV2 (header and presigned) is accepted: `--sigv2 on|off`. */
  sigv2: boolean;
  /** Proxies whose X-Forwarded-For names the client (`--trusted-proxies`); unset: the socket's peer is the client. */
  trustedProxies?: TrustedProxies;
}

export interface RequestContext {
  req: IncomingMessage;
  res: ServerResponse;
  requestId: string;
  objects: ObjectContext;
  config: S3Config;
  bucket?: string;
  key?: string;
  query: Query;
  /** Who signed the request; null for an anonymous one (served only where a policy or ACL allows it). */
  auth: RequestAuth | null;
  /** Who the request acts as: the signer's identity, or anonymous for an unsigned request (src/s3/authorize.ts decides what it may do). */
  identity: Identity;
  /** Aborted when the client goes away; runs down to the shard I/O. */
  signal: AbortSignal;
  /** The resource named in error bodies: "/bucket/key". */
  resource: string;
  /** The byte rate limits the request was admitted under, if any: its body is read no faster than they allow. */
  meter?: ByteMeter | undefined;
}

/** What HandlerContext is made from: the request, where it points, and who sent it. */
export interface HandlerContextParts {
  req: IncomingMessage;
  res: ServerResponse;
  requestId: string;
  resource: string;
  objects: ObjectContext;
  config: S3Config;
  address: { bucket?: string; key?: string };
  query: Query;
  auth: RequestAuth | null;
  identity: Identity;
  meter: ByteMeter | undefined;
}

/**
 * The RequestContext the S3 listener hands its handlers. A class rather than an object literal: a literal
 * with a getter (the lazy signal) is built on V8's slow path (its closing line alone was 1.6% of a small
 * GET's main thread in a profile) and may leave the object in dictionary mode for every read a handler makes.
 */
export class HandlerContext implements RequestContext {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly requestId: string;
  readonly resource: string;
  readonly objects: ObjectContext;
  readonly config: S3Config;
  readonly bucket: string | undefined;
  readonly key: string | undefined;
  readonly query: Query;
  readonly auth: RequestAuth | null;
  readonly identity: Identity;
  readonly meter: ByteMeter | undefined;
  #signal: AbortSignal | undefined;

  constructor(parts: HandlerContextParts) {
    this.req = parts.req;
    this.res = parts.res;
    this.requestId = parts.requestId;
    this.resource = parts.resource;
    this.objects = parts.objects;
    this.config = parts.config;
    this.bucket = parts.address.bucket;
    this.key = parts.address.key;
    this.query = parts.query;
    this.auth = parts.auth;
    this.identity = parts.identity;
    this.meter = parts.meter;
  }

  get signal(): AbortSignal {
    this.#signal ??= abortSignalOf(this.res);
    return this.#signal;
  }
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

/** What a handler answers through. */
export type Answering = Pick<RequestContext, 'res' | 'requestId'>;

export function header(c: Pick<RequestContext, 'req'>, name: string): string | undefined {
  const value = c.req.headers[name];
  return Array.isArray(value) ? value.join(',') : value;
}

export function requireBucket(c: RequestContext): string {
  if (c.bucket === undefined) throw new S3Error('InvalidRequest', 'A bucket is required');
  return c.bucket;
}

export function requireKey(c: RequestContext): string {
  if (c.key === undefined) throw new S3Error('InvalidRequest', 'A key is required');
  return c.key;
}

/**
 * The request body as decoded payload bytes (aws-chunked framing, signatures and checksums verified).
 * `headers` replaces the request's headers where a header means something else for this operation.
 */
export function payload(c: RequestContext, headers: IncomingHttpHeaders = c.req.headers): PayloadStream {
  return pacedPayload(c, decodePayload(c.req, c.auth, headers));
}

/** `decoded` read no faster than the byte rate limits the request was admitted under allow, if any. */
export function pacedPayload(c: Pick<RequestContext, 'meter' | 'signal'>, decoded: PayloadStream): PayloadStream {
  if (!c.meter) return decoded;
  const meter = c.meter;
  const paced: PayloadStream = new IterableSource(pacedStream(decoded, (bytes) => meter.take(bytes), c.signal));
  if (decoded.checksum) paced.checksum = decoded.checksum;
  if (decoded.deferPayloadCheck) paced.deferPayloadCheck = decoded.deferPayloadCheck;
  return paced;
}

/** Reads a small request body (an XML document) whole, refusing more than the cap. */
export async function readSmallBody(c: RequestContext, maxBytes = xmlBodyBytesMax, headers: IncomingHttpHeaders = c.req.headers): Promise<Buffer> {
  const length = Number(header(c, 'content-length') ?? '0');
  if (length > maxBytes) throw new S3Error('MaxMessageLengthExceeded');
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of payload(c, headers)) {
    total += chunk.length;
    if (total > maxBytes) throw new S3Error('MaxMessageLengthExceeded');
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

/**
 * Adds the headers every S3 answer carries to `headers` (a fresh object the caller owns) and returns it.
 * Passing them with the rest to writeHead(), rather than setHeader() ahead of it, keeps Node on its
 * fast path, where the headers are checked and serialised once.
 */
export function withRequestId(requestId: string, headers: Record<string, string>): Record<string, string> {
  headers['x-amz-request-id'] = requestId;
  headers['x-amz-id-2'] = requestId;
  headers.server = 'Tessera';
  return headers;
}

export function sendXml(c: Answering, root: string, children: XmlNode, headers: Record<string, string> = {}, status = 200): void {
  const body = Buffer.from(xmlDocument(root, children), 'utf8');
  c.res.writeHead(status, withRequestId(c.requestId, { ...headers, 'content-type': 'application/xml', 'content-length': String(body.length) }));
  c.res.end(body);
}

export function sendEmpty(c: Answering, status: number, headers: Record<string, string> = {}): void {
  c.res.writeHead(status, withRequestId(c.requestId, { ...headers, 'content-length': '0' }));
  c.res.end();
}
