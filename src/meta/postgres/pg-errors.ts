// What a failed PostgreSQL call means for the MetaStore: retry it, or which StoreError it is. Lost or
// refused connections, timeouts and a server shutting down or read-only are ERR_META_UNAVAILABLE (503).
import pg from 'pg';
import { StoreError, type StoreErrorCode } from '../../util/errors.js';

/** SQLSTATEs after which the whole transaction may simply run again: nothing of it was applied. */
const retryable = new Set(['40001', '40P01']); // serialization_failure, deadlock_detected

/** SQLSTATEs (or their two-character classes) that mean the database is out of reach for now. */
const unavailable = new Set([
  '08', // connection exceptions
  '57P01', // admin_shutdown: the server is stopping
  '57P02', // crash_shutdown
  '57P03', // cannot_connect_now: starting up or in recovery
  '57014', // query_canceled: statement_timeout
  '53300', // too_many_connections
  '53200', // out_of_memory
  '55P03', // lock_not_available: lock_timeout
  '25006', // read_only_sql_transaction: connected to a standby, e.g. during failover
]);

function sqlState(err: unknown): string | undefined {
  return err instanceof pg.DatabaseError ? err.code : undefined;
}

export function isRetryable(err: unknown): boolean {
  const state = sqlState(err);
  return state !== undefined && retryable.has(state);
}

/** `err` from pg as a StoreError whose message says what `action` failed. */
export function toStoreError(err: unknown, action: string): StoreError {
  if (err instanceof StoreError) return err;
  const state = sqlState(err);
  const reason = err instanceof Error ? err.message : String(err);
  let code: StoreErrorCode;
  if (state === undefined) code = 'ERR_META_UNAVAILABLE'; // no answer from a server: socket errors, timeouts
  else if (state === '53100') code = 'ERR_META_FULL'; // disk_full
  else if (unavailable.has(state) || unavailable.has(state.slice(0, 2))) code = 'ERR_META_UNAVAILABLE';
  else code = 'ERR_META_IO';
  return new StoreError(code, `${action}: ${reason}${state ? ` (SQLSTATE ${state})` : ''}`, { cause: err });
}
