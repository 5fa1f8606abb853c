// A byte stream read no faster than a budget allows: after each piece it waits as long as `take` says,
// so the source is paused (TCP pushes back on the sender) rather than buffered. Holds at most one piece.
import { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';

/**
 * Reads `source` and yields its pieces, waiting `take(piece.length)` ms after each before reading on.
 * Destroying the result destroys `source`; a wait ends early (with the signal's reason) on abort.
 */
export function pacedStream(source: AsyncIterable<unknown>, take: (bytes: number) => number, signal?: AbortSignal): Readable {
  async function* paced(): AsyncGenerator<Buffer> {
    for await (const piece of source) {
      const buf = piece as Buffer;
      const waitMs = take(buf.length);
      yield buf;
      if (waitMs > 0) await sleep(Math.ceil(waitMs), undefined, signal ? { signal } : {});
    }
  }
  return Readable.from(paced(), { objectMode: false });
}
