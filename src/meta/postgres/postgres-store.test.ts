// Runs the MetaStore contract against the PostgreSQL backend on a throwaway server (test/helpers/postgres.ts),
// and checks what only it has: schema versions, and failing fast then recovering while the server is away.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import pg from 'pg';
import { runMetaStoreContract } from '../../../test/contract/metastore-contract.js';
import { skipWithoutPostgres, startPostgres, type PostgresServer } from '../../../test/helpers/postgres.js';
import { isStoreError } from '../../util/errors.js';
import { PostgresMetaStore } from './postgres-store.js';
import { schemaVersion } from './schema.js';

const skip = skipWithoutPostgres();
let server: PostgresServer;
if (!skip) {
  before(async () => {
    server = await startPostgres();
  });
  after(() => server.cleanup());
}

if (!skip) {
  runMetaStoreContract('PostgresMetaStore', async () => {
    const url = await server.createDatabase();
    const store = await PostgresMetaStore.open({ url });
    return { store, openAnother: () => PostgresMetaStore.open({ url }), cleanup: async () => undefined };
  });
}

test('PostgresMetaStore - the schema is created once and reopening keeps the data', { skip }, async () => {
  const url = await server.createDatabase();
  const opened = await Promise.all([PostgresMetaStore.open({ url }), PostgresMetaStore.open({ url })]);
  await opened[0].commit({ checks: [], writes: [{ key: Buffer.from('k'), value: Buffer.from('v') }] });
  await Promise.all(opened.map((s) => s.close()));
  const again = await PostgresMetaStore.open({ url });
  assert.deepEqual(await again.get(Buffer.from('k')), Buffer.from('v'));
  await again.close();
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    assert.deepEqual((await client.query('SELECT version FROM tessera_schema')).rows, [{ version: schemaVersion }]);
  } finally {
    await client.end();
  }
});

test('PostgresMetaStore - open fails with ERR_META_SCHEMA when the database is newer than the program', { skip }, async () => {
  const url = await server.createDatabase();
  await (await PostgresMetaStore.open({ url })).close();
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query('UPDATE tessera_schema SET version = $1', [schemaVersion + 1]);
  } finally {
    await client.end();
  }
  await assert.rejects(PostgresMetaStore.open({ url }), (err: unknown) => {
    assert.ok(isStoreError(err, 'ERR_META_SCHEMA'), String(err));
    assert.match((err as Error).message, new RegExp(`schema version ${schemaVersion + 1} is newer than this program's ${schemaVersion}`));
    return true;
  });
});

test('PostgresMetaStore - open fails with ERR_META_UNAVAILABLE when nothing listens', { skip }, async () => {
  const url = `postgres://tessera@127.0.0.1:1/none`;
  await assert.rejects(PostgresMetaStore.open({ url }), (err: unknown) => isStoreError(err, 'ERR_META_UNAVAILABLE'));
});

test('PostgresMetaStore - calls fail with ERR_META_UNAVAILABLE while the server is down and work again once it is back', { skip }, async () => {
  const url = await server.createDatabase();
  const store = await PostgresMetaStore.open({ url, connectTimeoutMs: 2_000 });
  try {
    await store.commit({ checks: [], writes: [{ key: Buffer.from('before'), value: Buffer.from('1') }] });
    await server.stop();
    const unavailable = (err: unknown) => isStoreError(err, 'ERR_META_UNAVAILABLE');
    await assert.rejects(store.get(Buffer.from('before')), unavailable);
    await assert.rejects(store.scan({ start: Buffer.alloc(0), end: Buffer.from([0xff]), limit: 10 }), unavailable);
    await assert.rejects(store.commit({ checks: [], writes: [{ key: Buffer.from('during'), value: Buffer.from('1') }] }), unavailable);
    await server.start();
    assert.deepEqual(await store.get(Buffer.from('before')), Buffer.from('1'));
    assert.equal(await store.commit({ checks: [{ key: Buffer.from('during'), value: null }], writes: [{ key: Buffer.from('after'), value: Buffer.from('2') }] }), true);
    assert.deepEqual(await store.get(Buffer.from('after')), Buffer.from('2'));
  } finally {
    await store.close();
  }
});
