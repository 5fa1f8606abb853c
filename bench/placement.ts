// Placement benchmark for the cluster layout (src/cluster/): for 10, 100 and 1,000 nodes of 10 drives
// in 3 zones (drive sizes 8, 12 or 16 TB per node, drawn by a seeded generator) it reports balance,
// data moved by adding and removing one node (as a ratio to the ideal), the time to compute a layout,
// its stored size, and the cost of one lookup. Pure CPU; one process, no servers.
// Run: npx tsx bench/placement.ts [--nodes 10,100,1000] [--partitions 65536]
import { randomBytes } from 'node:crypto';
import {
  computeLayout,
  diffLayouts,
  emptyLayout,
  encodeLayout,
  partitionCountDefault,
  targetShares,
  targetsFor,
  type Layout,
} from '../src/cluster/index.js';
import { seededRandom } from '../src/cluster/hash.js';
import { addNodeChange } from '../src/cluster/test-helpers.js';
import { describeMachine, loadText, machineInfo, markdownTable, num } from './lib/machine.js';

function argText(name: string, fallback: string): string {
  const at = process.argv.indexOf(`--${name}`);
  return at >= 0 ? (process.argv[at + 1] ?? fallback) : fallback;
}
const scales = argText('nodes', '10,100,1000').split(',').map(Number);
const partitionCount = Number(argText('partitions', String(partitionCountDefault)));
const zones = 3;
const drivesPerNode = 10;
const sizesTB = [8, 12, 16];

function node(index: number, random: () => number) {
  const size = sizesTB[Math.floor(random() * sizesTB.length)] as number;
  return addNodeChange({ index, zone: `z${index % zones}`, capacities: new Array<number>(drivesPerNode).fill(size) });
}

function timed<T>(run: () => T): { value: T; ms: number } {
  const start = process.hrtime.bigint();
  const value = run();
  return { value, ms: Number(process.hrtime.bigint() - start) / 1e6 };
}

/** Worst deviation of a drive's slot share from its capacity share and from its feasible share, over the first `width` positions. */
function balance(layout: Layout, width: number): { capacity: [number, number]; feasible: [number, number] } {
  const out = { capacity: [Infinity, -Infinity] as [number, number], feasible: [Infinity, -Infinity] as [number, number] };
  for (const s of targetShares(layout, width).values()) {
    for (const [key, base] of [['capacity', s.capacity], ['feasible', s.feasible]] as const) {
      const d = s.actual / base - 1;
      out[key] = [Math.min(out[key][0], d), Math.max(out[key][1], d)];
    }
  }
  return out;
}

/** Sum of a node's shares (all positions) in `layout`: what it holds, what its capacity asks, what the rules allow. */
function nodeShare(layout: Layout, nodeId: string): { actual: number; capacity: number; feasible: number } {
  const sum = { actual: 0, capacity: 0, feasible: 0 };
  const drives = new Set(layout.targets.filter((t) => t.nodeId === nodeId).map((t) => t.id));
  for (const [id, s] of targetShares(layout)) {
    if (!drives.has(id)) continue;
    sum.actual += s.actual;
    sum.capacity += s.capacity;
    sum.feasible += s.feasible;
  }
  return sum;
}

function lookupNs(layout: Layout): { targetsFor: number } {
  const ids = Array.from({ length: 4096 }, () => randomBytes(16).toString('hex'));
  let sink = 0;
  const rounds = 1_000_000;
  for (let k = 0; k < 100_000; k++) sink += targetsFor(layout, ids[k & 4095] as string, 6).length; // warm up
  const { ms } = timed(() => {
    for (let k = 0; k < rounds; k++) sink += targetsFor(layout, ids[k & 4095] as string, 6).length;
  });
  if (sink === 0) console.log('');
  return { targetsFor: (ms * 1e6) / rounds };
}

const pct = (d: number) => `${d >= 0 ? '+' : ''}${(d * 100).toFixed(1)}%`;
const share = (d: number) => `${num(d * 100)}%`;
const range = ([lo, hi]: [number, number]) => `${pct(lo)} … ${pct(hi)}`;

console.log(describeMachine(machineInfo()));
console.log(`partitions: ${partitionCount}, ${drivesPerNode} drives per node (8/12/16 TB per node), ${zones} zones round-robin\n`);
const balanceRows: string[][] = [];
const moveRows: string[][] = [];
const costRows: string[][] = [];
for (const nodes of scales) {
  const random = seededRandom(nodes);
  const changes = Array.from({ length: nodes }, (_, k) => node(k, random));
  const fresh = timed(() => computeLayout(emptyLayout({ partitionCount }), changes));
  const layout = fresh.value;
  for (const width of [6, layout.width]) {
    const b = balance(layout, width);
    balanceRows.push([String(nodes), `first ${width}`, range(b.capacity), range(b.feasible)]);
  }
  const added = timed(() => computeLayout(layout, [node(nodes, random)]));
  const newcomer = `n${String(nodes).padStart(4, '0')}`;
  const addMoved = diffLayouts(layout, added.value).movedFraction;
  const taken = nodeShare(added.value, newcomer);
  moveRows.push([String(nodes), `add ${newcomer} (zone z${nodes % zones})`, share(addMoved), share(taken.feasible), num(addMoved / taken.feasible), num(addMoved * (nodes + 1))]);
  // One node from the largest zone (z0) and one from a smallest zone (z1, or z0 when all are equal).
  let removeMs = 0;
  for (const victim of ['n0000', 'n0001']) {
    const removed = timed(() => computeLayout(layout, [{ kind: 'removeNode', nodeId: victim }]));
    removeMs = Math.max(removeMs, removed.ms);
    const moved = diffLayouts(layout, removed.value).movedFraction;
    const own = nodeShare(layout, victim);
    const zone = layout.nodes.find((n) => n.id === victim)?.zone as string;
    moveRows.push([String(nodes), `remove ${victim} (zone ${zone})`, share(moved), share(own.actual), num(moved / own.actual), num(moved * nodes)]);
  }
  const encoded = timed(() => encodeLayout(layout));
  const lookup = lookupNs(layout);
  costRows.push([
    String(nodes),
    num(fresh.ms),
    num(added.ms),
    num(removeMs),
    `${num(encoded.value.length / 2 ** 20)} MiB`,
    num(lookup.targetsFor),
  ]);
  console.error(`${nodes} nodes done, load ${loadText()}`);
}
console.log('Balance: a drive\'s share of the slots among the first w positions, as a deviation from its capacity share and from its feasible share (capacity after the failure-domain caps)\n');
console.log(markdownTable(['nodes', 'positions', 'vs capacity share (min … max)', 'vs feasible share (min … max)'], balanceRows));
console.log('\nMovement: slots whose target changed (a shard index moving between positions counts), all 12 positions.');
console.log('Ideal: the share the added node may take (its feasible share), or the share the removed node held.\n');
console.log(markdownTable(['nodes', 'change', 'moved', 'ideal', 'moved / ideal', 'moved / (1/(N+1)) or (1/N)'], moveRows));
console.log('\nCost\n');
console.log(markdownTable(['nodes', 'compute from empty (ms)', 'add one node (ms)', 'remove one node (ms)', 'encoded layout', 'targetsFor, width 6 (ns)'], costRows));
console.log(`\nload: ${loadText()} (1/5/15 min) at end`);
