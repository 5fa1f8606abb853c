// What the layout-change tests do to a dev-cluster beyond the harness: start an extra `tessera node` with
// the cluster's secret, run `tessera admin layout` and `status --json`, wait for the rebalance to settle,
// and map every shard file on every drive (block id and shard index → where it lies).
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort, type Cluster } from '../helpers/cluster.js';
import { repoRoot } from '../helpers/tessera.js';
import { packedShards } from '../ec/helpers.js';
import type { ClusterStatus } from '../../src/admin/cluster-status.js';

/** A node this test started itself (not known to dev-cluster). */
export interface ExtraNode {
  name: string;
  address: string;
  drives: string[];
  child: ChildProcess;
  output(): string;
  stop(): Promise<void>;
}

/** Starts `tessera node` as `name` with fresh drives under the cluster directory and waits until it serves. */
export async function startExtraNode(cluster: Cluster, name: string, drivesPerNode = 1): Promise<ExtraNode> {
  const drives = Array.from({ length: drivesPerNode }, (_, j) => join(cluster.dir, name, `drive${j + 1}`));
  for (const d of drives) await mkdir(d, { recursive: true });
  const address = `127.0.0.1:${await freePort()}`;
  const argv = [join(repoRoot, 'bin', 'tessera.js'), 'node', '--address', address, '--drives', drives.join(','), '--cluster-secret-file', cluster.info().clusterSecretFile, '--node-id', name];
  const child = spawn(process.execPath, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  const exit = new Promise<void>((r) => child.once('exit', () => r()));
  const deadline = Date.now() + 30_000;
  while (!/endpoint:/.test(output)) {
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`Node ${name} did not start: ${output}`);
    await sleep(50);
  }
  return {
    name, address, drives, child, output: () => output,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exit;
    },
  };
}

/** `tessera admin ARGS`, failing with its output unless it exits 0. */
export async function admin(cluster: Cluster, args: string[]): Promise<string> {
  const r = await cluster.admin(args);
  assert.equal(r.code, 0, `tessera admin ${args.join(' ')} exited with ${r.code}: ${r.stdout}${r.stderr}`);
  return r.stdout;
}

export async function clusterStatus(cluster: Cluster): Promise<ClusterStatus> {
  const s = JSON.parse(await admin(cluster, ['status', '--json'])) as { cluster?: ClusterStatus };
  assert.ok(s.cluster, 'admin status has a cluster part');
  return s.cluster;
}

/** The current epoch, as `layout show --json` says. */
export async function currentEpoch(cluster: Cluster): Promise<number> {
  return (await clusterStatus(cluster)).epoch;
}

/** Applies the staged changes as the next epoch and returns it. */
export async function applyNext(cluster: Cluster): Promise<number> {
  const epoch = (await currentEpoch(cluster)) + 1;
  await admin(cluster, ['layout', 'apply', '--epoch', String(epoch)]);
  return epoch;
}

/** Polls `admin status --json` until the rebalance is idle and settled on `epoch`; `onPoll` sees each status. */
export async function waitSettled(cluster: Cluster, epoch: number, timeoutMs: number, onPoll?: (s: ClusterStatus) => void): Promise<ClusterStatus> {
  const deadline = Date.now() + timeoutMs;
  let last: ClusterStatus | undefined;
  for (;;) {
    last = await clusterStatus(cluster).catch(() => last);
    if (last) onPoll?.(last);
    const r = last?.rebalance;
    if (r && r.state === 'idle' && r.settledEpoch >= epoch) return last!;
    if (Date.now() > deadline) throw new Error(`The rebalance did not settle on epoch ${epoch} within ${timeoutMs} ms: ${JSON.stringify(last?.rebalance)}`);
    await sleep(500);
  }
}

/** Shard id ("BLOCK.INDEX") → the drive directories holding it (a file or a pack record), over every drive under the cluster directory. */
export type ShardMap = Map<string, string[]>;

export async function mapShards(cluster: Cluster): Promise<ShardMap> {
  const map: ShardMap = new Map();
  for (const nodeDir of await readdir(cluster.dir)) {
    if (!/^node\d+$/.test(nodeDir)) continue;
    for (const driveDir of await readdir(join(cluster.dir, nodeDir)).catch(() => [])) {
      const drive = join(cluster.dir, nodeDir, driveDir);
      const entries = await readdir(join(drive, 'shards'), { recursive: true, withFileTypes: true }).catch(() => []);
      const names = entries.filter((e) => e.isFile() && /^[0-9a-f]{32}\.\d+$/.test(e.name)).map((e) => e.name);
      for (const packed of packedShards(drive)) names.push(`${packed.blockId}.${packed.index}`);
      for (const name of names) {
        const places = map.get(name) ?? [];
        places.push(`${nodeDir}/${driveDir}`);
        map.set(name, places);
      }
    }
  }
  return map;
}

/** Shard files per node directory. */
export function countByNode(map: ShardMap): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const places of map.values()) for (const p of places) counts[p.split('/')[0]!] = (counts[p.split('/')[0]!] ?? 0) + 1;
  return counts;
}

/**
 * Every shard of `before` is there exactly once (moved or not), and no shard anywhere lies in two places:
 * a move deleted its source. Returns how many of `before`'s shards changed node.
 */
export function assertEveryShardOnce(before: ShardMap, after: ShardMap): number {
  const duplicated = [...after].filter(([, places]) => places.length > 1).map(([id, places]) => `${id} on ${places.join(', ')}`);
  assert.deepEqual(duplicated, [], 'a shard lies in more than one place (a move left its source behind)');
  const missing = [...before.keys()].filter((id) => !after.has(id));
  assert.deepEqual(missing, [], 'shards present before the layout change are gone');
  let moved = 0;
  for (const [id, places] of before) if (after.get(id)![0]!.split('/')[0] !== places[0]!.split('/')[0]) moved++;
  return moved;
}
