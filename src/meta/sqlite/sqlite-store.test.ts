// Runs the MetaStore contract against the SQLite backend, and checks its one-writer lock.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runMetaStoreContract } from '../../../test/contract/metastore-contract.js';
import { isStoreError } from '../../util/errors.js';
import { SqliteMetaStore } from './sqlite-store.js';

runMetaStoreContract('SqliteMetaStore', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'tessera-meta-'));
  const store = await SqliteMetaStore.open(join(dir, 'meta.db'));
  return { store, cleanup: () => rm(dir, { recursive: true, force: true }) };
});

test('SqliteMetaStore - a second store on one database fails with ERR_META_LOCKED until the first closes', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'tessera-meta-lock-'));
  try {
    const path = join(dir, 'meta.db');
    const first = await SqliteMetaStore.open(path);
    await assert.rejects(SqliteMetaStore.open(path), (err: unknown) => isStoreError(err, 'ERR_META_LOCKED'));
    await first.commit({ checks: [], writes: [{ key: Buffer.from('k'), value: Buffer.from('v') }] });
    await first.close();
    const second = await SqliteMetaStore.open(path);
    assert.deepEqual(await second.get(Buffer.from('k')), Buffer.from('v'));
    await second.close();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
