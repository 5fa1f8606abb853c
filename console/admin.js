// The operator's views: drives and nodes, heal/scrub and rebalance progress, and usage per bucket from the
// MetaStore's counters (admin API, root key only; users and keys are iam.js's).
import { explainRootOnly, formatBytes, formatDate, guarded, h, progressBar, table } from './ui.js';

const refreshMs = 5000;
const refreshRunningMs = 1000;

export async function showAdmin(view, s3) {
  const error = h('p', { className: 'error', role: 'alert' });
  const body = h('div', {}, h('p', { className: 'hint' }, 'Loading…'));
  const usage = h('div', {}, h('p', { className: 'hint' }, 'Counting…'));
  const heal = h('button', { type: 'button', id: 'start-heal', onclick: async () => {
    if (await guarded(error, () => s3.admin('POST', 'heal'))) await tick();
  } }, 'Start heal');
  view.append(h('div', { className: 'card' }, h('div', { className: 'row' }, h('h1', {}, 'Cluster'), heal), error, body),
    h('div', { className: 'card' }, h('h2', {}, 'Usage per bucket'), usage));
  const refresh = async () => {
    const status = await guarded(error, () => s3.admin('GET', 'status'));
    if (!status) {
      explainRootOnly(error, 'see the cluster');
      heal.hidden = true;
      usage.replaceChildren();
      return body.replaceChildren();
    }
    body.replaceChildren(...statusParts(status));
    // Counters, not listings: as cheap for a bucket of a billion objects as for an empty one.
    usage.replaceChildren(await usageTable(s3, error));
    return status.maintenance.heal.running || status.maintenance.scrub.running || status.cluster?.rebalance?.state === 'running';
  };
  // Every 5 s, or every second while a heal or scrub runs, until the view is left.
  let timer;
  const tick = async () => {
    clearTimeout(timer);
    if (!view.isConnected) return;
    const running = await refresh();
    timer = setTimeout(tick, running ? refreshRunningMs : refreshMs);
  };
  await tick();
}

function statusParts(s) {
  const parts = [h('h2', {}, 'Drives'), table(['Drive', 'State', { num: 'Shards' }, { num: 'Bytes' }, { num: 'Corrupt' }, 'Path'], s.drives.map((d) => [
    d.id, stateCell(d.state === 'ok' && d.corruptFound > 0 ? 'corrupt' : d.state), { num: d.shardFiles }, { num: formatBytes(d.bytes) }, { num: d.corruptFound }, d.path,
  ]))];
  parts.push(h('p', { className: 'hint' }, `Redundancy: ${describe(s.defaultRedundancy)}. ${s.maintenance.queuedDamage} damaged blocks queued for repair.`));
  parts.push(h('h2', {}, 'Heal and scrub'), table(['Pass', 'State', 'Progress', { num: 'Blocks' }, { num: 'Shards rebuilt' }, { num: 'Damaged found' }], [s.maintenance.heal, s.maintenance.scrub].map((p) => [
    p.kind, p.running ? 'running' : p.finishedMs ? `finished ${formatDate(new Date(p.finishedMs).toISOString())}` : 'never run',
    progressBar(p.blocksChecked, p.blocksTotal), { num: `${p.blocksChecked}/${p.blocksTotal}` }, { num: p.shardsRebuilt }, { num: p.damagedFound },
  ])));
  const c = s.cluster;
  if (c) {
    parts.push(h('h2', {}, `Nodes (layout epoch ${c.epoch})`), table(['Node', 'Zone', 'Address', 'State', 'Drives'], c.nodes.map((n) => [
      n.id, n.zone, n.address, stateCell(n.state), n.drives.map((d) => `${d.id} (${d.state})`).join(', '),
    ])));
    const p = c.partitions;
    parts.push(h('p', { className: 'hint' }, `Partitions: ${p.healthy} healthy, ${p.degraded} degraded, ${p.unreadable} unreadable of ${p.total}; ${c.stagedChanges} staged layout changes.`));
    parts.push(h('h2', {}, 'Rebalance'), rebalanceParts(c.rebalance));
  }
  return parts;
}

function rebalanceParts(r) {
  if (!r || r.state !== 'running') return h('p', { className: 'hint' }, r ? `Idle: every block is placed by epoch ${r.settledEpoch}.` : 'No rebalance has run.');
  const eta = r.etaSeconds === null ? 'unknown' : `${Math.ceil(r.etaSeconds)} s`;
  return h('div', { className: 'row' }, progressBar(r.blocksChecked, r.blocksTotal),
    h('span', {}, `epoch ${r.settledEpoch} → ${r.toEpoch}: ${r.blocksChecked}/${r.blocksTotal} blocks, ${r.blocksMoved} moved (${formatBytes(r.bytesMoved)}), ${r.shardsFailed} failed; ${formatBytes(r.bytesPerSec)}/s, ETA ${eta}`));
}

function stateCell(state) {
  return h('span', { className: state === 'ok' || state === 'up' ? 'ok' : 'bad' }, state);
}

function describe(r) {
  const tolerated = r.kind === 'rs' ? r.parity : r.copies - 1;
  const scheme = r.kind === 'rs' ? `Reed-Solomon ${r.data}+${r.parity}` : `${r.copies} ${r.copies === 1 ? 'copy' : 'copies'}`;
  return `${scheme}, ${tolerated === 0 ? 'no drive may fail' : `any ${tolerated} ${tolerated === 1 ? 'drive' : 'drives'} may fail`}`;
}

async function usageTable(s3, error) {
  const found = await guarded(error, () => Promise.all([s3.listBuckets(), s3.admin('GET', 'usage')]));
  if (!found) return h('span');
  const [buckets, usage] = found;
  // A bucket that never held a version has no counters; one the root key does not own is not in its listing.
  const byName = new Map(buckets.map((b) => [b.name, { bucket: b.name, objects: 0, bytes: 0, deleteMarkers: 0 }]));
  for (const u of usage.buckets) byName.set(u.bucket, u);
  const rows = [...byName.values()].sort((a, b) => (a.bucket < b.bucket ? -1 : 1))
    .map((u) => [u.bucket, { num: u.objects }, { num: formatBytes(u.bytes) }, { num: u.deleteMarkers }]);
  return h('div', { id: 'usage' }, table(['Bucket', { num: 'Objects' }, { num: 'Bytes' }, { num: 'Delete markers' }], rows, 'No buckets'),
    h('p', { className: 'hint' }, 'From the counters kept with the metadata: every stored version counts (current and noncurrent), delete markers apart; uploads in progress count once completed.'));
}
