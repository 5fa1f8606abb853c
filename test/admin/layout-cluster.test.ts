// Staging and applying real layout changes (issue 11): two `tessera node` processes, a real SQLite
// MetaStore, and the admin API's layout module served in process with the cluster secret (the gateway role
// that gives it one lives on another branch), driven through the `tessera admin layout` CLI.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { mkdtemp, rm, statfs, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { AddressInfo } from 'node:net';
import { repoRoot, waitForEndpoint } from '../helpers/tessera.js';
import { adminPathPrefix } from '../../src/admin/admin-api.js';
import { handleLayoutRoute, type LayoutView } from '../../src/admin/layout-api.js';
import { SqliteMetaStore } from '../../src/meta/sqlite/sqlite-store.js';
import { call } from '../../src/cli/admin-client.js';

const exec = promisify(execFile);

interface NodeProcess {
  child: ChildProcess;
  address: string;
  drives: string[];
  exited: Promise<void>;
}

async function startNode(dir: string, nodeId: string, drives: number): Promise<NodeProcess> {
  const paths = Array.from({ length: drives }, (_, i) => join(dir, `${nodeId}-d${i}`));
  const child = spawn(process.execPath, [join(repoRoot, 'bin', 'tessera.js'), 'node', '--address', '127.0.0.1:0', '--drives', paths.join(','), '--cluster-secret-file', join(dir, 'secret'), '--node-id', nodeId], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const url = await waitForEndpoint(child, 20_000, () => stderr);
  await new Promise((r) => setTimeout(r, 50)); // the drives line follows the endpoint line
  const ids = [...(/drives:\s+(.*)/.exec(stdout)?.[1] ?? '').matchAll(/([0-9a-f]+)=/g)].map((m) => m[1]!);
  assert.equal(ids.length, drives, stdout);
  return { child, address: new URL(url).host, drives: ids, exited };
}

const dir = await mkdtemp(join(tmpdir(), 'tessera-layout-cluster-'));
// Hex, not raw bytes: the node drops a secret file's trailing CR/LF, which a random last byte can be.
const secret = Buffer.from(randomBytes(32).toString('hex'));
let meta: SqliteMetaStore;
let server: Server;
let endpoint = '';
let applied = 0;
const nodes: Record<string, NodeProcess> = {};
const credentials = { TESSERA_ROOT_ACCESS_KEY: 'TESTACCESSKEY0000001', TESSERA_ROOT_SECRET_KEY: 'test/secret/key/0000000000000000000000001' };

before(async () => {
  await writeFile(join(dir, 'secret'), secret, { mode: 0o600 });
  [nodes.a, nodes.b] = await Promise.all([startNode(dir, 'node-a', 2), startNode(dir, 'node-b', 2)]);
  meta = await SqliteMetaStore.open(join(dir, 'meta.db'));
  const deps = { meta, clusterSecret: secret, layoutApplied: async () => void applied++ };
  server = createServer((req, res) => {
    const [path = '', query = ''] = (req.url ?? '').split('?');
    const route = `${req.method} ${path.slice(adminPathPrefix.length)}`;
    handleLayoutRoute(deps, req, res, route, new URLSearchParams(query)).then((handled) => {
      if (!handled) res.writeHead(404).end();
    }, (err: unknown) => res.writeHead(500).end(String(err)));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

after(async () => {
  server.close();
  await meta.close();
  for (const n of Object.values(nodes)) {
    n.child.kill('SIGTERM');
    await n.exited;
  }
  await rm(dir, { recursive: true, force: true });
});

async function cli(...args: string[]): Promise<string> {
  const { stdout } = await exec(process.execPath, [join(repoRoot, 'bin', 'tessera.js'), 'admin', 'layout', ...args, '--endpoint', endpoint], { env: { ...process.env, ...credentials } });
  return stdout;
}

Object.assign(process.env, credentials); // for the in-process calls of the admin client
const opts = () => ({ endpoint, data: dir, region: 'us-east-1' });
const show = async () => JSON.parse(await cli('show', '--json')) as LayoutView;

test('layout assign - a node at a wrong address, with another id or unreachable is refused with 400 and nothing is staged', async () => {
  await assert.rejects(cli('assign', 'node-x', '--address', nodes.a!.address, '--zone', 'z1'), /HTTP 400: .*node-a/);
  await assert.rejects(cli('assign', 'node-a', '--address', '127.0.0.1:1', '--zone', 'z1'), /HTTP 400: Cannot ask node "node-a" at 127\.0\.0\.1:1/);
  await assert.rejects(cli('assign', 'node-a', '--address', 'nowhere', '--zone', 'z1'), /HTTP 400: .*"nowhere" is not HOST:PORT/);
  await assert.rejects(call(opts(), 'POST', 'layout/stage', { kind: 'addNode', node: { id: 'node-b', address: nodes.b!.address, zone: 'z2' }, drives: [{ id: 'nope', capacity: 1 }] }), /HTTP 400: Cannot assign node "node-b": it has no drive "nope"/);
  assert.equal((await show()).staged, null);
});

test('layout assign and apply - the first node, asked for its drives, becomes epoch 1 and the hook runs once', async () => {
  const staged = await cli('assign', 'node-a', '--address', nodes.a!.address, '--zone', 'z1', '--capacity', '10');
  assert.match(staged, new RegExp(`^Staged: assign node node-a in zone z1 at ${nodes.a!.address} with 2 drives: ${nodes.a!.drives[0]} \\(capacity 10\\), ${nodes.a!.drives[1]} \\(capacity 10\\)$`, 'm'));
  assert.match(staged, /^Apply with: tessera admin layout apply --epoch 1 /m);
  assert.match(await cli('show'), /^No layout yet \(epoch 0\)/m);
  assert.match(await cli('apply', '--epoch', '1'), /^Applied layout epoch 1\.$/m);
  assert.equal(applied, 1);
  const view = await show();
  assert.equal(view.epoch, 1);
  assert.deepEqual(view.nodes.map((n) => [n.id, n.zone, n.address, n.state]), [['node-a', 'z1', nodes.a!.address, 'active']]);
  assert.deepEqual(view.nodes[0]!.drives.map((d) => [d.capacity, d.slotShare]), [[10, 0.5], [10, 0.5]]);
  assert.match(await cli('show'), new RegExp(`^node-a +z1 +${nodes.a!.address.replace(/\./g, '\\.')} +active +${[...nodes.a!.drives].sort()[0]} +10 +50\\.0%$`, 'm'), 'drives are listed by id');
});

test('layout assign - a node id already in the layout is refused', async () => {
  await assert.rejects(cli('assign', 'node-a', '--address', nodes.a!.address, '--zone', 'z1'), /HTTP 400: Cannot add node "node-a": the id is taken/);
});

test('layout assign - capacity defaults to each drive\'s size in GiB', async () => {
  await cli('assign', 'node-b', '--address', nodes.b!.address, '--zone', 'z2');
  const fs = await statfs(dir);
  const gib = Math.max(1, Math.round((fs.blocks * fs.bsize) / 2 ** 30));
  const change = (await show()).staged?.changes[0];
  assert.ok(change?.kind === 'addNode');
  assert.deepEqual(change.drives.map((d) => d.capacity), [gib, gib]);
  assert.match(await cli('revert'), /^Dropped 1 staged change$/m);
});

test('layout diff and apply - a second node moves data; only epoch current+1 is accepted', async () => {
  await call(opts(), 'POST', 'layout/stage', { kind: 'addNode', node: { id: 'node-b', address: nodes.b!.address, zone: 'z2' }, drives: [{ id: nodes.b!.drives[0], capacity: 10 }] });
  const diff = await cli('diff');
  const m = /^Epoch 1 → 2 moves (\d+) of (\d+) slots/m.exec(diff);
  assert.ok(m && Number(m[1]) > 0, diff);
  assert.match(diff, new RegExp(`^${nodes.b!.drives[0]} +0 +\\d+ +\\+\\d+ +-0$`, 'm'), 'the new drive only gains');
  await assert.rejects(cli('apply', '--epoch', '3'), /HTTP 409: Cannot apply the staged changes as epoch 3: the current epoch is 1, so the next is 2/);
  await assert.rejects(cli('apply', '--epoch', '1'), /HTTP 409/);
  assert.match(await cli('apply', '--epoch', '2'), /^Applied layout epoch 2\.$/m);
  assert.equal(applied, 2);
  assert.deepEqual((await show()).nodes.map((n) => n.id), ['node-a', 'node-b']);
  assert.match(await cli('remove', 'node-b'), /^Warning: Node "node-b" is removed without being drained: its shards are rebuilt from the others by the rebalance, and until then each of its blocks has one shard less to spare$/m);
  await cli('revert');
});

test('layout replace-drive - the new drive must be one its node reports', async () => {
  await assert.rejects(cli('replace-drive', nodes.b!.drives[0]!, 'not-there'), /HTTP 400: Cannot use drive "not-there": node "node-b" .* does not report it/);
  assert.match(await cli('replace-drive', nodes.b!.drives[0]!, nodes.b!.drives[1]!), new RegExp(`^Staged: replace drive ${nodes.b!.drives[0]} with ${nodes.b!.drives[1]} \\(capacity 10\\)$`, 'm'));
  await cli('revert');
});

test('layout apply - of two concurrent applies one stores the epoch and the other gets 409', async () => {
  assert.match(await cli('drain', 'node-b'), /^Staged: drain node node-b/m);
  const results = await Promise.allSettled([0, 1].map(() => call(opts(), 'POST', 'layout/apply?epoch=3')));
  assert.equal(results.filter((r) => r.status === 'fulfilled').length, 1);
  const lost = results.find((r) => r.status === 'rejected');
  assert.match(String(lost?.status === 'rejected' ? lost.reason : ''), /HTTP 409/);
  assert.equal(applied, 3);
  const view = await show();
  assert.equal(view.epoch, 3);
  assert.equal(view.nodes.find((n) => n.id === 'node-b')?.state, 'draining');
  assert.equal(view.staged, null);
});

test('layout remove - a drained node is removed without a warning', async () => {
  const text = await cli('remove', 'node-b');
  assert.doesNotMatch(text, /Warning/);
  assert.match(await cli('apply', '--epoch', '4'), /^Applied layout epoch 4\.$/m);
  assert.equal((await show()).nodes.find((n) => n.id === 'node-b')?.state, 'removed');
});
