// Group commit, seen from outside: the SQLite commit worker answers each batch (one SQLite transaction,
// one WAL sync under synchronous=FULL) with one message holding an array of per-commit replies. Counting
// those messages gives commits per sync without touching src/. Only arrays of {id, ok} are counted.
import { Worker } from 'node:worker_threads';

export const commitBatches = { batches: 0, commits: 0 };

let installed = false;

/** Starts counting; must run before the MetaStore's worker is created. */
export function countCommitBatches(): void {
  if (installed) return;
  installed = true;
  const emit = Worker.prototype.emit;
  Worker.prototype.emit = function (this: Worker, event: string | symbol, ...args: unknown[]): boolean {
    const payload = args[0];
    if (event === 'message' && Array.isArray(payload) && payload.length > 0 && typeof (payload[0] as { ok?: unknown }).ok === 'boolean') {
      commitBatches.batches++;
      commitBatches.commits += payload.length;
    }
    return emit.call(this, event, ...args);
  };
}
