// MetaStore commit latency and group-commit batch sizes of this process, for the metrics page. Process-wide
// (as round-trips.ts), so the page reads them without the roles handing a store's internals down.
import { durationBucketsSec, Histogram } from '../util/prometheus.js';

/** Commits per SQLite transaction; PostgreSQL commits one per call. Capped by metaCommitBatchMax. */
const batchBuckets = [1, 2, 4, 8, 16, 32, 64, 128, 256];

const latency = new Histogram(durationBucketsSec);
const batches = new Histogram(batchBuckets);

/** One commit as its caller saw it, from the call to its outcome (queueing and the fsync included). */
export function observeCommit(seconds: number): void {
  latency.observe(seconds);
}

/** One transaction of the SQLite writer thread and the commits it carried. */
export function observeCommitBatch(commits: number): void {
  batches.observe(commits);
}

export function commitStats(): { latency: Histogram; batches: Histogram } {
  return { latency, batches };
}
