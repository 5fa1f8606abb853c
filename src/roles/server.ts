// The server role: everything in one process (what `npm start` runs). Local stores (SQLite, local drives),
// the endpoint (S3 with the admin API beside it) and the background workers, served by serveStores(),
// which the gateway role (gateway.ts) shares over remote nodes. The node role (src/node/) is a shard RPC
// server over local drives only, with no MetaStore or endpoint.
import { join } from 'node:path';
import { Maintenance } from '../objects/maintenance.js';
import type { Redundancy } from '../blocks/types.js';
import { DriveSnapshot, processPageLines } from '../admin/metrics.js';
import { gcWorker, completionExpiryWorker } from '../workers/gc.js';
import { orphanSweepWorker } from '../workers/orphan-sweep.js';
import { maintenanceWorker } from '../workers/maintenance.js';
import { rebalanceWorker } from '../workers/rebalance.js';
import { lifecycleWorker } from '../workers/lifecycle.js';
import { Lifecycle } from '../objects/lifecycle.js';
import { storageClassTable } from '../objects/storage-classes.js';
import { storageClassNames } from '../s3/object-headers.js';
import { loadSettledEpoch, Rebalance } from '../objects/rebalance.js';
import { processHolderId, releaseDeadLeases, releaseLeasesOf } from '../workers/lease.js';
import { linkToPrimary, type WorkerLink } from './worker-link.js';
import { metaRoundTrips } from '../meta/round-trips.js';
import { startWorker, type RunningWorker } from '../workers/runner.js';
import type { Worker } from '../workers/worker.js';
import { createLogger, type Logger } from '../util/log.js';
import { gcmChunksSummary } from '../util/gcm-chunks.js';
import { shardReadSummary } from '../blocks/native-shard-read.js';
import { fileSyncSummary } from '../blocks/native-file-sync.js';
import { md5Summary } from '../util/hash-thread.js';
import { orphanGraceMs, orphanSweepIntervalMs, shutdownTimeoutMsDefault, rebalanceWriteGraceMs, rebalanceRateBlocksPerSecDefault, rebalanceRateBytesPerSecDefault, lifecycleRateKeysPerSecDefault, abortUploadsAfterDaysDefault, MiB } from '../constants.js';
import { openLocalStores, type CommonStoreConfig, type RootCredentials, type StoreConfig, type Stores } from './stores.js';
import { startEndpoint } from './endpoint.js';
import { healthCheck } from './health.js';
import { RateLimiter } from '../util/rate-limiter.js';
import { loadIamKey } from '../iam/secret-box.js';
import { loadKmsRootKeyring } from '../kms/root-key.js';
import { kmsPollIntervalMs, LocalKeyService } from '../kms/local-key-service.js';
import { VaultKeyService, type VaultConfig } from '../kms/vault-key-service.js';
import type { KeyService } from '../kms/types.js';
import type { KmsAdminDeps } from '../admin/kms-api.js';
import { setTimeout as delay } from 'node:timers/promises';
import { IamStore } from '../iam/users.js';
import { KeyCache } from '../iam/key-cache.js';
import type { RateLimitConfig } from '../util/rate-limits.js';
import type { TlsFiles } from '../util/tls.js';
import { tuneHeapGrowth } from '../util/heap-growth.js';

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
  /** Start a lifecycle pass this often; 0: only when asked through the admin API. Default a day. */
  lifecycleIntervalMs?: number;
  /** Object keys per second a lifecycle pass may judge (throttle). */
  lifecycleRateKeysPerSec?: number;
  /** Incomplete multipart uploads older than this are aborted without a rule; 0 keeps them. */
  abortUploadsAfterMs?: number;
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
  /** The bearer token that reads metrics without a SigV4 signature; unset: only the root key reads them. */
  metricsToken?: string;
  /** HTTPS on the endpoint (and the metrics-only listener) with these files; unset: plain HTTP. */
  tls?: TlsFiles;
  /** The IAM key file (secret-box.ts); unset: iam.key in the data directory. Created when missing. */
  iamKeyFile?: string;
  /**
   * The KMS root key file (kms/root-key.ts); unset: kms.key in the data directory, created when missing,
   * unless the TESSERA_KMS_ROOT_KEY environment variable gives the key itself.
   */
  kmsRootKeyFile?: string;
  /** Files of root keys being retired (kms/root-key.ts): still opened until a rewrap re-seals under the current one. */
  kmsPreviousRootKeyFiles?: string[];
  /** How often a process on a shared MetaStore (or a worker of --workers N) looks for key changes made elsewhere. */
  kmsPollMs?: number;
  /** Set: the key service is Vault's transit engine (kms/vault-key-service.ts), not the built-in one. */
  vault?: VaultConfig;
  /** --default-encryption AES256: SSE-S3 for every new object a request and its bucket ask no encryption for. */
  defaultEncryption?: 'AES256';
  /** How often a process on a shared MetaStore looks for IAM changes made elsewhere (iamPollIntervalMs). */
  iamPollMs?: number;
  /** How long a stop lets the requests in flight finish before it cuts them. */
  shutdownTimeoutMs?: number;
  /** Whether SigV2 (header and presigned) is accepted; default true. */
  sigv2?: boolean;
  /** `--trusted-proxies`: proxies whose X-Forwarded-For names the client (aws:SourceIp, per-IP limits, the access log). */
  trustedProxies?: readonly string[];
  /** The store-wide Block Public Access settings all on (true, the default) or all off. */
  blockPublicAccess?: boolean;
  log?: Logger;
}

/** Which worker of `tessera server --workers N` this process is (workers-primary.ts forks them). */
export interface WorkerIdentity {
  /** 1..N; a replacement keeps its predecessor's number. */
  index: number;
  /** The first worker of a start: leases left in the MetaStore are a dead server's, ended at once. */
  first: boolean;
  /** host:pid: of the dead worker this one replaces: its leases are ended at once. */
  replaces?: string;
  /** The primary's commit socket (StoreConfig.commitSocket). */
  commitSocket?: string;
}

/** The server role's configuration: its stores', its endpoint's and its background work's. */
export interface ServerConfig extends StoreConfig, WorkerConfig, EndpointConfig {
  /** Set in a worker process of `--workers N`; unset: the one process of a server. */
  worker?: WorkerIdentity;
}

/** Parses "CLASS=rep:N" and "CLASS=rs:K+M" pairs, comma-separated. */
export function parseStorageClasses(text: string): Record<string, Redundancy> {
  const out: Record<string, Redundancy> = {};
  for (const pair of text.split(',').map((p) => p.trim()).filter((p) => p !== '')) {
    const m = /^([A-Z_]+)=(?:rep:(\d+)|rs:(\d+)\+(\d+))$/.exec(pair);
    if (!m) throw new RangeError(`Cannot parse storage class mapping "${pair}": expected CLASS=rep:N or CLASS=rs:K+M`);
    // Only AWS's names: clients send them from fixed lists, and a PUT naming any other answers InvalidStorageClass.
    if (!storageClassNames.has(m[1]!)) throw new RangeError(`Cannot map storage class "${m[1]}": expected one of AWS's names (${[...storageClassNames].join(', ')})`);
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
  tuneHeapGrowth();
  const log = config.log ?? createLogger();
  const worker = config.worker;
  const stores = await openLocalStores({ ...config, sharedProcesses: worker !== undefined, ...(worker?.commitSocket ? { commitSocket: worker.commitSocket } : {}) }, (layout) => {
    log.info('Stored a new cluster layout epoch', { epoch: layout.epoch, drives: layout.targets.map((t) => t.id), width: layout.width });
  });
  // The data directory's lock makes a SQLite MetaStore this process's alone (or its workers', of which the
  // first starts alone): leases left in it are a dead process's. A shared one (PostgreSQL) may have live
  // holders elsewhere; their leases expire on their own.
  const running = await serveStores(stores, config, log, { releaseDeadLeases: !stores.metaShared && (worker?.first ?? true), ...(worker ? { worker } : {}) });
  return { ...running, driveCount: stores.driveCount, meta: stores.metaDescription };
}

/** A role's stores served: the endpoint (S3 and the admin API) and the background workers under their leases. */
export async function serveStores(
  stores: Stores,
  config: CommonStoreConfig & WorkerConfig & EndpointConfig,
  log: Logger,
  options: { releaseDeadLeases: boolean; clusterSecret?: Buffer; clusterCa?: Buffer; worker?: WorkerIdentity },
): Promise<Omit<RunningServer, 'driveCount'>> {
  const { objects, blocks, credentials } = stores;
  const maintenance = new Maintenance(objects, blocks);
  const lifecycle = new Lifecycle(objects, { abortUploadsAfterMs: config.abortUploadsAfterMs ?? abortUploadsAfterDaysDefault * 86_400_000 });
  let workers: RunningWorker[] = [];
  let endpoint: Awaited<ReturnType<typeof startEndpoint>>;
  let keyCache: KeyCache | undefined;
  let closeKms: (() => Promise<void>) | undefined;
  const limits = new RateLimiter(config.rateLimits ?? {});
  let link: WorkerLink | undefined;
  try {
    if (options.releaseDeadLeases) await releaseDeadLeases(stores.meta);
    if (options.worker?.replaces) {
      const released = await releaseLeasesOf(stores.meta, options.worker.replaces);
      log.info('Ended the leases of the worker this one replaces', { holder: options.worker.replaces, released });
    }
    // Before the first read: blocks a finished rebalance moved are looked for in the newest epochs only.
    await loadSettledEpoch(stores.meta, blocks);
    const iamKey = await loadIamKey(config.iamKeyFile ?? join(config.dataDir, 'iam.key'), { create: true });
    const iam = await IamStore.open(stores.meta, iamKey);
    const keyService = await openKeyService(stores, config, log, options.worker !== undefined);
    closeKms = keyService.close;
    // Which AES-GCM seals encrypted objects: the native addon is ~3x faster, so its absence is worth a line.
    log.info('Chunk cipher for encrypted objects', gcmChunksSummary());
    // Whether shard reads are checked in the read's own threadpool call (native) or after it (fs), and the
    // memory this process keeps for hot stripes (--read-cache).
    log.info('Shard reads', { ...shardReadSummary(), readCacheMiB: Math.round((blocks.stripeCache.bytesMax / MiB) * 10) / 10 });
    // Whether a committed shard's pages leave the page cache (native) or stay (fs).
    log.info('Shard writes', fileSyncSummary());
    // And the uploads' MD5: many at once in SIMD lanes, or node:crypto one at a time.
    log.info('MD5 for ETags', md5Summary());
    objects.kms = keyService.service;
    if (config.defaultEncryption) objects.defaultEncryption = config.defaultEncryption;
    keyCache = new KeyCache({ store: iam, root: credentials, log });
    await keyCache.refresh();
    // Other processes change keys too: gateways on a shared MetaStore, and the other workers of --workers N.
    if (stores.metaShared || options.worker) keyCache.start(config.iamPollMs);
    const cache = keyCache;
    endpoint = await startEndpoint({
      address: config.address,
      ...(config.metricsAddress ? { metricsAddress: config.metricsAddress } : {}),
      ...(config.metricsToken !== undefined ? { metricsToken: config.metricsToken } : {}),
      region: config.region,
      domains: config.domains,
      ...(config.sigv2 !== undefined ? { sigv2: config.sigv2 } : {}),
      ...(config.trustedProxies ? { trustedProxies: config.trustedProxies } : {}),
      ...(config.tls ? { tls: config.tls } : {}),
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
        ...(options.clusterCa ? { clusterCa: options.clusterCa } : {}),
        // A layout change must leave room for every redundancy this process writes, not only the default.
        redundancies: Object.values(config.storageClasses ?? {}),
        // A layout applied here is followed at once, not at the next poll.
        layoutApplied: async () => {
          await stores.refreshLayouts();
        },
        maintenance,
        lifecycle,
        storageClasses: () => storageClassTable(config.storageClasses ?? {}, blocks.failureDomainCount(), blocks.defaultRedundancy()),
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
        kms: keyService.admin,
        // Another worker's counters and leases, and its limits, are in its process: reached through the primary.
        ...(options.worker
          ? {
              processReports: () => link!.collect(),
              // The primary forwards the limits to each worker before the collection's request, on the same
              // ordered channel: once every worker has reported, every worker enforces them, and the answer
              // to the admin call can say so.
              limitsChanged: async () => {
                link!.limitsChanged(limits.config());
                await link!.collect();
              },
            }
          : {}),
      }),
    });
    if (options.worker) {
      const admin = endpoint.admin;
      const index = options.worker.index;
      link = linkToPrimary(index, {
        report: async () => ({
          worker: index,
          pid: process.pid,
          counters: admin.counters(),
          throttled: limits.throttled(),
          metaRoundTrips: { ...metaRoundTrips() },
          corruptFound: Object.fromEntries((await admin.driveSnapshot.get()).drives.map((d) => [d.id, d.corruptFound])),
          healedFromQueue: (await maintenance.stats()).healedFromQueue,
          workers: workers.map((w) => w.status()),
          processMetrics: processPageLines(admin),
        }),
        applyLimits: (limitConfig) => limits.replace(limitConfig),
        takeSpent: () => limits.takeSpent(),
        absorbSpent: (entries) => limits.absorbSpent(entries),
      });
      limits.shareSpending();
    }
  } catch (err) {
    keyCache?.stop();
    await closeKms?.();
    await maintenance.close();
    await stores.close();
    throw err;
  }
  const holder = processHolderId();
  workers = backgroundWorkers(config, stores, { maintenance, lifecycle }, log).map((worker) => startWorker(worker, { meta: stores.meta, holder, log }));
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
      await closeKms?.();
      await stores.close();
      log.info('Stopped');
    },
  };
}

/** The key service the config asks for, with its admin routes' dependencies and what closes it. */
async function openKeyService(stores: Stores, config: CommonStoreConfig & EndpointConfig, log: Logger, worker: boolean): Promise<{ service: KeyService; admin: KmsAdminDeps; close(): Promise<void> }> {
  if (config.vault) {
    const vault = await VaultKeyService.open(config.vault, { region: config.region });
    log.info('Key service: Vault transit', { address: config.vault.address, mount: config.vault.mount ?? 'transit' });
    return { service: vault, admin: { keys: vault, changed: async () => {} }, close: () => vault.close() };
  }
  const rootKeys = await loadKmsRootKeyring({
    dataDir: config.dataDir,
    ...(config.kmsRootKeyFile ? { file: config.kmsRootKeyFile } : {}),
    ...(config.kmsPreviousRootKeyFiles ? { previousFiles: config.kmsPreviousRootKeyFiles } : {}),
  });
  const kms = new LocalKeyService(stores.meta, rootKeys, { region: config.region, log });
  // A key disabled or rotated through another process is seen here within one poll.
  const polled = stores.metaShared || worker;
  if (polled) kms.start(config.kmsPollMs);
  const pollMs = config.kmsPollMs ?? kmsPollIntervalMs;
  const admin: KmsAdminDeps = {
    keys: kms,
    // Other processes see a change at their next poll: a disable is answered only once two polls have
    // passed, so a key an operator was told is disabled is refused everywhere.
    changed: async (action) => {
      await kms.refresh();
      if (action === 'disable' && polled) await delay(2 * pollMs);
    },
    rewrap: () => kms.rewrap(),
  };
  return { service: kms, admin, close: async () => kms.stop() };
}

/** A role's background work; each runs under its lease, so in a cluster one process runs it. */
function backgroundWorkers(config: WorkerConfig, stores: Stores, { maintenance, lifecycle }: { maintenance: Maintenance; lifecycle: Lifecycle }, log: Logger): Worker[] {
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
    lifecycleWorker(lifecycle, {
      rateKeysPerSec: config.lifecycleRateKeysPerSec ?? lifecycleRateKeysPerSecDefault,
      intervalMs: config.lifecycleIntervalMs ?? 86_400_000,
    }),
  ];
}
