// A counting semaphore with a FIFO wait queue: at most `permits` holders at once, waiters served in
// arrival order so none starves, and a wait that an AbortSignal can cancel. No I/O, no timers.
import { assert } from './assert.js';

export class Semaphore {
  private available: number;
  private readonly waiters: (() => void)[] = [];

  constructor(readonly permits: number) {
    assert(Number.isSafeInteger(permits) && permits > 0, `Invalid permit count "${permits}"`);
    this.available = permits;
  }

  /** Resolves once a permit is held (the caller must release() it); rejects with the signal's reason on abort. */
  acquire(signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    if (this.available > 0 && this.waiters.length === 0) {
      this.available--;
      return Promise.resolve();
    }
    return new Promise((resolve, reject) => {
      const onAbort = () => {
        const at = this.waiters.indexOf(grant);
        if (at >= 0) this.waiters.splice(at, 1);
        reject(signal?.reason);
      };
      const grant = () => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      };
      this.waiters.push(grant);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  release(): void {
    const next = this.waiters.shift();
    if (next) next(); // the permit passes straight to the first waiter
    else {
      this.available++;
      assert(this.available <= this.permits, 'Semaphore released more often than acquired');
    }
  }

  /** Permits free right now, for tests. */
  get free(): number {
    return this.available;
  }
}
