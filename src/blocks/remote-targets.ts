// The shard targets of a gateway: every drive of every node the layout history still names, reached
// through one RemoteNode per node and one RemoteShardStore per drive. It follows the layout (update()),
// but never decides placement: which targets hold a block is the layout's business.
import type { Layout } from '../cluster/index.js';
import { nodeUrlOf, RemoteNode } from './remote-node.js';
import { RemoteShardStore } from './remote-shard-store.js';
import type { ShardStore, ShardTargets, TargetSlot } from './shard-store.js';

export interface RemoteShardTargetsOptions {
  secret: Buffer;
  /** The CA nodes' certificates are checked against when the cluster's node RPC uses TLS. */
  ca?: Buffer;
  /** The layout history, oldest first: every node and drive any epoch names gets a client. */
  layouts: readonly Layout[];
  /** Per call; default the RPC client's (rpcCallTimeoutMs). */
  callTimeoutMs?: number;
  /** Called when a layout names something this process cannot build a client for (a bad address or drive id). */
  onProblem?: (message: string) => void;
}

/** How long a node client replaced by a new address stays open for calls already made through it. */
const replacedNodeCloseDelayMs = 60_000;

export class RemoteShardTargets implements ShardTargets {
  private readonly nodes = new Map<string, { address: string; client: RemoteNode }>();
  private readonly stores = new Map<string, RemoteShardStore>();
  /** In the order targets first appeared, so the list is stable across epochs. */
  private readonly slotById = new Map<string, TargetSlot>();
  private slotList: TargetSlot[] = [];
  private readonly options: RemoteShardTargetsOptions;
  private closed = false;

  constructor(options: RemoteShardTargetsOptions) {
    this.options = options;
    for (const layout of options.layouts) this.update(layout);
  }

  get slots(): readonly TargetSlot[] {
    return this.slotList;
  }

  storeOf(id: string): ShardStore | undefined {
    return this.stores.get(id);
  }

  /** The client of node `id`, while a layout names it. */
  nodeOf(id: string): RemoteNode | undefined {
    return this.nodes.get(id)?.client;
  }

  /** A wiped drive on a node is the node's to re-format; a gateway revives nothing. */
  async revive(): Promise<string[]> {
    return [];
  }

  /**
   * Adds the nodes and drives of `layout` (a new epoch) to those already known; a node whose address
   * changed gets a new client. Nothing is dropped: older epochs may still name a removed node's drives
   * until rebalance retires them.
   */
  update(layout: Layout): void {
    if (this.closed) return;
    for (const node of layout.nodes) {
      const known = this.nodes.get(node.id);
      if (known && known.address === node.address) continue;
      let client: RemoteNode;
      try {
        client = new RemoteNode({ url: nodeUrlOf(node.address, this.options), nodeId: node.id, secret: this.options.secret, ...(this.options.ca ? { ca: this.options.ca } : {}), ...(this.options.callTimeoutMs ? { callTimeoutMs: this.options.callTimeoutMs } : {}) });
      } catch (err) {
        this.options.onProblem?.(`Cannot reach node "${node.id}" at "${node.address}" (layout epoch ${layout.epoch}): ${(err as Error).message}`);
        continue;
      }
      this.nodes.set(node.id, { address: node.address, client });
      if (known) {
        // Calls in flight keep their sockets for a while; new calls take the new address.
        setTimeout(() => known.client.close(), replacedNodeCloseDelayMs).unref();
        for (const [id, store] of this.stores) if (store.node === known.client) this.stores.delete(id);
      }
    }
    const addressOf = new Map(layout.nodes.map((n) => [n.id, n.address]));
    for (const target of layout.targets) {
      const node = this.nodes.get(target.nodeId);
      if (!node || this.stores.get(target.id)?.node === node.client) continue;
      try {
        this.stores.set(target.id, new RemoteShardStore(node.client, target.id));
      } catch (err) {
        this.options.onProblem?.(`Cannot use drive "${target.id}" of node "${target.nodeId}" (layout epoch ${layout.epoch}): ${(err as Error).message}`);
        continue;
      }
      const where = `${target.nodeId} (${addressOf.get(target.nodeId) ?? node.address})`;
      this.slotById.set(target.id, { id: target.id, name: { node: target.nodeId, drive: target.id }, where });
    }
    this.slotList = [...this.slotById.values()];
  }

  /** Closes every node's connections. */
  close(): void {
    this.closed = true;
    for (const { client } of this.nodes.values()) client.close();
  }
}
