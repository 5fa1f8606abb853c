// A worker process's side of `tessera server --workers N` (the primary is workers-primary.ts): the IPC
// messages both speak, the process's own figures it reports when any worker collects them for a metrics
// scrape or a status answer, rate limits changed through another worker's admin API, and what each worker
// charged under the limits, so that a limit holds for the workers together.
import { assert } from '../util/assert.js';
import type { SpentEntry } from '../util/rate-limiter.js';
import type { RateLimitConfig } from '../util/rate-limits.js';
import type { ProcessReport } from '../admin/admin-api.js';

export type { ProcessReport };

export type WorkerMessage =
  | { type: 'tessera-ready'; banner: WorkerBanner }
  | { type: 'tessera-collect'; id: number }
  | { type: 'tessera-report'; id: number; report: ProcessReport }
  | { type: 'tessera-limits'; config: RateLimitConfig }
  | { type: 'tessera-spent'; entries: SpentEntry[] };

export type PrimaryMessage =
  | { type: 'tessera-report-request'; id: number }
  | { type: 'tessera-collected'; id: number; reports: ProcessReport[] }
  | { type: 'tessera-limits'; config: RateLimitConfig }
  | { type: 'tessera-spent-elsewhere'; entries: SpentEntry[] };

/**
 * How often a worker tells what it charged under the rate limits, and the primary passes the sums on: a
 * limit can be overrun by what the other workers admit in about two of these.
 */
export const spendShareIntervalMs = 100;

/** What the primary prints once all workers listen: the first worker's view of the server. */
export interface WorkerBanner {
  url: string;
  metricsUrl?: string;
  region: string;
  meta?: string;
  driveCount: number;
  redundancy: string;
}

/** The environment the primary gives each worker. */
export const workerEnv = {
  /** The worker's number, 1..N. */
  index: 'TESSERA_WORKER_INDEX',
  /** Set for the first worker of a start: every lease in the MetaStore is then a dead process's. */
  first: 'TESSERA_WORKER_FIRST',
  /** The holder id prefix (host:pid:) of the worker this one replaces, whose leases it ends at once. */
  replaces: 'TESSERA_WORKER_REPLACES',
  /** The primary's commit socket, when it runs the workers' one SQLite commit thread. */
  commitSocket: 'TESSERA_COMMIT_SOCKET',
} as const;

/** A collection the primary did not answer in this long (a worker stuck) yields this process's report alone. */
const collectTimeoutMs = 5_000;

export interface WorkerLink {
  index: number;
  /** Every live worker's report (this one's included), in worker order. */
  collect(): Promise<ProcessReport[]>;
  /** Tells the other workers the limits this one now enforces. */
  limitsChanged(config: RateLimitConfig): void;
}

export interface LinkHandlers {
  report(): Promise<ProcessReport>;
  applyLimits(config: RateLimitConfig): void;
  /** What this worker charged under the rate limits since the last call. */
  takeSpent(): SpentEntry[];
  /** What the other workers charged, to charge here too. */
  absorbSpent(entries: SpentEntry[]): void;
}

/**
 * Connects this worker to its primary: answers report requests with `report()`, applies limits another
 * worker changed with `applyLimits`, trades rate-limit spending every spendShareIntervalMs, and sends its
 * collections through the primary.
 */
export function linkToPrimary(index: number, handlers: LinkHandlers): WorkerLink {
  assert(process.send !== undefined, 'A worker process has an IPC channel to its primary');
  const waiting = new Map<number, (reports: ProcessReport[]) => void>();
  let nextId = 1;
  process.on('message', (message: PrimaryMessage) => {
    if (message.type === 'tessera-report-request') void handlers.report().then((report) => send({ type: 'tessera-report', id: message.id, report }));
    else if (message.type === 'tessera-limits') handlers.applyLimits(message.config);
    else if (message.type === 'tessera-collected') waiting.get(message.id)?.(message.reports);
    else if (message.type === 'tessera-spent-elsewhere') handlers.absorbSpent(message.entries);
  });
  setInterval(() => {
    const entries = handlers.takeSpent();
    if (entries.length > 0) send({ type: 'tessera-spent', entries });
  }, spendShareIntervalMs).unref();
  return {
    index,
    collect() {
      const id = nextId++;
      return new Promise<ProcessReport[]>((resolve) => {
        const timer = setTimeout(() => void handlers.report().then((report) => done([report])), collectTimeoutMs);
        function done(reports: ProcessReport[]): void {
          clearTimeout(timer);
          waiting.delete(id);
          resolve(reports.sort((a, b) => a.worker - b.worker));
        }
        waiting.set(id, done);
        send({ type: 'tessera-collect', id });
      });
    },
    limitsChanged(config) {
      send({ type: 'tessera-limits', config });
    },
  };
}

/** Sends to the primary; a channel closed (the primary gone, this worker about to exit) drops the message. */
export function send(message: WorkerMessage): void {
  if (process.connected) process.send!(message);
}
