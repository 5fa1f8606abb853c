// MetaStore on PostgreSQL (a cluster's shared metadata): one table tessera_kv(k bytea, v bytea) over a pg
// Pool, each call one round trip. No read cache: other processes commit to the same database, and a cache
// here could not see their commits. Every call fails within a bounded time while the database is away.
import pg from 'pg';
import { performance } from 'node:perf_hooks';
import { StoreError } from '../../util/errors.js';
import { mergedAdds, type GetOptions, type KvPair, type MetaStore, type ReadBatch, type ReadResult, type ScanRange, type Txn } from '../types.js';
import { observeCommit } from '../commit-stats.js';
import { isRetryable, toStoreError } from './pg-errors.js';
import { migrateSchema } from './schema.js';
import { countRoundTrip } from '../round-trips.js';

export interface PostgresStoreOptions {
  /** postgres://USER[:PASSWORD]@HOST:PORT/DB */
  url: string;
  /** Connections this process keeps at most. */
  poolConnectionsMax?: number;
  /** How long a call may wait for a connection (a new one, or a free one of the pool). */
  connectTimeoutMs?: number;
  /** The server cancels a statement running longer than this (lock waits included). */
  statementTimeoutMs?: number;
}

const poolConnectionsMaxDefault = 10;
const connectTimeoutMsDefault = 5_000;
const statementTimeoutMsDefault = 10_000;
/** Past the statement timeout: a server that stopped answering (a dead host, a cut network) is given up on. */
const queryTimeoutMarginMs = 5_000;
/** Attempts of a commit that keeps failing with a serialization failure or deadlock before it gives up. */
const commitAttemptsMax = 5;

/** The URL without its password, for messages and logs. */
export function describePostgresUrl(url: string): string {
  try {
    const parsed = new URL(url);
    parsed.password = '';
    return `"${parsed.toString()}"`;
  } catch {
    return '(an unparsable PostgreSQL URL)';
  }
}

export class PostgresMetaStore implements MetaStore {
  readonly #pool: pg.Pool;
  readonly #where: string;
  #closed = false;

  private constructor(pool: pg.Pool, where: string) {
    this.#pool = pool;
    this.#where = where;
  }

  /**
   * Connects to `options.url`, creates or migrates the schema, and returns the store. Fails with
   * ERR_META_UNAVAILABLE when the database cannot be reached, ERR_META_SCHEMA when it is newer than this
   * program.
   */
  static async open(options: PostgresStoreOptions): Promise<PostgresMetaStore> {
    const where = describePostgresUrl(options.url);
    const statementTimeoutMs = options.statementTimeoutMs ?? statementTimeoutMsDefault;
    const pool = new pg.Pool({
      connectionString: options.url,
      max: options.poolConnectionsMax ?? poolConnectionsMaxDefault,
      connectionTimeoutMillis: options.connectTimeoutMs ?? connectTimeoutMsDefault,
      statement_timeout: statementTimeoutMs,
      query_timeout: statementTimeoutMs + queryTimeoutMarginMs,
      keepAlive: true,
      // The commit function relies on READ COMMITTED (a fresh snapshot per statement), whatever the
      // database's default isolation is.
      options: '-c default_transaction_isolation=read\\ committed',
      application_name: 'tessera',
    });
    // An idle connection that breaks (the server restarted) is dropped by the pool; the next call opens a
    // new one. Without a listener the 'error' event would end the process.
    pool.on('error', () => undefined);
    try {
      const client = await pool.connect();
      try {
        await migrateSchema(client, where);
      } finally {
        client.release();
      }
    } catch (err) {
      await pool.end().catch(() => undefined);
      throw toStoreError(err, `Cannot open the metadata database ${where}`);
    }
    return new PostgresMetaStore(pool, where);
  }

  /** `fill` is a hint for a read cache; this store has none, so it changes nothing. */
  async get(key: Buffer, _options?: GetOptions): Promise<Buffer | null> {
    this.#assertOpen();
    countRoundTrip('get');
    try {
      const result = await this.#pool.query<{ v: Buffer }>({ name: 'tessera_get', text: 'SELECT v FROM tessera_kv WHERE k = $1', values: [key] });
      return result.rows[0]?.v ?? null;
    } catch (err) {
      throw toStoreError(err, `Cannot read metadata from ${this.#where}`);
    }
  }

  async scan(range: ScanRange): Promise<KvPair[]> {
    this.#assertOpen();
    if (!(Number.isInteger(range.limit) && range.limit > 0)) throw new RangeError(`Cannot scan with limit ${range.limit}: expected a positive integer`);
    if (Buffer.compare(range.start, range.end) >= 0) return [];
    countRoundTrip('scan');
    try {
      // One statement, so one snapshot: a scan never sees half of a commit.
      const result = await this.#pool.query<{ k: Buffer; v: Buffer }>({
        name: 'tessera_scan',
        text: 'SELECT k, v FROM tessera_kv WHERE k >= $1 AND k < $2 ORDER BY k LIMIT $3',
        values: [range.start, range.end, range.limit],
      });
      return result.rows.map((r) => ({ key: r.k, value: r.v }));
    } catch (err) {
      throw toStoreError(err, `Cannot scan metadata in ${this.#where}`);
    }
  }

  /**
   * One statement, so one round trip and one snapshot: the gets as a join on the keys, each scan as a
   * lateral subquery with its own order and limit; rows carry the index of the read they answer.
   */
  async readMany(batch: ReadBatch): Promise<ReadResult> {
    this.#assertOpen();
    for (const range of batch.scans) {
      if (!(Number.isInteger(range.limit) && range.limit > 0)) throw new RangeError(`Cannot scan with limit ${range.limit}: expected a positive integer`);
    }
    const values: (Buffer | null)[] = batch.gets.map(() => null);
    const scans: KvPair[][] = batch.scans.map(() => []);
    if (batch.gets.length === 0 && batch.scans.length === 0) return { values, scans };
    countRoundTrip('get_many');
    try {
      const result = await this.#pool.query<{ g: number | null; s: number | null; k: Buffer; v: Buffer }>({
        name: 'tessera_read_many',
        text: `SELECT g.i::int AS g, NULL::int AS s, kv.k, kv.v FROM unnest($1::bytea[]) WITH ORDINALITY AS g(k, i) JOIN tessera_kv kv ON kv.k = g.k
          UNION ALL
          SELECT NULL, r.i::int, x.k, x.v FROM unnest($2::bytea[], $3::bytea[], $4::int[]) WITH ORDINALITY AS r(lo, hi, n, i)
          CROSS JOIN LATERAL (SELECT k, v FROM tessera_kv WHERE k >= r.lo AND k < r.hi ORDER BY k LIMIT r.n) x`,
        values: [batch.gets, batch.scans.map((r) => r.start), batch.scans.map((r) => r.end), batch.scans.map((r) => r.limit)],
      });
      for (const row of result.rows) {
        if (row.g !== null) values[row.g - 1] = row.v;
        else scans[row.s! - 1]!.push({ key: row.k, value: row.v });
      }
    } catch (err) {
      throw toStoreError(err, `Cannot read metadata from ${this.#where}`);
    }
    // UNION ALL keeps no order across its rows; each scan's rows are put back in key order here.
    for (const rows of scans) rows.sort((a, b) => Buffer.compare(a.key, b.key));
    return { values, scans };
  }

  /**
   * One call of tessera_commit_v1 (schema.ts). A lost connection leaves the outcome unknown (the commit
   * may have been applied), so it is not retried here: the caller gets ERR_META_UNAVAILABLE, the client
   * a 503, and a retried request re-reads the state.
   */
  async commit(txn: Txn): Promise<boolean> {
    this.#assertOpen();
    // Later writes to a key replace earlier ones, as if applied in order.
    const last = new Map<string, { key: Buffer; value: Buffer | null }>();
    for (const write of txn.writes) {
      const name = write.key.toString('latin1');
      last.delete(name); // keeps the map in the order of each key's last write
      last.set(name, write);
    }
    const puts = [...last.values()].filter((w): w is { key: Buffer; value: Buffer } => w.value !== null);
    const deletes = [...last.values()].filter((w) => w.value === null).map((w) => w.key);
    const adds = mergedAdds(txn.adds);
    const values = [txn.checks.map((c) => c.key), txn.checks.map((c) => c.value), puts.map((w) => w.key), puts.map((w) => w.value), deletes, adds.map((a) => a.key), adds.map((a) => String(a.delta))];
    const startMs = performance.now();
    for (let attempt = 1; ; attempt++) {
      countRoundTrip('commit');
      try {
        const result = await this.#pool.query<{ ok: boolean }>({
          name: 'tessera_commit_v2',
          text: 'SELECT tessera_commit_v2($1::bytea[], $2::bytea[], $3::bytea[], $4::bytea[], $5::bytea[], $6::bytea[], $7::bigint[]) AS ok',
          values,
        });
        observeCommit((performance.now() - startMs) / 1000);
        return result.rows[0]!.ok;
      } catch (err) {
        if (isRetryable(err) && attempt < commitAttemptsMax) {
          await new Promise((r) => setTimeout(r, Math.random() * 10 * attempt));
          continue;
        }
        if (isRetryable(err)) throw new StoreError('ERR_META_UNAVAILABLE', `Cannot commit metadata to ${this.#where}: ${commitAttemptsMax} attempts failed to serialize`, { cause: err });
        throw toStoreError(err, `Cannot commit metadata to ${this.#where} (it may or may not have been applied)`);
      }
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#pool.end();
  }

  #assertOpen(): void {
    if (this.#closed) throw new StoreError('ERR_CLOSED', 'Metadata store is closed');
  }
}
