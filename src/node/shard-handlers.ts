// The ShardStore operations a node serves, one function per kind of call, over an authenticated and
// routed request (node-server.ts). A shard write commits only a complete body whose CRC trailer matches.
import { once } from 'node:events';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { crc32 } from '@node-rs/crc32';
import type { LocalDrive } from '../blocks/drive.js';
import { rpcHeaders, rpcIdleTimeoutMs, rpcReadSegmentBytes, rpcShardBytesMax, rpcWriteIdleTimeoutMs } from '../blocks/rpc-protocol.js';
import type { ShardName } from '../blocks/shard-store.js';
import { isStoreError, StoreError } from '../util/errors.js';
import { RpcRefusal } from './auth.js';

export type ShardCall =
  | { op: 'node' }
  | { op: 'probe'; drive: LocalDrive }
  | { op: 'listPrefixes'; drive: LocalDrive; first: string | undefined }
  | { op: 'listShards'; drive: LocalDrive; first: string; second: string }
  | { op: 'deleteBlock'; drive: LocalDrive; blockId: string }
  | { op: 'stat'; drive: LocalDrive; shard: ShardName }
  | { op: 'deleteShard'; drive: LocalDrive; shard: ShardName }
  | { op: 'write'; drive: LocalDrive; shard: ShardName; blockBytes: number }
  | { op: 'read'; drive: LocalDrive; shard: ShardName; shardBytes: number; start: number; end: number };

export interface CallContext {
  req: IncomingMessage;
  res: ServerResponse;
  expectsContinue: boolean;
  signal: AbortSignal;
  nodeId: string;
  driveIds: string[];
}

/** Bytes gathered from the socket before one append: fewer, larger writev calls on the drive. */
const writeBatchBytes = 256 * 1024;

export async function handleShardCall(call: ShardCall, ctx: CallContext): Promise<void> {
  const opts = { signal: ctx.signal };
  switch (call.op) {
    case 'node':
      return sendJson(ctx.res, { nodeId: ctx.nodeId, drives: ctx.driveIds });
    case 'probe':
      return sendJson(ctx.res, await call.drive.probe(opts));
    case 'listPrefixes':
      return sendJson(ctx.res, { prefixes: await call.drive.listPrefixes(call.first, opts) });
    case 'listShards': {
      // The node's paths stay on the node: clients see names, sizes and times.
      const shards = (await call.drive.listShards(call.first, call.second, opts)).map(({ blockId, shardIndex, bytes, mtimeMs, tmp }) => ({ blockId, shardIndex, bytes, mtimeMs, tmp }));
      return sendJson(ctx.res, { shards });
    }
    case 'deleteBlock':
      return sendJson(ctx.res, { deleted: await call.drive.deleteBlock(call.blockId, opts) });
    case 'stat':
      return sendJson(ctx.res, { shard: (await call.drive.statShard(call.shard, opts)) ?? null });
    case 'deleteShard':
      await call.drive.deleteShard(call.shard, opts);
      return sendJson(ctx.res, {});
    case 'write':
      return writeShard(call, ctx);
    case 'read':
      return readShard(call, ctx);
  }
}

function sendJson(res: ServerResponse, value: unknown): void {
  const text = JSON.stringify(value);
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

/**
 * One shard write is one request: the tmp file is created before 100-continue (so the client learns of a
 * missing drive at once), the body streams into it, and the trailers decide. Only a body that ended
 * properly, with a CRC and length that match what arrived, is committed; an abort trailer, a cut
 * connection, an idle timeout or any error drops the tmp file. A crash leaves only the tmp file.
 */
async function writeShard(call: Extract<ShardCall, { op: 'write' }>, ctx: CallContext): Promise<void> {
  const { req, res, signal } = ctx;
  const writer = await call.drive.createShard(call.shard, { blockBytes: call.blockBytes, signal });
  try {
    req.socket.setTimeout(rpcWriteIdleTimeoutMs);
    if (ctx.expectsContinue) res.writeContinue();
    let crc = 0;
    let received = 0;
    let batch: Buffer[] = [];
    let batchBytes = 0;
    for await (const chunk of cutOffAsAborted(req, call.drive.id)) {
      crc = crc32(chunk, crc);
      received += chunk.length;
      if (received > rpcShardBytesMax) throw new RpcRefusal(413, 'ERR_RPC_BAD_REQUEST', `Shard write exceeds ${rpcShardBytesMax} bytes`);
      batch.push(chunk);
      batchBytes += chunk.length;
      if (batchBytes >= writeBatchBytes) {
        await writer.append(batch.length === 1 ? batch[0]! : Buffer.concat(batch, batchBytes));
        batch = [];
        batchBytes = 0;
      }
    }
    if (!req.complete) throw new StoreError('ERR_ABORTED', `Shard write to "${call.drive.id}" was cut off`);
    if (batchBytes > 0) await writer.append(Buffer.concat(batch, batchBytes));
    const trailers = req.trailers;
    if (trailers[rpcHeaders.shardAbort] !== undefined) {
      await writer.abort();
      return sendJson(res, { aborted: true });
    }
    const sentCrc = trailers[rpcHeaders.shardCrc32];
    const sentBytes = trailers[rpcHeaders.shardBytes];
    if (sentCrc === undefined || sentBytes === undefined) throw new RpcRefusal(400, 'ERR_RPC_BAD_REQUEST', 'A shard write must end with its CRC and length trailers');
    if (Number(sentBytes) !== received || sentCrc !== crc.toString(16).padStart(8, '0')) {
      throw new StoreError('ERR_SHARD_CORRUPT', `Shard write to "${call.drive.id}" was damaged in transit: ${received} bytes with CRC ${crc.toString(16)}, sent ${sentBytes} with ${sentCrc}`);
    }
    await writer.commit();
    sendJson(res, { bytes: received });
  } catch (err) {
    await writer.abort(); // after a failed commit too: it only ever removes the tmp name
    throw err;
  } finally {
    req.socket?.setTimeout(rpcIdleTimeoutMs);
  }
}

/** The request body; a connection lost mid-body is the client going away (ERR_ABORTED), not a node error to log. */
async function* cutOffAsAborted(req: IncomingMessage, drive: string): AsyncGenerator<Buffer> {
  try {
    for await (const chunk of req as AsyncIterable<Buffer>) yield chunk;
  } catch (err) {
    throw new StoreError('ERR_ABORTED', `Shard write to "${drive}" was cut off: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, { cause: err });
  }
}

/**
 * Streams shard bytes [start, end), verified by the drive, in segments aligned to the shard's checksum
 * blocks. The first segment is read before the status goes out, so a missing or corrupt shard gets a
 * clean error; a failure later is named in a trailer. The CRC trailer protects the bytes on the wire.
 */
async function readShard(call: Extract<ShardCall, { op: 'read' }>, ctx: CallContext): Promise<void> {
  const { res, signal } = ctx;
  const reader = await call.drive.openShard(call.shard, { shardBytes: call.shardBytes, signal });
  try {
    const blockBytes = reader.header.blockBytes;
    const segmentBytes = Math.max(blockBytes, Math.floor(rpcReadSegmentBytes / blockBytes) * blockBytes);
    const segmentEnd = (from: number) => Math.min(call.end, (Math.floor(from / segmentBytes) + 1) * segmentBytes);
    let position = call.start;
    let pieces = await reader.readPieces(position, segmentEnd(position));
    res.writeHead(200, { 'content-type': 'application/octet-stream', trailer: `${rpcHeaders.rangeCrc32}, ${rpcHeaders.rangeError}` });
    let crc = 0;
    for (;;) {
      // One chunk per segment, not one per 64 KiB piece: fewer chunk headers and socket writes.
      res.cork();
      let full = false;
      for (const piece of pieces) {
        crc = crc32(piece, crc);
        position += piece.length;
        full = !res.write(piece) || full;
      }
      res.uncork();
      if (full) await once(res, 'drain', { signal });
      if (position >= call.end) break;
      try {
        pieces = await reader.readPieces(position, segmentEnd(position));
      } catch (err) {
        res.addTrailers({ [rpcHeaders.rangeError]: isStoreError(err) ? err.code : 'ERR_SHARD_MISSING' });
        res.end();
        return;
      }
    }
    res.addTrailers({ [rpcHeaders.rangeCrc32]: crc.toString(16).padStart(8, '0') });
    res.end();
  } finally {
    await reader.close();
  }
}
