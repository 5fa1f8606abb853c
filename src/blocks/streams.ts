// Small stream helpers of the block layer: iterate a source with cancellation, and map aborts to
// StoreError ERR_ABORTED so callers see one error vocabulary.
import { StoreError } from '../util/errors.js';

/**
 * Iterates `source` as Buffers; an abort rejects at once even while the source is idle. One abort listener
 * serves the whole iteration: a listener added and removed per chunk was a visible share of a large PUT's
 * allocations (heap profile in docs/benchmarks.md, issue 17).
 */
export async function* chunksOf(source: AsyncIterable<unknown>, signal: AbortSignal | undefined): AsyncGenerator<Buffer> {
  const iterator = source[Symbol.asyncIterator]();
  let finished = false;
  let rejectWaiting: ((err: unknown) => void) | undefined;
  const onAbort = () => rejectWaiting?.(abortError(signal!, 'Operation cancelled'));
  signal?.addEventListener('abort', onAbort, { once: true });
  try {
    for (;;) {
      const pending = iterator.next();
      let next: IteratorResult<unknown>;
      if (!signal) next = await pending;
      else {
        // Nobody else holds `pending`: when it rejects after an abort (a request body erroring once the
        // client went away), an unobserved rejection would take the whole process down.
        pending.catch(() => undefined);
        // An abort while no chunk was awaited (the consumer was busy) found no one to reject.
        if (signal.aborted) throw abortError(signal, 'Operation cancelled');
        next = await new Promise<IteratorResult<unknown>>((resolve, reject) => {
          rejectWaiting = reject;
          pending.then(resolve, reject);
        });
        rejectWaiting = undefined;
      }
      if (next.done) {
        finished = true;
        return;
      }
      yield toBuffer(next.value);
    }
  } catch (err) {
    throw signal?.aborted ? abortError(signal, 'Operation cancelled') : err;
  } finally {
    signal?.removeEventListener('abort', onAbort);
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
