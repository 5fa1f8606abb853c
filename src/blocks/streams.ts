// Small stream helpers of the block layer: iterate a source with cancellation, and map aborts to
// StoreError ERR_ABORTED so callers see one error vocabulary.
import { StoreError } from '../util/errors.js';

/** Iterates `source` as Buffers; an abort rejects at once even while the source is idle. */
export async function* chunksOf(source: AsyncIterable<unknown>, signal: AbortSignal | undefined): AsyncGenerator<Buffer> {
  const iterator = source[Symbol.asyncIterator]();
  let finished = false;
  try {
    for (;;) {
      const next = await raceAbort(iterator.next(), signal);
      if (next.done) {
        finished = true;
        return;
      }
      yield toBuffer(next.value);
    }
  } finally {
    // Not awaited: an idle generator source would only settle return() after its pending next().
    if (!finished) void Promise.resolve(iterator.return?.()).catch(() => undefined);
  }
}

function toBuffer(value: unknown): Buffer {
  if (Buffer.isBuffer(value)) return value;
  if (value instanceof Uint8Array) return Buffer.from(value.buffer, value.byteOffset, value.byteLength);
  if (typeof value === 'string') return Buffer.from(value);
  throw new TypeError(`Cannot write a block from a chunk of type "${typeof value}"`);
}

export function raceAbort<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return promise;
  if (signal.aborted) {
    // Nobody else holds `promise`: when it rejects later (a request body erroring after the client went
    // away), an unobserved rejection would take the whole process down.
    promise.catch(() => undefined);
    return Promise.reject(abortError(signal, 'Operation cancelled'));
  }
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(abortError(signal, 'Operation cancelled'));
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error);
      },
    );
  });
}

export function abortError(signal: AbortSignal, message: string): StoreError {
  return new StoreError('ERR_ABORTED', `${message}: the request was cancelled`, { cause: signal.reason });
}
