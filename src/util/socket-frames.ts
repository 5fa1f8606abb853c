// Frames of the Unix sockets between the workers of `tessera server --workers N` and their primary's
// threads: a 32-bit little-endian length, then a value in V8's serialization (which keeps Buffers and
// Uint8Arrays as bytes). On the commit socket workers send CommitRequests and the commit thread answers
// each batch with the array of the replies that are that worker's; on the hashing socket
// (hash-service.ts) they send slots to hash and get digests back.
import type { Socket } from 'node:net';
import { deserialize, serialize } from 'node:v8';

/** A frame longer than this is not one of ours: the connection is dropped. */
const frameBytesMax = 1024 * 1024 * 1024;

export function encodeFrame(value: unknown): Buffer {
  const body = serialize(value);
  const frame = Buffer.allocUnsafe(4 + body.length);
  frame.writeUInt32LE(body.length, 0);
  body.copy(frame, 4);
  return frame;
}

/**
 * Writes values to `socket` as frames; the frames written in one turn of the event loop go out in one
 * write (the socket is corked until the next tick).
 */
export function frameWriter(socket: Socket): (value: unknown) => void {
  let corked = false;
  return (value) => {
    if (!corked) {
      corked = true;
      socket.cork();
      process.nextTick(() => {
        corked = false;
        socket.uncork();
      });
    }
    socket.write(encodeFrame(value));
  };
}

/** Calls `onValue` with the value of each frame read from `socket`; a frame no writer of ours makes destroys it. */
export function readFrames(socket: Socket, onValue: (value: unknown) => void): void {
  const frames = new FrameReader();
  socket.on('data', (chunk: Buffer) => {
    let values: unknown[];
    try {
      values = frames.push(chunk);
    } catch (err) {
      socket.destroy(err as Error);
      return;
    }
    for (const value of values) onValue(value);
  });
}

/** Cuts a byte stream into frames' values; each byte is copied at most once, however the stream is cut. */
export class FrameReader {
  #chunks: Buffer[] = [];
  /** The first of #chunks still held. */
  #head = 0;
  #bytes = 0;
  /** The body length of the frame being read; -1 before its length is read. */
  #body = -1;

  /** The values of the frames `chunk` completes, in order. Throws on a frame no writer of ours makes. */
  push(chunk: Buffer): unknown[] {
    if (this.#head === this.#chunks.length) {
      this.#chunks = [];
      this.#head = 0;
    }
    this.#chunks.push(chunk);
    this.#bytes += chunk.length;
    const values: unknown[] = [];
    for (;;) {
      if (this.#body < 0) {
        if (this.#bytes < 4) break;
        const length = this.#take(4).readUInt32LE(0);
        if (length > frameBytesMax) throw new RangeError(`Frame of ${length} bytes is longer than any of ours`);
        this.#body = length;
      }
      if (this.#bytes < this.#body) break;
      values.push(deserialize(this.#take(this.#body)));
      this.#body = -1;
    }
    return values;
  }

  /** The next `n` bytes held (n <= #bytes): a view when one chunk has them all. */
  #take(n: number): Buffer {
    this.#bytes -= n;
    const first = this.#chunks[this.#head]!;
    if (first.length >= n) {
      if (first.length === n) this.#head++;
      else this.#chunks[this.#head] = first.subarray(n);
      return first.subarray(0, n);
    }
    const out = Buffer.allocUnsafe(n);
    let at = 0;
    while (at < n) {
      const chunk = this.#chunks[this.#head]!;
      const used = Math.min(chunk.length, n - at);
      chunk.copy(out, at, 0, used);
      at += used;
      if (used === chunk.length) this.#head++;
      else this.#chunks[this.#head] = chunk.subarray(used);
    }
    return out;
  }
}
