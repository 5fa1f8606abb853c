// Checkpoints of the pack indexes (pack-index.ts), off the event loop: one worker thread per process with its
// own connection to each index.db, running a PASSIVE checkpoint every few seconds. A checkpoint fsyncs the
// database file, and the main connection has automatic checkpoints off so none ever runs on the event loop.
//
// A PASSIVE checkpoint alone never bounds the WAL under steady writes: SQLite starts the WAL over only when a
// write begins after a checkpoint copied every frame, and with groups committing every few milliseconds one
// always lands while the checkpoint runs. The WAL then grew by ~0.4 MB/s per drive under 1 MiB PUTs (30 MB
// a minute), every group's fdatasync extending the file. So once the WAL holds `packWalRestartFrames`, the
// thread asks for a RESTART checkpoint: it holds new writers off (they retry on a timer, pack-index.ts) while
// it copies the rest and the readers leave the WAL, and the next group writes from the WAL's start again.
// The writer's journal_size_limit then cuts the file back to `packWalBytesKept`.
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import { wholeNumberFromEnv } from './limits.js';

/**
 * How often each index's WAL is copied back into its database (PASSIVE: never waits for readers or writers):
 * 2 s. TESSERA_PACK_CHECKPOINT_MS overrides it (tests that cut the WAL short, as a power cut may).
 */
export function packCheckpointIntervalMs(): number {
  return wholeNumberFromEnv('TESSERA_PACK_CHECKPOINT_MS', 2_000, 1, 'ms');
}
/**
 * WAL frames (4 KiB pages) after which a checkpoint restarts the WAL: 4,096, 16 MiB.
 * TESSERA_PACK_WAL_RESTART_FRAMES overrides it (tests).
 */
export function packWalRestartFrames(): number {
  return wholeNumberFromEnv('TESSERA_PACK_WAL_RESTART_FRAMES', 4_096, 1, 'frames');
}

/** What a restarted WAL is cut back to (the writer's journal_size_limit): its pages stay allocated for reuse. */
export function packWalBytesKept(): number {
  return packWalRestartFrames() * 4096;
}

// Plain CommonJS, evaluated in the worker: better-sqlite3 is resolved by the main thread and handed over.
const workerSource = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.sqlitePath);
const dbs = new Map();
parentPort.on('message', (message) => {
  if (message.add !== undefined && !dbs.has(message.add)) {
    try {
      const db = new Database(message.add, { fileMustExist: true });
      db.pragma('busy_timeout = 1000');
      dbs.set(message.add, db);
    } catch {}
  }
  if (message.remove !== undefined) {
    const db = dbs.get(message.remove);
    dbs.delete(message.remove);
    try { db && db.close(); } catch {}
  }
});
setInterval(() => {
  for (const db of dbs.values()) {
    try {
      const [result] = db.pragma('wal_checkpoint(PASSIVE)');
      if (result && result.log >= workerData.restartFrames) db.pragma('wal_checkpoint(RESTART)');
    } catch {}
  }
}, workerData.intervalMs);
`;

let worker: Worker | undefined;
const registered = new Map<string, number>();

/** Starts checkpointing the index at `path` (counted: two drive instances on one root share it). */
export function watchPackIndex(path: string): void {
  const count = registered.get(path) ?? 0;
  registered.set(path, count + 1);
  if (count > 0) return;
  if (!worker) {
    const sqlitePath = createRequire(import.meta.url).resolve('better-sqlite3');
    worker = new Worker(workerSource, { eval: true, workerData: { sqlitePath, intervalMs: packCheckpointIntervalMs(), restartFrames: packWalRestartFrames() } });
    worker.unref(); // checkpoints never keep a process alive
    worker.on('error', () => {
      // The WAL then grows until the next process checkpoints it (SQLite does at the last close); reads stay right.
      worker = undefined;
    });
  }
  worker.postMessage({ add: path });
}

/** Stops checkpointing `path` once every drive instance on it has closed. */
export function unwatchPackIndex(path: string): void {
  const count = registered.get(path) ?? 0;
  if (count <= 1) {
    registered.delete(path);
    worker?.postMessage({ remove: path });
  } else registered.set(path, count - 1);
}
