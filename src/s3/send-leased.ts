// Sends leased object bytes as a response body with backpressure, releasing each lease only once the
// socket is done with all of its pieces. It must not release early: a released buffer is refilled by the
// next read while the socket may still be sending it, and the client would get another object's bytes.
import type { ServerResponse } from 'node:http';
import { finished } from 'node:stream/promises';
import type { LeasedBytes } from '../blocks/types.js';
import { StoreError } from '../util/errors.js';

/** Writes every lease's pieces to `res`, then ends it; rejects with ERR_ABORTED once `signal` aborts. */
export async function sendLeased(res: ServerResponse, leases: AsyncIterable<LeasedBytes>, signal: AbortSignal): Promise<void> {
  for await (const lease of leases) {
    if (signal.aborted) {
      lease.release(); // never written, so nothing else holds it
      throw aborted(signal);
    }
    let unsent = lease.pieces.length;
    // Node calls a write's callback once libuv has handed the bytes to the kernel, or with an error. After
    // an error the bytes may still sit in a queue, so such a lease is never released and the GC takes it.
    const onWritten = (err?: Error | null) => {
      if (!err && --unsent === 0) lease.release();
    };
    let flowing = true;
    for (const piece of lease.pieces) flowing = res.write(piece, onWritten);
    if (lease.pieces.length === 0) lease.release();
    if (!flowing) await drained(res, signal);
  }
  if (signal.aborted) throw aborted(signal);
  res.end();
  await finished(res).catch((err: unknown) => {
    throw signal.aborted ? aborted(signal) : err;
  });
}

/** Resolves on 'drain'; rejects when the response closes first (the signal aborts with it). */
function drained(res: ServerResponse, signal: AbortSignal): Promise<void> {
  if (signal.aborted || res.destroyed) return Promise.reject(aborted(signal));
  return new Promise((resolve, reject) => {
    const done = () => {
      res.off('drain', onDrain);
      res.off('close', onClose);
      signal.removeEventListener('abort', onClose);
    };
    const onDrain = () => {
      done();
      resolve();
    };
    const onClose = () => {
      done();
      reject(aborted(signal));
    };
    res.on('drain', onDrain);
    res.on('close', onClose);
    signal.addEventListener('abort', onClose, { once: true });
  });
}

function aborted(signal: AbortSignal): StoreError {
  return new StoreError('ERR_ABORTED', 'Cannot send the body: the request was cancelled', { cause: signal.reason });
}
