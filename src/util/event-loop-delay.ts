// Event-loop delay (node:perf_hooks monitorEventLoopDelay) over fixed windows: a scrape reads the last
// complete window, so two scrapers (or one that retries) see the same figures instead of resetting them.
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';
import type { PromPage } from './prometheus.js';

/** The monitor's sampling timer; finer costs a timer wake-up per millisecond for nothing a dashboard shows. */
const resolutionMs = 10;
export const eventLoopWindowMs = 15_000;

interface Window {
  p50Sec: number;
  p99Sec: number;
  maxSec: number;
  meanSec: number;
}

export class EventLoopDelay {
  readonly #histogram: IntervalHistogram;
  readonly #timer: NodeJS.Timeout;
  #last: Window = { p50Sec: 0, p99Sec: 0, maxSec: 0, meanSec: 0 };

  constructor(windowMs = eventLoopWindowMs) {
    this.#histogram = monitorEventLoopDelay({ resolution: resolutionMs });
    this.#histogram.enable();
    this.#timer = setInterval(() => this.#roll(), windowMs).unref();
  }

  #roll(): void {
    const h = this.#histogram;
    // The monitor reports the timer's lateness plus its own resolution; a loop never late reads ~10 ms.
    // Its figures are in nanoseconds.
    const sec = (ns: number): number => (Number.isFinite(ns) ? Math.max(0, ns / 1e9 - resolutionMs / 1000) : 0);
    this.#last = h.count === 0 ? { p50Sec: 0, p99Sec: 0, maxSec: 0, meanSec: 0 } : { p50Sec: sec(h.percentile(50)), p99Sec: sec(h.percentile(99)), maxSec: sec(h.max), meanSec: sec(h.mean) };
    h.reset();
  }

  write(page: PromPage): void {
    const w = this.#last;
    page.metric('tessera_event_loop_delay_seconds', `How late the event loop ran timers over the last complete ${eventLoopWindowMs / 1000} s window: quantile 0.5, 0.99 and 1 (the maximum).`, 'gauge',
      [['{quantile="0.5"}', w.p50Sec], ['{quantile="0.99"}', w.p99Sec], ['{quantile="1"}', w.maxSec]]);
    page.metric('tessera_event_loop_delay_mean_seconds', 'Mean event-loop delay over the same window.', 'gauge', [['', w.meanSec]]);
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#histogram.disable();
  }
}
