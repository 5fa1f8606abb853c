// The ShardStore operations a node serves, one function per kind of call, over an authenticated and
// routed request (node-server.ts). A shard write commits only a complete body whose end frame matches;
// reads go through a cache of open shard files (node-readers.ts).
import { once } from 'node:events';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { crc32 } from '@node-rs/crc32';
import type { LocalDrive } from '../blocks/drive.js';
import { readFrameHeader, rpcFramedSegmentBytes, rpcHeaders, rpcIdleTimeoutMs, rpcReadSegmentBytes, rpcShardBytesMax, rpcWriteIdleTimeoutMs } from '../blocks/rpc-protocol.js';
import type { ShardName } from '../blocks/shard-store.js';
import { isStoreError, StoreError } from '../util/errors.js';
import { RpcRefusal } from './auth.js';
import type { NodeReaders } from './node-readers.js';
import { shardFrames } from './shard-frames.js';

export type ShardCall =
  | { op: 'node' }
  | { op: 'probe'; drive: LocalDrive }
  | { op: 'listPrefixes'; drive: LocalDrive; first: string | undefined }
  | { op: 'listShards'; drive: LocalDrive; first: string; second: string }
  | { op: 'deleteBlock'; drive: LocalDrive; blockId: string }
  | { op: 'stat'; drive: LocalDrive; shard: ShardName }
  | { op: 'deleteShard'; drive: LocalDrive; shard: ShardName }
  | { op: 'write'; drive: LocalDrive; shard: ShardName; blockBytes: number; fresh: boolean }
  | { op: 'read'; drive: LocalDrive; shard: ShardName; shardBytes: number; start: number; end: number; framed: boolean };

export interface CallContext {
  req: IncomingMessage;
  res: ServerResponse;
  expectsContinue: boolean;
  signal: AbortSignal;
  nodeId: string;
  driveIds: string[];
  readers: NodeReaders;
}

/** Bytes gathered from the socket before one append: fewer, larger writev calls on the drive. */
const writeBatchBytes = 256 * 1024;

export async function handleShardCall(call: ShardCall, ctx: CallContext): Promise<void> {
  const opts = { signal: ctx.signal };
  switch (call.op) {
    case 'node':
      return sendJson(ctx.res, { nodeId: ctx.nodeId, drives: ctx.driveIds });
    case 'probe': {
      const health = await call.drive.probe(opts);
      if (health.state !== 'ok') ctx.readers.invalidateDrive(call.drive.id); // a swapped or lost drive's files are let go
      return sendJson(ctx.res, health);
    }
    case 'listPrefixes':
      return sendJson(ctx.res, { prefixes: await call.drive.listPrefixes(call.first, opts) });
    case 'listShards': {
      // The node's paths stay on the node: clients see names, sizes and times.
      const shards = (await call.drive.listShards(call.first, call.second, opts)).map(({ blockId, shardIndex, bytes, mtimeMs, tmp }) => ({ blockId, shardIndex, bytes, mtimeMs, tmp }));
      return sendJson(ctx.res, { shards });
    }
    case 'deleteBlock':
      ctx.readers.invalidate(call.blockId);
      return sendJson(ctx.res, { deleted: await call.drive.deleteBlock(call.blockId, opts) });
    case 'stat':
      return sendJson(ctx.res, { shard: (await call.drive.statShard(call.shard, opts)) ?? null });
    case 'deleteShard':
      ctx.readers.invalidate(call.shard.blockId);
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
 * One shard write is one request: the tmp file is created once the headers are in, the framed body
 * streams into it, and its closing frame decides. Only a body that closes with an end frame whose CRC
 * and length match what arrived is committed; an abort frame, a body that stops without a closing frame,
 * a cut connection, an idle timeout or any error drops the tmp file. A crash leaves only the tmp file.
 */
async function writeShard(call: Extract<ShardCall, { op: 'write' }>, ctx: CallContext): Promise<void> {
  const { req, res, signal } = ctx;
  const writer = await call.drive.createShard(call.shard, { blockBytes: call.blockBytes, fresh: call.fresh, signal });
  try {
    req.socket.setTimeout(rpcWriteIdleTimeoutMs);
    if (ctx.expectsContinue) res.writeContinue();
    let crc = 0;
    let received = 0;
    let batch: Buffer[] = [];
    let batchBytes = 0;
    let closing: { crc: number; bytes: number } | 'abort' | undefined;
    for await (const frame of shardFrames(cutOffAsAborted(req, call.drive.id), rpcShardBytesMax)) {
      if (frame.kind !== 'data') {
        closing = frame.kind === 'abort' ? 'abort' : frame;
        continue; // the parser refuses any byte after it
      }
      crc = crc32(frame.data, crc);
      received += frame.data.length;
      if (received > rpcShardBytesMax) throw new RpcRefusal(413, 'ERR_RPC_BAD_REQUEST', `Shard write exceeds ${rpcShardBytesMax} bytes`);
      // A full batch goes out only once more data follows, so the last one is known to be last: a shard
      // that fits one batch is then written in one append that says so (the drive may store it at once).
      if (batchBytes > 0 && batchBytes + frame.data.length > writeBatchBytes) {
        await writer.append(batch.length === 1 ? batch[0]! : Buffer.concat(batch, batchBytes));
        batch = [];
        batchBytes = 0;
      }
      batch.push(frame.data);
      batchBytes += frame.data.length;
    }
    if (!req.complete) throw new StoreError('ERR_ABORTED', `Shard write to "${call.drive.id}" was cut off`);
    if (closing === 'abort') {
      await writer.abort();
      return sendJson(res, { aborted: true });
    }
    if (closing === undefined) throw new RpcRefusal(400, 'ERR_RPC_BAD_REQUEST', 'A shard write must close with its end frame (CRC and length)');
    if (closing.bytes !== received || closing.crc !== crc) {
      throw new StoreError('ERR_SHARD_CORRUPT', `Shard write to "${call.drive.id}" was damaged in transit: ${received} bytes with CRC ${hex(crc)}, sent ${closing.bytes} with ${hex(closing.crc)}`);
    }
    if (batchBytes > 0) await writer.append(batch.length === 1 ? batch[0]! : Buffer.concat(batch, batchBytes), { last: true });
    await writer.commit();
    // A shard rewritten in place (heal) must not be read through a descriptor of the file it replaced.
    ctx.readers.invalidate(call.shard.blockId);
    sendJson(res, { bytes: received });
  } catch (err) {
    await writer.abort(); // after a failed commit too: it only ever removes the tmp name
    throw err;
  } finally {
    req.socket?.setTimeout(rpcIdleTimeoutMs);
  }
}

const hex = (crc: number) => crc.toString(16).padStart(8, '0');

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
 * clean error; a failure later is named in a trailer. The CRC trailer protects the bytes on the wire;
 * a framed read (a whole shard range streamed to a client that consumes it stripe by stripe) sends each
 * segment as a read frame with its own CRC instead, so the client can verify and use it before the end.
 * The shard file comes from the node's cache of open readers; a first read that fails through a cached
 * reader is tried once more on a fresh open, so a stale descriptor never fails a read.
 */
async function readShard(call: Extract<ShardCall, { op: 'read' }>, ctx: CallContext): Promise<void> {
  const { res, signal } = ctx;
  let use = await ctx.readers.acquire(call.drive, call.shard, call.shardBytes);
  try {
    const segmentEnd = (from: number) => {
      const blockBytes = use.reader.header.blockBytes;
      const segmentBytes = Math.max(blockBytes, Math.floor((call.framed ? rpcFramedSegmentBytes : rpcReadSegmentBytes) / blockBytes) * blockBytes);
      return Math.min(call.end, (Math.floor(from / segmentBytes) + 1) * segmentBytes);
    };
    let position = call.start;
    let pieces: Buffer[];
    try {
      pieces = await use.reader.readPieces(position, segmentEnd(position));
    } catch (err) {
      if (!use.cached || !isStoreError(err)) throw err;
      const stale = use;
      stale.drop();
      use = ctx.readers.fresh(await call.drive.openShard(call.shard, { shardBytes: call.shardBytes, signal }));
      await stale.done();
      pieces = await use.reader.readPieces(position, segmentEnd(position));
    }
    res.writeHead(200, { 'content-type': 'application/octet-stream', trailer: `${rpcHeaders.rangeCrc32}, ${rpcHeaders.rangeError}` });
    let crc = 0;
    for (;;) {
      // One chunk per segment, not one per 64 KiB piece: fewer chunk headers and socket writes.
      res.cork();
      let full = false;
      if (call.framed) {
        let frameCrc = 0;
        let frameBytes = 0;
        for (const piece of pieces) {
          frameCrc = crc32(piece, frameCrc);
          frameBytes += piece.length;
        }
        full = !res.write(readFrameHeader(frameBytes, frameCrc));
        crc = frameCrc; // unused by a framed client; the trailer still closes the body
      }
      for (const piece of pieces) {
        if (!call.framed) crc = crc32(piece, crc);
        position += piece.length;
        full = !res.write(piece) || full;
      }
      res.uncork();
      if (full) await once(res, 'drain', { signal });
      if (position >= call.end) break;
      try {
        pieces = await use.reader.readPieces(position, segmentEnd(position));
      } catch (err) {
        use.drop();
        res.addTrailers({ [rpcHeaders.rangeError]: isStoreError(err) ? err.code : 'ERR_SHARD_MISSING' });
        res.end();
        return;
      }
    }
    res.addTrailers({ [rpcHeaders.rangeCrc32]: hex(crc) });
    res.end();
  } catch (err) {
    if (isStoreError(err) && err.code !== 'ERR_ABORTED') use.drop();
    throw err;
  } finally {
    await use.done();
  }
}
