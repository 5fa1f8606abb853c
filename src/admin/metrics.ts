// Prometheus metrics: the text exposition, the bearer token a scraper may send instead of a signature, and
// a drive-state snapshot refreshed at most once per interval in the background. Collecting them never walks
// the drives (shard counts are for `tessera admin status`): a drive's figures come from its probe.
// Who may read them is decided by the caller (roles/endpoint.ts): the root key, or the token.
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { DriveSummary } from '../blocks/types.js';
import type { AdminDeps } from './admin-api.js';
import { readClusterStatus, type ClusterStatus } from './cluster-status.js';
import type { Logger } from '../util/log.js';
import { metaRoundTrips } from '../meta/round-trips.js';
import { commitStats } from '../meta/commit-stats.js';
import { readUsage } from '../objects/usage.js';
import { labelsOf, PromPage } from '../util/prometheus.js';
import { droppedLogLines } from '../util/log-writer.js';
import type { WorkerStatus } from '../workers/runner.js';

export const metricsPath = '/_tessera/metrics';

/** How often at most the drives are probed for metrics (a probe reads a drive's identity and capacity). */
export const driveSnapshotRefreshMs = 15_000;

/** The shortest metrics token accepted: a guessable token would open the metrics to anyone. */
export const metricsTokenCharsMin = 16;

/** Checks a configured metrics token: long enough, and only characters a header carries unchanged. */
export function checkMetricsToken(token: string): string {
  if (token.length < metricsTokenCharsMin) throw new RangeError(`Cannot use a metrics token of ${token.length} characters: at least ${metricsTokenCharsMin} are needed`);
  if (!/^[\x21-\x7e]+$/.test(token)) throw new RangeError('Cannot use a metrics token with spaces or characters outside printable ASCII');
  return token;
}

/**
 * Whether a request carries the metrics token (`Authorization: Bearer TOKEN`, RFC 6750). The comparison is
 * of SHA-256 digests in constant time, so neither the token's bytes nor its length leak through timing.
 * Without a configured token a bearer credential is denied; a request without one is left to SigV4.
 */
export function metricsBearer(token: string | undefined): (req: IncomingMessage) => 'granted' | 'denied' | 'absent' {
  const expected = token === undefined ? undefined : createHash('sha256').update(token).digest();
  return (req) => {
    const header = req.headers.authorization;
    if (header === undefined || !/^bearer(?:\s|$)/i.test(header)) return 'absent';
    if (!expected) return 'denied';
    const given = createHash('sha256').update(header.slice(6).trim()).digest();
    return timingSafeEqual(given, expected) ? 'granted' : 'denied';
  };
}

/**
 * The last drive states, refreshed in the background when a scrape finds them older than the interval:
 * a probe of a remote node's drives is an RPC each, so a flood of scrapes must not each start one.
 */
export class DriveSnapshot {
  readonly #read: () => Promise<DriveSummary[]>;
  readonly #refreshMs: number;
  readonly #nowMs: () => number;
  readonly #log: Logger | undefined;
  #last: { drives: DriveSummary[]; takenMs: number } | undefined;
  #refreshing: Promise<void> | undefined;

  constructor(options: { read: () => Promise<DriveSummary[]>; refreshMs?: number; nowMs?: () => number; log?: Logger }) {
    this.#read = options.read;
    this.#refreshMs = options.refreshMs ?? driveSnapshotRefreshMs;
    this.#nowMs = options.nowMs ?? Date.now;
    this.#log = options.log;
  }

  /**
   * The latest snapshot; starts a refresh in the background when it is stale. Only the very first call,
   * before any snapshot exists, waits for one.
   */
  async get(): Promise<{ drives: DriveSummary[]; ageMs: number }> {
    if (!this.#last || this.#nowMs() - this.#last.takenMs >= this.#refreshMs) this.#refresh();
    if (!this.#last) await this.#refreshing;
    const last = this.#last ?? { drives: [], takenMs: this.#nowMs() };
    return { drives: last.drives, ageMs: this.#nowMs() - last.takenMs };
  }

  #refresh(): void {
    if (this.#refreshing) return;
    this.#refreshing = this.#read().then(
      (drives) => {
        this.#last = { drives, takenMs: this.#nowMs() };
      },
      (err: unknown) => {
        this.#log?.warn('Cannot read drive status for metrics', { err });
      },
    ).finally(() => {
      this.#refreshing = undefined;
    });
  }
}

/** A process's own counters, as this process reads them or as a worker of `--workers N` reported them. */
interface ProcessFigures {
  /** The worker's number, a label on each sample; unset in a one-process server. */
  worker?: number;
  counters: Record<string, number>;
  throttled: { kind: string; measure: string; count: number }[];
  metaRoundTrips: Record<string, number>;
  corruptFound: Record<string, number>;
  healedFromQueue: number;
  leases: { name: string; leaseHeld: boolean }[];
  processMetrics?: string[];
}

/** `{a="x",process="2"}`: the labels given, then the worker process's number when there is one. */
function processLabels(pairs: [string, string][], process: number | undefined): string {
  return labelsOf(Object.fromEntries(process === undefined ? pairs : [...pairs, ['process', String(process)]]));
}

/**
 * Prometheus text exposition of drives, maintenance, the cluster (layout, nodes, partitions, rebalance) and
 * request counters. In a server of several worker processes the counters each process keeps are sampled
 * once per worker process, labelled process="N" (sum them in the query); the rest is read from the shared stores.
 */
export async function metricsText(deps: AdminDeps): Promise<Buffer> {
  const stats = await deps.maintenance.stats();
  const page = new PromPage();
  const metric: MetricWriter = (name, help, type, samples) => page.metric(name, help, type, samples);
  const { drives, ageMs } = await deps.driveSnapshot.get();
  metric('tessera_drive_status_age_seconds', 'Age of the drive figures below: they are refreshed in the background at most every 15 seconds.', 'gauge', [['', Math.round(ageMs / 1000)]]);
  metric('tessera_drive_up', 'Whether a drive is readable and holds its identity.', 'gauge', drives.map((d) => [`{drive="${d.id}"}`, d.state === 'ok' ? 1 : 0]));
  metric('tessera_drive_capacity_bytes', 'Size of the file system a drive is on, as its last probe read it.', 'gauge', drives.flatMap((d) => (d.totalBytes === undefined ? [] : [[`{drive="${d.id}"}`, d.totalBytes]])));
  metric('tessera_drive_free_bytes', 'Free bytes of the file system a drive is on, as its last probe read it.', 'gauge', drives.flatMap((d) => (d.freeBytes === undefined ? [] : [[`{drive="${d.id}"}`, d.freeBytes]])));
  const processes: ProcessFigures[] = deps.processReports
    ? (await deps.processReports()).map((r) => ({ ...r, leases: r.workers }))
    : [{ counters: deps.counters(), throttled: deps.limits?.throttled() ?? [], metaRoundTrips: metaRoundTrips(), corruptFound: Object.fromEntries(drives.map((d) => [d.id, d.corruptFound])), healedFromQueue: stats.healedFromQueue, leases: deps.workers?.() ?? [] }];
  const perProcess = (pick: (p: ProcessFigures) => [pairs: [string, string][], value: number][]): [string, number][] => processes.flatMap((p) => pick(p).map(([pairs, value]): [string, number] => [processLabels(pairs, p.worker), value]));
  metric('tessera_drive_corrupt_blocks_found', 'Corrupt shard blocks met on a drive since start.', 'counter', perProcess((p) => Object.entries(p.corruptFound).map(([id, n]) => [[['drive', id]], n])));
  for (const pass of [stats.heal, stats.scrub]) {
    metric(`tessera_${pass.kind}_running`, `Whether a ${pass.kind} pass is running.`, 'gauge', [['', pass.running ? 1 : 0]]);
    metric(`tessera_${pass.kind}_blocks_checked`, `Blocks checked by the current or last ${pass.kind} pass.`, 'gauge', [['', pass.blocksChecked]]);
    metric(`tessera_${pass.kind}_blocks_total`, `Live blocks when the current or last ${pass.kind} pass started.`, 'gauge', [['', pass.blocksTotal]]);
    metric(`tessera_${pass.kind}_damaged_blocks`, `Damaged blocks found by the current or last ${pass.kind} pass.`, 'gauge', [['', pass.damagedFound]]);
  }
  metric('tessera_heal_shards_rebuilt', 'Shards rebuilt by the current or last heal pass.', 'gauge', [['', stats.heal.shardsRebuilt]]);
  metric('tessera_heal_queue_blocks', 'Damaged blocks waiting for repair.', 'gauge', [['', stats.queuedDamage]]);
  metric('tessera_heal_queue_healed_total', 'Blocks repaired from the damage queue since start.', 'counter', perProcess((p) => [[[], p.healedFromQueue]]));
  if (deps.lifecycle) {
    const lc = await deps.lifecycle.progress();
    metric('tessera_lifecycle_running', 'Whether a lifecycle pass is running.', 'gauge', [['', lc.running ? 1 : 0]]);
    metric('tessera_lifecycle_last_finished_seconds', 'When the last lifecycle pass finished (Unix time; 0: never).', 'gauge', [['', Math.round((lc.finishedMs ?? 0) / 1000)]]);
    metric('tessera_lifecycle_actions', 'What the current or last lifecycle pass did, by action.', 'gauge', [
      ['{action="versions_scanned"}', lc.versionsScanned], ['{action="current_expired"}', lc.currentExpired], ['{action="noncurrent_expired"}', lc.noncurrentExpired],
      ['{action="delete_markers_removed"}', lc.deleteMarkersRemoved], ['{action="transitioned"}', lc.transitioned], ['{action="uploads_aborted"}', lc.uploadsAborted],
      ['{action="locked_skipped"}', lc.lockedSkipped], ['{action="conflicts"}', lc.conflicts],
    ]);
  }
  clusterMetrics(metric, await readClusterStatus(deps, drives));
  // Zero on SQLite: only a backend that talks to a database over the network counts them.
  metric('tessera_meta_round_trips_total', 'Requests sent to the metadata database, by kind.', 'counter', perProcess((p) => Object.entries(p.metaRoundTrips).map(([kind, n]) => [[['kind', kind]], n])));
  if (deps.limits) metric('tessera_requests_throttled_total', 'Requests answered 503 SlowDown by a rate limit, by the kind of limit (key, bucket, ip) and what it limits (requests, bytes).', 'counter', perProcess((p) => p.throttled.map((t) => [[['kind', t.kind], ['measure', t.measure]], t.count])));
  for (const name of Object.keys(processes[0]?.counters ?? {})) metric(`tessera_${name}`, name.replace(/_/g, ' '), 'counter', perProcess((p) => [[[], p.counters[name] ?? 0]]));
  const commits = commitStats();
  page.histogram('tessera_meta_commit_duration_seconds', 'MetaStore commits as their callers saw them, from the call to the outcome (queueing and fsync included).', [[{}, commits.latency]]);
  page.histogram('tessera_meta_commit_batch_size', 'Commits per SQLite transaction (group commit), every worker\'s, for each transaction that carried one of this process\'s; absent on PostgreSQL, which commits one per call.', [[{}, commits.batches]]);
  // Counters in the MetaStore, changed with the versions they count: one scan, the same on every gateway.
  const usage = await readUsage(deps.meta);
  metric('tessera_bucket_objects', 'Object versions stored in a bucket (current and noncurrent, not delete markers), from the MetaStore.', 'gauge', usage.map((u) => [labelsOf({ bucket: u.bucket }), u.objects]));
  metric('tessera_bucket_bytes', 'Bytes of the object versions stored in a bucket, from the MetaStore.', 'gauge', usage.map((u) => [labelsOf({ bucket: u.bucket }), u.bytes]));
  metric('tessera_bucket_delete_markers', 'Delete markers in a bucket, from the MetaStore.', 'gauge', usage.map((u) => [labelsOf({ bucket: u.bucket }), u.deleteMarkers]));
  metric('tessera_worker_lease_held', 'Whether a process holds the background worker\'s lease (runs it); sum over processes for the cluster.', 'gauge', perProcess((p) => p.leases.map((w) => [[['worker', w.name]], w.leaseHeld ? 1 : 0])));
  workerMetrics(metric, deps.workers?.() ?? []);
  metric('tessera_log_lines_dropped_total', 'Debug and info log lines (access lines among them) dropped because stderr was not read fast enough and 8 MiB were waiting.', 'counter', [['', droppedLogLines()]]);
  // Request histograms, bytes, open connections and event-loop delay: this process's own, or with --workers N
  // every worker's, labelled process="N" like the counters above.
  if (deps.processReports) page.merged(processes.map((p) => ({ label: ['process', String(p.worker)], lines: p.processMetrics ?? [] })));
  else deps.processMetrics?.(page);
  return Buffer.from(page.text());
}

/** Background workers as this process runs them: a worker's lease is held by one process of the cluster at a time. */
function workerMetrics(metric: MetricWriter, workers: WorkerStatus[]): void {
  const of = (w: WorkerStatus): string => labelsOf({ worker: w.name });
  metric('tessera_worker_busy', 'Whether the worker\'s last step here found more to do at once (1), or nothing until later (0).', 'gauge', workers.map((w) => [of(w), w.lastState === 'busy' ? 1 : 0]));
  metric('tessera_worker_steps_total', 'Steps the worker ran in this process.', 'counter', workers.map((w) => [of(w), w.steps]));
  const gc = workers.find((w) => w.name === 'gc');
  metric('tessera_gc_blocks_deleted_total', 'Blocks the GC deleted in this process (it runs where its lease is held).', 'counter', [['', typeof gc?.detail?.blocksDeleted === 'number' ? gc.detail.blocksDeleted : 0]]);
}

type MetricWriter = (name: string, help: string, type: 'gauge' | 'counter', samples: [labels: string, value: number][]) => void;

/** The cluster's figures, from the same drive snapshot: a scrape never probes the nodes itself. */
function clusterMetrics(metric: MetricWriter, cluster: ClusterStatus): void {
  const count = <T extends string>(states: readonly T[], of: readonly { state: T }[]): [string, number][] => states.map((s) => [`{state="${s}"}`, of.filter((x) => x.state === s).length]);
  metric('tessera_layout_epoch', 'The newest cluster layout epoch.', 'gauge', [['', cluster.epoch]]);
  metric('tessera_layout_staged_changes', 'Layout changes staged and not applied yet.', 'gauge', [['', cluster.stagedChanges]]);
  metric('tessera_cluster_nodes', 'Nodes of the layout by state: up, down (no drive answers), draining.', 'gauge', count(['up', 'down', 'draining'] as const, cluster.nodes));
  metric('tessera_cluster_drives', 'Drives of the layout by state as the block store sees them.', 'gauge', count(['ok', 'missing', 'suspect'] as const, cluster.nodes.flatMap((n) => n.drives)));
  const p = cluster.partitions;
  metric('tessera_cluster_partitions', 'Partitions by how many of their targets for the default redundancy are up: all, at least a read quorum, fewer.', 'gauge', [['{health="healthy"}', p.healthy], ['{health="degraded"}', p.degraded], ['{health="unreadable"}', p.unreadable]]);
  const r = cluster.rebalance;
  metric('tessera_rebalance_running', 'Whether a rebalance pass is running.', 'gauge', [['', r?.state === 'running' ? 1 : 0]]);
  metric('tessera_rebalance_settled_epoch', 'The newest epoch every block has been moved to.', 'gauge', [['', r?.settledEpoch ?? cluster.epoch]]);
  metric('tessera_rebalance_bytes_moved_total', 'Bytes of shards moved by the current or last rebalance pass.', 'counter', [['', r?.bytesMoved ?? 0]]);
  metric('tessera_rebalance_blocks_moved_total', 'Blocks moved by the current or last rebalance pass.', 'counter', [['', r?.blocksMoved ?? 0]]);
  metric('tessera_rebalance_shards_failed_total', 'Shards the current or last rebalance pass could not move.', 'counter', [['', r?.shardsFailed ?? 0]]);
  metric('tessera_rebalance_shards_blocked', 'Shards the last rebalance pass found on draining nodes that no target of the newest epoch can take (it is narrower than their blocks).', 'gauge', [['', r?.shardsBlocked ?? 0]]);
  metric('tessera_rebalance_blocks_remaining', 'Blocks the current rebalance pass has yet to check.', 'gauge', [['', r?.state === 'running' ? r.blocksRemaining : 0]]);
  metric('tessera_rebalance_bytes_per_second', 'Bytes moved per second over the current or last rebalance pass.', 'gauge', [['', Math.round(r?.bytesPerSec ?? 0)]]);
}

export const metricsContentType = 'text/plain; version=0.0.4';

/** A process's own page (what AdminDeps.processMetrics writes), as the lines a worker's report carries. */
export function processPageLines(deps: Pick<AdminDeps, 'processMetrics'>): string[] {
  const page = new PromPage();
  deps.processMetrics?.(page);
  return page.lines;
}
