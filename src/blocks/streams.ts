// Small stream helpers of the block layer: race a promise against cancellation, and map aborts to
// StoreError ERR_ABORTED so callers see one error vocabulary.
import { StoreError } from '../util/errors.js';

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
