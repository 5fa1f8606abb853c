// The gateway and the layout (issue 11): a gateway with no layout epoch serves the S3 calls that need no
// data and answers data PUTs with 503 ServiceUnavailable naming the missing layout; once an epoch is
// stored it finds it by polling, and a later epoch through refreshLayouts() at once, placing new
// blocks on the new node while older blocks read by their own epoch. In process: three nodes, one gateway.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateBucketCommand, GetObjectCommand, ListBucketsCommand, PutObjectCommand, S3Client, S3ServiceException } from '@aws-sdk/client-s3';
import { LocalDrive } from '../../src/blocks/drive.js';
import { computeLayout } from '../../src/cluster/index.js';
import { startNodeServer, type RunningNode } from '../../src/node/node-server.js';
import { loadLayouts, storeLayout } from '../../src/objects/layouts.js';
import { openGatewayStores, type GatewayConfig } from '../../src/roles/gateway.js';
import { storeInitialLayout } from '../../src/roles/initial-layout.js';
import { serveStores } from '../../src/roles/server.js';
import { createLogger } from '../../src/util/log.js';
import { isStoreError } from '../../src/util/errors.js';
import { repoRoot, waitForEndpoint } from '../helpers/tessera.js';
import { shardFilesUnder } from './helpers.js';

const Bucket = 'layouts';

test('tessera gateway - serves without a layout, answers data PUTs 503 until one is stored, then follows new epochs', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'tessera-gateway-'));
  const secret = randomBytes(32);
  const log = createLogger({ quiet: true });
  const nodes: RunningNode[] = [];
  let s3: S3Client | undefined;
  let close: (() => Promise<void>) | undefined;
  try {
    for (const id of ['n1', 'n2', 'n3']) {
      const drive = await LocalDrive.open(join(dir, id), { create: true });
      nodes.push(await startNodeServer({ address: '127.0.0.1:0', nodeId: id, secret, drives: [drive], log }));
    }
    // The rebalance paused: moving the epoch 1 block onto n3 would change the shard counts this test reads.
    const config: GatewayConfig = { address: '127.0.0.1:0', domains: [], dataDir: join(dir, 'gateway'), region: 'us-east-1', gcDelayMs: 60_000, gcIntervalMs: 5000, clusterSecret: secret, log, rebalanceRateBlocksPerSec: 0 };
    const stores = await openGatewayStores(config, log);
    const running = await serveStores(stores, config, log, { releaseDeadLeases: false });
    stores.follower.start(100);
    close = running.close;
    s3 = new S3Client({ endpoint: running.url, region: 'us-east-1', forcePathStyle: true, credentials: stores.credentials });

    await s3.send(new CreateBucketCommand({ Bucket }));
    assert.deepEqual((await s3.send(new ListBucketsCommand({}))).Buckets?.map((b) => b.Name), [Bucket]);
    const early = await s3.send(new PutObjectCommand({ Bucket, Key: 'early', Body: randomBytes(100_000) })).then(
      () => undefined,
      (err: unknown) => err,
    );
    assert.ok(early instanceof S3ServiceException, 'the PUT failed with an S3 error');
    assert.equal(early.name, 'ServiceUnavailable');
    assert.equal(early.$metadata.httpStatusCode, 503);
    assert.match(early.message, /no layout/);

    // Epoch 1 over two nodes, stored beside the gateway (as the admin API of another process would): the poll finds it.
    const first = await storeInitialLayout(stores.meta, [nodes[0]!, nodes[1]!].map((n) => ({ id: n.nodeId, address: new URL(n.url).host, zone: `zone-${n.nodeId}` })), { secret, timeoutMs: 5000 });
    assert.equal(first?.epoch, 1);
    const old = randomBytes(200_000);
    await waitFor(async () => {
      await s3!.send(new PutObjectCommand({ Bucket, Key: 'old', Body: old }));
      return true;
    });
    assert.deepEqual(stores.blocks.defaultRedundancy(), { kind: 'replicate', copies: 2 });
    assert.equal(await shardFilesUnder(join(dir, 'n1')), 1);
    assert.equal(await shardFilesUnder(join(dir, 'n2')), 1);

    // Epoch 2 adds the third node; refreshLayouts() takes it without waiting for the poll.
    const n3 = nodes[2]!;
    const second = computeLayout((await loadLayouts(stores.meta))[0]!, [
      { kind: 'addNode', node: { id: 'n3', address: new URL(n3.url).host, zone: 'zone-n3' }, drives: n3.drives.map((d) => ({ id: d.id, capacity: 1 })) },
    ]);
    assert.equal(await storeLayout(stores.meta, second), true);
    assert.equal(await stores.refreshLayouts(), 2);
    assert.deepEqual(stores.blocks.defaultRedundancy(), { kind: 'rs', data: 2, parity: 1 });
    const fresh = randomBytes(300_000);
    await s3.send(new PutObjectCommand({ Bucket, Key: 'fresh', Body: fresh }));
    assert.equal(await shardFilesUnder(join(dir, 'n3')), 1, 'a 2+1 block has a shard on every node of epoch 2');
    assert.deepEqual(await getBytes(s3, 'old'), old, 'a block of epoch 1 reads by its own epoch');
    assert.deepEqual(await getBytes(s3, 'fresh'), fresh);
  } finally {
    s3?.destroy();
    await close?.();
    for (const node of nodes) await node.close();
    await rm(dir, { recursive: true, force: true });
  }
});

async function getBytes(s3: S3Client, Key: string): Promise<Buffer> {
  const got = await s3.send(new GetObjectCommand({ Bucket, Key }));
  return Buffer.from(await got.Body!.transformToByteArray());
}

/** Retries `attempt` until it resolves true, for at most 10 s; the last error is thrown. */
async function waitFor(attempt: () => Promise<boolean>): Promise<void> {
  const deadlineMs = Date.now() + 10_000;
  for (;;) {
    try {
      if (await attempt()) return;
    } catch (err) {
      if (Date.now() > deadlineMs) throw err;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

test('tessera gateway - a process with no layout starts, says so, and answers a data PUT 503 ServiceUnavailable', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'tessera-gateway-'));
  await writeFile(join(dir, 'secret'), randomBytes(32).toString('hex'));
  const accessKeyId = 'GATEWAYTESTKEY000001';
  const secretAccessKey = 'gateway/test/secret/0000000000000000000001';
  const child = spawn(process.execPath, [join(repoRoot, 'bin', 'tessera.js'), 'gateway', '--address', '127.0.0.1:0', '--data-dir', join(dir, 'gw'), '--cluster-secret-file', join(dir, 'secret')], {
    env: { ...process.env, TESSERA_ROOT_ACCESS_KEY: accessKeyId, TESSERA_ROOT_SECRET_KEY: secretAccessKey },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  let s3: S3Client | undefined;
  try {
    const url = await waitForEndpoint(child, 20_000, () => stderr);
    assert.match(stdout, /layout:\s+none yet/);
    s3 = new S3Client({ endpoint: url, region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId, secretAccessKey }, maxAttempts: 1 });
    await s3.send(new CreateBucketCommand({ Bucket }));
    assert.deepEqual((await s3.send(new ListBucketsCommand({}))).Buckets?.map((b) => b.Name), [Bucket]);
    await assert.rejects(s3.send(new PutObjectCommand({ Bucket, Key: 'data', Body: randomBytes(100_000) })), (err: unknown) => err instanceof S3ServiceException && err.name === 'ServiceUnavailable' && /no layout/.test(err.message));
  } finally {
    s3?.destroy();
    child.kill('SIGTERM');
    await exited;
    await rm(dir, { recursive: true, force: true });
  }
});

test('storeInitialLayout - refuses a node that answers under another id, and stores nothing', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'tessera-gateway-'));
  const secret = randomBytes(32);
  const log = createLogger({ quiet: true });
  const drive = await LocalDrive.open(join(dir, 'd'), { create: true });
  const node = await startNodeServer({ address: '127.0.0.1:0', nodeId: 'real-id', secret, drives: [drive], log });
  const config: GatewayConfig = { address: '127.0.0.1:0', domains: [], dataDir: join(dir, 'gateway'), region: 'us-east-1', gcDelayMs: 60_000, gcIntervalMs: 5000, clusterSecret: secret, log };
  const stores = await openGatewayStores(config, log);
  try {
    await assert.rejects(storeInitialLayout(stores.meta, [{ id: 'other-id', address: new URL(node.url).host, zone: 'z' }], { secret, timeoutMs: 300 }), (err) => isStoreError(err));
    assert.deepEqual(await loadLayouts(stores.meta), []);
  } finally {
    await stores.close();
    await node.close();
    await rm(dir, { recursive: true, force: true });
  }
});
