// A server on a shared MetaStore (PostgreSQL) must not take other processes' leases for a dead process's:
// a second `tessera server --meta` on the same database leaves the first one's worker leases alone.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTessera } from '../helpers/tessera.js';
import { skipWithoutPostgres, startPostgres } from '../helpers/postgres.js';
import { PostgresMetaStore } from '../../src/meta/postgres/postgres-store.js';
import { keys } from '../../src/objects/keys.js';
import { decodeRecord } from '../../src/objects/records.js';
import type { LeaseRecord } from '../../src/workers/lease.js';

test('server on PostgreSQL - a second server on the same database leaves the first one\'s worker leases held', { skip: skipWithoutPostgres() }, async () => {
  const postgres = await startPostgres();
  const keyDir = await mkdtemp(join(tmpdir(), 'tessera-iam-'));
  let meta: PostgresMetaStore | undefined;
  const servers: Awaited<ReturnType<typeof startTessera>>[] = [];
  try {
    const url = await postgres.createDatabase();
    // Processes sharing a MetaStore share its IAM key too (the second would refuse to start on another one).
    const iamKeyFile = join(keyDir, 'iam.key');
    meta = await PostgresMetaStore.open({ url });
    const leases = async () =>
      (await meta!.scan({ ...keys.leaseRange(), limit: 100 })).map((kv) => ({ name: kv.key.toString('latin1'), ...decodeRecord<LeaseRecord>(kv.value) }));
    servers.push(await startTessera({ args: ['--meta', url, '--iam-key-file', iamKeyFile] }));
    // Wait for the first server's workers to take their leases.
    let before = await leases();
    for (let i = 0; i < 100 && !(before.length > 0 && before.every((l) => l.expiresMs > Date.now())); i++) {
      await new Promise((r) => setTimeout(r, 100));
      before = await leases();
    }
    assert.ok(before.length > 0, 'the first server took no lease');
    servers.push(await startTessera({ args: ['--meta', url, '--iam-key-file', iamKeyFile] }));
    await new Promise((r) => setTimeout(r, 500)); // time for the second server's workers to try to take them
    // Leases the first server had not taken yet may go to either; those it held must stay its own.
    const after = new Map((await leases()).map((l) => [l.name, l]));
    for (const held of before) {
      assert.equal(after.get(held.name)?.holder, held.holder, `lease "${held.name}" changed hands`);
      assert.ok(after.get(held.name)!.expiresMs > Date.now(), `lease "${held.name}" was released`);
    }
  } finally {
    for (const server of servers) await server.cleanup();
    await meta?.close();
    await postgres.cleanup();
    await rm(keyDir, { recursive: true, force: true });
  }
});
