// shardFrames: the framing of a shard write body, however the bytes are split into chunks.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { abortFrame, dataFrame, dataFrameHeader, endFrame } from '../blocks/rpc-protocol.js';
import { RpcRefusal } from './auth.js';
import { shardFrames, type ShardFrame } from './shard-frames.js';

async function parse(body: Buffer, cuts: number[]): Promise<ShardFrame[]> {
  async function* chunks() {
    let at = 0;
    for (const cut of [...cuts, body.length]) {
      if (cut > at) yield body.subarray(at, cut);
      at = Math.max(at, cut);
    }
  }
  const frames: ShardFrame[] = [];
  for await (const frame of shardFrames(chunks(), 1 << 20)) frames.push(frame);
  return frames;
}

function joined(frames: ShardFrame[]): Buffer {
  return Buffer.concat(frames.flatMap((f) => (f.kind === 'data' ? [f.data] : [])));
}

test('shardFrames - yields the data and the end frame whatever the chunk boundaries', async () => {
  const a = randomBytes(300);
  const b = randomBytes(70);
  const body = Buffer.concat([dataFrame(a), dataFrameHeader(b.length), b, endFrame(0xdeadbeef, 370)]);
  for (let cut = 0; cut <= body.length; cut++) {
    for (const second of [cut + 1, cut + 4, cut + 11]) {
      const frames = await parse(body, [cut, second]);
      assert.deepEqual(joined(frames), Buffer.concat([a, b]), `cuts at ${cut}, ${second}`);
      assert.deepEqual(frames.at(-1), { kind: 'end', crc: 0xdeadbeef, bytes: 370 });
    }
  }
});

test('shardFrames - an abort frame closes the body; a body cut mid-frame yields no closing frame', async () => {
  const data = randomBytes(100);
  assert.deepEqual((await parse(Buffer.concat([dataFrame(data), abortFrame()]), [50])).at(-1), { kind: 'abort' });
  const end = endFrame(1, 100);
  const cut = await parse(Buffer.concat([dataFrame(data), end.subarray(0, 8)]), [3]);
  assert.ok(cut.every((f) => f.kind === 'data'));
  assert.deepEqual(joined(cut), data);
});

test('shardFrames - refuses unknown types, bad lengths and bytes after the closing frame with 400', async () => {
  const refused = (body: Buffer) => assert.rejects(parse(body, []), (err) => err instanceof RpcRefusal && err.status === 400);
  await refused(Buffer.from('Xabcdefgh'));
  await refused(Buffer.concat([dataFrameHeader(0)]));
  await refused(dataFrameHeader(2 << 20));
  await refused(Buffer.concat([abortFrame(), Buffer.from([0])]));
  const badEnd = endFrame(1, 1);
  badEnd.writeUInt32BE(3, 1);
  await refused(badEnd);
});
