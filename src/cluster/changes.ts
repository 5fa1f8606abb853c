// Staged layout changes applied to the membership (nodes and targets) of the previous layout. Checks
// every change at this boundary: a bad one throws RangeError and nothing is applied.
import type { DriveSpec, Layout, LayoutChange, LayoutNode, LayoutTarget } from './types.js';

export interface Membership {
  nodes: LayoutNode[];
  targets: LayoutTarget[];
  /** Old target id → the id of the drive that replaced it, which inherits its slots. */
  replaced: Map<string, string>;
}

const idPattern = /^[A-Za-z0-9._:-]{1,128}$/;

function checkId(kind: string, id: unknown): string {
  if (typeof id !== 'string' || !idPattern.test(id)) {
    throw new RangeError(`Cannot use ${kind} id "${String(id)}": expected 1-128 letters, digits or ._:-`);
  }
  return id;
}

function checkCapacity(id: string, capacity: unknown): number {
  if (typeof capacity !== 'number' || !Number.isFinite(capacity) || capacity < 0) {
    throw new RangeError(`Cannot give drive "${id}" capacity "${String(capacity)}": expected a finite number ≥ 0`);
  }
  return capacity;
}

export function applyChanges(previous: Layout, changes: readonly LayoutChange[]): Membership {
  // Members removed in the previous epoch have left; this epoch forgets them.
  const nodes = new Map(previous.nodes.filter((n) => n.state !== 'removed').map((n) => [n.id, n]));
  const targets = new Map(previous.targets.filter((t) => t.state !== 'removed').map((t) => [t.id, t]));
  const replaced = new Map<string, string>();
  const previousIds = new Set(previous.targets.map((t) => t.id));
  const node = (id: string, action: string) => {
    const found = nodes.get(id);
    if (!found || found.state === 'removed') throw new RangeError(`Cannot ${action} node "${id}": not in the layout`);
    return found;
  };
  const addDrive = (nodeId: string, drive: DriveSpec) => {
    const id = checkId('drive', drive.id);
    if (targets.has(id) || previousIds.has(id)) throw new RangeError(`Cannot add drive "${id}": the id is taken`);
    targets.set(id, { id, nodeId, capacity: checkCapacity(id, drive.capacity), state: 'active' });
  };
  for (const change of changes) {
    switch (change.kind) {
      case 'addNode': {
        const id = checkId('node', change.node.id);
        if (nodes.has(id)) throw new RangeError(`Cannot add node "${id}": the id is taken`);
        if (typeof change.node.zone !== 'string' || change.node.zone === '') throw new RangeError(`Cannot add node "${id}": it needs a zone`);
        if (typeof change.node.address !== 'string') throw new RangeError(`Cannot add node "${id}": it needs an address`);
        nodes.set(id, { id, address: change.node.address, zone: change.node.zone, state: 'active' });
        for (const drive of change.drives) addDrive(id, drive);
        break;
      }
      case 'addDrive':
        if (node(change.nodeId, 'add a drive to').state !== 'active') throw new RangeError(`Cannot add a drive to node "${change.nodeId}": it is draining`);
        addDrive(change.nodeId, change.drive);
        break;
      case 'setCapacity': {
        const target = targets.get(change.targetId);
        if (!target || target.state !== 'active') throw new RangeError(`Cannot set the capacity of drive "${change.targetId}": not an active drive of the layout`);
        targets.set(target.id, { ...target, capacity: checkCapacity(target.id, change.capacity) });
        break;
      }
      case 'drainNode':
        nodes.set(change.nodeId, { ...node(change.nodeId, 'drain'), state: 'draining' });
        break;
      case 'removeNode':
        nodes.set(change.nodeId, { ...node(change.nodeId, 'remove'), state: 'removed' });
        for (const t of targets.values()) if (t.nodeId === change.nodeId) targets.set(t.id, { ...t, state: 'removed' });
        break;
      case 'replaceDrive': {
        const old = targets.get(change.oldTargetId);
        if (!old || old.state !== 'active') throw new RangeError(`Cannot replace drive "${change.oldTargetId}": not an active drive of the layout`);
        addDrive(old.nodeId, change.drive);
        targets.set(old.id, { ...old, state: 'removed' });
        replaced.set(old.id, change.drive.id);
        break;
      }
      default:
        throw new RangeError(`Cannot apply layout change "${(change as { kind?: unknown }).kind}"`);
    }
  }
  const byId = (a: { id: string }, b: { id: string }) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
  return { nodes: [...nodes.values()].sort(byId), targets: [...targets.values()].sort(byId), replaced };
}
