// The composition root: configuration → concrete stores → servers and background workers. The only
// place that knows which MetaStore and BlockStore implementations run.
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { SqliteMetaStore } from './meta/sqlite/sqlite-store.js';
import { openBlockStore } from './blocks/index.js';
import type { ObjectContext } from './objects/context.js';
import { gcStep, sweepOrphans } from './objects/gc.js';
import { metaLayoutSource } from './objects/layouts.js';
import { createS3Server, newRequestCounters } from './s3/server.js';
import { Maintenance, maintenanceStepBlocks } from './objects/maintenance.js';
import { startLoop, type BackgroundLoop } from './util/loop.js';
import type { BlockInventory, Redundancy } from './blocks/types.js';
import { createLogger, type Logger } from './util/log.js';
import { createMetricsServer, DriveSnapshot } from './admin/metrics.js';
import type { AdminDeps } from './admin/admin-api.js';
import type { Server } from 'node:http';
import { inlineObjectBytesMax, orphanGraceMs, orphanSweepIntervalMs } from './constants.js';
import { isStoreError } from './util/errors.js';

export interface ServerConfig {
  /** host:port to listen on; port 0 picks a free one. */
  address: string;
  dataDir: string;
  /** Shard directories; empty: one drive inside the data directory. */
  drives: string[];
  region: string;
  /** Base domains for virtual-hosted-style requests (bucket.domain). */
  domains: string[];
  rootAccessKey?: string;
  rootSecretKey?: string;
  gcDelayMs: number;
  gcIntervalMs: number;
  /** Unreferenced shards older than this are crash orphans and get deleted. */
  orphanGraceMs?: number;
  /** How often the drives are swept for orphans (also once at start). */
  orphanSweepIntervalMs?: number;
  inlineBytesMax?: number;
  /** A drive call slower than this fails and the drive is skipped until it answers again. */
  driveTimeoutMs?: number;
  /** Storage class → redundancy, e.g. REDUCED_REDUNDANCY → 2 copies. Unlisted classes use the drive-count default. */
  storageClasses?: Record<string, Redundancy>;
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

export interface RootCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  generated: boolean;
}

/** Root credentials from the configuration, else from the data directory, else freshly generated and kept. */
export async function rootCredentials(config: ServerConfig): Promise<RootCredentials> {
  if (config.rootAccessKey && config.rootSecretKey) return { accessKeyId: config.rootAccessKey, secretAccessKey: config.rootSecretKey, generated: false };
  const path = join(config.dataDir, 'root-credentials.json');
  try {
    const stored = JSON.parse(await readFile(path, 'utf8')) as { accessKeyId: string; secretAccessKey: string };
    return { ...stored, generated: false };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  const created = {
    accessKeyId: `TS${randomBytes(9).toString('hex').toUpperCase()}`,
    secretAccessKey: randomBytes(30).toString('base64').replace(/[+/=]/g, '').slice(0, 40),
  };
  await writeFile(path, JSON.stringify(created, null, 2), { mode: 0o600, flag: 'wx' });
  return { ...created, generated: true };
}

export function parseAddress(address: string): { host: string; port: number } {
  const m = /^(\[[^\]]+\]|[^:]*):(\d+)$/.exec(address);
  if (!m) throw new RangeError(`Cannot parse address "${address}": expected HOST:PORT`);
  const port = Number(m[2]);
  if (port > 65535) throw new RangeError(`Cannot listen on port ${port}: out of range`);
  return { host: (m[1] || '127.0.0.1').replace(/^\[|\]$/g, ''), port };
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
  await mkdir(config.dataDir, { recursive: true });
  const credentials = await rootCredentials(config);
  const meta = await SqliteMetaStore.open(join(config.dataDir, 'meta', 'tessera.db')).catch((err: unknown) => {
    if (!isStoreError(err, 'ERR_META_LOCKED')) throw err;
    throw new Error(`Cannot start on data directory "${config.dataDir}": another Tessera server is using it`, { cause: err });
  });
  const drives = config.drives.length > 0 ? config.drives : [join(config.dataDir, 'drive')];
  const layouts = await metaLayoutSource(meta, (layout) => {
    log.info('Stored a new cluster layout epoch', { epoch: layout.epoch, drives: layout.targets.map((t) => t.id), width: layout.width });
  });
  const blocks = await openBlockStore({ drives, layouts, ...(config.driveTimeoutMs ? { driveTimeoutMs: config.driveTimeoutMs } : {}) });
  const storageClasses = config.storageClasses ?? {};
  const objects: ObjectContext = {
    meta,
    blocks,
    nowMs: () => Date.now(),
    gcDelayMs: config.gcDelayMs,
    inlineBytesMax: config.inlineBytesMax ?? inlineObjectBytesMax,
    region: config.region,
    redundancyFor: (storageClass) => storageClasses[storageClass],
    blocksInFlight: new Set(),
  };
  const maintenance = new Maintenance(objects, blocks);
  await maintenance.load();
  const counters = newRequestCounters();
  const admin: AdminDeps = { maintenance, blocks, defaultRedundancy: blocks.defaultRedundancy(), counters: () => ({ ...counters }), driveSnapshot: new DriveSnapshot({ read: () => blocks.driveStatus(), log }) };
  const server = createS3Server({
    objects,
    log,
    admin,
    rootAccessKeyId: credentials.accessKeyId,
    counters,
    config: {
      region: config.region,
      baseDomains: config.domains,
      secretFor: (id) => (id === credentials.accessKeyId ? credentials.secretAccessKey : undefined),
      nowMs: () => Date.now(),
    },
  });
  const bound = await listen(server, config.address);
  const metricsServer = config.metricsAddress ? createMetricsServer(admin, log) : undefined;
  if (config.metricsAddress && !isLoopback(parseAddress(config.metricsAddress).host)) {
    log.warn('The metrics listener is not on loopback: anyone who reaches it reads drive ids and request counts', { address: config.metricsAddress });
  }
  const metricsBound = metricsServer ? await listen(metricsServer, config.metricsAddress!).catch(async (err: unknown) => {
    await closeServer(server);
    throw err;
  }) : undefined;
  const gc = startGcLoop(objects, config.gcIntervalMs, log);
  const sweeper = startOrphanSweeper(objects, blocks, config, log);
  const upkeep = startMaintenanceLoop(maintenance, config, log);
  return {
    url: urlOf(bound),
    ...(metricsBound ? { metricsUrl: `${urlOf(metricsBound)}/metrics` } : {}),
    region: config.region,
    credentials,
    driveCount: drives.length,
    defaultRedundancy: admin.defaultRedundancy,
    async close() {
      await Promise.all([gc.stop(), sweeper.stop(), upkeep.stop()]);
      maintenance.close();
      await Promise.all([closeServer(server), metricsServer && closeServer(metricsServer)]);
      await blocks.close();
      await meta.close();
    },
  };
}

async function listen(server: Server, address: string): Promise<AddressInfo> {
  const { host, port } = parseAddress(address);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  return server.address() as AddressInfo;
}

function closeServer(server: Server): Promise<void> {
  return new Promise<void>((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}

function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\./.test(host);
}

function urlOf(bound: AddressInfo): string {
  return `http://${bound.family === 'IPv6' ? `[${bound.address}]` : bound.address}:${bound.port}`;
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
