// The gateway and the layout (issue 11): a gateway with no layout epoch serves the S3 calls that need no
// data and answers data PUTs with 503 ServiceUnavailable naming the missing layout; once an epoch is
// stored it finds it by polling, and a later epoch through refreshLayouts() at once, placing new
// blocks on the new node while older blocks read by their own epoch. In process: three nodes, one gateway.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
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
    const config: GatewayConfig = { address: '127.0.0.1:0', domains: [], dataDir: join(dir, 'gateway'), region: 'us-east-1', gcDelayMs: 60_000, gcIntervalMs: 5000, clusterSecret: secret, log };
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
