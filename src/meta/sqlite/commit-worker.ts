// The SQLite writer thread. Every transaction that arrived while the previous batch was committing (and,
// when others commit too, within a short wait after: batchLingerMs) is applied in one SQLite transaction
// and made durable with one fsync: group commit. With several
// processes on one database (`--workers`) the primary runs this thread for all of them, on a Unix socket
// (`socketPath`), so their commits share the batches and the fsyncs; where that socket cannot be made
// (its path too long) each process runs its own, and they take turns on SQLite's write lock, for which
// this thread waits itself, in short sleeps (lockWaitMs), up to a bound. Shared, each transaction also
// appends the keys it wrote to the change log, from which the processes' readers learn what to drop from
// their caches (sqlite-store.ts).
import { parentPort, workerData } from 'node:worker_threads';
import { chmodSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { performance } from 'node:perf_hooks';
import { encodeFrame, readFrames } from '../../util/socket-frames.js';
import { openSqliteDatabase } from './sqlite-store.js';
import { metaCommitBatchMax } from '../../constants.js';
import { counterValue, encodeCounter } from '../types.js';

/**
 * How long a batch waits for the write lock: another process's writer holding it this long is stuck, and
 * the batch then fails as unavailable (503).
 */
const lockWaitMaxMs = 30_000;
/**
 * The sleeps between tries of the write lock, in ms; the last repeats. SQLite's own busy handler sleeps 1,
 * 2, 5, 10, 15, 20, 25 ms and on, so a writer that met the lock held (another process's, through its fsync)
 * woke on average several ms after it was let go, and the other had often taken it again by then. With
 * two workers, 4 KiB PUTs at c=16 ran at 1,298-1,654/s that way and 1,515-1,887/s with fixed 0.2 ms sleeps
 * (bench/mixed.ts, docs/benchmarks.md). A try costs a few µs: two fcntl calls on the WAL index.
 */
const lockWaitMs = [0.05, 0.1, 0.2, 0.3];

/**
 * The longest a batch waits for company, in ms (TESSERA_COMMIT_LINGER_MS; 0: never). Each batch costs an
 * fsync, the disk's dearest operation: with 16 clients of 4 KiB PUTs a batch had carried under 3 commits
 * (0.38-0.41 flushes per PUT), and waiting up to 2 ms halved the flushes and took 5-10 % off the CPU per
 * PUT (docs/benchmarks.md, "Metadata commits wait for company").
 */
export const commitLingerMaxMs = Math.min(100, Math.max(0, Number(process.env.TESSERA_COMMIT_LINGER_MS ?? '2') || 0));

/**
 * How long the next batch waits for more commits once its first has arrived: only when the batch before
 * had company (so others are committing too; a lone writer never waits), and at most half as long as that
 * batch took, so a disk that syncs fast makes the wait as short.
 */
export function batchLingerMs(previous: { commits: number; ms: number }, maxMs = commitLingerMaxMs): number {
  if (previous.commits < 2) return 0;
  return Math.min(maxMs, previous.ms / 2);
}

export interface CommitRequest {
  id: number;
  checks: { key: Uint8Array; value: Uint8Array | null }[];
  writes: { key: Uint8Array; value: Uint8Array | null }[];
  /** Counter increments (types.ts Add), merged per key. */
  adds: { key: Uint8Array; delta: number }[];
}

export interface CommitReply {
  id: number;
  ok: boolean;
  error?: string;
  /** SQLite's result code name for a failed batch, e.g. SQLITE_FULL. */
  errorCode?: string;
}

function toBuffer(u: Uint8Array): Buffer {
  return Buffer.from(u.buffer, u.byteOffset, u.byteLength);
}

export interface CommitWorkerData {
  path: string;
  /** Rows of the change log kept for readers that are behind; 0: log nothing (one process, no other readers). */
  changeLogRows: number;
  /**
   * Takes requests on this Unix socket, from any number of processes, instead of from parentPort; posts
   * `listening` there once it accepts them.
   */
  socketPath?: string;
}

/** One transaction's replies to one process: its members of that group commit, and how many it had in all. */
export interface BatchReplies {
  /** The commits the transaction carried, every process's. */
  commits: number;
  replies: CommitReply[];
}

/** Where a request's reply goes: its process's store, through the port or its connection. */
type ReplyTo = (message: BatchReplies) => void;

function runWorker(port: NonNullable<typeof parentPort>, { path, changeLogRows, socketPath }: CommitWorkerData): void {
  const db = openSqliteDatabase(path, false);
  const get = db.prepare<[Buffer], { v: Buffer }>('SELECT v FROM kv WHERE k = ?');
  const put = db.prepare<[Buffer, Buffer]>('INSERT INTO kv (k, v) VALUES (?, ?) ON CONFLICT(k) DO UPDATE SET v = excluded.v');
  const del = db.prepare<[Buffer]>('DELETE FROM kv WHERE k = ?');
  const logChange = db.prepare<[Buffer]>('INSERT INTO changes (k) VALUES (?)');
  const pruneChanges = db.prepare<[number | bigint]>('DELETE FROM changes WHERE seq <= ?');
  // Rows are cut back to changeLogRows once they reach twice that: a DELETE every changeLogRows keys.
  let prunedTo = 0;
  const logged = (key: Buffer): void => {
    if (changeLogRows === 0) return;
    const seq = Number(logChange.run(key).lastInsertRowid);
    if (seq - prunedTo < 2 * changeLogRows) return;
    prunedTo = seq - changeLogRows;
    pruneChanges.run(prunedTo);
  };

  const applyOne = (req: CommitRequest): boolean => {
    for (const check of req.checks) {
      const current = get.get(toBuffer(check.key))?.v ?? null;
      const expected = check.value === null ? null : toBuffer(check.value);
      if (current === null || expected === null ? current !== expected : !current.equals(expected)) return false;
    }
    for (const write of req.writes) {
      const key = toBuffer(write.key);
      if (write.value === null) del.run(key);
      else put.run(key, toBuffer(write.value));
      logged(key);
    }
    for (const add of req.adds) {
      const key = toBuffer(add.key);
      put.run(key, encodeCounter(counterValue(get.get(key)?.v ?? null) + add.delta));
      logged(key);
    }
    return true;
  };
  const applyBatch = db.transaction((batch: CommitRequest[]) => batch.map((req) => ({ id: req.id, ok: applyOne(req) })));

  // IMMEDIATE takes the write lock at BEGIN, or fails at once with SQLITE_BUSY (busy_timeout 0 here); the
  // batch is then tried again after a short sleep. A deferred transaction would read first and could then
  // fail to upgrade (SQLITE_BUSY_SNAPSHOT) when another process committed in between, after its work.
  // Another SQLITE_BUSY (a reader recovering the WAL index, say) is waited out the same way.
  db.pragma('busy_timeout = 0');
  const sleeper = new Int32Array(new SharedArrayBuffer(4));
  const applyWaiting = (batch: CommitRequest[]): CommitReply[] => {
    const deadline = performance.now() + lockWaitMaxMs;
    for (let tries = 0; ; tries++) {
      try {
        return applyBatch.immediate(batch);
      } catch (err) {
        const code = (err as { code?: unknown }).code;
        if (typeof code !== 'string' || !code.startsWith('SQLITE_BUSY') || performance.now() >= deadline) throw err;
        Atomics.wait(sleeper, 0, 0, lockWaitMs[Math.min(tries, lockWaitMs.length - 1)]);
      }
    }
  };

  let queue: { req: CommitRequest; to: ReplyTo }[] = [];
  let scheduled = false;
  const previous = { commits: 0, ms: 0 };
  const flush = (): void => {
    scheduled = false;
    while (queue.length > 0) {
      const batch = queue.slice(0, metaCommitBatchMax);
      queue = queue.slice(batch.length);
      const requests = batch.map((b) => b.req);
      let replies: CommitReply[];
      const startMs = performance.now();
      try {
        replies = applyWaiting(requests);
        previous.commits = requests.length;
        previous.ms = performance.now() - startMs;
      } catch (err) {
        const message = err instanceof Error ? err.message : String(err);
        const code = (err as { code?: unknown }).code;
        replies = requests.map((req) => ({ id: req.id, ok: false, error: message, ...(typeof code === 'string' ? { errorCode: code } : {}) }));
      }
      // One message per process per batch: its replies are its members of this group commit.
      const byTarget = new Map<ReplyTo, CommitReply[]>();
      replies.forEach((reply, i) => {
        const to = batch[i]!.to;
        const list = byTarget.get(to);
        if (list) list.push(reply);
        else byTarget.set(to, [reply]);
      });
      for (const [to, list] of byTarget) to({ commits: replies.length, replies: list });
    }
  };
  const enqueue = (req: CommitRequest, to: ReplyTo): void => {
    queue.push({ req, to });
    if (!scheduled) {
      scheduled = true;
      // Either way every request already arrived joins the batch before it commits.
      const lingerMs = batchLingerMs(previous);
      if (lingerMs > 0) setTimeout(flush, lingerMs);
      else setImmediate(flush);
    }
  };

  if (socketPath === undefined) {
    const toPort: ReplyTo = (message) => port.postMessage(message);
    port.on('message', (req: CommitRequest) => enqueue(req, toPort));
    return;
  }
  const server = createServer((socket) => {
    const toSocket: ReplyTo = (message) => {
      if (!socket.destroyed) socket.write(encodeFrame(message));
    };
    readFrames(socket, (req) => enqueue(req as CommitRequest, toSocket));
    // A worker gone (or not one of ours, its frames refused): the batch its requests are in still commits;
    // its replies have nowhere to go.
    socket.on('error', () => socket.destroy());
  });
  server.on('error', (err) => {
    throw err; // the primary sees the thread fail
  });
  // A socket left by a server killed before it could remove it; the caller holds the data directory's lock.
  rmSync(socketPath, { force: true });
  server.listen(socketPath, () => {
    chmodSync(socketPath, 0o600); // its owner's processes only, like the database file beside it
    port.postMessage('listening');
  });
}

if (parentPort) runWorker(parentPort, workerData as CommitWorkerData);
