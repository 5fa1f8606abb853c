// `tessera admin layout ...` (show, stage changes, diff, revert, apply) and the cluster part of
// `tessera admin status`: the admin API's JSON turned into tables an operator reads. No logic of its own.
import { Command, Option } from 'commander';
import type { ApplyView, DiffView, LayoutView, NodeView } from '../admin/layout-api.js';
import type { ClusterStatus } from '../admin/cluster-status.js';
import type { LayoutChange } from '../cluster/index.js';
import { call, table, type AdminOptions } from './admin-client.js';

export type ClusterStatusView = ClusterStatus;

const percent = (fraction: number) => `${(fraction * 100).toFixed(1)}%`;

export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${bytes} B` : `${value.toFixed(1)} ${units[unit]}`;
}

export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  const two = (n: number) => String(n).padStart(2, '0');
  if (s >= 3600) return `${Math.floor(s / 3600)}h ${two(Math.floor((s % 3600) / 60))}m`;
  if (s >= 60) return `${Math.floor(s / 60)}m ${two(s % 60)}s`;
  return `${s}s`;
}

/** One staged change as a sentence. */
export function describeChange(c: LayoutChange): string {
  switch (c.kind) {
    case 'addNode':
      return `assign node ${c.node.id} in zone ${c.node.zone} at ${c.node.address} with ${c.drives.length} ${c.drives.length === 1 ? 'drive' : 'drives'}: ${c.drives.map((d) => `${d.id} (capacity ${d.capacity})`).join(', ')}`;
    case 'addDrive':
      return `add drive ${c.drive.id} (capacity ${c.drive.capacity}) to node ${c.nodeId}`;
    case 'setCapacity':
      return `set the capacity of drive ${c.targetId} to ${c.capacity}`;
    case 'drainNode':
      return `drain node ${c.nodeId} (decommission: its data moves away)`;
    case 'removeNode':
      return `remove node ${c.nodeId}`;
    case 'replaceDrive':
      return `replace drive ${c.oldTargetId} with ${c.drive.id} (capacity ${c.drive.capacity})`;
  }
}

function membersTable(nodes: NodeView[]): string {
  const rows = nodes.flatMap((n) => n.drives.map((d, i) => [i === 0 ? n.id : '', i === 0 ? n.zone : '', i === 0 ? n.address || '-' : '', i === 0 ? n.state : '', d.id, String(d.capacity), d.state === 'active' ? percent(d.slotShare) : d.state]));
  return table(['NODE', 'ZONE', 'ADDRESS', 'STATE', 'DRIVE', 'CAPACITY', 'SLOTS'], rows);
}

/** What applying would move: the share of data, and each drive's slots in and out. */
export function diffText(moved: DiffView): string {
  const head = `Epoch ${moved.fromEpoch} → ${moved.toEpoch} moves ${moved.slotsMoved} of ${moved.slotsCompared} slots (${percent(moved.movedFraction)} of the data) in ${moved.partitionsMoved} partitions\n`;
  if (moved.targets.length === 0) return head;
  const rows = moved.targets.map((t) => [t.targetId, String(t.slotsBefore), String(t.slotsAfter), `+${t.slotsIn}`, `-${t.slotsOut}`]);
  return `${head}\n${table(['DRIVE', 'SLOTS BEFORE', 'SLOTS AFTER', 'IN', 'OUT'], rows)}`;
}

function stagedText(view: LayoutView): string {
  if (!view.staged || view.staged.changes.length === 0) return 'No staged changes.\n';
  let out = `Staged changes (${view.staged.changes.length}):\n${view.staged.changes.map((c, i) => `  ${i + 1}. ${describeChange(c)}\n`).join('')}\n`;
  if (view.previewError) return `${out}These changes no longer apply to epoch ${view.epoch}: ${view.previewError}\nDrop them with: tessera admin layout revert\n`;
  if (!view.preview) return out;
  out += diffText(view.preview.moved);
  for (const w of view.preview.warnings) out += `Warning: ${w}\n`;
  if (view.preview.problems.length > 0) {
    for (const p of view.preview.problems) out += `\nApply refuses these changes: ${p}\n`;
    return `${out}\nTo apply them anyway: tessera admin layout apply --epoch ${view.preview.epoch} --force   (or drop them: tessera admin layout revert)\n`;
  }
  return `${out}\nApply with: tessera admin layout apply --epoch ${view.preview.epoch}   (or drop them: tessera admin layout revert)\n`;
}

export function layoutText(view: LayoutView): string {
  const head = view.epoch === 0 ? 'No layout yet (epoch 0): assign nodes, then apply epoch 1.\n' : `Layout epoch ${view.epoch}: ${view.partitionCount} partitions of ${view.width} targets\n\n${membersTable(view.nodes)}`;
  return `${head}\n${stagedText(view)}`;
}

function print(json: boolean, value: unknown, text: string): void {
  process.stdout.write(json ? `${JSON.stringify(value, null, 2)}\n` : text);
}

/** `tessera admin layout ...`; `common` adds the endpoint, data and region options. */
export function layoutCommand(common: (cmd: Command) => Command): Command {
  const layout = new Command('layout').description('Show the cluster layout, stage changes, see what they move, apply them as a new epoch');
  type Json = AdminOptions & { json: boolean };
  const sub = (name: string, description: string) => common(new Command(name).description(description)).option('--json', 'print the raw JSON', false);
  const stage = async (opts: Json, change: unknown) => {
    const view = await call<LayoutView>(opts, 'POST', 'layout/stage', change);
    const last = view.staged?.changes[view.staged.changes.length - 1];
    print(opts.json, view, `Staged: ${last ? describeChange(last) : 'nothing'}\n\n${stagedText(view)}`);
  };
  const number = (flag: string, value: string) => {
    const n = Number(value);
    if (value.trim() === '' || !Number.isFinite(n) || n < 0) throw new Error(`Cannot use ${flag} "${value}": expected a number ≥ 0`);
    return n;
  };
  layout.addCommand(sub('show', 'The current epoch (nodes, drives, their share of slots), the staged changes and what applying them would move')
    .action(async (opts: Json) => {
      const view = await call<LayoutView>(opts, 'GET', 'layout');
      print(opts.json, view, layoutText(view));
    }));
  layout.addCommand(sub('assign', 'Stage a new node: the gateway asks the node at --address for its id and drives')
    .argument('<node-id>')
    .requiredOption('--address <host:port>', 'where the node\'s RPC listens')
    .requiredOption('--zone <zone>', 'its failure domain (rack, room, data centre)')
    .option('--capacity <n>', 'capacity of each of its drives (default: the drive\'s size in GiB)')
    .action((nodeId: string, opts: Json & { address: string; zone: string; capacity?: string }) =>
      stage(opts, { kind: 'addNode', node: { id: nodeId, address: opts.address, zone: opts.zone }, ...(opts.capacity !== undefined ? { capacity: number('--capacity', opts.capacity) } : {}) })));
  layout.addCommand(sub('capacity', 'Stage a new capacity (weight) for a drive').argument('<drive-id>').argument('<n>')
    .action((driveId: string, n: string, opts: Json) => stage(opts, { kind: 'setCapacity', targetId: driveId, capacity: number('capacity', n) })));
  layout.addCommand(sub('drain', 'Stage decommissioning a node: its data moves to the others, then remove it').argument('<node-id>')
    .action((nodeId: string, opts: Json) => stage(opts, { kind: 'drainNode', nodeId })));
  layout.addCommand(sub('remove', 'Stage removing a node (drained, or lost: heal rebuilds its shards elsewhere)').argument('<node-id>')
    .action((nodeId: string, opts: Json) => stage(opts, { kind: 'removeNode', nodeId })));
  layout.addCommand(sub('replace-drive', 'Stage a new drive on the same node taking a failed drive\'s place (heal refills it)').argument('<old-drive-id>').argument('<new-drive-id>')
    .option('--capacity <n>', 'the new drive\'s capacity (default: the old one\'s)')
    .action((oldId: string, newId: string, opts: Json & { capacity?: string }) =>
      stage(opts, { kind: 'replaceDrive', oldTargetId: oldId, drive: { id: newId, ...(opts.capacity !== undefined ? { capacity: number('--capacity', opts.capacity) } : {}) } })));
  layout.addCommand(sub('revert', 'Drop every staged change')
    .action(async (opts: Json) => {
      const answer = await call<{ reverted: number }>(opts, 'POST', 'layout/revert');
      print(opts.json, answer, `Dropped ${answer.reverted} staged ${answer.reverted === 1 ? 'change' : 'changes'}\n`);
    }));
  layout.addCommand(sub('diff', 'What applying the staged changes would move')
    .action(async (opts: Json) => {
      const view = await call<LayoutView>(opts, 'GET', 'layout');
      print(opts.json, { staged: view.staged, preview: view.preview, previewError: view.previewError ?? null }, stagedText(view));
    }));
  layout.addCommand(sub('apply', 'Apply the staged changes as epoch N (the current epoch + 1); the rebalance then moves the data')
    .addOption(new Option('--epoch <n>', 'the epoch to create: the current one + 1, as "layout show" says').makeOptionMandatory())
    .option('--force', 'apply even when the new epoch is too narrow, or has too few nodes, for the redundancy the cluster stores (data stays on drained nodes, or loses protection)', false)
    .action(async (opts: Json & { epoch: string; force: boolean }) => {
      const answer = await call<ApplyView>(opts, 'POST', `layout/apply?epoch=${encodeURIComponent(opts.epoch)}${opts.force ? '&force=1' : ''}`);
      // Loud on purpose: the operator overrode a refusal that protects their data.
      for (const w of answer.warnings ?? []) process.stderr.write(`WARNING: ${w}\n`);
      const warning = answer.warning ? `Warning: ${answer.warning}\n` : '';
      print(opts.json, answer, `Applied layout epoch ${answer.epoch}.\n${diffText(answer.moved)}${warning}The data moves in the background: watch it with "tessera admin status".\n`);
    }));
  return layout;
}

/** The cluster part of `tessera admin status`. */
export function clusterStatusText(c: ClusterStatusView): string {
  let out = `\ncluster: layout epoch ${c.epoch}${c.stagedChanges > 0 ? `, ${c.stagedChanges} staged ${c.stagedChanges === 1 ? 'change' : 'changes'} (tessera admin layout show)` : ''}\n`;
  const rows = c.nodes.map((n) => [n.id, n.zone, n.address || '-', n.state, `${n.drives.filter((d) => d.state === 'ok').length}/${n.drives.length} ok`]);
  out += table(['NODE', 'ZONE', 'ADDRESS', 'STATE', 'DRIVES'], rows);
  const count = (s: string) => c.nodes.filter((n) => n.state === s).length;
  out += `${count('up')} up, ${count('down')} down, ${count('draining')} draining\n`;
  const p = c.partitions;
  out += `partitions: ${p.total} (first ${p.width} targets, ${p.readQuorum} needed to read): ${p.healthy} healthy, ${p.degraded} degraded, ${p.unreadable} unreadable\n`;
  const r = c.rebalance;
  if (!r) return `${out}rebalance: never run\n`;
  const moved = `${r.blocksMoved} blocks, ${r.shardsMoved} shards, ${formatBytes(r.bytesMoved)} moved${r.shardsFailed > 0 ? `, ${r.shardsFailed} shards failed` : ''}${r.shardsBlocked > 0 ? `, ${r.shardsBlocked} shards blocked` : ''}`;
  // Shards no walk can move (the epoch is narrower than their blocks): the drain is not done, whatever else.
  if (r.state === 'idle' && r.shardsBlocked > 0) {
    const draining = c.nodes.filter((n) => n.state === 'draining').map((n) => n.id);
    return `${out}rebalance: blocked: ${r.shardsBlocked} shards of ${r.blocksBlocked} blocks cannot leave ${draining.length > 0 ? `draining ${draining.length === 1 ? 'node' : 'nodes'} ${draining.join(', ')}` : 'the nodes leaving the layout'}: epoch ${r.toEpoch} lists fewer targets per partition than those blocks have shards. Assign a node (tessera admin layout assign) and apply, and they move; do not remove the node before. Last pass ${moved}\n`;
  }
  // Idle short of the epoch: a walk ended within the write grace or with failures, and another comes.
  if (r.state === 'idle' && r.settledEpoch < r.toEpoch) return `${out}rebalance: epoch ${r.settledEpoch} → ${r.toEpoch}, walked once, walks again before epoch ${r.toEpoch} is settled; ${moved}\n`;
  if (r.state === 'idle') return `${out}rebalance: idle, every block is placed by epoch ${r.settledEpoch}; last pass ${moved}\n`;
  const eta = r.etaSeconds === null ? 'ETA unknown' : `ETA ${formatDuration(r.etaSeconds)}`;
  return `${out}rebalance: epoch ${r.settledEpoch} → ${r.toEpoch}, ${r.blocksChecked}/${r.blocksTotal} blocks checked (${r.blocksRemaining} remaining), ${moved}, ${formatBytes(r.bytesPerSec)}/s, ${eta}\n`;
}
