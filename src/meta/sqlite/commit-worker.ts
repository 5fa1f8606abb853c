// The SQLite writer thread. Every transaction that arrived while the previous batch was committing is
// applied in one SQLite transaction and made durable with one fsync: group commit. With several
// processes on one database (`--workers`) each has its own writer thread; they take turns on SQLite's
// write lock, and a batch that waited past busy_timeout is tried again (a bounded number of times).
// Shared, each transaction also appends the keys it wrote to the change log, from which the other
// processes' readers learn what to drop from their caches (sqlite-store.ts).
import { parentPort, workerData } from 'node:worker_threads';
import { openSqliteDatabase } from './sqlite-store.js';
import { metaCommitBatchMax } from '../../constants.js';
import { counterValue, encodeCounter } from '../types.js';

/**
 * Tries of a batch that met SQLITE_BUSY, each after busy_timeout (5 s) of SQLite's own retries: another
 * process's writer holding the lock this long is stuck, and the batch then fails as unavailable (503).
 */
const busyTriesMax = 6;

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
}

function runWorker(port: NonNullable<typeof parentPort>, { path, changeLogRows }: CommitWorkerData): void {
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

  // IMMEDIATE takes the write lock at BEGIN, where SQLite's busy handler waits for it. A deferred
  // transaction would read first and could then fail to upgrade at once (SQLITE_BUSY_SNAPSHOT, no wait)
  // when another process committed in between.
  const applyWaiting = (batch: CommitRequest[]): CommitReply[] => {
    for (let tries = 1; ; tries++) {
      try {
        return applyBatch.immediate(batch);
      } catch (err) {
        const code = (err as { code?: unknown }).code;
        if (tries >= busyTriesMax || typeof code !== 'string' || !code.startsWith('SQLITE_BUSY')) throw err;
      }
    }
  };

  let queue: CommitRequest[] = [];
  let scheduled = false;
  const flush = (): void => {
    scheduled = false;
    while (queue.length > 0) {
      const batch = queue.slice(0, metaCommitBatchMax);
      queue = queue.slice(batch.length);
      let replies: CommitReply[];
      try {
        replies = applyWaiting(batch);
      } catch (err) {
        const message = err instanceof Error ? err.message : String(err);
        const code = (err as { code?: unknown }).code;
        replies = batch.map((req) => ({ id: req.id, ok: false, error: message, ...(typeof code === 'string' ? { errorCode: code } : {}) }));
      }
      port.postMessage(replies);
    }
  };
  port.on('message', (req: CommitRequest) => {
    queue.push(req);
    if (!scheduled) {
      scheduled = true;
      setImmediate(flush); // lets every message already queued arrive before the batch commits
    }
  });
}

if (parentPort) runWorker(parentPort, workerData as CommitWorkerData);
