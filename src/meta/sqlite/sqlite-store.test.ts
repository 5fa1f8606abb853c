// Runs the MetaStore contract against the SQLite backend.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runMetaStoreContract } from '../../../test/contract/metastore-contract.js';
import { SqliteMetaStore } from './sqlite-store.js';

runMetaStoreContract('SqliteMetaStore', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'tessera-meta-'));
  const store = await SqliteMetaStore.open(join(dir, 'meta.db'));
  return { store, cleanup: () => rm(dir, { recursive: true, force: true }) };
});
