// The storage node role: an HTTP/1.1 server that serves the ShardStore calls of this node's local drives
// to gateways (src/blocks/remote-shard-store.ts). It owns the listener, its limits, authentication and
// routing; the operations themselves are in shard-handlers.ts. It knows nothing of objects or layouts.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createTlsServer, Server as TlsServer } from 'node:https';
import type { Socket } from 'node:net';
import { LocalDrive } from '../blocks/drive.js';
import type { DriveIoOptions } from '../blocks/drive-io.js';
import { isBlockId, isShardIndex } from '../blocks/ids.js';
import { shardReadSummary } from '../blocks/native-shard-read.js';
import { bodyOfError, clusterSecretBytesMin, rpcHeaderBytesMax, rpcIdleTimeoutMs, rpcPathPrefix, statusOfCode, streamingBody } from '../blocks/rpc-protocol.js';
import { driveOpsInFlightMax, driveOpTimeoutMs } from '../constants.js';
import { assert } from '../util/assert.js';
import { isStoreError } from '../util/errors.js';
import { createLogger, type Logger } from '../util/log.js';
import { authenticate, NonceCache, RpcRefusal } from './auth.js';
import { NodeReaders } from './node-readers.js';
import { readTlsFiles, reloadOnSighup, type TlsFiles } from '../util/tls.js';
import { handleShardCall, type ShardCall } from './shard-handlers.js';
import { tuneHeapGrowth } from '../util/heap-growth.js';

/** Requests one connection may have in flight: HTTP/1.1 pipelining must not queue unbounded work. */
export const nodeRequestsPerConnectionMax = 4;
/** Requests the node serves at once, over all connections; more get 503 ERR_RPC_BUSY. */
export const nodeRequestsInFlightMax = 512;
/** Nonces remembered within the replay window (about 1,700 requests a second over 5 minutes). */
export const nodeNoncesMax = 500_000;
/** A request's header block must arrive within this. */
const headersTimeoutMs = 10_000;
/** An idle keep-alive connection is closed after this; clients learn it from the Keep-Alive header. */
const keepAliveTimeoutMs = 30_000;

export interface NodeServerOptions {
  /** host:port to listen on; port 0 picks a free one. */
  address: string;
  nodeId: string;
  /** The cluster secret every request is signed with; never logged. */
  secret: Buffer;
  drives: LocalDrive[];
  log?: Logger;
  /** Test hook: the node's clock. */
  nowMs?: () => number;
  /** Serve the RPC over TLS with these files (re-read on SIGHUP); gateways then need the CA (`--node-ca`). */
  tls?: TlsFiles;
}

export interface RunningNode {
  url: string;
  nodeId: string;
  drives: { id: string; path: string }[];
  close(): Promise<void>;
}

/** Opens (creating when new) the drives at `paths`, then serves them. */
export async function startNode(options: Omit<NodeServerOptions, 'drives'> & { drivePaths: string[]; driveTimeoutMs?: number }): Promise<RunningNode> {
  tuneHeapGrowth();
  const io: DriveIoOptions = { timeoutMs: options.driveTimeoutMs ?? driveOpTimeoutMs, inFlightMax: driveOpsInFlightMax };
  const drives: LocalDrive[] = [];
  for (const path of options.drivePaths) drives.push(await LocalDrive.open(path, { create: true, io }));
  const node = await startNodeServer({ ...options, drives });
  return {
    ...node,
    close: async () => {
      await node.close();
      await Promise.all(drives.map((d) => d.close()));
    },
  };
}

export async function startNodeServer(options: NodeServerOptions): Promise<RunningNode> {
  if (options.secret.length < clusterSecretBytesMin) throw new RangeError(`Cannot use a cluster secret of ${options.secret.length} bytes: at least ${clusterSecretBytesMin} are needed`);
  if (!/^[A-Za-z0-9._-]{1,64}$/.test(options.nodeId)) throw new RangeError(`Cannot use node id "${options.nodeId}": expected 1-64 letters, digits, ".", "_" or "-"`);
  const { host, port } = splitAddress(options.address);
  const log = options.log ?? createLogger();
  const drives = new Map(options.drives.map((d) => [d.id, d]));
  const context = { secret: options.secret, nodeId: options.nodeId, nonces: new NonceCache(nodeNoncesMax), nowMs: options.nowMs ?? Date.now };
  const perSocket = new WeakMap<Socket, number>();
  const readers = new NodeReaders();
  let inFlight = 0;

  const serverOptions = { maxHeaderSize: rpcHeaderBytesMax, requestTimeout: 0, headersTimeout: headersTimeoutMs, keepAliveTimeout: keepAliveTimeoutMs };
  const server: Server = options.tls ? createTlsServer({ ...serverOptions, ...readTlsFiles(options.tls) }) : createServer(serverOptions);
  const serve = (req: IncomingMessage, res: ServerResponse, expectsContinue: boolean) => {
    const socket = req.socket;
    const onSocket = perSocket.get(socket) ?? 0;
    if (onSocket >= nodeRequestsPerConnectionMax || inFlight >= nodeRequestsInFlightMax) {
      sendError(res, new RpcRefusal(503, 'ERR_RPC_BUSY', 'Too many requests in flight'), true);
      return;
    }
    perSocket.set(socket, onSocket + 1);
    inFlight++;
    res.once('close', () => {
      perSocket.set(socket, (perSocket.get(socket) ?? 1) - 1);
      inFlight--;
    });
    void dispatch(req, res, expectsContinue).catch((err: unknown) => {
      if (!(err instanceof RpcRefusal) && !isStoreError(err)) log.error('Node RPC request failed', { method: req.method, path: req.url?.split('?')[0], error: err });
      sendError(res, err, req.method === 'PUT');
    });
  };

  const dispatch = async (req: IncomingMessage, res: ServerResponse, expectsContinue: boolean) => {
    const method = req.method ?? '';
    const url = req.url ?? '';
    const bodyHash = authenticate({ method, url, headers: req.headers }, { ...context, nowMs: context.nowMs() });
    const hasBody = req.headers['transfer-encoding'] !== undefined || Number(req.headers['content-length'] ?? 0) > 0;
    if (method !== 'PUT' && hasBody) throw new RpcRefusal(400, 'ERR_RPC_BAD_REQUEST', `A ${method} request carries no body`);
    if (method === 'PUT' && bodyHash !== streamingBody) {
      throw new RpcRefusal(400, 'ERR_RPC_BAD_REQUEST', 'A shard write must declare a streaming body (its CRC comes in its end frame)');
    }
    const parsed = new URL(url, 'http://node');
    const call = route(method, parsed, drives, options.nodeId);
    const controller = new AbortController();
    res.once('close', () => {
      if (!res.writableFinished) controller.abort(new Error('The client went away'));
    });
    await handleShardCall(call, { req, res, expectsContinue, signal: controller.signal, nodeId: options.nodeId, driveIds: [...drives.keys()], readers });
  };

  server.on('request', (req, res) => serve(req, res, false));
  server.on('checkContinue', (req, res) => serve(req, res, true));
  server.on('clientError', answerClientError);
  // A connection idle in the middle of a request (a stalled body or reader) is dropped; shard writes raise it.
  server.timeout = rpcIdleTimeoutMs;
  const url = await listen(server, host, port, options.tls ? 'https' : 'http');
  const stopReloading = options.tls && server instanceof TlsServer ? reloadOnSighup(server, options.tls, log) : undefined;
  log.info('Node RPC listening', { url, nodeId: options.nodeId, drives: options.drives.length, shardReads: shardReadSummary() });
  return {
    url,
    nodeId: options.nodeId,
    drives: options.drives.map((d) => ({ id: d.id, path: d.root })),
    close: async () => {
      stopReloading?.();
      await closeServer(server);
      readers.close();
    },
  };
}

/** Parses the path into a call, refusing anything it does not know with a clear 400/404. */
function route(method: string, url: URL, drives: Map<string, LocalDrive>, nodeId: string): ShardCall {
  if (!url.pathname.startsWith(`${rpcPathPrefix}/`)) throw new RpcRefusal(404, 'ERR_RPC_BAD_REQUEST', `Unknown path "${url.pathname}"`);
  const parts = url.pathname.slice(rpcPathPrefix.length + 1).split('/');
  const bad = (why: string) => new RpcRefusal(400, 'ERR_RPC_BAD_REQUEST', why);
  if (parts.length === 1 && parts[0] === 'node' && method === 'GET') return { op: 'node' };
  const drive = drives.get(parts[0] ?? '');
  if (!drive) throw new RpcRefusal(404, 'ERR_SHARD_MISSING', `Node "${nodeId}" has no drive "${parts[0] ?? ''}"`);
  const kind = parts[1];
  const prefix = (s: string | undefined) => {
    if (s === undefined || !/^[0-9a-f]{2}$/.test(s)) throw bad(`Cannot use prefix "${s ?? ''}": expected two hex digits`);
    return s;
  };
  const block = (s: string | undefined) => {
    if (!isBlockId(s)) throw bad(`Cannot use block id "${s ?? ''}"`);
    return s;
  };
  if (kind === 'probe' && parts.length === 2 && method === 'GET') return { op: 'probe', drive };
  if (kind === 'prefixes' && method === 'GET') {
    if (parts.length === 2) return { op: 'listPrefixes', drive, first: undefined };
    if (parts.length === 3) return { op: 'listPrefixes', drive, first: prefix(parts[2]) };
    if (parts.length === 4) return { op: 'listShards', drive, first: prefix(parts[2]), second: prefix(parts[3]) };
  }
  if (kind === 'blocks' && parts.length === 3 && method === 'DELETE') return { op: 'deleteBlock', drive, blockId: block(parts[2]) };
  if (kind === 'shards' && (parts.length === 4 || parts.length === 5)) {
    const shardIndex = Number(parts[3]);
    if (!/^\d{1,2}$/.test(parts[3] ?? '') || !isShardIndex(shardIndex)) throw bad(`Cannot use shard index "${parts[3] ?? ''}"`);
    const shard = { blockId: block(parts[2]), shardIndex };
    if (parts.length === 5 && parts[4] === 'stat' && method === 'GET') return { op: 'stat', drive, shard };
    if (parts.length === 4 && method === 'DELETE') return { op: 'deleteShard', drive, shard };
    if (parts.length === 4 && method === 'PUT') {
      return { op: 'write', drive, shard, blockBytes: intParam(url, 'block-bytes', 1, 64 * 1024 * 1024), fresh: url.searchParams.get('fresh') === '1' };
    }
    if (parts.length === 4 && method === 'GET') {
      const shardBytes = intParam(url, 'shard-bytes', 0, Number.MAX_SAFE_INTEGER);
      const start = intParam(url, 'start', 0, shardBytes);
      const end = intParam(url, 'end', start, shardBytes);
      return { op: 'read', drive, shard, shardBytes, start, end, framed: url.searchParams.get('framed') === '1' };
    }
  }
  throw new RpcRefusal(405, 'ERR_RPC_BAD_REQUEST', `Cannot ${method} "${url.pathname}"`);
}

function intParam(url: URL, name: string, min: number, max: number): number {
  const text = url.searchParams.get(name) ?? '';
  const value = Number(text);
  if (!/^\d{1,16}$/.test(text) || value < min || value > max) {
    throw new RpcRefusal(400, 'ERR_RPC_BAD_REQUEST', `Cannot use ${name} "${text}": expected an integer from ${min} to ${max}`);
  }
  return value;
}

/** Sends an error body, or cuts the connection when the status line has gone out already (a truncated body is the signal). */
function sendError(res: ServerResponse, err: unknown, closeConnection: boolean): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const refusal = err instanceof RpcRefusal ? err : undefined;
  const status = refusal ? refusal.status : isStoreError(err) ? statusOfCode(err.code) : err instanceof RangeError || err instanceof TypeError ? 400 : 500;
  const body = refusal ? { code: refusal.code, message: refusal.message } : status === 500 ? { code: 'ERR_RPC_INTERNAL', message: 'Internal error' } : bodyOfError(err);
  const text = JSON.stringify(body);
  // An unread shard body must not be parsed as the next request, nor drained for gigabytes: close.
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...(closeConnection ? { connection: 'close' } : {}) });
  res.end(text);
}

/** Malformed HTTP or oversize headers: answer if the socket still can, never crash. */
function answerClientError(err: NodeJS.ErrnoException, socket: Socket): void {
  const status = err.code === 'HPE_HEADER_OVERFLOW' ? 431 : err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : 400;
  if (socket.writable) socket.end(`HTTP/1.1 ${status} Bad Request\r\nconnection: close\r\ncontent-length: 0\r\n\r\n`);
  else socket.destroy();
}

async function listen(server: Server, host: string, port: number, scheme: 'http' | 'https'): Promise<string> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const bound = server.address();
  assert(typeof bound === 'object' && bound !== null, 'A listening server has an address');
  return `${scheme}://${host.includes(':') ? `[${host}]` : host}:${bound.port}`;
}

function splitAddress(address: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d{1,5})$/.exec(address);
  const port = Number(m?.[3]);
  if (!m || port > 65535) throw new RangeError(`Cannot listen on "${address}": expected HOST:PORT`);
  return { host: (m[1] ?? m[2]) as string, port };
}

function closeServer(server: Server): Promise<void> {
  return new Promise<void>((resolve) => {
    server.close(() => resolve());
    server.closeIdleConnections();
    // Requests in flight (a stalled write) would hold close() open for their idle timeout: a node stopping drops them.
    setTimeout(() => server.closeAllConnections(), 1000).unref();
  });
}
