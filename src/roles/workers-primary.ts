// The primary of `tessera server --workers N`: holds the data directory's one-server lock, makes the root
// credentials once, forks the workers (node:cluster: they share the listening socket, the primary hands
// each connection to the next worker in turn), replaces a worker that dies, relays the workers' reports,
// rate-limit changes and rate-limit spending, and stops them all on a signal. It serves no request; on
// SQLite it runs the one commit thread all the workers' metadata commits go to, so they are grouped
// together (sqlite-store.ts, `commitSocket`), and a hashing thread for every two workers, to which their
// upload digests go, so that they share its MD5 lanes (util/hash-service.ts).
import cluster, { type Worker as ClusterWorker } from 'node:cluster';
import { mkdir, readdir, rm } from 'node:fs/promises';
import { hostname } from 'node:os';
import { dirname, join } from 'node:path';
import type { Worker as Thread } from 'node:worker_threads';
import type Database from 'better-sqlite3';
import { changeLogRows, openSqliteDatabase, startCommitThread, takeWriterLock } from '../meta/sqlite/sqlite-store.js';
import { isStoreError } from '../util/errors.js';
import { hashSocketEnv, removeSlabsOf, slabDir, startHashService } from '../util/hash-service.js';
import type { Logger } from '../util/log.js';
import type { SpentEntry } from '../util/rate-limiter.js';
import type { RateLimitConfig } from '../util/rate-limits.js';
import { rootCredentials, type RootCredentials } from './stores.js';
import { spendShareIntervalMs, workerEnv, type PrimaryMessage, type ProcessReport, type WorkerBanner, type WorkerMessage } from './worker-link.js';

export interface PrimaryConfig {
  workers: number;
  dataDir: string;
  /** Set: the metadata is in PostgreSQL and no SQLite database is prepared. */
  metaUrl?: string;
  rootAccessKey?: string;
  rootSecretKey?: string;
  /** The workers' own grace for requests in flight; the primary waits that plus stopOverrunMs. */
  shutdownTimeoutMs: number;
  log: Logger;
}

export interface RunningPrimary {
  banner: WorkerBanner;
  credentials: RootCredentials;
  /** Process ids of the workers now running, by worker number (for tests and status). */
  pids(): number[];
  /** Sends `signal` to every worker running (SIGHUP: each reloads its TLS certificate). */
  signalAll(signal: NodeJS.Signals): void;
  /** SIGTERM to every worker, then waits for them: 0 when all exited 0, else 1. */
  close(): Promise<number>;
}

/** How long past their shutdown timeout the workers may take before they are killed. */
const stopOverrunMs = 30_000;
/** A worker that dies sooner than this after its start is replaced only after restartPauseMs: no crash loop at full speed. */
const shortLifeMs = 10_000;
const restartPauseMs = 2_000;
/** How long a collection waits for the workers' reports; a stuck worker's figures are left out. */
const reportWaitMs = 2_000;

/** The longest path a Unix socket's address holds on Linux (sun_path, less its NUL). */
const socketPathBytesMax = 107;

/**
 * Starts the commit thread every worker sends its SQLite commits to, on a socket beside the database.
 * Undefined when that path is too long for a socket's address: each worker then commits from a thread of
 * its own, and the workers take turns on SQLite's write lock.
 */
async function startSharedCommitter(dbPath: string, log: Logger): Promise<{ socketPath: string; thread: Thread } | undefined> {
  const socketPath = join(dirname(dbPath), 'commit.sock');
  if (Buffer.byteLength(socketPath) > socketPathBytesMax) {
    log.warn('The data directory\'s path is too long for the commit socket: each worker commits metadata on its own', { socketPath });
    return undefined;
  }
  return { socketPath, thread: await startCommitThread({ path: dbPath, changeLogRows, socketPath }) };
}

/**
 * Workers per hashing service thread. One thread hashing two workers' signed 64 MiB PUTs at about 940 MiB/s
 * was 76 % busy here (docs/benchmarks.md, "One hashing service for all the workers"), so with more workers
 * each pair gets a thread of its own, and the lanes fill from two workers' uploads.
 */
const workersPerHasher = 2;

/**
 * Starts the hashing service threads the workers' upload digests go to, each on a socket beside the
 * database (DATA/meta/hash-N.sock). Empty, and the workers hash on their own threads, where they cannot be
 * had: no MD5 lanes addon, no shared memory, a socket path too long, or a thread that failed to start.
 */
async function startSharedHashers(dataDir: string, workers: number, log: Logger): Promise<{ socketPath: string; thread: Thread }[]> {
  const hashers: { socketPath: string; thread: Thread }[] = [];
  for (let n = 1; n <= Math.ceil(workers / workersPerHasher); n++) {
    const socketPath = join(dataDir, 'meta', `hash-${n}.sock`);
    if (Buffer.byteLength(socketPath) > socketPathBytesMax) {
      log.warn("The data directory's path is too long for the hashing socket: each worker hashes its uploads on its own", { socketPath });
      break;
    }
    try {
      const started = await startHashService(socketPath);
      if ('reason' in started) {
        log.info('Each worker hashes its uploads on its own thread', { reason: started.reason });
        break;
      }
      hashers.push({ socketPath, thread: started.thread });
    } catch (err) {
      log.warn('A hashing service thread did not start: each worker hashes its uploads on its own thread', { err });
      break;
    }
  }
  return hashers;
}

interface Slot {
  worker: ClusterWorker;
  startedMs: number;
  ready: boolean;
}

export async function startPrimary(config: PrimaryConfig): Promise<RunningPrimary> {
  const { log } = config;
  const dbPath = join(config.dataDir, 'meta', 'tessera.db');
  await mkdir(join(config.dataDir, 'meta'), { recursive: true });
  let lock: Database.Database;
  try {
    lock = takeWriterLock(dbPath);
  } catch (err) {
    if (!isStoreError(err, 'ERR_META_LOCKED')) throw err;
    throw new Error(`Cannot start on data directory "${config.dataDir}": another Tessera server is using it`, { cause: err });
  }
  const credentials = await rootCredentials(config);
  // Schema and WAL mode once, before any worker opens the database.
  if (!config.metaUrl) openSqliteDatabase(dbPath, false).close();
  let committer: Awaited<ReturnType<typeof startSharedCommitter>>;
  try {
    committer = config.metaUrl ? undefined : await startSharedCommitter(dbPath, log);
  } catch (err) {
    lock.close();
    throw err;
  }

  // Should it fail later, the workers' links to it close and they hash on their own threads.
  const hashers = await startSharedHashers(config.dataDir, config.workers, log);
  for (const hasher of hashers) hasher.thread.on('error', (err) => log.error('A hashing service thread failed: its workers hash on their own threads', { err }));
  /** Worker `index`'s hashing service, when there are any: the workers take them in turn. */
  const hasherOf = (index: number) => hashers[(index - 1) % hashers.length]!;

  const slots = new Map<number, Slot>();
  let stopping = false;
  let started = false;
  let latestLimits: RateLimitConfig | undefined;
  const collections = new Map<number, { requester: ClusterWorker; requesterId: number; reports: ProcessReport[]; expected: number; timer: NodeJS.Timeout }>();
  let nextCollection = 1;
  const sendTo = (worker: ClusterWorker, message: PrimaryMessage): void => {
    if (worker.isConnected()) worker.send(message);
  };
  const finishCollection = (id: number): void => {
    const c = collections.get(id);
    if (!c) return;
    collections.delete(id);
    clearTimeout(c.timer);
    sendTo(c.requester, { type: 'tessera-collected', id: c.requesterId, reports: c.reports });
  };

  // What each worker is yet to be told the others spent, summed per limit name.
  const spentElsewhere = new Map<ClusterWorker, Map<string, SpentEntry>>();
  const addSpent = (from: ClusterWorker, entries: SpentEntry[]): void => {
    for (const slot of slots.values()) {
      if (slot.worker === from || !slot.ready) continue;
      let sums = spentElsewhere.get(slot.worker);
      if (!sums) spentElsewhere.set(slot.worker, (sums = new Map()));
      for (const e of entries) {
        const id = `${e.kind}\0${e.name}`;
        const sum = sums.get(id);
        if (sum) {
          sum.requests += e.requests;
          sum.bytes += e.bytes;
        } else sums.set(id, { ...e });
      }
    }
  };
  const spendTimer = setInterval(() => {
    for (const [worker, sums] of spentElsewhere) sendTo(worker, { type: 'tessera-spent-elsewhere', entries: [...sums.values()] });
    spentElsewhere.clear();
  }, spendShareIntervalMs);
  spendTimer.unref();

  const onMessage = (from: ClusterWorker, message: WorkerMessage): void => {
    if (message.type === 'tessera-collect') {
      const live = [...slots.values()].filter((s) => s.ready && s.worker.isConnected());
      const id = nextCollection++;
      collections.set(id, { requester: from, requesterId: message.id, reports: [], expected: live.length, timer: setTimeout(() => finishCollection(id), reportWaitMs) });
      for (const slot of live) sendTo(slot.worker, { type: 'tessera-report-request', id });
    } else if (message.type === 'tessera-report') {
      const c = collections.get(message.id);
      if (!c) return;
      c.reports.push(message.report);
      if (c.reports.length >= c.expected) finishCollection(message.id);
    } else if (message.type === 'tessera-limits') {
      latestLimits = message.config;
      for (const slot of slots.values()) if (slot.worker !== from) sendTo(slot.worker, message);
    } else if (message.type === 'tessera-spent') addSpent(from, message.entries);
  };

  const fork = (index: number, extraEnv: Record<string, string>): Promise<WorkerBanner> => {
    const worker = cluster.fork({
      [workerEnv.index]: String(index),
      ...(committer ? { [workerEnv.commitSocket]: committer.socketPath } : {}),
      ...(hashers.length > 0 ? { [hashSocketEnv]: hasherOf(index).socketPath } : {}),
      ...extraEnv,
    });
    const slot: Slot = { worker, startedMs: Date.now(), ready: false };
    slots.set(index, slot);
    worker.on('message', (message: WorkerMessage) => onMessage(worker, message));
    return new Promise<WorkerBanner>((resolve, reject) => {
      worker.on('message', (message: WorkerMessage) => {
        if (message.type !== 'tessera-ready') return;
        slot.ready = true;
        // A replacement enforces what the admin API set since the start, not only --rate-limits.
        if (latestLimits) sendTo(worker, { type: 'tessera-limits', config: latestLimits });
        resolve(message.banner);
      });
      worker.once('exit', (code, signal) => {
        if (!slot.ready) reject(new Error(`Worker ${index} exited before it listened (${signal ?? `code ${code}`})`));
        if (started) onExit(index, slot, code, signal);
      });
    });
  };

  const onExit = (index: number, slot: Slot, code: number, signal: string | null): void => {
    if (slots.get(index) !== slot || stopping) return;
    const pid = slot.worker.process.pid;
    const pauseMs = Date.now() - slot.startedMs < shortLifeMs ? restartPauseMs : 0;
    log.warn('A worker exited: starting another in its place', { worker: index, pid, code, signal, pauseMs });
    setTimeout(() => {
      if (stopping) return;
      // The new worker ends the dead one's leases at once, so background work resumes without waiting them out.
      // One that dies before it listens is replaced in turn (onExit again), after the pause.
      fork(index, { [workerEnv.replaces]: `${hostname()}:${pid}:` }).catch((err: unknown) => log.error('Cannot start a worker in place of one that exited', { worker: index, err }));
    }, pauseMs);
  };

  const stopAll = async (): Promise<number> => {
    stopping = true;
    clearInterval(spendTimer);
    const exits = [...slots.values()].map((slot) => {
      const worker = slot.worker;
      if (worker.process.exitCode !== null || worker.process.signalCode !== null) return Promise.resolve(worker.process.exitCode ?? 1);
      return new Promise<number>((resolve) => {
        worker.once('exit', (code) => resolve(code ?? 1));
        worker.process.kill('SIGTERM');
      });
    });
    const killer = setTimeout(() => {
      for (const slot of slots.values()) slot.worker.process.kill('SIGKILL');
    }, config.shutdownTimeoutMs + stopOverrunMs);
    const codes = await Promise.all(exits);
    clearTimeout(killer);
    // After the workers: each waited for its commits in flight before it exited.
    if (committer) {
      committer.thread.removeAllListeners('exit');
      await committer.thread.terminate();
      await rm(committer.socketPath, { force: true });
    }
    for (const hasher of hashers) {
      await hasher.thread.terminate();
      await rm(hasher.socketPath, { force: true });
    }
    if (hashers.length > 0) {
      // A worker killed between making its slab and the service taking it left the file behind.
      removeSlabsOf(process.pid, await readdir(slabDir).catch(() => []));
    }
    lock.close();
    return codes.every((c) => c === 0) ? 0 : 1;
  };

  // The thread fails only on a fault of its own (a failed batch is answered, not thrown): the workers can
  // commit nothing more, so the server stops, as it would had the primary itself failed.
  committer?.thread.once('exit', (code) => {
    if (stopping) return;
    log.error('The metadata commit thread exited: stopping the server', { code });
    void stopAll().then(() => process.exit(1));
  });
  committer?.thread.on('error', (err) => log.error('The metadata commit thread failed', { err }));

  try {
    // The first worker starts alone: it formats fresh drives, stores the first layout epoch and ends the
    // leases a killed server left; the others then open what it made.
    const banner = await fork(1, { [workerEnv.first]: '1' });
    await Promise.all(Array.from({ length: config.workers - 1 }, (_, i) => fork(i + 2, {})));
    started = true;
    return {
      banner,
      credentials,
      pids: () => [...slots.entries()].sort(([a], [b]) => a - b).map(([, s]) => s.worker.process.pid!),
      signalAll: (signal) => {
        for (const slot of slots.values()) if (slot.worker.process.exitCode === null) slot.worker.process.kill(signal);
      },
      close: stopAll,
    };
  } catch (err) {
    await stopAll();
    throw err;
  }
}
