// The operator's staged layout (setting `layout-staged` in the MetaStore): stage a change (validated
// against the current epoch before anything is stored), revert, preview what applying would move, and apply
// as the next epoch in one conditional commit. It never asks nodes anything; the admin API does that.
import { computeLayout, decodeLayout, diffLayouts, emptyLayout, encodeLayout, type DriveSpec, type Layout, type LayoutChange, type LayoutDiff } from '../cluster/index.js';
import { failureDomainsOf } from '../blocks/failure-domains.js';
import { defaultRedundancyFor, readQuorumOf, shardCountOf } from '../blocks/redundancy.js';
import type { Redundancy } from '../blocks/types.js';
import type { MetaStore } from '../meta/types.js';
import { assert } from '../util/assert.js';
import { StoreError } from '../util/errors.js';
import { keys } from './keys.js';
import { readRebalanceProgress } from './rebalance.js';

export const stagedSettingName = 'layout-staged';
/** Changes one staged set may hold: each is re-applied on every preview. */
export const stagedChangesMax = 256;
/** Attempts at a stage or revert whose conditional commit lost to a concurrent one. */
const commitAttemptsMax = 5;

export interface StagedLayout {
  /** The epoch the changes were last validated against. */
  baseEpoch: number;
  changes: LayoutChange[];
}

/** What applying the staged changes to the current epoch would give and move. */
export interface LayoutPreview {
  next: Layout;
  diff: LayoutDiff;
  /** Legal but worth a second look (a node removed before it was drained, narrower partitions). */
  warnings: string[];
  /**
   * Why apply refuses the changes unless forced: the next epoch would be too narrow, or have too few
   * failure domains, for the redundancy the cluster stores (redundancyProblems).
   */
  problems: string[];
}

/** What the preview and apply weigh a change against besides the layout itself. */
export interface LayoutCheckOptions {
  /** Redundancies written beside the layout's default (the storage classes'). */
  redundancies?: readonly Redundancy[];
  /** Shards the last rebalance pass towards the current epoch found it cannot move off draining nodes (read from the MetaStore when not given). */
  blockedShards?: number;
}

export interface LayoutState {
  current: Layout;
  staged: StagedLayout | undefined;
  preview?: LayoutPreview;
  /** Why the staged changes no longer apply to the current epoch (it changed since they were staged). */
  previewError?: string;
}

/** The newest stored epoch, or the empty epoch 0 when the MetaStore holds none. */
export async function currentLayout(meta: MetaStore): Promise<Layout> {
  const { start, end } = keys.layoutRange();
  const rows = await meta.scan({ start, end, limit: 1_000_000 });
  const last = rows[rows.length - 1];
  if (!last) return emptyLayout();
  const layout = decodeLayout(last.value);
  if (!last.key.equals(keys.layout(layout.epoch))) {
    throw new StoreError('ERR_LAYOUT_CORRUPT', `Cannot load the layout stored as epoch ${last.key.readUInt32BE(1)}: it holds epoch ${layout.epoch}`);
  }
  return layout;
}

/** The staged changes and the bytes they were read from (which a later commit checks are still there). */
export async function readStaged(meta: MetaStore): Promise<{ staged: StagedLayout | undefined; stored: Buffer | null }> {
  const stored = await meta.get(keys.setting(stagedSettingName));
  if (!stored) return { staged: undefined, stored };
  const parsed = JSON.parse(stored.toString('utf8')) as StagedLayout;
  return { staged: { baseEpoch: parsed.baseEpoch, changes: parsed.changes.map(parseLayoutChange) }, stored };
}

function redundancyName(r: Redundancy): string {
  return r.kind === 'rs' ? `RS ${r.data}+${r.parity}` : `${r.copies} ${r.copies === 1 ? 'copy' : 'copies'}`;
}

/**
 * Why `next` cannot hold what `current` holds and writes. The widest redundancy in use (the default for
 * the current epoch's failure domains, as the block store picks it, and each storage class's) needs
 * that many targets per partition, and that many failure domains (nodes; drives on a single node) for one
 * shard per domain. A change leaving fewer than that, and fewer than now, is refused by apply unless
 * forced: draining one node of six at RS 4+2 leaves partitions of 5 targets, so the rebalance can move no
 * 4+2 block off the drained node and writes of that width fail; or, with drives to spare, a node ends up
 * holding two shards of a block, which two node losses would then make unreadable.
 */
export function redundancyProblems(current: Layout, next: Layout, options: LayoutCheckOptions = {}): string[] {
  if (current.width === 0 || next.width === 0) return []; // nothing stored yet; "no drive" is refused elsewhere
  const currentDomains = failureDomainsOf(current).count;
  const inUse = [defaultRedundancyFor(Math.min(currentDomains, current.width)), ...(options.redundancies ?? [])];
  const widest = inUse.reduce((a, b) => (shardCountOf(b) > shardCountOf(a) ? b : a));
  const needed = shardCountOf(widest);
  const name = redundancyName(widest);
  const nextDomains = failureDomainsOf(next).count;
  const what = `Add a node (or drive) first with "tessera admin layout assign", then drain; or lower the redundancy${options.redundancies?.length ? ' (--storage-classes)' : ''}`;
  if (next.width < needed && next.width < current.width) {
    return [`Epoch ${next.epoch} would list ${next.width} targets per partition, but blocks of ${name} need ${needed}: the rebalance could not move them off the nodes leaving the layout (those would keep their shards) and writes of ${name} would fail. ${what}`];
  }
  if (nextDomains < needed && nextDomains < currentDomains) {
    const lost = needed - readQuorumOf(widest);
    return [`Epoch ${next.epoch} would have ${nextDomains} failure domains (nodes) for blocks of ${name}, which spread over ${needed}: a node would hold two shards of some blocks, so losing ${lost} ${lost === 1 ? 'node' : 'nodes'} could lose data ${name} should keep. ${what}`];
  }
  // A forced narrow drain left shards on the draining nodes: removing one gives them up for good.
  const blocked = options.blockedShards ?? 0;
  const removed = current.nodes.filter((n) => n.state === 'draining' && next.nodes.find((m) => m.id === n.id)?.state === 'removed');
  if (blocked > 0 && removed.length > 0) {
    return [`Node${removed.length === 1 ? '' : 's'} ${removed.map((n) => `"${n.id}"`).join(', ')} still hold${removed.length === 1 ? 's' : ''} shards the rebalance could not move (${blocked} blocked: epoch ${current.epoch} is narrower than their blocks); removing ${removed.length === 1 ? 'it' : 'them'} gives those shards up. Assign a node and wait for the rebalance to settle first`];
  }
  return [];
}

/** `options` with the blocked shards of the last rebalance pass towards `current`, unless given. */
async function withBlocked(meta: MetaStore, current: Layout, options: LayoutCheckOptions): Promise<LayoutCheckOptions> {
  if (options.blockedShards !== undefined) return options;
  const progress = await readRebalanceProgress(meta);
  return { ...options, blockedShards: progress && progress.toEpoch === current.epoch ? progress.shardsBlocked : 0 };
}

/** What `changes` applied to `current` would give; throws RangeError for a change that cannot apply. */
export function previewChanges(current: Layout, changes: readonly LayoutChange[], options: LayoutCheckOptions = {}): LayoutPreview {
  const next = computeLayout(current, changes);
  if (next.width === 0 && current.width > 0) throw new RangeError('Cannot stage these changes: no drive would take shards');
  const warnings: string[] = [];
  for (const change of changes) {
    if (change.kind !== 'removeNode') continue;
    const node = current.nodes.find((n) => n.id === change.nodeId);
    if (node?.state === 'active') warnings.push(`Node "${change.nodeId}" is removed without being drained: its shards are rebuilt from the others by the rebalance, and until then each of its blocks has one shard less to spare`);
  }
  if (next.width < current.width) {
    warnings.push(`Partitions will list ${next.width} targets instead of ${current.width}: blocks wider than ${next.width} shards cannot be placed`);
  }
  return { next, diff: diffLayouts(current, next), warnings, problems: redundancyProblems(current, next, options) };
}

/** The current epoch, the staged changes and, when they still apply, what applying them would move. */
export async function readLayoutState(meta: MetaStore, options: LayoutCheckOptions = {}): Promise<LayoutState> {
  const [current, { staged }] = await Promise.all([currentLayout(meta), readStaged(meta)]);
  if (!staged || staged.changes.length === 0) return { current, staged };
  try {
    return { current, staged, preview: previewChanges(current, staged.changes, await withBlocked(meta, current, options)) };
  } catch (err) {
    if (!(err instanceof RangeError)) throw err;
    return { current, staged, previewError: err.message };
  }
}

/**
 * Adds `change` to the staged set after checking that the whole set still applies to the current epoch.
 * A bad change throws RangeError and nothing is stored.
 */
export async function stageChange(meta: MetaStore, change: LayoutChange, options: LayoutCheckOptions = {}): Promise<LayoutState> {
  for (let attempt = 0; attempt < commitAttemptsMax; attempt++) {
    const { staged, stored } = await readStaged(meta);
    const current = await currentLayout(meta);
    const changes = [...(staged?.changes ?? []), change];
    if (changes.length > stagedChangesMax) throw new RangeError(`Cannot stage more than ${stagedChangesMax} layout changes: apply or revert them first`);
    // Staged even when apply would refuse it: the preview shows the problem, and a later change may fix it.
    const preview = previewChanges(current, changes, await withBlocked(meta, current, options));
    const value = Buffer.from(JSON.stringify({ baseEpoch: current.epoch, changes } satisfies StagedLayout));
    // The next epoch must still be unapplied: an apply in between would have validated other changes.
    const ok = await meta.commit({
      checks: [{ key: keys.setting(stagedSettingName), value: stored }, { key: keys.layout(current.epoch + 1), value: null }],
      writes: [{ key: keys.setting(stagedSettingName), value }],
    });
    if (ok) return { current, staged: { baseEpoch: current.epoch, changes }, preview };
  }
  throw new StoreError('ERR_META_CONFLICT', 'Cannot stage the layout change: the staged changes kept changing under it');
}

/** Drops every staged change; returns how many there were. */
export async function revertStaged(meta: MetaStore): Promise<number> {
  for (let attempt = 0; attempt < commitAttemptsMax; attempt++) {
    const { staged, stored } = await readStaged(meta);
    if (!stored) return 0;
    if (await meta.commit({ checks: [{ key: keys.setting(stagedSettingName), value: stored }], writes: [{ key: keys.setting(stagedSettingName), value: null }] })) {
      return staged?.changes.length ?? 0;
    }
  }
  throw new StoreError('ERR_META_CONFLICT', 'Cannot revert the staged layout changes: they kept changing under it');
}

/**
 * Applies the staged changes as `epoch`, which must be the current epoch + 1, and clears them, in one
 * conditional commit: of two concurrent applies, one stores the epoch and the other fails
 * ERR_META_CONFLICT with nothing written. Changes with redundancy problems fail ERR_LAYOUT_UNSAFE unless
 * `force`, which applies them and returns the problems as warnings.
 */
export async function applyStaged(meta: MetaStore, epoch: number, options: LayoutCheckOptions & { force?: boolean } = {}): Promise<{ layout: Layout; diff: LayoutDiff; warnings: string[] }> {
  if (!Number.isSafeInteger(epoch) || epoch < 1) throw new RangeError(`Cannot apply the staged changes as epoch "${epoch}": expected a positive integer`);
  // Staged first, then the epoch: an apply landing between the two reads then shows as a newer epoch (409),
  // never as "nothing staged" read against the old one.
  const { staged, stored } = await readStaged(meta);
  const current = await currentLayout(meta);
  if (epoch !== current.epoch + 1) {
    throw new StoreError('ERR_META_CONFLICT', `Cannot apply the staged changes as epoch ${epoch}: the current epoch is ${current.epoch}, so the next is ${current.epoch + 1}`);
  }
  if (!staged || staged.changes.length === 0) throw new RangeError('Cannot apply: no layout changes are staged');
  const { next, diff, problems } = previewChanges(current, staged.changes, await withBlocked(meta, current, options));
  assert(next.epoch === epoch, 'The next layout is one epoch after the current one');
  if (problems.length > 0 && options.force !== true) {
    throw new StoreError('ERR_LAYOUT_UNSAFE', `Cannot apply epoch ${epoch}: ${problems.join(' ')} To apply it anyway, pass --force`);
  }
  const ok = await meta.commit({
    checks: [{ key: keys.layout(epoch), value: null }, { key: keys.setting(stagedSettingName), value: stored }],
    writes: [{ key: keys.layout(epoch), value: encodeLayout(next) }, { key: keys.setting(stagedSettingName), value: null }],
  });
  if (!ok) throw new StoreError('ERR_META_CONFLICT', `Cannot apply epoch ${epoch}: another apply or stage changed the layout meanwhile; look again with "layout show"`);
  return { layout: next, diff, warnings: problems.map((p) => `Applied with --force although: ${p}`) };
}

// ---- the shape of a change from JSON --------------------------------------------------------------

function text(value: unknown, what: string): string {
  if (typeof value !== 'string') throw new RangeError(`Cannot read layout change: ${what} must be a string`);
  return value;
}

function num(value: unknown, what: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value)) throw new RangeError(`Cannot read layout change: ${what} must be a finite number`);
  return value;
}

function objectOf(value: unknown, what: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new RangeError(`Cannot read layout change: ${what} must be an object`);
  return value as Record<string, unknown>;
}

function driveOf(value: unknown, what: string): DriveSpec {
  const d = objectOf(value, what);
  return { id: text(d.id, `${what}.id`), capacity: num(d.capacity, `${what}.capacity`) };
}

/** A LayoutChange from untrusted JSON: every field of its kind present and typed, else RangeError. */
export function parseLayoutChange(value: unknown): LayoutChange {
  const c = objectOf(value, 'the change');
  const str = (name: string) => text(c[name], name);
  switch (c.kind) {
    case 'addNode': {
      const node = objectOf(c.node, 'node');
      if (!Array.isArray(c.drives)) throw new RangeError('Cannot read layout change: drives must be an array');
      return {
        kind: 'addNode',
        node: { id: text(node.id, 'node.id'), address: text(node.address, 'node.address'), zone: text(node.zone, 'node.zone') },
        drives: c.drives.map((d, i) => driveOf(d, `drives[${i}]`)),
      };
    }
    case 'addDrive':
      return { kind: 'addDrive', nodeId: str('nodeId'), drive: driveOf(c.drive, 'drive') };
    case 'setCapacity':
      return { kind: 'setCapacity', targetId: str('targetId'), capacity: num(c.capacity, 'capacity') };
    case 'drainNode':
    case 'removeNode':
      return { kind: c.kind, nodeId: str('nodeId') };
    case 'replaceDrive':
      return { kind: 'replaceDrive', oldTargetId: str('oldTargetId'), drive: driveOf(c.drive, 'drive') };
    default:
      throw new RangeError(`Cannot read layout change of kind "${String(c.kind)}": expected addNode, addDrive, setCapacity, drainNode, removeNode or replaceDrive`);
  }
}
