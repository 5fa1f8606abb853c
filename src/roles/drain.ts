// Graceful stop of an HTTP listener: stop accepting, close idle keep-alive connections at once, let the
// requests in flight finish within a bound (their answers say Connection: close), then cut what is left.
// It knows nothing of S3: it counts the promises the request listener returns.
import type { IncomingMessage, Server, ServerResponse } from 'node:http';

/** After the grace, how long the handlers of cut requests get to notice (their signal aborts) and settle. */
export const cutSettleMs = 5_000;

export type TrackedListener = (req: IncomingMessage, res: ServerResponse) => void | Promise<void>;

export interface Drainer {
  /** `listener` with its requests counted; while draining, each answer closes its connection. */
  wrap(listener: TrackedListener): (req: IncomingMessage, res: ServerResponse) => void;
  /** Whether drain() has begun. */
  readonly draining: boolean;
  /**
   * Stops accepting and waits up to `graceMs` for the requests in flight; then closes every connection
   * and waits briefly for their handlers. Resolves with how many requests were cut.
   */
  drain(graceMs: number): Promise<{ finished: number; cut: number }>;
}

export function drainerOf(server: Server): Drainer {
  const pending = new Set<Promise<void>>();
  const active = new Set<ServerResponse>();
  let draining = false;
  let settled: (() => void) | undefined;

  const closeWhenDone = (res: ServerResponse): void => {
    // Before its headers, an answer can still say Connection: close, and Node then closes the socket after
    // it; once they are out, the connection is closed when it falls idle (below).
    if (!res.headersSent) res.shouldKeepAlive = false;
  };
  const track = (res: ServerResponse, done: Promise<void>): void => {
    active.add(res);
    pending.add(done);
    const finish = (): void => {
      active.delete(res);
      pending.delete(done);
      if (!draining) return;
      server.closeIdleConnections();
      if (pending.size === 0) settled?.();
    };
    done.then(finish, finish);
  };

  return {
    get draining() {
      return draining;
    },
    wrap(listener) {
      return (req, res) => {
        if (draining) closeWhenDone(res);
        let done: void | Promise<void>;
        try {
          done = listener(req, res);
        } catch (err) {
          done = Promise.reject(err);
        }
        const answered = done instanceof Promise ? done : new Promise<void>((resolve) => res.once('close', () => resolve()));
        track(res, answered.catch(() => undefined));
      };
    },
    async drain(graceMs) {
      draining = true;
      const inFlight = pending.size;
      server.close(); // no new connections; Node closes the idle ones too
      server.closeIdleConnections();
      for (const res of active) closeWhenDone(res);
      const allSettled = (): Promise<void> => (pending.size === 0 ? Promise.resolve() : new Promise<void>((resolve) => (settled = resolve)));
      await waitAtMost(allSettled(), graceMs);
      const cut = pending.size;
      if (cut > 0) {
        server.closeAllConnections();
        await waitAtMost(allSettled(), cutSettleMs);
      }
      return { finished: Math.max(0, inFlight - cut), cut };
    },
  };
}

async function waitAtMost(promise: Promise<void>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([promise, new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)))]);
  clearTimeout(timer);
}
