// Runs the ShardStore contract against the local drive, the first implementation.
import { runShardStoreContract } from '../../test/contract/shard-store-contract.js';
import { LocalDrive } from './drive.js';
import { tempDrives } from './test-helpers.js';

runShardStoreContract('LocalDrive', async () => {
  const dirs = await tempDrives(1);
  const store = await LocalDrive.open(dirs.paths[0] as string, { create: true });
  return { store, cleanup: dirs.cleanup };
});
