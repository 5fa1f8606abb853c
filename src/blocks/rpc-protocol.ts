// The node RPC wire protocol, shared by the client (remote-shard-store.ts) and the server (src/node/):
// paths, headers, limits, the HMAC request signature and the error body. No I/O happens here.
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { putObjectBytesMax } from '../constants.js';
import { isStoreError, StoreError, type StoreErrorCode } from '../util/errors.js';

/** Every path starts with this; a new incompatible protocol gets a new prefix. */
export const rpcPathPrefix = '/rpc/v1';

export const rpcHeaders = {
  /** The node id the client means to reach: a request signed for one node is refused by every other. */
  node: 'x-tessera-node',
  /** Unix time in ms when the request was signed. */
  date: 'x-tessera-date',
  /** 16 random bytes (hex), unique per request: the server refuses one it has seen within the window. */
  nonce: 'x-tessera-nonce',
  /** SHA-256 (hex) of the request body, or `streamingBody` for a shard write (checked by its end frame's CRC). */
  bodySha256: 'x-tessera-content-sha256',
  /** `TESSERA-HMAC-SHA256 <hex>`. */
  authorization: 'authorization',
  /** Trailers of a shard read: the CRC-32 (hex) of the bytes sent, or the code of an error met mid-stream. */
  rangeCrc32: 'x-tessera-range-crc32',
  rangeError: 'x-tessera-range-error',
} as const;

export const authScheme = 'TESSERA-HMAC-SHA256';
export const streamingBody = 'STREAMING-SHARD';
export const emptyBodySha256 = createHash('sha256').update('').digest('hex');

/** A request signed longer ago (or further ahead) than this is refused: it bounds how long nonces are kept. */
export const rpcClockSkewMaxMs = 5 * 60 * 1000;
/** A cluster secret shorter than this is refused: HMAC is only as strong as its key. */
export const clusterSecretBytesMin = 16;
/** A shard write carrying more is refused as it arrives: no block is larger than one PUT or part (a replica holds it all). */
export const rpcShardBytesMax = putObjectBytesMax;
/** Bytes of a request's header block the node accepts. */
export const rpcHeaderBytesMax = 16 * 1024;
/** Shard data per read segment on the node: bounds its memory per read; the first is read before the status is sent. */
export const rpcReadSegmentBytes = 1024 * 1024;
/**
 * The segment (and read frame) of a framed read: one stripe's chunk at 4+2, so the client can hand out
 * the first stripe after 256 KiB per shard rather than after a whole 1 MiB frame.
 */
export const rpcFramedSegmentBytes = 256 * 1024;
/**
 * Client bounds of a call to a node (RemoteNode's defaults; `--node-timeout` on the roles that reach
 * nodes sets the call bound). A loopback or LAN node answers in milliseconds, so these are short: a hung
 * node must cost a GET one bound, not half a minute. The call bound sits above the node's own drive
 * bound (driveOpTimeoutMs, 5 s), so a hung drive is reported by its node as that drive's timeout rather
 * than mistaken for a hung node.
 */
export const rpcConnectTimeoutMs = 2000;
/** From sending a call (queueing for a connection included) to its response headers; also the longest gap within a streamed body. */
export const rpcCallTimeoutMs = 6000;
/** A suspect node is probed this often in the background until it answers in time. */
export const rpcProbeIntervalMs = 1000;
/** The node drops a connection idle this long in the middle of a request (a stalled read or body). */
export const rpcIdleTimeoutMs = 60_000;
/**
 * A shard write may idle this long between appends: a slow S3 client feeds the block writer slowly, and
 * the node must not mistake that for a dead gateway. Past it the node drops the tmp file.
 */
export const rpcWriteIdleTimeoutMs = 120_000;

/**
 * A shard write's body is a sequence of frames, each a type byte and a u32 (big-endian) payload length:
 * data frames carry shard bytes, and the body closes with one end frame (CRC-32 and length of the shard
 * bytes sent) or one abort frame. Frames rather than HTTP trailers because undici cannot send request
 * trailers; a body that stops without its closing frame is never committed.
 */
export const frameTypes = { data: 0x44, end: 0x45, abort: 0x41 } as const;
export const frameHeaderBytes = 5;
/** End frame payload: CRC-32 (u32) and the shard's length (u48). */
export const endFramePayloadBytes = 10;

/** A data frame holding a copy of `data`: one buffer, one socket write, and the caller may reuse `data` at once. */
export function dataFrame(data: Buffer): Buffer {
  const frame = Buffer.allocUnsafe(frameHeaderBytes + data.length);
  frame[0] = frameTypes.data;
  frame.writeUInt32BE(data.length, 1);
  data.copy(frame, frameHeaderBytes);
  return frame;
}

/** The header of a data frame of `bytes`, for a payload sent as its own buffer (no copy). */
export function dataFrameHeader(bytes: number): Buffer {
  const header = Buffer.allocUnsafe(frameHeaderBytes);
  header[0] = frameTypes.data;
  header.writeUInt32BE(bytes, 1);
  return header;
}

export function endFrame(crc: number, bytes: number): Buffer {
  const frame = Buffer.allocUnsafe(frameHeaderBytes + endFramePayloadBytes);
  frame[0] = frameTypes.end;
  frame.writeUInt32BE(endFramePayloadBytes, 1);
  frame.writeUInt32BE(crc >>> 0, 5);
  frame.writeUIntBE(bytes, 9, 6);
  return frame;
}

export function abortFrame(): Buffer {
  const frame = Buffer.alloc(frameHeaderBytes);
  frame[0] = frameTypes.abort;
  return frame;
}

/**
 * A framed shard read (`&framed=1`) answers with read frames: a u32 (big-endian) payload length, the
 * payload's CRC-32 (u32), then the payload, one frame per node read segment. The client checks each
 * frame as it completes, so it can hand out verified bytes of a long range before the range ends.
 */
export const readFrameHeaderBytes = 8;

export function readFrameHeader(bytes: number, crc: number): Buffer {
  const header = Buffer.allocUnsafe(readFrameHeaderBytes);
  header.writeUInt32BE(bytes, 0);
  header.writeUInt32BE(crc >>> 0, 4);
  return header;
}

/** What the signature covers, one field per line. The url is signed as sent (path and query), so nothing is canonicalised. */
export interface SignedRequest {
  method: string;
  url: string;
  node: string;
  dateMs: string;
  nonce: string;
  bodySha256: string;
}

export function stringToSign(r: SignedRequest): string {
  return ['TESSERA-RPC-V1', r.method, r.url, r.node, r.dateMs, r.nonce, r.bodySha256].join('\n');
}

export function signRequest(secret: Buffer, r: SignedRequest): string {
  return `${authScheme} ${createHmac('sha256', secret).update(stringToSign(r)).digest('hex')}`;
}

/** Constant-time comparison of an authorization header with the one `secret` gives; false for any malformed value. */
export function signatureMatches(secret: Buffer, r: SignedRequest, authorization: string): boolean {
  const expected = Buffer.from(signRequest(secret, r));
  const given = Buffer.from(authorization);
  return given.length === expected.length && timingSafeEqual(given, expected);
}

/** Path of one shard of a drive: /rpc/v1/<drive>/shards/<blockId>/<shardIndex>. */
export function shardPath(drive: string, blockId: string, shardIndex: number): string {
  return `${rpcPathPrefix}/${drive}/shards/${blockId}/${shardIndex}`;
}

/** The error body a node sends: the StoreError code, its message, and the errno behind it (ENOSPC matters upstream). */
export interface RpcErrorBody {
  code: string;
  message: string;
  errno?: string;
}

/** HTTP status of a StoreError code on the wire; clients read the code from the body, the status is for humans and proxies. */
export function statusOfCode(code: string): number {
  switch (code) {
    case 'ERR_SHARD_MISSING':
      return 404;
    case 'ERR_SHARD_CORRUPT':
      return 422;
    case 'ERR_TARGET_TIMEOUT':
      return 504;
    case 'ERR_DRIVES_FULL':
      return 507;
    case 'ERR_ABORTED':
      return 499;
    case 'ERR_RPC_AUTH':
      return 403;
    case 'ERR_RPC_BUSY':
      return 503;
    default:
      return 400;
  }
}

/** The errno in an error's cause chain, if any. */
export function errnoOf(err: unknown): string | undefined {
  for (let e = err, depth = 0; e instanceof Error && depth < 8; e = e.cause, depth++) {
    const code = (e as NodeJS.ErrnoException).code;
    if (typeof code === 'string' && /^E[A-Z]+$/.test(code)) return code;
  }
  return undefined;
}

const passedCodes: ReadonlySet<string> = new Set<StoreErrorCode>(['ERR_SHARD_MISSING', 'ERR_SHARD_CORRUPT', 'ERR_TARGET_TIMEOUT', 'ERR_ABORTED']);

/**
 * The StoreError a client raises for a node's error body. The shard codes pass through; anything else
 * (a refused signature, a bad request, a busy node) means this target cannot serve the call: missing.
 * An errno rides along as the cause, so the writer still sees ENOSPC as a full drive.
 */
export function errorFromBody(body: RpcErrorBody, action: string): StoreError {
  const code = passedCodes.has(body.code) ? (body.code as StoreErrorCode) : 'ERR_SHARD_MISSING';
  const cause = body.errno ? Object.assign(new Error(body.message), { code: body.errno }) : undefined;
  return new StoreError(code, `${action}: ${body.message}`, cause ? { cause } : undefined);
}

/** The body a node sends for `err`. */
export function bodyOfError(err: unknown): RpcErrorBody {
  const errno = errnoOf(err);
  const code = isStoreError(err) ? err.code : 'ERR_SHARD_MISSING';
  const message = err instanceof Error ? err.message : String(err);
  return errno ? { code, message, errno } : { code, message };
}
