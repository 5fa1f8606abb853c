// The stores every role builds from its configuration: root credentials, the MetaStore, the block store
// over its shard targets, and the ObjectContext over both. The seams for the other roles are here: a
// gateway opens a shared MetaStore (PostgreSQL) and a block store over remote nodes' ShardStores instead.
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { SqliteMetaStore, takeWriterLock } from '../meta/sqlite/sqlite-store.js';
import { PostgresMetaStore, describePostgresUrl, type PostgresStoreOptions } from '../meta/postgres/postgres-store.js';
import { openBlockStore, type LocalBlockStore } from '../blocks/index.js';
import type { Redundancy } from '../blocks/types.js';
import type { MetaStore } from '../meta/types.js';
import type { ObjectContext } from '../objects/context.js';
import { inlineObjectBytesMax } from '../constants.js';
import { isStoreError } from '../util/errors.js';
import { keys } from '../objects/keys.js';
import { loadLayouts, metaLayoutSource } from '../objects/layouts.js';
import { LayoutFollower } from './layout-follower.js';
import { resolveStorageClass } from '../objects/storage-classes.js';
import type { Layout } from '../cluster/index.js';

/** What every role's stores need from the configuration. */
export interface CommonStoreConfig {
  dataDir: string;
  /** postgres://USER@HOST:PORT/DB: the metadata in that PostgreSQL; unset: SQLite in the data directory. */
  metaUrl?: string;
  /** With metaUrl: the PostgreSQL pool's size and timeouts (PostgresStoreOptions); unset: its defaults. */
  metaPostgres?: Omit<PostgresStoreOptions, 'url'>;
  region: string;
  rootAccessKey?: string;
  rootSecretKey?: string;
  gcDelayMs: number;
  inlineBytesMax?: number;
  /** Bytes of checked stripes of hot blocks this process keeps in memory for GETs (`--read-cache`); unset or 0: none. */
  readCacheBytes?: number;
  /**
   * Roles that reach remote nodes (the gateway's `--node-timeout`): a node RPC call with no response
   * headers after this, or a gap this long within a streamed answer, fails ERR_TARGET_TIMEOUT and the node
   * is skipped until a background probe answers (RemoteNodeOptions.callTimeoutMs; default rpcCallTimeoutMs).
   */
  nodeTimeoutMs?: number;
  /** Storage class → redundancy, e.g. REDUCED_REDUNDANCY → 2 copies, over objects/storage-classes.ts's defaults. */
  storageClasses?: Record<string, Redundancy>;
}

/** What the server role's stores need: the common settings and its local drives. */
export interface StoreConfig extends CommonStoreConfig {
  /** Shard directories; empty: one drive inside the data directory. */
  drives: string[];
  /** A drive call slower than this fails and the drive is skipped until it answers again. */
  driveTimeoutMs?: number;
  /**
   * This process is one worker of `--workers N`: its siblings open the same metadata and drives, and the
   * primary holds the data directory's lock. The MetaStore is opened shared (no lock; the read cache
   * checks data_version) and the layout is polled, as a gateway does, since another worker may apply one.
   */
  sharedProcesses?: boolean;
  /** With sharedProcesses on SQLite: the primary's commit socket, where this process's commits go. */
  commitSocket?: string;
}

/** The ObjectContext over a role's MetaStore and block store. */
export function objectContext(config: CommonStoreConfig, meta: MetaStore, blocks: LocalBlockStore): ObjectContext {
  const storageClasses = config.storageClasses ?? {};
  return {
    meta,
    blocks,
    nowMs: () => Date.now(),
    gcDelayMs: config.gcDelayMs,
    inlineBytesMax: config.inlineBytesMax ?? inlineObjectBytesMax,
    region: config.region,
    // Resolved at each write: the failure domains follow the layout.
    redundancyFor: (storageClass) => resolveStorageClass(storageClass, storageClasses, blocks.failureDomainCount()).redundancy,
    blocksInFlight: new Set(),
  };
}

export interface RootCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  generated: boolean;
}

/** Root credentials from the configuration, else from the data directory, else freshly generated and kept. */
export async function rootCredentials(config: Pick<StoreConfig, 'dataDir' | 'rootAccessKey' | 'rootSecretKey'>): Promise<RootCredentials> {
  if (config.rootAccessKey && config.rootSecretKey) return { accessKeyId: config.rootAccessKey, secretAccessKey: config.rootSecretKey, generated: false };
  const path = join(config.dataDir, 'root-credentials.json');
  try {
    const stored = JSON.parse(await readFile(path, 'utf8')) as { accessKeyId: string; secretAccessKey: string };
    return { ...stored, generated: false };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  const created = newRootCredentials();
  await writeFile(path, JSON.stringify(created, null, 2), { mode: 0o600, flag: 'wx' });
  return { ...created, generated: true };
}

/** The setting that holds a cluster's root credentials when its MetaStore is shared (several gateways). */
export const rootCredentialsSetting = 'root-credentials';

/**
 * Root credentials for a process on a shared MetaStore: from the configuration, else the ones stored in the
 * MetaStore, else freshly generated and stored there by one conditional commit (the first gateway of a
 * cluster wins a race; the others read what it stored). So every gateway behind one load balancer accepts
 * the same key, whatever its data directory holds.
 */
export async function sharedRootCredentials(config: Pick<CommonStoreConfig, 'rootAccessKey' | 'rootSecretKey'>, meta: MetaStore): Promise<RootCredentials> {
  if (config.rootAccessKey && config.rootSecretKey) return { accessKeyId: config.rootAccessKey, secretAccessKey: config.rootSecretKey, generated: false };
  const key = keys.setting(rootCredentialsSetting);
  for (;;) {
    const stored = await meta.get(key);
    if (stored) return { ...(JSON.parse(stored.toString('utf8')) as { accessKeyId: string; secretAccessKey: string }), generated: false };
    const created = newRootCredentials();
    if (await meta.commit({ checks: [{ key, value: null }], writes: [{ key, value: Buffer.from(JSON.stringify(created)) }] })) return { ...created, generated: true };
  }
}

function newRootCredentials(): { accessKeyId: string; secretAccessKey: string } {
  return {
    accessKeyId: `TS${randomBytes(9).toString('hex').toUpperCase()}`,
    secretAccessKey: randomBytes(30).toString('base64').replace(/[+/=]/g, '').slice(0, 40),
  };
}

export interface Stores {
  credentials: RootCredentials;
  meta: MetaStore;
  /**
   * Whether other processes may use the same MetaStore (PostgreSQL): then nothing in it may be taken for a
   * dead process's, e.g. leases, which expire on their own instead.
   */
  metaShared: boolean;
  /** Where the metadata lives, for the startup banner (no password). */
  metaDescription: string;
  blocks: LocalBlockStore;
  objects: ObjectContext;
  driveCount: number;
  /**
   * Loads layout epochs stored since the last look and hands the history to the block store (and the
   * gateway's remote targets); resolves with the newest epoch. The process that applied a layout change
   * calls it at once; a gateway also polls.
   */
  refreshLayouts(): Promise<number>;
  /** Closes the block store, then the MetaStore. */
  close(): Promise<void>;
}

function dataDirInUse(dataDir: string, err: unknown): Error {
  return new Error(`Cannot start on data directory "${dataDir}": another Tessera server is using it`, { cause: err });
}

/** The SQLite MetaStore of one data directory; a second process on the same directory is refused. */
export async function openLocalMeta(dataDir: string, shared = false, commitSocket?: string): Promise<MetaStore> {
  return SqliteMetaStore.open(join(dataDir, 'meta', 'tessera.db'), { shared, ...(commitSocket ? { commitSocket } : {}) }).catch((err: unknown) => {
    if (!isStoreError(err, 'ERR_META_LOCKED')) throw err;
    throw dataDirInUse(dataDir, err);
  });
}

/**
 * The PostgreSQL MetaStore, with the data directory's one-server lock taken as SQLite takes it: the drive
 * in it is still this process's alone (its orphan sweep would delete another server's shards).
 */
async function openSharedMeta(dataDir: string, url: string, lockHeld: boolean, tuning: CommonStoreConfig['metaPostgres']): Promise<MetaStore> {
  const path = join(dataDir, 'meta', 'tessera.db');
  await mkdir(join(dataDir, 'meta'), { recursive: true });
  let lock: ReturnType<typeof takeWriterLock> | undefined;
  try {
    lock = lockHeld ? undefined : takeWriterLock(path);
  } catch (err) {
    if (!isStoreError(err, 'ERR_META_LOCKED')) throw err;
    throw dataDirInUse(dataDir, err);
  }
  const meta = await PostgresMetaStore.open({ ...tuning, url }).catch((err: unknown) => {
    lock?.close();
    throw err;
  });
  return {
    get: (key, options) => meta.get(key, options),
    scan: (range) => meta.scan(range),
    readMany: (batch) => meta.readMany(batch),
    commit: (txn) => meta.commit(txn),
    async close() {
      await meta.close();
      lock?.close();
    },
  };
}

/** Checks a --meta value: a PostgreSQL URL, or empty for SQLite in the data directory. */
export function parseMetaUrl(text: string): string | undefined {
  if (text.trim() === '') return undefined;
  if (!/^postgres(ql)?:\/\/[^/]+\/[^/?#]+/.test(text)) throw new RangeError(`Cannot use metadata URL ${describePostgresUrl(text)}: expected postgres://USER@HOST:PORT/DB`);
  return text;
}

/**
 * The server role's stores: local drives, reached in process, and the metadata in SQLite in the data
 * directory, or in PostgreSQL when `config.metaUrl` is set.
 */
export async function openLocalStores(config: StoreConfig, onLayoutStored?: (layout: Layout) => void): Promise<Stores> {
  await mkdir(config.dataDir, { recursive: true });
  const credentials = await rootCredentials(config);
  const metaUrl = config.metaUrl;
  const shared = config.sharedProcesses === true;
  const meta = metaUrl ? await openSharedMeta(config.dataDir, metaUrl, shared, config.metaPostgres) : await openLocalMeta(config.dataDir, shared, config.commitSocket);
  const drives = config.drives.length > 0 ? config.drives : [join(config.dataDir, 'drive')];
  const layouts = await metaLayoutSource(meta, (layout) => onLayoutStored?.(layout)).catch(async (err: unknown) => {
    await meta.close();
    throw err;
  });
  const blocks = await openBlockStore({ drives, layouts, ...(config.driveTimeoutMs ? { driveTimeoutMs: config.driveTimeoutMs } : {}), ...(config.readCacheBytes ? { readCacheBytes: config.readCacheBytes } : {}) }).catch(async (err: unknown) => {
    await meta.close();
    throw err;
  });
  const follower = new LayoutFollower({ meta, blocks, history: await loadLayouts(meta) });
  if (shared) follower.start();
  return {
    credentials,
    meta,
    metaShared: metaUrl !== undefined,
    metaDescription: metaUrl ? `PostgreSQL ${describePostgresUrl(metaUrl)}` : `SQLite in ${JSON.stringify(join(config.dataDir, 'meta'))}`,
    blocks,
    objects: objectContext(config, meta, blocks),
    driveCount: drives.length,
    refreshLayouts: () => follower.refresh(),
    async close() {
      follower.stop();
      await blocks.close();
      await meta.close();
    },
  };
}
