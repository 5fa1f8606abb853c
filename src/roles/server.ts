// The server role: everything in one process (what `npm start` runs). Local stores (SQLite, local drives),
// the endpoint (S3 with the admin API beside it) and the background workers, served by serveStores(),
// which the gateway role (gateway.ts) shares over remote nodes. The node role (src/node/) is a shard RPC
// server over local drives only, with no MetaStore or endpoint.
import { join } from 'node:path';
import { Maintenance } from '../objects/maintenance.js';
import type { Redundancy } from '../blocks/types.js';
import { DriveSnapshot } from '../admin/metrics.js';
import { gcWorker, completionExpiryWorker } from '../workers/gc.js';
import { orphanSweepWorker } from '../workers/orphan-sweep.js';
import { maintenanceWorker } from '../workers/maintenance.js';
import { rebalanceWorker } from '../workers/rebalance.js';
import { loadSettledEpoch, Rebalance } from '../objects/rebalance.js';
import { processHolderId, releaseDeadLeases } from '../workers/lease.js';
import { startWorker, type RunningWorker } from '../workers/runner.js';
import type { Worker } from '../workers/worker.js';
import { createLogger, type Logger } from '../util/log.js';
import { orphanGraceMs, orphanSweepIntervalMs, shutdownTimeoutMsDefault, rebalanceWriteGraceMs, rebalanceRateBlocksPerSecDefault, rebalanceRateBytesPerSecDefault } from '../constants.js';
import { openLocalStores, type CommonStoreConfig, type RootCredentials, type StoreConfig, type Stores } from './stores.js';
import { startEndpoint } from './endpoint.js';
import { healthCheck } from './health.js';
import { RateLimiter } from '../util/rate-limiter.js';
import { loadIamKey } from '../iam/secret-box.js';
import { IamStore } from '../iam/users.js';
import { KeyCache } from '../iam/key-cache.js';
import type { RateLimitConfig } from '../util/rate-limits.js';

/** The background work's settings, shared by the roles that run it (server, gateway). */
export interface WorkerConfig {
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
  /** Blocks per second a rebalance may move shards of (throttle); 0 pauses it. */
  rebalanceRateBlocksPerSec?: number;
  /** Shard bytes per second a rebalance may copy or rebuild; 0: no byte limit. */
  rebalanceRateBytesPerSec?: number;
}

/** The endpoint's settings, shared by the roles that serve S3 (server, gateway). */
export interface EndpointConfig {
  /** host:port to listen on; port 0 picks a free one. */
  address: string;
  /** Base domains for virtual-hosted-style requests (bucket.domain). */
  domains: string[];
  /** host:port of a separate metrics-only listener for Prometheus (it needs metricsToken); unset: none. */
  metricsAddress?: string;
  /** Rate limits at start (`--rate-limits`); the admin API changes them at run time. */
  rateLimits?: RateLimitConfig;
  /**
   * Access keys (id → secret) accepted beside the root key and with its rights, for tests that need a
   * second key until IAM exists; set only from TESSERA_TEST_ACCESS_KEYS. Never for production.
   */
  testAccessKeys?: Record<string, string>;
  /** The bearer token that reads metrics without a SigV4 signature; unset: only the root key reads them. */
  metricsToken?: string;
  /** The IAM key file (secret-box.ts); unset: iam.key in the data directory. Created when missing. */
  iamKeyFile?: string;
  /** How often a process on a shared MetaStore looks for IAM changes made elsewhere (iamPollIntervalMs). */
  iamPollMs?: number;
  /** How long a stop lets the requests in flight finish before it cuts them. */
  shutdownTimeoutMs?: number;
  /** Whether SigV2 (header and presigned) is accepted; default true. */
  sigv2?: boolean;
  /** The store-wide Block Public Access settings all on (true, the default) or all off. */
  blockPublicAccess?: boolean;
  log?: Logger;
}

/** The server role's configuration: its stores', its endpoint's and its background work's. */
export interface ServerConfig extends StoreConfig, WorkerConfig, EndpointConfig {}

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
  /** Where the metadata lives (no password), when the role says. */
  meta?: string;
  /** What a block gets by default over these drives. */
  defaultRedundancy: Redundancy;
  region: string;
  credentials: RootCredentials;
  close(): Promise<void>;
}

export async function startServer(config: ServerConfig): Promise<RunningServer> {
  const log = config.log ?? createLogger();
  const stores = await openLocalStores(config, (layout) => {
    log.info('Stored a new cluster layout epoch', { epoch: layout.epoch, drives: layout.targets.map((t) => t.id), width: layout.width });
  });
  // The data directory's lock makes a SQLite MetaStore this process's alone: leases left in it are a dead
  // process's. A shared one (PostgreSQL) may have live holders elsewhere; their leases expire on their own.
  const running = await serveStores(stores, config, log, { releaseDeadLeases: !stores.metaShared });
  return { ...running, driveCount: stores.driveCount, meta: stores.metaDescription };
}

/** A role's stores served: the endpoint (S3 and the admin API) and the background workers under their leases. */
export async function serveStores(
  stores: Stores,
  config: CommonStoreConfig & WorkerConfig & EndpointConfig,
  log: Logger,
  options: { releaseDeadLeases: boolean; clusterSecret?: Buffer },
): Promise<Omit<RunningServer, 'driveCount'>> {
  const { objects, blocks, credentials } = stores;
  const maintenance = new Maintenance(objects, blocks);
  let workers: RunningWorker[] = [];
  let endpoint: Awaited<ReturnType<typeof startEndpoint>>;
  let keyCache: KeyCache | undefined;
  const limits = new RateLimiter(config.rateLimits ?? {});
  try {
    if (options.releaseDeadLeases) await releaseDeadLeases(stores.meta);
    // Before the first read: blocks a finished rebalance moved are looked for in the newest epochs only.
    await loadSettledEpoch(stores.meta, blocks);
    // Extra keys with root's rights, for tests until IAM exists: say so loudly should one reach production.
    if (config.testAccessKeys) log.warn('TESSERA_TEST_ACCESS_KEYS is set: these extra access keys have root rights (for tests only)', { accessKeys: Object.keys(config.testAccessKeys) });
    const iamKey = await loadIamKey(config.iamKeyFile ?? join(config.dataDir, 'iam.key'), { create: true });
    const iam = await IamStore.open(stores.meta, iamKey);
    keyCache = new KeyCache({ store: iam, root: credentials, log, ...(config.testAccessKeys ? { testKeys: config.testAccessKeys } : {}) });
    await keyCache.refresh();
    // Only another process can change a shared MetaStore's keys behind this one's back.
    if (stores.metaShared) keyCache.start(config.iamPollMs);
    const cache = keyCache;
    endpoint = await startEndpoint({
      address: config.address,
      ...(config.metricsAddress ? { metricsAddress: config.metricsAddress } : {}),
      ...(config.metricsToken !== undefined ? { metricsToken: config.metricsToken } : {}),
      region: config.region,
      domains: config.domains,
      ...(config.sigv2 !== undefined ? { sigv2: config.sigv2 } : {}),
      ...(config.blockPublicAccess !== undefined ? { blockPublicAccess: config.blockPublicAccess } : {}),
      credentials,
      objects,
      log,
      health: healthCheck(stores.meta, blocks, { log }),
      limits,
      keys: keyCache,
      // Without a cluster secret (the server role: its drives join by themselves) the admin API refuses assign.
      admin: (counters) => ({
        meta: stores.meta,
        ...(options.clusterSecret ? { clusterSecret: options.clusterSecret } : {}),
        // A layout change must leave room for every redundancy this process writes, not only the default.
        redundancies: Object.values(config.storageClasses ?? {}),
        // A layout applied here is followed at once, not at the next poll.
        layoutApplied: async () => {
          await stores.refreshLayouts();
        },
        maintenance,
        blocks,
        // Read when asked: a gateway's default follows the layout.
        get defaultRedundancy() {
          return blocks.defaultRedundancy();
        },
        counters,
        driveSnapshot: new DriveSnapshot({ read: () => blocks.driveSummaries(), log }),
        workers: () => workers.map((w) => w.status()),
        limits,
        // A change made here is in force here when its answer goes out: the cache reloads before it.
        iam: { store: iam, changed: () => cache.refresh() },
      }),
    });
  } catch (err) {
    keyCache?.stop();
    await maintenance.close();
    await stores.close();
    throw err;
  }
  const holder = processHolderId();
  workers = backgroundWorkers(config, stores, maintenance, log).map((worker) => startWorker(worker, { meta: stores.meta, holder, log }));
  const running = endpoint;
  return {
    url: running.url,
    ...(running.metricsUrl ? { metricsUrl: running.metricsUrl } : {}),
    region: config.region,
    credentials,
    defaultRedundancy: running.admin.defaultRedundancy,
    // A graceful stop: no new connections, the requests in flight finish (bounded), the workers end their
    // step and give up their leases, and only then are the stores closed.
    async close() {
      const graceMs = config.shutdownTimeoutMs ?? shutdownTimeoutMsDefault;
      log.info('Stopping: no new connections; requests in flight may finish', { graceMs });
      await Promise.all([running.drain(graceMs), ...workers.map((w) => w.stop())]);
      await maintenance.close();
      await running.close();
      keyCache?.stop();
      await stores.close();
      log.info('Stopped');
    },
  };
}

/** A role's background work; each runs under its lease, so in a cluster one process runs it. */
function backgroundWorkers(config: WorkerConfig, stores: Stores, maintenance: Maintenance, log: Logger): Worker[] {
  const { objects, blocks } = stores;
  return [
    gcWorker(objects, config.gcIntervalMs),
    completionExpiryWorker(objects, config.gcIntervalMs),
    orphanSweepWorker(objects, blocks, {
      graceMs: config.orphanGraceMs ?? orphanGraceMs,
      intervalMs: config.orphanSweepIntervalMs ?? orphanSweepIntervalMs,
      log,
    }),
    maintenanceWorker(maintenance, {
      healRateBlocksPerSec: config.healRateBlocksPerSec ?? 200,
      scrubRateBlocksPerSec: config.scrubRateBlocksPerSec ?? 20,
      scrubIntervalMs: config.scrubIntervalMs ?? 0,
    }),
    // The write grace covers a write placed by an older epoch in a process that learned of the new one late
    // (another gateway, or this process when an admin apply lands mid-write): see rebalanceWriteGraceMs.
    rebalanceWorker(new Rebalance({ meta: stores.meta, blocks, writeGraceMs: rebalanceWriteGraceMs, gcDelayMs: stores.objects.gcDelayMs }), {
      rateBlocksPerSec: config.rebalanceRateBlocksPerSec ?? rebalanceRateBlocksPerSecDefault,
      rateBytesPerSec: config.rebalanceRateBytesPerSec ?? rebalanceRateBytesPerSecDefault,
    }),
  ];
}
