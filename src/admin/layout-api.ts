// The layout part of the admin API (JSON): show the current and staged layout, stage one change, revert,
// apply as the next epoch. Changes that add drives are checked with the node itself (its id and drives over
// the node RPC), which needs the cluster secret: a single-node server has none and refuses them.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { targetShares, type Layout, type LayoutChange, type LayoutDiff } from '../cluster/index.js';
import type { Redundancy } from '../blocks/types.js';
import { nodeUrlOf, RemoteNode } from '../blocks/remote-node.js';
import { RemoteShardStore } from '../blocks/remote-shard-store.js';
import { rpcPathPrefix } from '../blocks/rpc-protocol.js';
import type { MetaStore } from '../meta/types.js';
import { applyStaged, currentLayout, parseLayoutChange, readLayoutState, revertStaged, stageChange, type LayoutPreview, type LayoutState } from '../objects/layout-admin.js';
import { assert } from '../util/assert.js';
import { isStoreError } from '../util/errors.js';
import { AdminRefusal, answerRefusal, readJsonBody, sendJson } from './json-api.js';

/** How long assign waits for the node it asks; an operator is waiting on the other end. */
const nodeCallTimeoutMs = 10_000;
const gibibyte = 2 ** 30;

export interface LayoutAdminDeps {
  meta: MetaStore;
  /** The cluster secret, to ask nodes for their ids and drives; absent in a single-node server. */
  clusterSecret?: Buffer;
  /** The CA of the nodes' certificates when node RPC uses TLS. */
  clusterCa?: Buffer;
  /** Called after an apply stored a new epoch, so this process follows it at once. */
  layoutApplied?: () => Promise<void>;
  /** Redundancies this process writes beside the layout's default (its storage classes): a change must leave room for them. */
  redundancies?: readonly Redundancy[];
}

/** Answers `route` ("METHOD path" under the admin prefix) if it is a layout route; false when it is not. */
export async function handleLayoutRoute(deps: LayoutAdminDeps, req: IncomingMessage, res: ServerResponse, route: string, query: URLSearchParams): Promise<boolean> {
  if (!route.startsWith('GET layout') && !route.startsWith('POST layout')) return false;
  try {
    switch (route) {
      case 'GET layout':
        sendJson(res, 200, layoutView(await readLayoutState(deps.meta, checksOf(deps))));
        return true;
      case 'POST layout/stage': {
        const change = await resolveChange(deps, await readJsonBody(req));
        sendJson(res, 200, layoutView(await stageChange(deps.meta, change, checksOf(deps))));
        return true;
      }
      case 'POST layout/revert':
        await readJsonBody(req, false);
        sendJson(res, 200, { reverted: await revertStaged(deps.meta) });
        return true;
      case 'POST layout/apply':
        await readJsonBody(req, false);
        sendJson(res, 200, await apply(deps, query));
        return true;
      default:
        return false;
    }
  } catch (err) {
    return answerRefusal(res, err);
  }
}

function checksOf(deps: LayoutAdminDeps): { redundancies: readonly Redundancy[] } {
  return { redundancies: deps.redundancies ?? [] };
}

async function apply(deps: LayoutAdminDeps, query: URLSearchParams): Promise<ApplyView> {
  const text = query.get('epoch');
  if (text === null || !/^\d{1,9}$/.test(text)) throw new AdminRefusal(400, `Cannot apply without the epoch to create: pass epoch=N, the current epoch + 1 (got "${text ?? ''}")`);
  const forceText = query.get('force');
  if (forceText !== null && !['1', 'true', '0', 'false'].includes(forceText)) throw new AdminRefusal(400, `Cannot read force="${forceText}": expected 1 or true (or 0, false)`);
  const force = forceText === '1' || forceText === 'true';
  const { layout, diff, warnings } = await applyStaged(deps.meta, Number(text), { ...checksOf(deps), force });
  // A single-node server has no hook: its block store loads the history once, at start.
  let followed = deps.layoutApplied ? undefined : `Epoch ${layout.epoch} is stored; this server places new blocks by it after a restart`;
  try {
    await deps.layoutApplied?.();
  } catch (err) {
    // The epoch is stored: every process follows it from the MetaStore; this one just did not load it now.
    followed = `Epoch ${layout.epoch} is stored, but this process could not load it at once: ${String(err)}`;
  }
  return { epoch: layout.epoch, moved: diffView(diff), warnings, ...(followed ? { warning: followed } : {}) };
}

// ---- changes that name drives are checked with their node ---------------------------------------

/**
 * The change to stage from a request body. addNode may leave out its drives (every drive the node reports,
 * with `capacity` each or the drive's size in GiB); addNode, addDrive and replaceDrive are checked with the
 * node, and a replacing drive keeps the old drive's capacity unless given one.
 */
/** What a node RPC client needs: the cluster secret, and the CA of the nodes' certificates when they use TLS. */
interface NodeLink {
  secret: Buffer;
  ca: Buffer | undefined;
}

async function resolveChange(deps: LayoutAdminDeps, body: unknown): Promise<LayoutChange> {
  const raw = (typeof body === 'object' && body !== null ? body : {}) as Record<string, unknown>;
  const kind = raw.kind;
  if (kind !== 'addNode' && kind !== 'addDrive' && kind !== 'replaceDrive') return parseLayoutChange(body);
  if (!deps.clusterSecret) throw new AdminRefusal(409, `Cannot stage "${String(kind)}": this server is a single node (its drives join by themselves on restart); run a gateway to manage a cluster`);
  const link = { secret: deps.clusterSecret, ca: deps.clusterCa };
  if (kind === 'addNode') return resolveAddNode(deps.meta, link, raw);
  const current = await currentLayout(deps.meta);
  const drive = (raw.drive ?? {}) as { id?: unknown; capacity?: unknown };
  const old = kind === 'replaceDrive' ? current.targets.find((t) => t.id === raw.oldTargetId && t.state === 'active') : undefined;
  const nodeId = kind === 'replaceDrive' ? old?.nodeId : raw.nodeId;
  if (kind === 'replaceDrive' && !old) throw new RangeError(`Cannot replace drive "${String(raw.oldTargetId)}": not an active drive of the layout`);
  const node = current.nodes.find((n) => n.id === nodeId && n.state !== 'removed');
  if (!node) throw new RangeError(`Cannot add a drive to node "${String(nodeId)}": not in the layout`);
  const found = (await askNode(link, node.id, node.address)).find((d) => d.id === drive.id);
  if (!found) throw new RangeError(`Cannot use drive "${String(drive.id)}": node "${node.id}" at ${node.address} does not report it`);
  const capacity = drive.capacity ?? old?.capacity ?? sizeGiB(node.id, found);
  return parseLayoutChange(kind === 'replaceDrive' ? { kind, oldTargetId: raw.oldTargetId, drive: { id: found.id, capacity } } : { kind, nodeId: node.id, drive: { id: found.id, capacity } });
}

/** addNode checked with the node at its address: the same id, drives it has, an address no other node holds. */
async function resolveAddNode(meta: MetaStore, link: NodeLink, raw: Record<string, unknown>): Promise<LayoutChange> {
  const parsed = parseLayoutChange({ kind: 'addNode', node: raw.node, drives: raw.drives ?? [] });
  assert(parsed.kind === 'addNode', 'An addNode body parses as addNode');
  const { id, address } = parsed.node;
  if (!/^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):\d{1,5}$/.test(address)) throw new RangeError(`Cannot assign node "${id}": its address "${address}" is not HOST:PORT`);
  const capacity = raw.capacity;
  if (capacity !== undefined && (typeof capacity !== 'number' || !Number.isFinite(capacity) || capacity < 0)) {
    throw new RangeError(`Cannot assign node "${id}" capacity "${String(capacity)}": expected a finite number ≥ 0`);
  }
  const holder = (await currentLayout(meta)).nodes.find((n) => n.address === address && n.id !== id && n.state !== 'removed');
  if (holder) throw new RangeError(`Cannot assign node "${id}" at ${address}: node "${holder.id}" of the layout has that address`);
  const found = await askNode(link, id, address);
  const drives = raw.drives === undefined ? found.map((d) => ({ id: d.id, capacity: capacity ?? sizeGiB(id, d) })) : parsed.drives;
  for (const d of drives) {
    if (!found.some((f) => f.id === d.id)) throw new RangeError(`Cannot assign node "${id}": it has no drive "${d.id}" (it has ${found.map((f) => `"${f.id}"`).join(', ')})`);
  }
  if (drives.length === 0) throw new RangeError(`Cannot assign node "${id}": it reports no drives`);
  return { ...parsed, drives };
}

function sizeGiB(nodeId: string, drive: { id: string; totalBytes?: number }): number {
  if (drive.totalBytes === undefined) throw new RangeError(`Cannot learn the size of drive "${drive.id}" of node "${nodeId}": give a capacity`);
  return Math.max(1, Math.round(drive.totalBytes / gibibyte));
}

/** The drives of the node at `address`, which must be `nodeId` (a request signed for another id is refused by it). */
async function askNode(link: NodeLink, nodeId: string, address: string): Promise<{ id: string; totalBytes?: number }[]> {
  let remote: RemoteNode;
  try {
    remote = new RemoteNode({ url: nodeUrlOf(address, link), nodeId, secret: link.secret, ...(link.ca ? { ca: link.ca } : {}), callTimeoutMs: nodeCallTimeoutMs });
  } catch (err) {
    throw new RangeError(`Cannot reach node "${nodeId}" at "${address}": ${(err as Error).message}`);
  }
  try {
    const answer = await remote.json<{ nodeId: string; drives: string[] }>('GET', `${rpcPathPrefix}/node`, { action: `Cannot ask node "${nodeId}" at ${address} for its drives` });
    if (answer.nodeId !== nodeId) throw new RangeError(`Cannot assign node "${nodeId}": the node at ${address} is "${answer.nodeId}"`);
    return await Promise.all(answer.drives.map(async (id) => {
      const health = await new RemoteShardStore(remote, id).probe().catch(() => undefined);
      return health?.totalBytes === undefined ? { id } : { id, totalBytes: health.totalBytes };
    }));
  } catch (err) {
    if (isStoreError(err)) throw new RangeError(err.message);
    throw err;
  } finally {
    remote.close();
  }
}

// ---- views ---------------------------------------------------------------------------------------

export interface NodeView {
  id: string;
  zone: string;
  address: string;
  state: string;
  /** slotShare: the drive's fraction of all slots of the epoch. */
  drives: { id: string; capacity: number; state: string; slotShare: number }[];
}

export interface DiffView {
  fromEpoch: number;
  toEpoch: number;
  slotsCompared: number;
  slotsMoved: number;
  /** The share of the data that moves: slots moved / slots compared. */
  movedFraction: number;
  partitionsMoved: number;
  /** Only the drives that gain or lose slots. */
  targets: { targetId: string; slotsBefore: number; slotsAfter: number; slotsIn: number; slotsOut: number }[];
}

export interface LayoutView {
  epoch: number;
  partitionCount: number;
  width: number;
  nodes: NodeView[];
  staged: { baseEpoch: number; changes: LayoutChange[] } | null;
  /** problems: why apply refuses these changes unless forced (too narrow, or too few nodes, for the redundancy in use). */
  preview: { epoch: number; width: number; nodes: NodeView[]; moved: DiffView; warnings: string[]; problems: string[] } | null;
  previewError?: string;
}

export interface ApplyView {
  epoch: number;
  moved: DiffView;
  /** The redundancy problems an apply with force=1 accepted. */
  warnings: string[];
  /** This process could not follow the epoch at once (or is a single-node server, which loads it at restart). */
  warning?: string;
}

function layoutMembers(layout: Layout): NodeView[] {
  const shares = layout.width > 0 ? targetShares(layout) : new Map<string, { actual: number }>();
  return layout.nodes.map((n) => ({
    id: n.id,
    zone: n.zone,
    address: n.address,
    state: n.state,
    drives: layout.targets.filter((t) => t.nodeId === n.id).map((t) => ({ id: t.id, capacity: t.capacity, state: t.state, slotShare: shares.get(t.id)?.actual ?? 0 })),
  }));
}

function diffView(diff: LayoutDiff): DiffView {
  return {
    fromEpoch: diff.fromEpoch,
    toEpoch: diff.toEpoch,
    slotsCompared: diff.slotsCompared,
    slotsMoved: diff.slotsMoved,
    movedFraction: diff.movedFraction,
    partitionsMoved: diff.partitionsMoved,
    targets: diff.targets.filter((t) => t.slotsIn > 0 || t.slotsOut > 0).map(({ targetId, slotsBefore, slotsAfter, slotsIn, slotsOut }) => ({ targetId, slotsBefore, slotsAfter, slotsIn, slotsOut })),
  };
}

function previewView(preview: LayoutPreview): NonNullable<LayoutView['preview']> {
  return { epoch: preview.next.epoch, width: preview.next.width, nodes: layoutMembers(preview.next), moved: diffView(preview.diff), warnings: preview.warnings, problems: preview.problems };
}

/** GET layout's answer: the current epoch, the staged changes and what applying them would move. */
export function layoutView(state: LayoutState): LayoutView {
  const { current } = state;
  return {
    epoch: current.epoch,
    partitionCount: current.partitionCount,
    width: current.width,
    nodes: layoutMembers(current),
    staged: state.staged ?? null,
    preview: state.preview ? previewView(state.preview) : null,
    ...(state.previewError ? { previewError: state.previewError } : {}),
  };
}
