// What a background worker is: one bounded, resumable unit of work per step, reporting whether there is
// more to do now (busy), nothing until later (idle) or nothing ever again (done), and how long to wait
// before the next step (its throttle).
export type WorkerState = 'busy' | 'idle' | 'done';

export interface Worker {
  /** Names its lease too: one process in the cluster runs a worker of a given name at a time. */
  readonly name: string;
  /**
   * One bounded unit of work. The signal aborts when the process stops or loses the lease; a step keeps
   * its progress where any process finds it (the MetaStore), so whoever runs the next step resumes there.
   */
  step(signal: AbortSignal): Promise<WorkerState>;
  /** How long to wait after a step that reported `state` (never asked after 'done'). */
  delayMs(state: WorkerState): number;
  /** What the worker's last step found, for the admin API (e.g. the rebalance's progress). */
  status?(): Record<string, unknown> | undefined;
}
