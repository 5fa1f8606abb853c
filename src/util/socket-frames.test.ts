import assert from 'node:assert/strict';
import { test } from 'node:test';
import { encodeFrame, FrameReader } from './socket-frames.js';

const request = (id: number, bytes: number) => ({ id, checks: [], writes: [{ key: Buffer.from(`k${id}`), value: Buffer.alloc(bytes, id & 0xff) }], adds: [] });

test('commit frames - values come back whole, with their bytes, however the stream is cut', () => {
  const values = [request(1, 0), request(2, 5), request(3, 70_000), [{ id: 4, ok: true }, { id: 5, ok: false, error: 'e', errorCode: 'SQLITE_FULL' }]];
  const stream = Buffer.concat(values.map(encodeFrame));
  for (const cut of [1, 3, 4, 7, 1000, 65_536, stream.length]) {
    const reader = new FrameReader();
    const got: unknown[] = [];
    for (let at = 0; at < stream.length; at += cut) got.push(...reader.push(stream.subarray(at, at + cut)));
    assert.deepEqual(got, values, `cut every ${cut} bytes`);
    const written = (got[2] as ReturnType<typeof request>).writes[0]!;
    assert.ok(Buffer.isBuffer(written.key) && written.value.length === 70_000);
  }
});

test('commit frames - a length no writer makes is refused', () => {
  const bogus = Buffer.alloc(8);
  bogus.writeUInt32LE(0xffffffff, 0);
  assert.throws(() => new FrameReader().push(bogus), RangeError);
});
