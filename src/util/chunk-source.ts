// A byte source taken from synchronously while chunks are ready and awaited only when none is: the layers
// of a PUT body (payload decoding, counting, striping) hand each socket chunk on by plain calls instead of
// a promise and an async generator step per layer and chunk (issue 17). Never destroys what it reads.
import type { Readable } from 'node:stream';

/**
 * Read with take(); when it says undefined, await wait() and take again. Also an AsyncIterable, for the
 * readers that do not care what a chunk costs. A consumer that stops before the end calls cancel().
 */
export abstract class ChunkSource implements AsyncIterable<Buffer> {
  /** The next chunk if one is ready, null once the source has ended, undefined: await wait() first. Throws the source's error. */
  abstract take(): Buffer | null | undefined;
  /** Settles once take() may say something other than undefined; rejects when the source failed or was cancelled. */
  abstract wait(): Promise<void>;
  /** The consumer reads no further: what the source holds is released, and a pending or later wait() rejects with `reason`. */
  abstract cancel(reason: unknown): void;

  async *[Symbol.asyncIterator](): AsyncGenerator<Buffer> {
    let ended = false;
    try {
      for (;;) {
        const chunk = this.take();
        if (chunk === null) {
          ended = true;
          return;
        }
        if (chunk === undefined) await this.wait();
        else yield chunk;
      }
    } finally {
      if (!ended) this.cancel(new Error('The reader stopped before the end of the source'));
    }
  }
}

const noop = (): void => undefined;

export function toBuffer(value: unknown): Buffer {
  if (Buffer.isBuffer(value)) return value;
  if (value instanceof Uint8Array) return Buffer.from(value.buffer, value.byteOffset, value.byteLength);
  if (typeof value === 'string') return Buffer.from(value, 'utf8');
  throw new TypeError(`Cannot read bytes from a chunk of type "${typeof value}"`);
}

function prematureClose(): Error {
  return Object.assign(new Error('The stream closed before its end'), { code: 'ERR_STREAM_PREMATURE_CLOSE' });
}

/** Bytes a readable source holds before it pauses its stream (the stream's own buffer comes on top). */
const queuedBytesMax = 64 * 1024;

/**
 * A Readable's chunks, taken as its 'data' events deliver them: a chunk that arrives while the consumer
 * waits goes straight to it, no stream buffer or iterator between. The stream is read only from the first
 * take() (so a request's body is not asked for, nor 100 Continue sent, before the handler wants it), paused
 * while the consumer lags, and never destroyed: the HTTP layer may still answer on the connection.
 */
export class ReadableSource extends ChunkSource {
  readonly #readable: Readable;
  #queue: Buffer[] = [];
  #queuedBytes = 0;
  #started = false;
  #detached = false;
  #ended = false;
  #failed = false;
  #error: unknown;
  #paused = false;
  #resolveWait: (() => void) | undefined;
  #rejectWait: ((err: unknown) => void) | undefined;

  constructor(readable: Readable) {
    super();
    this.#readable = readable;
  }

  take(): Buffer | null | undefined {
    if (this.#failed) throw this.#error;
    const chunk = this.#queue.shift();
    if (chunk !== undefined) {
      this.#queuedBytes -= chunk.length;
      if (this.#paused && this.#queuedBytes < queuedBytesMax / 2) {
        this.#paused = false;
        this.#readable.resume();
      }
      return chunk;
    }
    if (this.#ended) return null;
    if (!this.#started) {
      this.#start();
      return this.take();
    }
    return undefined;
  }

  wait(): Promise<void> {
    if (this.#failed) return Promise.reject(this.#error);
    if (this.#queue.length > 0 || this.#ended) return Promise.resolve();
    return new Promise<void>(this.#parkWaiter);
  }

  // One executor for every wait, not a closure per wait.
  readonly #parkWaiter = (resolve: () => void, reject: (err: unknown) => void): void => {
    this.#resolveWait = resolve;
    this.#rejectWait = reject;
  };

  cancel(reason: unknown): void {
    this.#fail(reason);
  }

  #start(): void {
    this.#started = true;
    const readable = this.#readable;
    if (readable.readableEnded) {
      this.#ended = true;
      return;
    }
    if (readable.destroyed) {
      this.#fail(readable.errored ?? prematureClose());
      return;
    }
    readable.on('data', this.#onData);
    readable.on('end', this.#onEnd);
    readable.on('error', this.#onError);
    readable.on('close', this.#onClose);
  }

  #detach(): void {
    if (!this.#started || this.#detached) return;
    this.#detached = true;
    const readable = this.#readable;
    readable.off('data', this.#onData);
    readable.off('end', this.#onEnd);
    readable.off('close', this.#onClose);
    // The error listener stays (#fail ignores what comes after): a stream given up on may still fail, a
    // Readable.from over a request whose client left, and an 'error' nobody listens to ends the process.
    // Left paused: whoever owns the stream decides whether the rest is read and dropped or cut off.
    if (!this.#ended) readable.pause();
  }

  readonly #onData = (data: unknown): void => {
    const chunk = toBuffer(data);
    this.#queue.push(chunk);
    this.#queuedBytes += chunk.length;
    const wake = this.#resolveWait;
    if (wake) {
      this.#resolveWait = undefined;
      this.#rejectWait = undefined;
      wake();
    } else if (this.#queuedBytes >= queuedBytesMax && !this.#paused) {
      this.#paused = true;
      this.#readable.pause();
    }
  };

  readonly #onEnd = (): void => {
    this.#ended = true;
    this.#detach();
    const wake = this.#resolveWait;
    this.#resolveWait = undefined;
    this.#rejectWait = undefined;
    wake?.();
  };

  readonly #onError = (err: unknown): void => this.#fail(err);

  // A stream closed before its end without an error (a destroyed one): the rest of the body will not come.
  readonly #onClose = (): void => {
    if (!this.#ended) this.#fail(prematureClose());
  };

  #fail(err: unknown): void {
    if (this.#failed) return;
    this.#failed = true;
    this.#error = err;
    this.#queue = [];
    this.#queuedBytes = 0;
    this.#detach();
    const reject = this.#rejectWait;
    this.#resolveWait = undefined;
    this.#rejectWait = undefined;
    reject?.(err);
  }
}

/**
 * Any async iterable as a ChunkSource (a Readable's own iterator, a generator): one next() in flight at a
 * time. cancel() returns the iterator, which for a Readable destroys it, as for-await's early exit does.
 */
export class IterableSource extends ChunkSource {
  readonly #iterable: AsyncIterable<unknown> | Iterable<unknown>;
  #iterator: AsyncIterator<unknown> | undefined;
  #ready: Buffer | undefined;
  #pending: Promise<void> | undefined;
  #rejectPending: ((err: unknown) => void) | undefined;
  #done = false;
  #failed = false;
  #error: unknown;

  constructor(iterable: AsyncIterable<unknown> | Iterable<unknown>) {
    super();
    this.#iterable = iterable;
  }

  take(): Buffer | null | undefined {
    if (this.#failed) throw this.#error;
    const ready = this.#ready;
    if (ready !== undefined) {
      this.#ready = undefined;
      return ready;
    }
    if (this.#done) return null;
    if (this.#pending === undefined) this.#fetch();
    return undefined;
  }

  wait(): Promise<void> {
    if (this.#failed) return Promise.reject(this.#error);
    return this.#pending ?? Promise.resolve();
  }

  cancel(reason: unknown): void {
    if (this.#failed || this.#done) return;
    this.#failed = true;
    this.#error = reason;
    this.#ready = undefined;
    this.#rejectPending?.(reason);
    // Not awaited: an idle generator would settle return() only after its pending next().
    if (this.#iterator) void Promise.resolve(this.#iterator.return?.()).catch(noop);
  }

  #fetch(): void {
    const iterator = (this.#iterator ??= asyncIteratorOf(this.#iterable));
    const pending = new Promise<void>((resolve, reject) => {
      this.#rejectPending = reject;
      iterator.next().then(
        (result) => {
          this.#pending = undefined;
          this.#rejectPending = undefined;
          if (this.#failed) return;
          if (result.done) this.#done = true;
          else this.#ready = toBuffer(result.value);
          resolve();
        },
        (err: unknown) => {
          this.#pending = undefined;
          this.#rejectPending = undefined;
          if (!this.#failed) {
            this.#failed = true;
            this.#error = err;
          }
          reject(this.#error);
        },
      );
    });
    // Observed here too: a cancel while the consumer is busy elsewhere rejects a promise nobody awaits.
    pending.catch(noop);
    this.#pending = pending;
  }
}

/** `source` itself when it is a ChunkSource, else an IterableSource over it. */
/** The iterable's async iterator; a sync iterable's (an array's values) is taken as `for await` takes it. */
function asyncIteratorOf(iterable: AsyncIterable<unknown> | Iterable<unknown>): AsyncIterator<unknown> {
  if (Symbol.asyncIterator in iterable) return iterable[Symbol.asyncIterator]();
  const sync = iterable[Symbol.iterator]();
  return {
    next: async () => {
      const result = sync.next();
      return result.done ? result : { done: false, value: await result.value };
    },
    return: async () => sync.return?.() ?? { done: true, value: undefined },
  };
}

export function chunkSourceOf(source: AsyncIterable<unknown> | Iterable<unknown>): ChunkSource {
  return source instanceof ChunkSource ? source : new IterableSource(source);
}

/**
 * A ChunkSource passing another's chunks on through next(), which may check, count or transform them and
 * may make the consumer wait (waitFor) before its next take. A failure anywhere cancels the inner source.
 */
export abstract class PassingSource extends ChunkSource {
  protected readonly inner: ChunkSource;
  #waiting: Promise<void> | undefined;
  #rejectWaiting: ((err: unknown) => void) | undefined;
  #failed = false;
  #error: unknown;

  constructor(inner: ChunkSource) {
    super();
    this.inner = inner;
  }

  /** The next chunk from `inner` after this layer's work; same contract as take(). */
  protected abstract next(): Buffer | null | undefined;

  /** Called once when the source fails or is cancelled: let go of what the layer holds. */
  protected release(): void {}

  take(): Buffer | null | undefined {
    if (this.#failed) throw this.#error;
    if (this.#waiting) return undefined;
    try {
      return this.next();
    } catch (err) {
      this.cancel(err);
      throw err;
    }
  }

  wait(): Promise<void> {
    if (this.#failed) return Promise.reject(this.#error);
    return this.#waiting ?? this.inner.wait();
  }

  cancel(reason: unknown): void {
    if (this.#failed) return;
    this.#failed = true;
    this.#error = reason;
    this.#rejectWaiting?.(reason);
    this.inner.cancel(reason);
    this.release();
  }

  /** The consumer waits for `work` before its next take; a cancel ends the wait at once. */
  protected waitFor(work: Promise<unknown>): void {
    const waiting = new Promise<void>((resolve, reject) => {
      this.#rejectWaiting = reject;
      work.then(
        () => {
          this.#waiting = undefined;
          this.#rejectWaiting = undefined;
          resolve();
        },
        (err: unknown) => {
          this.#waiting = undefined;
          this.#rejectWaiting = undefined;
          this.cancel(err);
          reject(this.#error);
        },
      );
    });
    waiting.catch(noop);
    this.#waiting = waiting;
  }
}

/**
 * Chunks of `source` until it ends (`ended`) or they hold more than `bytesMax` bytes (the rest stays in
 * `source`). A failure cancels the source.
 */
export async function readUpTo(source: ChunkSource, bytesMax: number): Promise<{ chunks: Buffer[]; bytes: number; ended: boolean }> {
  const chunks: Buffer[] = [];
  let bytes = 0;
  try {
    while (bytes <= bytesMax) {
      const chunk = source.take();
      if (chunk === null) return { chunks, bytes, ended: true };
      if (chunk === undefined) await source.wait();
      else {
        chunks.push(chunk);
        bytes += chunk.length;
      }
    }
    return { chunks, bytes, ended: false };
  } catch (err) {
    source.cancel(err);
    throw err;
  }
}

/** Every chunk of `source`, concatenated (small bodies only: the caller bounds its size). */
export async function readAll(source: ChunkSource): Promise<Buffer> {
  const { chunks, bytes } = await readUpTo(source, Number.POSITIVE_INFINITY);
  return Buffer.concat(chunks, bytes);
}
