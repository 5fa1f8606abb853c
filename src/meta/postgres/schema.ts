// The PostgreSQL MetaStore's schema and its migrations: created or brought up to date on start, in one
// transaction under an advisory lock (so gateways starting together migrate once), with its version in
// tessera_schema. A database newer than this program is refused, never written.
import type pg from 'pg';
import { StoreError } from '../../util/errors.js';

/**
 * The commit function: every commit is one call, so one round trip and one transaction. It takes a
 * transaction-scoped advisory lock per key it checks or writes (the first 64 bits of the key's MD5), in
 * ascending order so two commits never deadlock; commits that share a key therefore run one after the
 * other, and the checks (read after the locks, with a fresh snapshot, since the session runs READ
 * COMMITTED) see every commit that held those locks before. An absent key is locked like a present one,
 * so two inserts that each check absence cannot both pass. Writes arrive deduplicated (last write per key).
 */
const commitFunctionV1 = `
CREATE FUNCTION tessera_commit_v1(check_keys bytea[], check_values bytea[], put_keys bytea[], put_values bytea[], delete_keys bytea[])
RETURNS boolean LANGUAGE plpgsql VOLATILE AS $$
DECLARE
  lock_id bigint;
BEGIN
  FOR lock_id IN
    SELECT DISTINCT ('x' || left(md5(k), 16))::bit(64)::bigint FROM unnest(check_keys || put_keys || delete_keys) AS k ORDER BY 1
  LOOP
    PERFORM pg_advisory_xact_lock(lock_id);
  END LOOP;
  IF EXISTS (
    SELECT 1 FROM unnest(check_keys, check_values) AS c(k, v) LEFT JOIN tessera_kv kv ON kv.k = c.k
    WHERE kv.v IS DISTINCT FROM c.v
  ) THEN
    RETURN false;
  END IF;
  DELETE FROM tessera_kv WHERE k = ANY(delete_keys);
  INSERT INTO tessera_kv (k, v) SELECT * FROM unnest(put_keys, put_values) ON CONFLICT (k) DO UPDATE SET v = excluded.v;
  RETURN true;
END
$$`;

/**
 * Version 2 adds counters (types.ts Add): the v1 commit, then each add as an upsert that sums into the
 * key's 8-byte value. Adds take no advisory lock (they check nothing); the upsert's row lock orders commits
 * adding to one counter, and the caller sends them in key order, so two commits never deadlock on them.
 * v1 stays for gateways of the previous version during a rolling upgrade (their commits add nothing).
 */
const commitFunctionV2 = `
CREATE FUNCTION tessera_commit_v2(check_keys bytea[], check_values bytea[], put_keys bytea[], put_values bytea[], delete_keys bytea[], add_keys bytea[], add_deltas bigint[])
RETURNS boolean LANGUAGE plpgsql VOLATILE AS $$
BEGIN
  IF NOT tessera_commit_v1(check_keys, check_values, put_keys, put_values, delete_keys) THEN
    RETURN false;
  END IF;
  INSERT INTO tessera_kv (k, v) SELECT a.k, int8send(a.d) FROM unnest(add_keys, add_deltas) AS a(k, d)
    ON CONFLICT (k) DO UPDATE SET v = int8send(('x' || encode(tessera_kv.v, 'hex'))::bit(64)::bigint + ('x' || encode(excluded.v, 'hex'))::bit(64)::bigint);
  RETURN true;
END
$$`;

/** Migration n (index n - 1) takes the schema from version n - 1 to n. Append only; never edit a shipped one. */
const migrations: readonly (readonly string[])[] = [
  [
    // bytea compares bytewise (memcmp, then length): the MetaStore's unsigned byte order, no collation.
    'CREATE TABLE tessera_kv (k bytea PRIMARY KEY, v bytea NOT NULL)',
    commitFunctionV1,
  ],
  [commitFunctionV2],
];

export const schemaVersion = migrations.length;

/** The advisory lock every starting store takes while it migrates ("tessera" in ASCII). */
const migrationLockId = 0x74657373657261n;

/**
 * Creates or migrates the schema through `client` in one transaction. Throws ERR_META_SCHEMA when the
 * database's version is newer than this program's; leaves the database untouched then.
 */
export async function migrateSchema(client: pg.ClientBase, where: string): Promise<{ from: number; to: number }> {
  await client.query('BEGIN');
  try {
    await client.query('SELECT pg_advisory_xact_lock($1)', [migrationLockId.toString()]);
    await client.query('CREATE TABLE IF NOT EXISTS tessera_schema (one boolean PRIMARY KEY DEFAULT true CHECK (one), version integer NOT NULL)');
    const rows = (await client.query<{ version: number }>('SELECT version FROM tessera_schema')).rows;
    const from = rows[0]?.version ?? 0;
    if (from > schemaVersion) {
      throw new StoreError(
        'ERR_META_SCHEMA',
        `Cannot use the metadata database ${where}: its schema version ${from} is newer than this program's ${schemaVersion}; upgrade Tessera`,
      );
    }
    for (let version = from + 1; version <= schemaVersion; version++) {
      for (const statement of migrations[version - 1]!) await client.query(statement);
    }
    await client.query('INSERT INTO tessera_schema (version) VALUES ($1) ON CONFLICT (one) DO UPDATE SET version = excluded.version', [schemaVersion]);
    await client.query('COMMIT');
    return { from, to: schemaVersion };
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined); // the connection may be gone; the error says why
    throw err;
  }
}
