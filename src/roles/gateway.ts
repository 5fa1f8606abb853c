// The gateway role: an S3 endpoint (admin API beside it) that holds no data. Metadata in the MetaStore
// (PostgreSQL with --meta, shared by every gateway; else SQLite in its data directory), shards on the
// storage nodes the layout names, reached over the node RPC. It follows the layout from the MetaStore, and runs the background workers
// under their leases like the server, but never breaks another process's lease: gateways may share a MetaStore.
import { join } from 'node:path';
import { mkdir } from 'node:fs/promises';
import { LocalBlockStore } from '../blocks/index.js';
import { RemoteShardTargets } from '../blocks/remote-targets.js';
import type { Layout } from '../cluster/index.js';
import { loadLayouts } from '../objects/layouts.js';
import { createLogger, type Logger } from '../util/log.js';
import { storeInitialLayout, type InitialNode } from './initial-layout.js';
import { LayoutFollower, layoutPollIntervalMs } from './layout-follower.js';
import { serveStores, type EndpointConfig, type RunningServer, type WorkerConfig } from './server.js';
import { PostgresMetaStore, describePostgresUrl } from '../meta/postgres/postgres-store.js';
import type { MetaStore } from '../meta/types.js';
import { objectContext, openLocalMeta, rootCredentials, sharedRootCredentials, type CommonStoreConfig, type RootCredentials, type Stores } from './stores.js';
import { tuneHeapGrowth } from '../util/heap-growth.js';

export interface GatewayConfig extends CommonStoreConfig, WorkerConfig, EndpointConfig {
  /** The secret every node and gateway of the cluster shares (node RPC HMAC). */
  clusterSecret: Buffer;
  /** The CA (PEM) the nodes' certificates are checked against: node RPC over TLS (`--node-ca`); unset: plain HTTP. */
  nodeCa?: Buffer;
  /** Nodes of a first layout, stored as epoch 1 when the MetaStore holds none (dev-cluster); ignored otherwise. */
  initialLayout?: InitialNode[];
  /** How often to look for a new layout epoch. */
  layoutPollMs?: number;
}

export interface RunningGateway extends Omit<RunningServer, 'driveCount'> {
  /** The newest layout epoch followed (0: none yet) and what it holds. */
  layout(): { epoch: number; nodes: number; drives: number };
  /** Loads new layout epochs now rather than at the next poll; resolves with the newest. */
  refreshLayouts(): Promise<number>;
}

export interface GatewayStores extends Stores {
  targets: RemoteShardTargets;
  follower: LayoutFollower;
}

/**
 * The gateway's stores: the MetaStore (PostgreSQL when `config.metaUrl` is set, else SQLite in its data
 * directory) and a block store over the nodes of every epoch. On PostgreSQL no data directory lock is
 * taken: a gateway has no drives, so several may run on one machine, and its root credentials come from
 * the MetaStore (sharedRootCredentials), the same for every gateway of the cluster.
 */
export async function openGatewayStores(config: GatewayConfig, log: Logger): Promise<GatewayStores> {
  await mkdir(config.dataDir, { recursive: true });
  const metaUrl = config.metaUrl;
  const meta: MetaStore = metaUrl ? await PostgresMetaStore.open({ ...config.metaPostgres, url: metaUrl }) : await openLocalMeta(config.dataDir);
  let history: Layout[];
  let credentials: RootCredentials;
  try {
    credentials = metaUrl ? await sharedRootCredentials(config, meta) : await rootCredentials(config);
    if (config.initialLayout) {
      const stored = await storeInitialLayout(meta, config.initialLayout, { secret: config.clusterSecret, ...(config.nodeCa ? { ca: config.nodeCa } : {}), timeoutMs: 30_000 });
      if (stored) log.info('Stored the initial cluster layout', { epoch: stored.epoch, nodes: stored.nodes.map((n) => n.id), drives: stored.targets.length });
    }
    history = await loadLayouts(meta);
  } catch (err) {
    await meta.close();
    throw err;
  }
  const targets = new RemoteShardTargets({
    secret: config.clusterSecret,
    ...(config.nodeCa ? { ca: config.nodeCa } : {}),
    layouts: history,
    ...(config.nodeTimeoutMs ? { callTimeoutMs: config.nodeTimeoutMs } : {}),
    onProblem: (message) => log.warn(message),
  });
  const blocks = new LocalBlockStore({ targets, layouts: history, ...(config.readCacheBytes ? { readCacheBytes: config.readCacheBytes } : {}) });
  const follower = new LayoutFollower({ meta, blocks, targets, history, log });
  return {
    credentials,
    meta,
    metaShared: metaUrl !== undefined,
    metaDescription: metaUrl ? `PostgreSQL ${describePostgresUrl(metaUrl)}` : `SQLite in ${JSON.stringify(join(config.dataDir, 'meta'))}`,
    blocks,
    targets,
    follower,
    objects: objectContext(config, meta, blocks),
    get driveCount() {
      return targets.slots.length;
    },
    refreshLayouts: () => follower.refresh(),
    async close() {
      follower.stop();
      await blocks.close();
      targets.close();
      await meta.close();
    },
  };
}

export async function startGateway(config: GatewayConfig): Promise<RunningGateway> {
  tuneHeapGrowth();
  const log = config.log ?? createLogger();
  const stores = await openGatewayStores(config, log);
  // No releaseDeadLeases: another gateway on the same MetaStore may hold them; a dead holder's lapse in 30 s.
  const running = await serveStores(stores, config, log, { releaseDeadLeases: false, clusterSecret: config.clusterSecret, ...(config.nodeCa ? { clusterCa: config.nodeCa } : {}) });
  stores.follower.start(config.layoutPollMs ?? layoutPollIntervalMs);
  return {
    ...running,
    get defaultRedundancy() {
      return stores.blocks.defaultRedundancy();
    },
    layout() {
      const newest = stores.follower.layouts[stores.follower.layouts.length - 1];
      if (!newest) return { epoch: 0, nodes: 0, drives: 0 };
      return { epoch: newest.epoch, nodes: newest.nodes.filter((n) => n.state !== 'removed').length, drives: newest.targets.filter((t) => t.state !== 'removed').length };
    },
    refreshLayouts: () => stores.refreshLayouts(),
  };
}
