// What the S3 listener counts per request for the metrics page: requests by operation and status, latency
// by operation, bytes in and out by operation. Recording one request is a few map lookups and a histogram
// increment; the page is rendered only when scraped (admin/metrics.ts).
import { durationBucketsSec, Histogram, labelsOf, type PromPage } from '../util/prometheus.js';

/** The old totals, kept for `tessera admin status` and the scrapes that read them. */
export interface RequestCounters {
  requests_total: number;
  responses_4xx_total: number;
  responses_5xx_total: number;
  /** Requests whose client went away before the answer was complete: not a server fault, so not a 5xx. */
  requests_aborted_total: number;
}

export function newRequestCounters(): RequestCounters {
  return { requests_total: 0, responses_4xx_total: 0, responses_5xx_total: 0, requests_aborted_total: 0 };
}

/** The operation label of a request refused before routing named one (a bad address, a parse error). */
export const unknownOperation = 'Unknown';

interface OperationFigures {
  duration: Histogram;
  bytesIn: number;
  bytesOut: number;
  /** Requests by status: the HTTP status code, or "aborted" when the client went away first. */
  statuses: Map<string, number>;
}

export class RequestMetrics {
  readonly counters: RequestCounters = newRequestCounters();
  // Operations are the router's fixed set (and Admin, Metrics, Unknown), so the map stays small.
  readonly #byOperation = new Map<string, OperationFigures>();

  /** One finished request; `status` undefined: the client went away before the answer was complete. */
  record(operation: string | undefined, status: number | undefined, seconds: number, bytesIn: number, bytesOut: number): void {
    const name = operation ?? unknownOperation;
    let figures = this.#byOperation.get(name);
    if (!figures) this.#byOperation.set(name, (figures = { duration: new Histogram(durationBucketsSec), bytesIn: 0, bytesOut: 0, statuses: new Map() }));
    figures.duration.observe(seconds);
    figures.bytesIn += bytesIn;
    figures.bytesOut += bytesOut;
    const label = status === undefined ? 'aborted' : statusLabel(status);
    figures.statuses.set(label, (figures.statuses.get(label) ?? 0) + 1);
  }

  write(page: PromPage): void {
    const ops = [...this.#byOperation.entries()].sort(([a], [b]) => (a < b ? -1 : 1));
    page.metric('tessera_s3_requests_total', 'Requests answered, by operation and HTTP status ("aborted": the client went away first).', 'counter',
      ops.flatMap(([operation, f]) => [...f.statuses].map(([status, n]): [string, number] => [labelsOf({ operation, status }), n])));
    page.histogram('tessera_s3_request_duration_seconds', 'Time from a request\'s arrival to its answer being complete, by operation.',
      ops.map(([operation, f]) => [{ operation }, f.duration]));
    page.metric('tessera_s3_received_bytes_total', 'Request body bytes received, by operation.', 'counter', ops.map(([operation, f]) => [labelsOf({ operation }), f.bytesIn]));
    page.metric('tessera_s3_sent_bytes_total', 'Response bytes sent (status line and headers included), by operation.', 'counter', ops.map(([operation, f]) => [labelsOf({ operation }), f.bytesOut]));
  }
}

// Status labels are made once each rather than per request.
const statusLabels = new Map<number, string>();

function statusLabel(status: number): string {
  let label = statusLabels.get(status);
  if (label === undefined) statusLabels.set(status, (label = String(status)));
  return label;
}
