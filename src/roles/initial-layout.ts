// A gateway's first layout from a list of nodes (`--initial-layout FILE`, what `tessera dev-cluster`
// writes): when the MetaStore holds no epoch yet, asks each node for its drives and stores epoch 1 over
// them all, equal capacity per drive. Ignored once any epoch exists; later changes go through the
// staged layout of the admin API.
import { readFile } from 'node:fs/promises';
import { computeLayout, emptyLayout, type Layout, type LayoutChange } from '../cluster/index.js';
import { nodeUrlOf, RemoteNode } from '../blocks/remote-node.js';
import { rpcPathPrefix } from '../blocks/rpc-protocol.js';
import type { MetaStore } from '../meta/types.js';
import { loadLayoutsAfter, storeLayout } from '../objects/layouts.js';
import { isStoreError } from '../util/errors.js';

export interface InitialNode {
  id: string;
  /** host:port of the node's RPC. */
  address: string;
  zone: string;
}

/** Reads `{"nodes": [{"id", "address", "zone"}, …]}`, checked field by field. */
export async function readInitialLayout(path: string): Promise<InitialNode[]> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(await readFile(path, 'utf8'));
  } catch (err) {
    throw new Error(`Cannot read initial layout "${path}": ${(err as Error).message}`);
  }
  const nodes = (parsed as { nodes?: unknown } | null)?.nodes;
  if (!Array.isArray(nodes) || nodes.length === 0) throw new Error(`Cannot read initial layout "${path}": expected {"nodes": [{"id", "address", "zone"}, ...]}`);
  return nodes.map((n: unknown, i) => {
    const { id, address, zone } = (n ?? {}) as Record<string, unknown>;
    if (typeof id !== 'string' || typeof address !== 'string' || typeof zone !== 'string' || !/^[^:]+:\d+$/.test(address)) {
      throw new Error(`Cannot read initial layout "${path}": node ${i} needs string "id", "zone" and "address" HOST:PORT`);
    }
    return { id, address, zone };
  });
}

/**
 * Stores epoch 1 over `nodes` unless some epoch exists; resolves with what it stored, or undefined when
 * it stored nothing. Each node must answer (as the node id it is listed under) within `timeoutMs`:
 * nodes that are still starting are asked again.
 */
export async function storeInitialLayout(meta: MetaStore, nodes: readonly InitialNode[], options: { secret: Buffer; ca?: Buffer; timeoutMs: number }): Promise<Layout | undefined> {
  if ((await loadLayoutsAfter(meta, 0)).length > 0) return undefined;
  const changes: LayoutChange[] = await Promise.all(
    nodes.map(async (node): Promise<LayoutChange> => {
      const drives = await drivesOf(node, options);
      return { kind: 'addNode', node, drives: drives.map((id) => ({ id, capacity: 1 })) };
    }),
  );
  const layout = computeLayout(emptyLayout(), changes);
  // Another gateway of the same MetaStore may have stored epoch 1 first: its layout wins.
  return (await storeLayout(meta, layout)) ? layout : undefined;
}

async function drivesOf(node: InitialNode, options: { secret: Buffer; ca?: Buffer; timeoutMs: number }): Promise<string[]> {
  const client = new RemoteNode({ url: nodeUrlOf(node.address, options), nodeId: node.id, secret: options.secret, ...(options.ca ? { ca: options.ca } : {}), callTimeoutMs: 5000 });
  const deadlineMs = Date.now() + options.timeoutMs;
  try {
    for (;;) {
      try {
        const answer = await client.json<{ nodeId: string; drives: string[] }>('GET', `${rpcPathPrefix}/node`, { action: `Cannot ask node "${node.id}" at ${node.address} for its drives` });
        if (answer.nodeId !== node.id) throw new Error(`Cannot lay out node "${node.id}": the node at ${node.address} is "${answer.nodeId}"`);
        if (answer.drives.length === 0) throw new Error(`Cannot lay out node "${node.id}": it serves no drives`);
        return answer.drives;
      } catch (err) {
        // A node still starting refuses the connection; a wrong id or a bad answer is final.
        if (!isStoreError(err) || Date.now() >= deadlineMs) throw err;
        client.clearSuspect();
        await new Promise((resolve) => setTimeout(resolve, 250));
      }
    }
  } finally {
    client.close();
  }
}
