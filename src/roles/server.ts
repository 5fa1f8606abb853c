// The server role: everything in one process (what `npm start` runs). Local stores (SQLite, local drives),
// the endpoint (S3 with the admin API beside it) and the background loops. The gateway role will be the
// same without local stores: openStores over PostgreSQL and remote nodes, the endpoint, the workers. The
// node role (src/node/) is a shard RPC server over local drives only, with no MetaStore or endpoint.
import { Maintenance, maintenanceStepBlocks } from '../objects/maintenance.js';
import { gcStep, sweepOrphans } from '../objects/gc.js';
import type { ObjectContext } from '../objects/context.js';
import type { BlockInventory, Redundancy } from '../blocks/types.js';
import { DriveSnapshot } from '../admin/metrics.js';
import { startLoop, type BackgroundLoop } from '../util/loop.js';
import { createLogger, type Logger } from '../util/log.js';
import { orphanGraceMs, orphanSweepIntervalMs } from '../constants.js';
import { openLocalStores, type RootCredentials, type StoreConfig } from './stores.js';
import { startEndpoint } from './endpoint.js';

/** The server role's configuration: its stores', its endpoint's and its background work's. */
export interface ServerConfig extends StoreConfig {
  /** host:port to listen on; port 0 picks a free one. */
  address: string;
  /** Base domains for virtual-hosted-style requests (bucket.domain). */
  domains: string[];
  gcIntervalMs: number;
  /** Unreferenced shards older than this are crash orphans and get deleted. */
  orphanGraceMs?: number;
  /** How often the drives are swept for orphans (also once at start). */
  orphanSweepIntervalMs?: number;
  /** Blocks per second a heal pass may check (throttle). */
  healRateBlocksPerSec?: number;
  /** Blocks per second the scrubber verifies; 0 turns scheduled scrubbing off. */
  scrubRateBlocksPerSec?: number;
  /** Start a scrub pass this often; 0: only when asked through the admin API. */
  scrubIntervalMs?: number;
  /** host:port of a separate, unauthenticated metrics listener for Prometheus; unset: none. */
  metricsAddress?: string;
  log?: Logger;
}

/** Parses "CLASS=rep:N" and "CLASS=rs:K+M" pairs, comma-separated. */
export function parseStorageClasses(text: string): Record<string, Redundancy> {
  const out: Record<string, Redundancy> = {};
  for (const pair of text.split(',').map((p) => p.trim()).filter((p) => p !== '')) {
    const m = /^([A-Z_]+)=(?:rep:(\d+)|rs:(\d+)\+(\d+))$/.exec(pair);
    if (!m) throw new RangeError(`Cannot parse storage class mapping "${pair}": expected CLASS=rep:N or CLASS=rs:K+M`);
    out[m[1]!] = m[2] !== undefined ? { kind: 'replicate', copies: Number(m[2]) } : { kind: 'rs', data: Number(m[3]), parity: Number(m[4]) };
  }
  return out;
}

export interface RunningServer {
  url: string;
  /** Where the separate metrics listener serves, when one was asked for. */
  metricsUrl?: string;
  driveCount: number;
  /** What a block gets by default over these drives. */
  defaultRedundancy: Redundancy;
  region: string;
  credentials: RootCredentials;
  close(): Promise<void>;
}

export async function startServer(config: ServerConfig): Promise<RunningServer> {
  const log = config.log ?? createLogger();
  const stores = await openLocalStores(config);
  const { objects, blocks, credentials } = stores;
  const maintenance = new Maintenance(objects, blocks);
  let endpoint: Awaited<ReturnType<typeof startEndpoint>>;
  try {
    await maintenance.load();
    endpoint = await startEndpoint({
      address: config.address,
      ...(config.metricsAddress ? { metricsAddress: config.metricsAddress } : {}),
      region: config.region,
      domains: config.domains,
      credentials,
      objects,
      log,
      admin: (counters) => ({ maintenance, blocks, defaultRedundancy: blocks.defaultRedundancy(), counters, driveSnapshot: new DriveSnapshot({ read: () => blocks.driveStatus(), log }) }),
    });
  } catch (err) {
    maintenance.close();
    await stores.close();
    throw err;
  }
  const gc = startGcLoop(objects, config.gcIntervalMs, log);
  const sweeper = startOrphanSweeper(objects, blocks, config, log);
  const upkeep = startMaintenanceLoop(maintenance, config, log);
  const running = endpoint;
  return {
    url: running.url,
    ...(running.metricsUrl ? { metricsUrl: running.metricsUrl } : {}),
    region: config.region,
    credentials,
    driveCount: stores.driveCount,
    defaultRedundancy: running.admin.defaultRedundancy,
    async close() {
      await Promise.all([gc.stop(), sweeper.stop(), upkeep.stop()]);
      maintenance.close();
      await running.close();
      await stores.close();
    },
  };
}

/** GC: drain due queue entries, a step at a time; wait an interval once the queue is empty. */
function startGcLoop(objects: ObjectContext, intervalMs: number, log: Logger): BackgroundLoop {
  return startLoop('GC', log, async () => ((await gcStep(objects)).idle ? intervalMs : 0));
}

/**
 * Heal and scrub: one step at a time, pausing between steps so a pass checks at most the configured
 * blocks per second, and a scrub pass started on schedule.
 */
function startMaintenanceLoop(maintenance: Maintenance, config: ServerConfig, log: Logger): BackgroundLoop {
  const healRate = config.healRateBlocksPerSec ?? 200;
  const scrubRate = config.scrubRateBlocksPerSec ?? 20;
  let lastScrubMs = Date.now();
  return startLoop('Maintenance', log, async (signal) => {
    if (config.scrubIntervalMs && scrubRate > 0 && Date.now() - lastScrubMs >= config.scrubIntervalMs) {
      lastScrubMs = Date.now();
      await maintenance.startScrub();
    }
    const stats = maintenance.stats();
    const healing = stats.heal.running || stats.queuedDamage > 0;
    if ((await maintenance.step(signal)) === 'idle') return 500;
    return (maintenanceStepBlocks / (healing ? healRate : Math.max(scrubRate, 0.1))) * 1000;
  });
}

/**
 * Sweeps the drives for crash orphans at start, again once the grace has passed (a crash's last writes
 * were too young for the first sweep: everything written before the start is due by then), and then
 * every interval. A crash therefore costs its leftovers' space for at most the grace after the restart.
 */
function startOrphanSweeper(objects: ObjectContext, inventory: BlockInventory, config: ServerConfig, log: Logger): BackgroundLoop {
  const graceMs = config.orphanGraceMs ?? orphanGraceMs;
  const intervalMs = config.orphanSweepIntervalMs ?? orphanSweepIntervalMs;
  let sweeps = 0;
  return startLoop('Orphan sweep', log, async (signal) => {
    const result = await sweepOrphans(objects, inventory, graceMs, signal);
    if (result.orphansDeleted > 0) log.info('Deleted orphaned blocks', { ...result });
    return ++sweeps === 1 ? Math.min(graceMs + 1000, intervalMs) : intervalMs;
  });
}
