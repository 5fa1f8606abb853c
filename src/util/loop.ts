// A background loop: runs one step at a time until stopped, waiting between steps as long as the step
// says. A failed step is logged and retried after a pause; stop() waits for the step in progress.
import type { Logger } from './log.js';

export interface BackgroundLoop {
  stop(): Promise<void>;
}

const failurePauseMs = 1000;

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

/** `step` does one bounded unit of work and returns how long to wait before the next. */
export function startLoop(name: string, log: Logger, step: (signal: AbortSignal) => Promise<number>): BackgroundLoop {
  const controller = new AbortController();
  const run = async (): Promise<void> => {
    while (!controller.signal.aborted) {
      let waitMs: number;
      try {
        waitMs = await step(controller.signal);
      } catch (err) {
        if (controller.signal.aborted) return;
        log.error(`${name} step failed`, { err });
        waitMs = failurePauseMs;
      }
      await sleep(waitMs, controller.signal);
    }
  };
  const done = run();
  return {
    stop: async () => {
      controller.abort();
      await done;
    },
  };
}
