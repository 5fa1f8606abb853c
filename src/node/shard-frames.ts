// Parses the framed body of a shard write (rpc-protocol.ts: data frames, then one end or abort frame)
// as it streams in. It only splits and checks the framing; the CRC and length are the handler's to judge.
import { endFramePayloadBytes, frameHeaderBytes, frameTypes } from '../blocks/rpc-protocol.js';
import { RpcRefusal } from './auth.js';

export type ShardFrame = { kind: 'data'; data: Buffer } | { kind: 'end'; crc: number; bytes: number } | { kind: 'abort' };

const malformed = (why: string) => new RpcRefusal(400, 'ERR_RPC_BAD_REQUEST', `Cannot parse shard write body: ${why}`);

/**
 * The frames of `chunks`, with data payloads as views of the arriving chunks (no copy). A closing frame
 * must be the last bytes of the body; a body that stops mid-frame or without one ends the iteration
 * without a closing frame, which the caller refuses.
 */
export async function* shardFrames(chunks: AsyncIterable<Buffer>, dataFrameBytesMax: number): AsyncGenerator<ShardFrame> {
  let head = Buffer.alloc(0); // a frame header (and an end frame's payload) split across chunks
  let dataLeft = 0; // bytes of the current data frame still to come
  let closed = false;
  for await (let chunk of chunks) {
    while (chunk.length > 0) {
      if (closed) throw malformed('bytes follow the closing frame');
      if (dataLeft > 0) {
        const take = Math.min(dataLeft, chunk.length);
        yield { kind: 'data', data: chunk.subarray(0, take) };
        dataLeft -= take;
        chunk = chunk.subarray(take);
        continue;
      }
      const type = head.length > 0 ? head[0]! : chunk[0]!;
      const wanted = frameHeaderBytes + (type === frameTypes.end ? endFramePayloadBytes : 0);
      const needed = wanted - head.length;
      if (head.length + chunk.length < wanted) {
        head = Buffer.concat([head, chunk]);
        break;
      }
      const frame = head.length > 0 ? Buffer.concat([head, chunk.subarray(0, needed)]) : chunk.subarray(0, needed);
      chunk = chunk.subarray(needed);
      head = Buffer.alloc(0);
      const length = frame.readUInt32BE(1);
      if (type === frameTypes.data) {
        if (length === 0 || length > dataFrameBytesMax) throw malformed(`a data frame of ${length} bytes`);
        dataLeft = length;
      } else if (type === frameTypes.end) {
        if (length !== endFramePayloadBytes) throw malformed(`an end frame of ${length} bytes`);
        closed = true;
        yield { kind: 'end', crc: frame.readUInt32BE(5), bytes: frame.readUIntBE(9, 6) };
      } else if (type === frameTypes.abort) {
        if (length !== 0) throw malformed(`an abort frame of ${length} bytes`);
        closed = true;
        yield { kind: 'abort' };
      } else {
        throw malformed(`unknown frame type ${type}`);
      }
    }
  }
}
