// Prometheus metrics: the text exposition, a drive-status snapshot refreshed at most once per interval in
// the background (a scrape never walks the drives), and the optional unauthenticated listener for scrapers.
// Who may read them is decided by the caller: the endpoint lets only the root key through (roles/endpoint.ts).
import { createServer, type Server } from 'node:http';
import type { DriveStatus } from '../blocks/types.js';
import type { AdminDeps } from './admin-api.js';
import { readClusterStatus, type ClusterStatus } from './cluster-status.js';
import type { Logger } from '../util/log.js';
import { metaRoundTrips } from '../meta/round-trips.js';

export const metricsPath = '/_tessera/metrics';

/** How often at most the drives are walked to count shard files and bytes for metrics. */
export const driveSnapshotRefreshMs = 60_000;

/**
 * The last drive status, refreshed in the background when a scrape finds it older than the interval.
 * Counting shard files walks every drive, so a scrape (or a flood of them) must not each start a walk.
 */
export class DriveSnapshot {
  readonly #read: () => Promise<DriveStatus[]>;
  readonly #refreshMs: number;
  readonly #nowMs: () => number;
  readonly #log: Logger | undefined;
  #last: { drives: DriveStatus[]; takenMs: number } | undefined;
  #refreshing: Promise<void> | undefined;

  constructor(options: { read: () => Promise<DriveStatus[]>; refreshMs?: number; nowMs?: () => number; log?: Logger }) {
    this.#read = options.read;
    this.#refreshMs = options.refreshMs ?? driveSnapshotRefreshMs;
    this.#nowMs = options.nowMs ?? Date.now;
    this.#log = options.log;
  }

  /**
   * The latest snapshot; starts a refresh in the background when it is stale. Only the very first call,
   * before any snapshot exists, waits for one.
   */
  async get(): Promise<{ drives: DriveStatus[]; ageMs: number }> {
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

/** Prometheus text exposition of drives, maintenance, the cluster (layout, nodes, partitions, rebalance) and request counters. */
export async function metricsText(deps: AdminDeps): Promise<Buffer> {
  const stats = await deps.maintenance.stats();
  const lines: string[] = [];
  const metric = (name: string, help: string, type: 'gauge' | 'counter', samples: [labels: string, value: number][]) => {
    lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
    for (const [labels, value] of samples) lines.push(`${name}${labels} ${value}`);
  };
  const { drives, ageMs } = await deps.driveSnapshot.get();
  metric('tessera_drive_status_age_seconds', 'Age of the drive figures below: they are refreshed in the background at most once a minute.', 'gauge', [['', Math.round(ageMs / 1000)]]);
  metric('tessera_drive_up', 'Whether a drive is readable and holds its identity.', 'gauge', drives.map((d) => [`{drive="${d.id}"}`, d.state === 'ok' ? 1 : 0]));
  metric('tessera_drive_shard_files', 'Shard files on a drive.', 'gauge', drives.map((d) => [`{drive="${d.id}"}`, d.shardFiles]));
  metric('tessera_drive_bytes', 'Bytes of shard files on a drive.', 'gauge', drives.map((d) => [`{drive="${d.id}"}`, d.bytes]));
  metric('tessera_drive_corrupt_blocks_found', 'Corrupt shard blocks met on a drive since start.', 'counter', drives.map((d) => [`{drive="${d.id}"}`, d.corruptFound]));
  for (const pass of [stats.heal, stats.scrub]) {
    metric(`tessera_${pass.kind}_running`, `Whether a ${pass.kind} pass is running.`, 'gauge', [['', pass.running ? 1 : 0]]);
    metric(`tessera_${pass.kind}_blocks_checked`, `Blocks checked by the current or last ${pass.kind} pass.`, 'gauge', [['', pass.blocksChecked]]);
    metric(`tessera_${pass.kind}_blocks_total`, `Live blocks when the current or last ${pass.kind} pass started.`, 'gauge', [['', pass.blocksTotal]]);
    metric(`tessera_${pass.kind}_damaged_blocks`, `Damaged blocks found by the current or last ${pass.kind} pass.`, 'gauge', [['', pass.damagedFound]]);
  }
  metric('tessera_heal_shards_rebuilt', 'Shards rebuilt by the current or last heal pass.', 'gauge', [['', stats.heal.shardsRebuilt]]);
  metric('tessera_heal_queue_blocks', 'Damaged blocks waiting for repair.', 'gauge', [['', stats.queuedDamage]]);
  metric('tessera_heal_queue_healed_total', 'Blocks repaired from the damage queue since start.', 'counter', [['', stats.healedFromQueue]]);
  clusterMetrics(metric, await readClusterStatus(deps, drives));
  // Zero on SQLite: only a backend that talks to a database over the network counts them.
  metric('tessera_meta_round_trips_total', 'Requests sent to the metadata database, by kind.', 'counter', Object.entries(metaRoundTrips()).map(([kind, n]) => [`{kind="${kind}"}`, n]));
  for (const [name, value] of Object.entries(deps.counters())) metric(`tessera_${name}`, name.replace(/_/g, ' '), 'counter', [['', value]]);
  return Buffer.from(`${lines.join('\n')}\n`);
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

/**
 * The separate metrics listener (`--metrics-address`): GET /metrics (and /_tessera/metrics) without
 * authentication, for a Prometheus on the same host. Anything else is 404. It must listen only where
 * the scraper alone can reach it (loopback by default): it has no authentication of its own.
 */
export function createMetricsServer(deps: AdminDeps, log: Logger): Server {
  return createServer((req, res) => {
    const path = (req.url ?? '/').split('?', 1)[0];
    if (req.method !== 'GET' || (path !== '/metrics' && path !== metricsPath)) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('Not found: metrics are at /metrics\n');
      return;
    }
    metricsText(deps).then((text) => {
      res.writeHead(200, { 'content-type': metricsContentType, 'content-length': String(text.length) }).end(text);
    }, (err: unknown) => {
      log.error('Cannot serve metrics', { err });
      res.writeHead(500, { 'content-type': 'text/plain' }).end('Cannot collect metrics\n');
    });
  });
}
