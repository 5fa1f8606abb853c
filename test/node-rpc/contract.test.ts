// Runs the ShardStore contract against RemoteShardStore talking to a real node server in process.
import { runShardStoreContract } from '../contract/shard-store-contract.js';
import { startTestNode } from './helpers.js';

runShardStoreContract('RemoteShardStore', async () => {
  const testNode = await startTestNode();
  return { store: testNode.client().store, cleanup: () => testNode.cleanup() };
});
