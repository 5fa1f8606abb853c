// Runs a worker's steps while this process holds the worker's lease. The lease is renewed on a timer, well
// before it expires, so a long step never outlives it; a process that loses it (a renewal refused, or none
// answered in time) aborts the step in progress and takes no more until it wins the lease again.
import type { MetaStore } from '../meta/types.js';
import type { Logger } from '../util/log.js';
import { Lease } from './lease.js';
import type { Worker, WorkerState } from './worker.js';

/** How long a lease holds without renewal: a dead holder's workers resume elsewhere after this. */
export const workerLeaseTtlMs = 30_000;
/** Pause after a failed step or a failed attempt to take the lease. */
const failurePauseMs = 1000;

export interface WorkerStatus {
  name: string;
  /** Whether this process holds the worker's lease. */
  leaseHeld: boolean;
  /** The last step's answer in this process, if it ran one. */
  lastState?: WorkerState;
  steps: number;
  /** The worker's own account of its work (Worker.status), when it gives one. */
  detail?: Record<string, unknown>;
}

export interface RunningWorker {
  status(): WorkerStatus;
  /** Stops stepping, waits for the step in progress and gives the lease up. */
  stop(): Promise<void>;
}

export interface RunnerOptions {
  meta: MetaStore;
  /** This process's holder id, the same for all its workers. */
  holder: string;
  log: Logger;
  leaseTtlMs?: number;
  nowMs?: () => number;
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}

export function startWorker(worker: Worker, options: RunnerOptions): RunningWorker {
  const lease = new Lease({ meta: options.meta, name: `worker/${worker.name}`, holder: options.holder, ttlMs: options.leaseTtlMs ?? workerLeaseTtlMs, ...(options.nowMs ? { nowMs: options.nowMs } : {}) });
  // Renew at a third of the lease: two renewals may fail (a slow commit) before it runs out.
  const renewMs = Math.max(1, Math.floor(lease.ttlMs / 3));
  const stopping = new AbortController();
  const status: WorkerStatus = { name: worker.name, leaseHeld: false, steps: 0 };
  let tenure: AbortController | undefined;
  let renewer: NodeJS.Timeout | undefined;

  const lose = (): void => {
    clearInterval(renewer);
    renewer = undefined;
    tenure?.abort();
    tenure = undefined;
    status.leaseHeld = false;
  };
  let renewing = false;
  const renew = (): void => {
    // One renewal at a time: two would conflict with each other and the loser would read as a lost lease.
    if (renewing) {
      if (tenure && !lease.held()) lose(); // a renewal that hangs past the lease's end ends the tenure too
      return;
    }
    renewing = true;
    const renewed = tenure; // a renewal that answers after the lease was lost and taken again speaks for the old tenure
    lease.acquire().then((ok) => {
      if (!ok && tenure === renewed && renewed) {
        options.log.warn('Lost a worker lease: another process runs the worker now', { worker: worker.name });
        lose();
      }
    }, (err: unknown) => {
      options.log.warn('Cannot renew a worker lease', { worker: worker.name, err });
      if (tenure === renewed && !lease.held()) lose();
    }).finally(() => {
      renewing = false;
    });
  };
  const take = async (): Promise<boolean> => {
    if (!(await lease.acquire())) return false;
    tenure = new AbortController();
    status.leaseHeld = true;
    renewer = setInterval(renew, renewMs);
    renewer.unref();
    return true;
  };

  const run = async (): Promise<void> => {
    while (!stopping.signal.aborted) {
      let waitMs: number;
      let current: AbortController | undefined;
      try {
        // Held by the clock too: a renewal that has not answered does not stretch the lease.
        if (!tenure || !lease.held()) {
          lose();
          if (!(await take())) {
            await sleep(Math.min(renewMs, failurePauseMs * 5), stopping.signal);
            continue;
          }
        }
        current = tenure!;
        const state = await worker.step(current.signal);
        status.steps++;
        status.lastState = state;
        if (state === 'done') return;
        waitMs = worker.delayMs(state);
      } catch (err) {
        if (stopping.signal.aborted) return;
        // A step aborted because the lease was lost is no failure; a lease that could not be read is one.
        if (!current?.signal.aborted) options.log.error(`Worker "${worker.name}" step failed`, { err });
        waitMs = failurePauseMs;
      }
      await sleep(waitMs, stopping.signal);
    }
  };
  const done = run();
  return {
    status: () => {
      const detail = worker.status?.();
      return detail ? { ...status, detail } : { ...status };
    },
    async stop() {
      stopping.abort();
      tenure?.abort();
      await done;
      lose();
      await lease.release().catch((err: unknown) => options.log.warn('Cannot release a worker lease', { worker: worker.name, err }));
    },
  };
}
