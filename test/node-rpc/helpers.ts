// Shared by the node RPC tests: an in-process node server over temporary drives, and clients of it.
import { randomBytes } from 'node:crypto';
import { LocalDrive } from '../../src/blocks/drive.js';
import { RemoteNode, type RemoteNodeOptions } from '../../src/blocks/remote-node.js';
import { RemoteShardStore } from '../../src/blocks/remote-shard-store.js';
import { tempDrives } from '../../src/blocks/test-helpers.js';
import { startNodeServer, type RunningNode } from '../../src/node/node-server.js';
import { createLogger } from '../../src/util/log.js';

export interface TestNode {
  node: RunningNode;
  drive: LocalDrive;
  secret: Buffer;
  /** A client of the node's one drive; extra options override the defaults. */
  client(options?: Partial<RemoteNodeOptions>): { remote: RemoteNode; store: RemoteShardStore };
  cleanup(): Promise<void>;
}

/** `hangFifo`: the drive hangs (drive-io.ts fault injection) while that FIFO exists, and times out after 200 ms. */
export async function startTestNode(options: { hangFifo?: string } = {}): Promise<TestNode> {
  const dirs = await tempDrives(1);
  const path = dirs.paths[0]!;
  if (options.hangFifo) process.env.TESSERA_TEST_FAULTS = JSON.stringify({ hang: [{ drive: path, fifo: options.hangFifo }] });
  const drive = await LocalDrive.open(path, { create: true, ...(options.hangFifo ? { io: { timeoutMs: 200, inFlightMax: 4 } } : {}) });
  delete process.env.TESSERA_TEST_FAULTS; // read once, when the drive is opened
  const secret = randomBytes(32);
  const node = await startNodeServer({ address: '127.0.0.1:0', nodeId: 'n1', secret, drives: [drive], log: createLogger({ quiet: true }) });
  const remotes: RemoteNode[] = [];
  return {
    node,
    drive,
    secret,
    client(extra = {}) {
      const remote = new RemoteNode({ url: node.url, nodeId: 'n1', secret, ...extra });
      remotes.push(remote);
      return { remote, store: new RemoteShardStore(remote, drive.id) };
    },
    async cleanup() {
      for (const r of remotes) r.close();
      await node.close();
      await dirs.cleanup();
    },
  };
}
