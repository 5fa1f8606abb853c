// The layout admin API and cluster status on a real single-node `tessera server` (issue 11): what works
// there (show, status, metrics, a capacity change applied as epoch 2) and every refusal as a 4xx JSON error.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { join } from 'node:path';
import { repoRoot, startTesseraForFile } from '../helpers/tessera.js';
import { assertS3Error, raw, sha256Hex, type RawResponse } from '../s3/raw-http.js';

const exec = promisify(execFile);
const { server } = await startTesseraForFile();

function json(res: RawResponse): Record<string, unknown> {
  assert.match(String(res.headers['content-type']), /^application\/json/);
  return JSON.parse(res.text) as Record<string, unknown>;
}

async function refused(res: RawResponse, status: number, message: RegExp): Promise<void> {
  assert.equal(res.status, status, res.text);
  assert.match(String(json(res).error), message);
}

const stage = (body: unknown) => raw(server, { method: 'POST', path: '/_tessera/admin/layout/stage', body: JSON.stringify(body) });

async function cli(...args: string[]): Promise<string> {
  const { stdout } = await exec(process.execPath, [join(repoRoot, 'bin', 'tessera.js'), 'admin', ...args, '--endpoint', server.url], {
    env: { ...process.env, TESSERA_ROOT_ACCESS_KEY: server.accessKeyId, TESSERA_ROOT_SECRET_KEY: server.secretAccessKey },
  });
  return stdout;
}

test('admin layout - GET layout shows the single node and its drive at epoch 1', async () => {
  const res = await raw(server, { path: '/_tessera/admin/layout' });
  assert.equal(res.status, 200);
  const view = json(res) as { epoch: number; nodes: { id: string; state: string; drives: { slotShare: number }[] }[]; staged: unknown; preview: unknown };
  assert.equal(view.epoch, 1);
  assert.deepEqual(view.nodes.map((n) => [n.id, n.state, n.drives.length, n.drives[0]!.slotShare]), [['local', 'active', 1, 1]]);
  assert.equal(view.staged, null);
  assert.equal(view.preview, null);
});

test('admin status - lists the node up, every partition healthy, and no rebalance', async () => {
  const res = await raw(server, { path: '/_tessera/admin/status' });
  const cluster = (json(res) as { cluster: { epoch: number; nodes: { id: string; state: string }[]; partitions: Record<string, number>; rebalance: unknown } }).cluster;
  assert.equal(cluster.epoch, 1);
  assert.deepEqual(cluster.nodes.map((n) => [n.id, n.state]), [['local', 'up']]);
  assert.equal(cluster.partitions.healthy, cluster.partitions.total);
  assert.equal(cluster.partitions.degraded, 0);
  assert.equal(cluster.rebalance, null);
  const text = await cli('status');
  assert.match(text, /^cluster: layout epoch 1$/m);
  assert.match(text, /^local +local +- +up +1\/1 ok$/m);
  assert.match(text, /^partitions: 65536 .*: 65536 healthy, 0 degraded, 0 unreadable$/m);
});

test('admin metrics - the cluster figures are exported', async () => {
  const res = await raw(server, { path: '/_tessera/metrics' });
  assert.match(res.text, /^tessera_layout_epoch \d+$/m);
  assert.match(res.text, /^tessera_cluster_nodes\{state="up"\} 1$/m);
  assert.match(res.text, /^tessera_cluster_nodes\{state="down"\} 0$/m);
  assert.match(res.text, /^tessera_cluster_partitions\{health="healthy"\} 65536$/m);
  assert.match(res.text, /^tessera_rebalance_bytes_moved_total 0$/m);
  assert.match(res.text, /^tessera_rebalance_blocks_remaining 0$/m);
});

test('admin layout - assign and replace-drive are refused on a single-node server with 409', async () => {
  await refused(await stage({ kind: 'addNode', node: { id: 'n2', address: '127.0.0.1:1', zone: 'z' } }), 409, /this server is a single node/);
  await refused(await stage({ kind: 'replaceDrive', oldTargetId: 'x', drive: { id: 'y' } }), 409, /single node/);
});

test('admin layout - bad changes get 400 with the reason and nothing is staged', async () => {
  await refused(await stage({ kind: 'drainNode', nodeId: 'ghost' }), 400, /Cannot drain node "ghost": not in the layout/);
  await refused(await stage({ kind: 'drainNode', nodeId: 'local' }), 400, /no drive would take shards/);
  await refused(await stage({ kind: 'setCapacity', targetId: 'nope', capacity: 1 }), 400, /not an active drive/);
  await refused(await stage({ kind: 'teleport' }), 400, /kind "teleport"/);
  await refused(await stage([1, 2]), 400, /must be an object/);
  await refused(await raw(server, { method: 'POST', path: '/_tessera/admin/layout/stage', body: '{"kind": "drainNode",' }), 400, /JSON/);
  await refused(await raw(server, { method: 'POST', path: '/_tessera/admin/layout/stage' }), 400, /expected a JSON body/);
  const view = json(await raw(server, { path: '/_tessera/admin/layout' }));
  assert.equal(view.staged, null);
});

test('admin layout - a body must be signed with its SHA-256 and at most 64 KiB', async () => {
  const body = JSON.stringify({ kind: 'drainNode', nodeId: 'ghost' });
  await refused(await raw(server, { method: 'POST', path: '/_tessera/admin/layout/stage', body, payloadHash: 'UNSIGNED-PAYLOAD' }), 400, /unsigned admin request body/);
  await refused(await raw(server, { method: 'POST', path: '/_tessera/admin/layout/stage', body, payloadHash: sha256Hex('something else') }), 400, /differs from the signed/);
  await refused(await raw(server, { method: 'POST', path: '/_tessera/admin/layout/stage', body: `{"x":"${'a'.repeat(70_000)}"}` }), 413, /at most 65536/);
  assertS3Error(await raw(server, { method: 'POST', path: '/_tessera/admin/layout/stage', body, sign: false }), 403, 'AccessDenied');
});

test('admin layout - apply needs the next epoch and staged changes', async () => {
  await refused(await raw(server, { method: 'POST', path: '/_tessera/admin/layout/apply' }), 400, /pass epoch=N/);
  await refused(await raw(server, { method: 'POST', path: '/_tessera/admin/layout/apply', query: { epoch: 'two' } }), 400, /pass epoch=N/);
  await refused(await raw(server, { method: 'POST', path: '/_tessera/admin/layout/apply', query: { epoch: '2' } }), 400, /no layout changes are staged/);
  await refused(await raw(server, { method: 'POST', path: '/_tessera/admin/layout/apply', query: { epoch: '7' } }), 409, /the current epoch is 1, so the next is 2/);
  await refused(await raw(server, { method: 'POST', path: '/_tessera/admin/layout/apply', query: { epoch: '2', force: 'maybe' } }), 400, /Cannot read force="maybe": expected 1 or true/);
  const res = await raw(server, { method: 'GET', path: '/_tessera/admin/layout/nothing' });
  await refused(res, 404, /No admin operation "GET layout\/nothing"/);
});

test('admin layout - a capacity change staged, shown, reverted, staged again and applied as epoch 2 through the CLI', async () => {
  const view = json(await raw(server, { path: '/_tessera/admin/layout' })) as { nodes: { drives: { id: string }[] }[] };
  const drive = view.nodes[0]!.drives[0]!.id;
  assert.match(await cli('layout', 'capacity', drive, '7'), new RegExp(`^Staged: set the capacity of drive ${drive} to 7$`, 'm'));
  assert.match(await cli('layout', 'show'), /^ {2}1\. set the capacity of drive .* to 7$/m);
  assert.match(await cli('layout', 'diff'), /^Epoch 1 → 2 moves 0 of 65536 slots \(0\.0% of the data\) in 0 partitions$/m);
  assert.match(await cli('layout', 'revert'), /^Dropped 1 staged change$/m);
  await cli('layout', 'capacity', drive, '7');
  await assert.rejects(cli('layout', 'apply', '--epoch', '3'), /HTTP 409: Cannot apply the staged changes as epoch 3: the current epoch is 1, so the next is 2/);
  const applied = await cli('layout', 'apply', '--epoch', '2');
  assert.match(applied, /^Applied layout epoch 2\.$/m);
  // The server follows the epoch it applied at once (no restart warning).
  assert.doesNotMatch(applied, /after a restart/);
  const after = JSON.parse(await cli('layout', 'show', '--json')) as { epoch: number; staged: unknown; nodes: { drives: { capacity: number }[] }[] };
  assert.equal(after.epoch, 2);
  assert.equal(after.staged, null);
  assert.equal(after.nodes[0]!.drives[0]!.capacity, 7);
});
