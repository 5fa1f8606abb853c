// One streamed read of a whole shard range from a node (a framed GET, rpc-protocol.ts), consumed in
// order piece by piece: one request per shard for a block's GET instead of one per stripe. Each read
// frame is CRC-checked before any of its bytes are handed out; the socket is paused while enough
// verified bytes wait, so a slow consumer holds back the node rather than growing memory.
import { crc32 } from '@node-rs/crc32';
import type { IncomingHttpHeaders } from 'node:http';
import type { Dispatcher } from 'undici';
import type { ExchangePeer } from './rpc-exchange.js';
import { readFrameHeaderBytes } from './rpc-protocol.js';

/**
 * Verified bytes waiting beyond this pause the socket: a few stripes of one shard ahead of the consumer
 * (a 4+2 stripe holds 256 KiB of each shard). With the frame being received (at most one framed read
 * segment, 256 KiB) and the sockets' buffers, this bounds what one streamed shard holds.
 */
const queuedBytesHigh = 1024 * 1024;

interface Waiter {
  bytes: number;
  resolve: (pieces: Buffer[] | undefined) => void;
}

/**
 * The client side of a framed read of shard bytes [start, end). take() hands out the next bytes in order;
 * it answers undefined (never rejects) once the stream cannot serve them: the node answered an error, cut
 * the body, sent a frame that fails its CRC, stalled past its bound, or the stream was closed. The caller
 * then reads that range with a plain request, which reports the error precisely; so this stream is only
 * ever a faster way to the same verified bytes.
 */
export class RangeStream implements Dispatcher.DispatchHandler {
  private controller: Dispatcher.DispatchController | undefined;
  private status = 0;
  /** Shard offset of the first byte take() hands out next. */
  private position: number;
  /** Verified bytes not yet taken, in order. */
  private readonly queued: Buffer[] = [];
  private queuedBytes = 0;
  /** The frame being received: its header, then its payload chunks. */
  private header = Buffer.alloc(readFrameHeaderBytes);
  private headerBytes = 0;
  private frameBytes = -1;
  private frameCrc = 0;
  private readonly frame: Buffer[] = [];
  private frameReceived = 0;
  private runningCrc = 0;
  private broken = false;
  private ended = false;
  /** Takes waiting for their bytes, in order. */
  private readonly waiters: Waiter[] = [];
  private timer: NodeJS.Timeout | undefined;
  private readonly clearsAtSend: number;

  constructor(
    private readonly peer: ExchangePeer,
    start: number,
    private readonly end: number,
    private readonly bounds: { callTimeoutMs: number; idleTimeoutMs: number },
  ) {
    this.clearsAtSend = peer.clears;
    this.position = start;
    this.timer = setTimeout(this.onTimeout, bounds.callTimeoutMs);
  }

  /** Whether take(start, …) can be served: the stream is healthy and `start` is where it stands. */
  serves(start: number, end: number): boolean {
    return !this.broken && start === this.position && end <= this.end;
  }

  /** The next `end - start` bytes, verified; undefined when the stream cannot serve them (see the class). */
  take(start: number, end: number): Promise<Buffer[] | undefined> {
    if (!this.serves(start, end)) return Promise.resolve(undefined);
    this.position = end;
    const bytes = end - start;
    if (this.waiters.length === 0 && this.queuedBytes >= bytes) return Promise.resolve(this.shift(bytes));
    if (this.ended) return Promise.resolve(this.breakOff());
    return new Promise((resolve) => {
      this.waiters.push({ bytes, resolve });
      if (this.waiters.length === 1) this.armIdle();
      this.controller?.resume();
    });
  }

  /**
   * Stops the request; waiting and later takes answer undefined. An answer whose bytes were all taken is
   * left to finish (only its trailers are left), so its keep-alive connection serves the next call.
   */
  close(): void {
    const delivered = !this.broken && this.position === this.end && this.waiters.length === 0;
    this.breakOff();
    if (this.ended) return;
    if (!delivered) return void this.controller?.abort(new Error('The range stream was closed'));
    this.timer = setTimeout(() => this.controller?.abort(new Error('The range stream did not end')), this.bounds.idleTimeoutMs);
    this.timer.unref();
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.controller = controller;
    if (this.broken) controller.abort(new Error('The range stream was closed'));
  }

  onResponseStart(_controller: Dispatcher.DispatchController, statusCode: number): void {
    if (statusCode < 200) return;
    this.status = statusCode;
    clearTimeout(this.timer);
    this.timer = undefined;
    if (statusCode !== 200) this.breakOff(); // the plain read gets the node's error body
    else if (this.waiters.length > 0) this.armIdle();
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (this.broken || this.status !== 200) return;
    let at = 0;
    while (at < chunk.length) {
      if (this.frameBytes < 0) {
        const n = Math.min(readFrameHeaderBytes - this.headerBytes, chunk.length - at);
        chunk.copy(this.header, this.headerBytes, at, at + n);
        this.headerBytes += n;
        at += n;
        if (this.headerBytes < readFrameHeaderBytes) break;
        this.frameBytes = this.header.readUInt32BE(0);
        this.frameCrc = this.header.readUInt32BE(4);
        this.headerBytes = 0;
        this.frameReceived = 0;
        this.runningCrc = 0;
      }
      const n = Math.min(this.frameBytes - this.frameReceived, chunk.length - at);
      const part = at === 0 && n === chunk.length ? chunk : chunk.subarray(at, at + n);
      this.runningCrc = crc32(part, this.runningCrc);
      this.frame.push(part);
      this.frameReceived += n;
      at += n;
      if (this.frameReceived === this.frameBytes) {
        if (this.runningCrc >>> 0 !== this.frameCrc) return void this.close(); // damaged in transit: the plain read tells
        for (const piece of this.frame.splice(0)) this.queued.push(piece);
        this.queuedBytes += this.frameBytes;
        this.frameBytes = -1;
      }
    }
    this.timer?.refresh();
    this.serveWaiters();
    if (!this.broken && this.queuedBytes >= queuedBytesHigh && this.waiters.length === 0) controller.pause();
  }

  onResponseEnd(_controller: Dispatcher.DispatchController, _trailers: IncomingHttpHeaders): void {
    // A range error trailer, or a body short of the range, leaves bytes untaken: the waiting take breaks off.
    this.ended = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.waiters.length > 0) this.breakOff();
  }

  onResponseError(_controller: Dispatcher.DispatchController, _err: Error): void {
    this.breakOff();
  }

  private serveWaiters(): void {
    let served = false;
    while (this.waiters.length > 0 && this.queuedBytes >= this.waiters[0]!.bytes) {
      const waiter = this.waiters.shift()!;
      waiter.resolve(this.shift(waiter.bytes));
      served = true;
    }
    if (!served) return;
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.waiters.length > 0) this.armIdle();
  }

  /** Takes `bytes` off the front of the queue, splitting a piece at the boundary. */
  private shift(bytes: number): Buffer[] {
    const out: Buffer[] = [];
    let left = bytes;
    while (left > 0) {
      const head = this.queued[0]!;
      if (head.length <= left) {
        out.push(this.queued.shift()!);
        left -= head.length;
      } else {
        out.push(head.subarray(0, left));
        this.queued[0] = head.subarray(left);
        left = 0;
      }
    }
    this.queuedBytes -= bytes;
    if (this.controller?.paused && this.queuedBytes < queuedBytesHigh / 2) this.controller.resume();
    return out;
  }

  /** A consumer waits and the node must keep sending: bound the gap (a stalled node is suspect, as in any call). */
  private armIdle(): void {
    if (this.status === 0 || this.ended) return; // before the headers the call bound runs
    clearTimeout(this.timer);
    this.timer = setTimeout(this.onTimeout, this.bounds.idleTimeoutMs);
  }

  private readonly onTimeout = () => {
    this.timer = undefined;
    this.peer.markSuspect(this.clearsAtSend);
    this.close();
  };

  private breakOff(): undefined {
    this.broken = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    this.queued.length = 0;
    this.queuedBytes = 0;
    for (const waiter of this.waiters.splice(0)) waiter.resolve(undefined);
    return undefined;
  }
}
