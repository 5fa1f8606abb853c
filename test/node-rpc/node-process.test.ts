// A real `tessera node` process: a gateway-side RemoteShardStore writes and reads a shard through it,
// a client with another secret is refused, and the node refuses to start on a short secret.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { newBlockId } from '../../src/blocks/ids.js';
import { RemoteNode } from '../../src/blocks/remote-node.js';
import { RemoteShardStore } from '../../src/blocks/remote-shard-store.js';
import { isStoreError } from '../../src/util/errors.js';
import { repoRoot, waitForEndpoint } from '../helpers/tessera.js';

function startNodeProcess(args: string[]) {
  const child = spawn(process.execPath, [join(repoRoot, 'bin', 'tessera.js'), 'node', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, exited, stderr: () => stderr };
}

test('tessera node - serves its drives to a RemoteShardStore signed with the cluster secret, and refuses others', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'tessera-node-'));
  const secret = randomBytes(32).toString('hex');
  await writeFile(join(dir, 'secret'), `${secret}\n`);
  const proc = startNodeProcess(['--address', '127.0.0.1:0', '--drives', `${join(dir, 'd0')},${join(dir, 'd1')}`, '--cluster-secret-file', join(dir, 'secret'), '--node-id', 'node-a']);
  let remote: RemoteNode | undefined;
  let stranger: RemoteNode | undefined;
  try {
    const url = await waitForEndpoint(proc.child, 20_000, proc.stderr);
    remote = new RemoteNode({ url, nodeId: 'node-a', secret: Buffer.from(secret) });
    const drives = await remote.drives();
    assert.equal(drives.length, 2);
    const store = new RemoteShardStore(remote, drives[1]!);
    const shard = { blockId: newBlockId(), shardIndex: 4 };
    const data = randomBytes(1024 * 1024 + 17);
    const writer = await store.createShard(shard, { blockBytes: 64 * 1024 });
    await writer.append(data);
    await writer.commit();
    const reader = await store.openShard(shard, { shardBytes: data.length });
    assert.deepEqual(Buffer.concat(await reader.readPieces(1000, data.length)), data.subarray(1000));
    assert.equal((await store.statShard(shard))?.tmp, false);

    stranger = new RemoteNode({ url, nodeId: 'node-a', secret: randomBytes(32) });
    await assert.rejects(new RemoteShardStore(stranger, drives[1]!).statShard(shard), (err) => isStoreError(err, 'ERR_SHARD_MISSING') && /Signature/.test(err.message));
    assert.doesNotMatch(proc.stderr(), new RegExp(secret), 'the secret is never logged');
  } finally {
    remote?.close();
    stranger?.close();
    proc.child.kill('SIGTERM');
    await proc.exited;
    await rm(dir, { recursive: true, force: true });
  }
});

test('tessera node - refuses to start with a cluster secret shorter than 16 bytes', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'tessera-node-'));
  try {
    await writeFile(join(dir, 'secret'), 'short\n');
    const proc = startNodeProcess(['--address', '127.0.0.1:0', '--drives', join(dir, 'd0'), '--cluster-secret-file', join(dir, 'secret')]);
    assert.equal(await proc.exited, 1);
    assert.match(proc.stderr(), /at least 16 are needed/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('tessera node - a node killed in the middle of a shard write leaves only a tmp file, never a committed shard', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'tessera-node-'));
  // Hex, not raw bytes: the node drops a secret file's trailing CR/LF, which a random last byte can be.
  const secret = Buffer.from(randomBytes(32).toString('hex'));
  await writeFile(join(dir, 'secret'), secret);
  const proc = startNodeProcess(['--address', '127.0.0.1:0', '--drives', join(dir, 'd0'), '--cluster-secret-file', join(dir, 'secret'), '--node-id', 'node-b']);
  let remote: RemoteNode | undefined;
  try {
    const url = await waitForEndpoint(proc.child, 20_000, proc.stderr);
    remote = new RemoteNode({ url, nodeId: 'node-b', secret });
    const [drive] = await remote.drives();
    const store = new RemoteShardStore(remote, drive!);
    const shard = { blockId: newBlockId(), shardIndex: 0 };
    const writer = await store.createShard(shard, { blockBytes: 64 * 1024 });
    await writer.append(randomBytes(512 * 1024));
    // The request goes out with the first frame: kill the node once it has the tmp file open.
    const shardDir = join(dir, 'd0', 'shards', shard.blockId.slice(0, 2), shard.blockId.slice(2, 4));
    for (let i = 0; i < 200 && (await readdir(shardDir).catch(() => [])).length === 0; i++) await sleep(10);
    proc.child.kill('SIGKILL');
    await proc.exited;
    await assert.rejects(writer.commit(), (err) => isStoreError(err, 'ERR_SHARD_MISSING'));
    const files = await readdir(shardDir);
    assert.equal(files.length, 1);
    assert.match(files[0]!, new RegExp(`^${shard.blockId}\\.0\\.tmp\\.`));
  } finally {
    remote?.close();
    if (proc.child.exitCode === null && proc.child.signalCode === null) proc.child.kill('SIGKILL');
    await proc.exited;
    await rm(dir, { recursive: true, force: true });
  }
});
