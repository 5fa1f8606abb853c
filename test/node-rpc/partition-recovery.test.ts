// A node cut off by a partition and reachable again (the partition test's flake): its keep-alive
// connections the cut killed must not time calls out once it answers, a probe stuck on a dead connection
// must not keep it suspect for a whole bound, and a heal run right after the network heals rebuilds onto
// it instead of counting it as lost. Nodes in process, each behind the fault proxy.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { LocalBlockStore } from '../../src/blocks/block-store.js';
import { LocalDrive } from '../../src/blocks/drive.js';
import type { RemoteNode } from '../../src/blocks/remote-node.js';
import { RemoteShardTargets } from '../../src/blocks/remote-targets.js';
import { rpcPathPrefix } from '../../src/blocks/rpc-protocol.js';
import { piecesOf, tempDrives } from '../../src/blocks/test-helpers.js';
import { computeLayout, emptyLayout } from '../../src/cluster/index.js';
import { startNodeServer, type RunningNode } from '../../src/node/node-server.js';
import { isStoreError } from '../../src/util/errors.js';
import { createLogger } from '../../src/util/log.js';
import { startFaultProxy, type FaultProxy } from '../helpers/fault-proxy.js';
import { startTestNode } from './helpers.js';

const hostOf = (url: string) => new URL(url).host;

async function until(what: string, check: () => boolean, timeoutMs: number): Promise<number> {
  const startMs = performance.now();
  while (!check()) {
    if (performance.now() - startMs > timeoutMs) assert.fail(`${what} within ${timeoutMs} ms`);
    await sleep(20);
  }
  return performance.now() - startMs;
}

/** Cuts the node behind `proxy` off and makes it suspect with one call bounded short (the client's own bound is long). */
async function cutOff(proxy: FaultProxy, remote: RemoteNode): Promise<void> {
  proxy.setMode('blackhole');
  await assert.rejects(remote.json('GET', `${rpcPathPrefix}/node`, { action: 'Cannot ask', timeoutMs: 300 }), (err) => isStoreError(err, 'ERR_TARGET_TIMEOUT'));
  assert.equal(remote.suspect, true);
}

test('RemoteNode - after a partition heals, concurrent calls do not wait out their bound on keep-alive connections the cut killed', async () => {
  const t = await startTestNode();
  const proxy = await startFaultProxy(hostOf(t.node.url));
  try {
    const { remote, store } = t.client({ url: `http://${proxy.address}`, callTimeoutMs: 2000, probeIntervalMs: 100 });
    const calls = 6;
    // Six keep-alive connections, idle in the pool when the cut comes; the proxy keeps them dead after it.
    await Promise.all(Array.from({ length: calls }, () => store.listPrefixes(undefined)));
    proxy.setMode('blackhole');
    await assert.rejects(store.listPrefixes(undefined), (err) => isStoreError(err, 'ERR_TARGET_TIMEOUT'));
    assert.equal(remote.suspect, true);
    proxy.setMode('pass');
    await until('the node was not cleared by a background probe', () => !remote.suspect, 15_000);
    const results = await Promise.allSettled(Array.from({ length: calls }, () => store.listPrefixes(undefined)));
    const failed = results.flatMap((r) => (r.status === 'rejected' ? [String((r.reason as Error).message)] : []));
    assert.deepEqual(failed, [], 'calls after the node came back failed');
    assert.equal(remote.suspect, false);
  } finally {
    await proxy.close();
    await t.cleanup();
  }
});

test('RemoteNode - a node whose network came back is cleared by the next background probe, not once a probe stuck on the cut ends', async (t) => {
  const node = await startTestNode();
  const proxy = await startFaultProxy(hostOf(node.node.url));
  const callTimeoutMs = 6000;
  try {
    const { remote } = node.client({ url: `http://${proxy.address}`, callTimeoutMs, probeIntervalMs: 100 });
    await cutOff(proxy, remote);
    await sleep(300); // background probes are now waiting on cut connections, each for the whole call bound
    proxy.setMode('pass');
    const clearedMs = await until('the node stayed suspect while a probe sent before the network healed waited', () => !remote.suspect, callTimeoutMs / 2);
    t.diagnostic(`cleared ${Math.round(clearedMs)} ms after the network healed (call bound ${callTimeoutMs} ms)`);
  } finally {
    await proxy.close();
    await node.cleanup();
  }
});

test('RemoteNode - a call sent during the cut that times out after a probe cleared the node does not make it suspect again', async () => {
  const node = await startTestNode();
  const proxy = await startFaultProxy(hostOf(node.node.url));
  try {
    const { remote } = node.client({ url: `http://${proxy.address}`, callTimeoutMs: 6000, probeIntervalMs: 100 });
    await cutOff(proxy, remote);
    // Sent while the node is cut off (as a probe or a call already under way would be); it ends after the cut heals.
    const late = remote.json('GET', `${rpcPathPrefix}/node`, { action: 'Cannot ask late', timeoutMs: 2500 });
    late.catch(() => undefined);
    await sleep(200);
    proxy.setMode('pass');
    await until('the node was not cleared by a background probe', () => !remote.suspect, 2000);
    await assert.rejects(late, (err) => isStoreError(err, 'ERR_TARGET_TIMEOUT'));
    assert.equal(remote.suspect, false, 'a timeout older than the probe that cleared the node made it suspect again');
  } finally {
    await proxy.close();
    await node.cleanup();
  }
});

test('RemoteNode - a recheck probe after a partition heals answers although the pool kept connections opened during the cut', async () => {
  const node = await startTestNode();
  const proxy = await startFaultProxy(hostOf(node.node.url));
  const callTimeoutMs = 2000;
  try {
    // No background probe within the test: only the recheck may clear the node.
    const { remote } = node.client({ url: `http://${proxy.address}`, callTimeoutMs, probeIntervalMs: 60_000 });
    // Calls timing out during the cut: undici replaces each destroyed socket with a new connection at
    // once, which the cut swallows too and which stays dead, idle in the pool, after the network heals.
    await cutOff(proxy, remote);
    const during = Array.from({ length: 3 }, () => remote.json('GET', `${rpcPathPrefix}/node`, { action: 'Cannot ask during the cut', timeoutMs: 300 }));
    for (const call of during) await assert.rejects(call, (err) => isStoreError(err, 'ERR_TARGET_TIMEOUT'));
    await sleep(100);
    proxy.setMode('pass');
    const startMs = performance.now();
    await remote.probe(`${rpcPathPrefix}/node`, { action: 'Cannot recheck', recheck: true });
    const answeredMs = performance.now() - startMs;
    assert.ok(answeredMs < callTimeoutMs / 2, `the recheck took ${Math.round(answeredMs)} ms`);
    assert.equal(remote.suspect, false);
  } finally {
    await proxy.close();
    await node.cleanup();
  }
});

/** Three nodes, each behind a fault proxy, and a block store over them (RS 2+1, one shard per node). */
async function startProxiedStore(callTimeoutMs: number) {
  const secret = randomBytes(32);
  const dirs = await tempDrives(3);
  const nodes: RunningNode[] = [];
  const proxies: FaultProxy[] = [];
  const changes = [];
  for (let i = 0; i < 3; i++) {
    const drive = await LocalDrive.open(dirs.paths[i]!, { create: true });
    const node = await startNodeServer({ address: '127.0.0.1:0', nodeId: `n${i + 1}`, secret, drives: [drive], log: createLogger({ quiet: true }) });
    nodes.push(node);
    const proxy = await startFaultProxy(hostOf(node.url));
    proxies.push(proxy);
    changes.push({ kind: 'addNode' as const, node: { id: node.nodeId, address: proxy.address, zone: `z${i + 1}` }, drives: [{ id: drive.id, capacity: 1 }] });
  }
  const layout = computeLayout(emptyLayout({ partitionCount: 16 }), changes);
  const targets = new RemoteShardTargets({ secret, layouts: [layout], callTimeoutMs });
  const store = new LocalBlockStore({ targets, layouts: [layout] });
  return {
    targets,
    store,
    proxies,
    async close() {
      await store.close();
      targets.close();
      for (const p of proxies) await p.close();
      for (const n of nodes) await n.close();
      await dirs.cleanup();
    },
  };
}

test('LocalBlockStore - heal right after a partition heals rebuilds onto the node that was cut off instead of skipping it as missing', { timeout: 60_000 }, async () => {
  const cluster = await startProxiedStore(3000);
  try {
    const { store, targets, proxies } = cluster;
    assert.deepEqual(store.defaultRedundancy(), { kind: 'rs', data: 2, parity: 1 });
    // n3 cut off: the write is degraded (2 of 3 shards, within quorum) and n3 turns suspect.
    proxies[2]!.setMode('blackhole');
    const ref = await store.write(piecesOf(randomBytes(200_000)), { id: store.newId() });
    assert.equal(targets.nodeOf('n3')!.suspect, true);
    proxies[2]!.setMode('pass');
    const healed = await store.heal(ref);
    assert.deepEqual(healed.skipped, [], 'heal gave up on the node that answers again');
    assert.equal(healed.rebuilt.length, 1);
  } finally {
    await cluster.close();
  }
});

test('LocalBlockStore - a heal walk right after a partition heals rechecks the node although a background heal\'s recheck failed during the cut', { timeout: 60_000 }, async () => {
  const cluster = await startProxiedStore(2000);
  try {
    const { store, targets, proxies } = cluster;
    proxies[2]!.setMode('blackhole');
    const ref = await store.write(piecesOf(randomBytes(200_000)), { id: store.newId() });
    assert.equal(targets.nodeOf('n3')!.suspect, true);
    // The gateway's healer takes the write's damage during the cut: its recheck of n3 fails.
    const during = await store.heal(ref);
    assert.equal(during.skipped.length, 1);
    proxies[2]!.setMode('pass');
    // The operator's heal pass, at once (n3 is still suspect: its background probe has not answered yet).
    const healed = await store.heal(ref, { walk: 'heal pass 1' });
    assert.deepEqual(healed.skipped, [], 'the heal pass gave up on the node that answers again');
    assert.equal(healed.rebuilt.length, 1);
  } finally {
    await cluster.close();
  }
});

test('LocalBlockStore - a walk over a node still cut off waits out one probe bound for it, not one per block', { timeout: 60_000 }, async () => {
  const callTimeoutMs = 2000;
  const cluster = await startProxiedStore(callTimeoutMs);
  try {
    const { store, targets, proxies } = cluster;
    proxies[2]!.setMode('blackhole');
    const refs = [];
    for (let i = 0; i < 3; i++) refs.push(await store.write(piecesOf(randomBytes(200_000)), { id: store.newId() }));
    assert.equal(targets.nodeOf('n3')!.suspect, true);
    await store.heal(refs[0]!); // a background heal's recheck fails
    const waitedMs: number[] = [];
    for (const walk of ['heal pass 1', 'heal pass 2']) {
      for (const ref of refs) {
        const startMs = performance.now();
        const healed = await store.heal(ref, { walk });
        waitedMs.push(Math.round(performance.now() - startMs));
        assert.equal(healed.skipped.length, 1, 'a shard on the cut node was not skipped');
      }
    }
    // Each walk's first block waits for its own recheck; the others go on at once.
    const [first1, second1, third1, first2, second2, third2] = waitedMs as [number, number, number, number, number, number];
    assert.ok(first1 >= callTimeoutMs * 0.9 && first2 >= callTimeoutMs * 0.9, `a walk did not recheck the node itself: ${waitedMs.join(', ')} ms`);
    assert.ok(Math.max(second1, third1, second2, third2) < callTimeoutMs * 0.75, `a walk waited for the node at more than one block: ${waitedMs.join(', ')} ms`);
  } finally {
    await cluster.close();
  }
});
