// Something kept fresh by looking again: on demand (refresh) and on a timer (start). Shared by the layout
// follower and the access-key cache, which both follow a record other processes change.
import type { Logger } from './log.js';

export class Poller<T> {
  private running: Promise<T> | undefined;
  /** A refresh asked for while one runs: it must look again afterwards, or it could miss the change it was told of. */
  private again: Promise<T> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private failing = false;

  /** `look` does one look; `failure` is what the log says when a polled look fails. */
  constructor(
    private readonly look: () => Promise<T>,
    private readonly failure: string,
    private readonly log?: Logger,
  ) {}

  /**
   * Looks now. Calls made while a look runs share one look that starts after it ends, so a caller that
   * has just committed a change sees it once this resolves.
   */
  refresh(): Promise<T> {
    if (!this.running) {
      this.running = this.look().finally(() => (this.running = undefined));
      return this.running;
    }
    this.again ??= this.running.catch(() => undefined).then(() => {
      this.again = undefined;
      return this.refresh();
    });
    return this.again;
  }

  /** Looks every `intervalMs` until stop(); a run of failed looks is logged once. */
  start(intervalMs: number): void {
    this.stop();
    this.timer = setInterval(() => {
      this.refresh().then(
        () => (this.failing = false),
        (err: unknown) => {
          if (!this.failing) this.log?.warn(this.failure, { error: String(err) });
          this.failing = true;
        },
      );
    }, intervalMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }
}
