// Three gateways on one PostgreSQL (tessera dev-cluster --gateways 3 --postgres, HAProxy in front) behave
// to a client like one server: whatever one gateway acknowledged, every other one shows at once. Bucket
// settings and object tags are read through another gateway right after the change, so a per-process
// cache above the MetaStore would fail here.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CompleteMultipartUploadCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  DeleteBucketPolicyCommand,
  DeleteObjectCommand,
  DeleteObjectTaggingCommand,
  GetBucketTaggingCommand,
  GetBucketVersioningCommand,
  GetObjectCommand,
  GetObjectTaggingCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  ListObjectVersionsCommand,
  ListPartsCommand,
  PutBucketPolicyCommand,
  PutBucketTaggingCommand,
  PutBucketVersioningCommand,
  PutObjectCommand,
  PutObjectTaggingCommand,
  UploadPartCommand,
  ListBucketsCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { signRequest } from '../../src/s3/sigv4/sign.js';
import { isAlive, type DevCluster } from '../cluster/helpers.js';
import { clientFor, gatewaysOf, skipWithoutClusterTools, startMultiGateway, statusOf, waitFor } from './helpers.js';

const MiB = 1024 * 1024;
const Bucket = 'multi';
const digest = (b: Buffer | Uint8Array) => createHash('sha256').update(b).digest('hex');

async function getBytes(s3: S3Client, Key: string, VersionId?: string, bucket = Bucket): Promise<Buffer> {
  const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key, ...(VersionId ? { VersionId } : {}) }));
  return Buffer.from(await got.Body!.transformToByteArray());
}

async function failsWith(promise: Promise<unknown>): Promise<number> {
  try {
    await promise;
  } catch (err) {
    return statusOf(err);
  }
  return 200;
}

test('multi-gateway - three gateways on one PostgreSQL behind HAProxy act as one server', { skip: skipWithoutClusterTools() }, async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'tessera-multi-gw-'));
  let cluster: DevCluster | undefined;
  const clients: S3Client[] = [];
  try {
    cluster = await startMultiGateway(dir, 3);
    const file = await cluster.file();
    const gateways = gatewaysOf(file);
    const [a, b, c] = gateways.map((g) => clientFor(file, `http://${g.address}`));
    const viaProxy = clientFor(file, file.endpoint);
    clients.push(a!, b!, c!, viaProxy);
    const gw = [a!, b!, c!];

    await t.test('cluster.json - HAProxy is the endpoint, gateway1..3, haproxy and postgres listed with live pids', async () => {
      assert.deepEqual(gateways.map((g) => g.name), ['gateway1', 'gateway2', 'gateway3']);
      const haproxy = file.processes.find((p) => p.role === 'haproxy');
      const postgres = file.processes.find((p) => p.role === 'postgres');
      assert.equal(file.endpoint, `http://${haproxy?.address}`);
      assert.ok(postgres && haproxy);
      for (const p of file.processes) assert.ok(p.pid !== null && isAlive(p.pid), `${p.name} runs`);
    });

    await t.test('health - anonymous GET answers 200 with nothing but a status', async () => {
      for (const g of gateways) {
        const res = await fetch(`http://${g.address}/_tessera/health`);
        assert.equal(res.status, 200);
        assert.deepEqual(await res.json(), { status: 'ok' });
      }
      const head = await fetch(`${file.endpoint}/_tessera/health`, { method: 'HEAD' });
      assert.equal(head.status, 200);
    });

    await gw[0]!.send(new CreateBucketCommand({ Bucket }));

    await t.test('read-after-write - an object written through one gateway reads back through the next at once', async () => {
      for (let i = 0; i < 9; i++) {
        const Key = `raw-${i}`;
        const Body = randomBytes(i % 3 === 0 ? MiB + i : 1000 + i);
        await gw[i % 3]!.send(new PutObjectCommand({ Bucket, Key, Body }));
        assert.equal(digest(await getBytes(gw[(i + 1) % 3]!, Key)), digest(Body), Key);
      }
    });

    await t.test('IAM - a user\'s key created through one gateway authenticates through every gateway (they share cluster/iam.key)', async () => {
      const admin = async (address: string, path: string, body: unknown) => {
        const url = new URL(`/_tessera/admin/${path}`, `http://${address}`);
        const bytes = Buffer.from(JSON.stringify(body));
        const res = await fetch(url, { method: 'POST', body: bytes, headers: signRequest({ method: 'POST', url, region: file.region, body: bytes, accessKeyId: file.accessKeyId, secretAccessKey: file.secretAccessKey }) });
        assert.equal(res.status, 201, await res.clone().text());
        return (await res.json()) as { accessKeyId: string; secretAccessKey: string };
      };
      await admin(gateways[0]!.address, 'iam/users/create', { userName: 'everywhere' });
      const key = await admin(gateways[0]!.address, 'iam/keys/create', { userName: 'everywhere' });
      for (const gateway of gateways) {
        const client = new S3Client({ endpoint: `http://${gateway.address}`, region: file.region, forcePathStyle: true, credentials: key, maxAttempts: 1 });
        try {
          // InvalidAccessKeyId until the gateway's poll has seen the key; then authenticated, and refused
          // AccessDenied as a user with no policy (never SignatureDoesNotMatch: every gateway opens the same secret).
          const answer = await waitFor(`the key on ${gateway.name}`, 30_000, () => client.send(new ListBucketsCommand({})).then(
            () => 'allowed',
            (err: { name: string }) => (err.name === 'InvalidAccessKeyId' ? undefined : err.name),
          ));
          assert.equal(answer, 'AccessDenied', gateway.name);
        } finally {
          client.destroy();
        }
      }
    });

    await t.test('IAM - a policy attached, a bucket policy put and a policy detached through one gateway reach the others\' cached decisions within the poll bound', async () => {
      const admin = async (path: string, body: unknown) => {
        const url = new URL(`/_tessera/admin/iam/${path}`, `http://${gateways[0]!.address}`);
        const bytes = Buffer.from(JSON.stringify(body));
        const res = await fetch(url, { method: 'POST', body: bytes, headers: signRequest({ method: 'POST', url, region: file.region, body: bytes, accessKeyId: file.accessKeyId, secretAccessKey: file.secretAccessKey }) });
        assert.ok(res.status === 200 || res.status === 201, await res.clone().text());
        return (await res.json()) as { accessKeyId: string; secretAccessKey: string };
      };
      await gw[0]!.send(new PutObjectCommand({ Bucket, Key: 'iam/cached.txt', Body: 'cached' }));
      await admin('users/create', { userName: 'cached' });
      const key = await admin('keys/create', { userName: 'cached' });
      const users = gateways.map((g) => new S3Client({ endpoint: `http://${g.address}`, region: file.region, forcePathStyle: true, credentials: key, maxAttempts: 1 }));
      const answerOf = (client: S3Client) => client.send(new GetObjectCommand({ Bucket, Key: 'iam/cached.txt' })).then(() => 'allowed', (err: { name: string }) => err.name);
      // Every gateway answers (and remembers) a decision before each change; the change must replace it.
      const expectEverywhere = async (want: string, what: string) => {
        for (const [i, client] of users.entries()) {
          await waitFor(`${what} on ${gateways[i]!.name}`, 10_000, async () => ((await answerOf(client)) === want ? true : undefined));
          assert.equal(await answerOf(client), want, `${what} on ${gateways[i]!.name}, asked again`);
        }
      };
      const readPolicy = JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 's3:GetObject', Resource: `arn:aws:s3:::${Bucket}/iam/*` }] });
      const denyPolicy = JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Deny', Principal: { AWS: 'arn:aws:iam::000000000000:user/cached' }, Action: 's3:GetObject', Resource: `arn:aws:s3:::${Bucket}/iam/*` }] });
      try {
        await expectEverywhere('AccessDenied', 'no policy yet');
        await admin('policies/attach', { userName: 'cached', policyName: 'read', document: readPolicy });
        await expectEverywhere('allowed', 'the attached policy');
        await gw[0]!.send(new PutBucketPolicyCommand({ Bucket, Policy: denyPolicy }));
        await expectEverywhere('AccessDenied', 'the bucket policy\'s Deny');
        await gw[1]!.send(new DeleteBucketPolicyCommand({ Bucket }));
        await expectEverywhere('allowed', 'the bucket policy deleted');
        await admin('policies/detach', { userName: 'cached', policyName: 'read' });
        await expectEverywhere('AccessDenied', 'the policy detached');
      } finally {
        for (const client of users) client.destroy();
      }
    });

    await t.test('list-after-write - a new key is listed through another gateway at once, a deleted one is gone', async () => {
      await a!.send(new PutObjectCommand({ Bucket, Key: 'list/one', Body: 'x' }));
      const listed = await b!.send(new ListObjectsV2Command({ Bucket, Prefix: 'list/' }));
      assert.deepEqual(listed.Contents?.map((o) => o.Key), ['list/one']);
      await c!.send(new DeleteObjectCommand({ Bucket, Key: 'list/one' }));
      const after = await a!.send(new ListObjectsV2Command({ Bucket, Prefix: 'list/' }));
      assert.equal(after.KeyCount, 0);
    });

    await t.test('overwrite then read - every gateway reads the newest body', async () => {
      await a!.send(new PutObjectCommand({ Bucket, Key: 'over', Body: 'first' }));
      const second = randomBytes(MiB);
      await b!.send(new PutObjectCommand({ Bucket, Key: 'over', Body: second }));
      for (const s3 of gw) assert.equal(digest(await getBytes(s3, 'over')), digest(second));
    });

    await t.test('delete then read - 404 through every other gateway', async () => {
      await b!.send(new DeleteObjectCommand({ Bucket, Key: 'over' }));
      assert.equal(await failsWith(a!.send(new GetObjectCommand({ Bucket, Key: 'over' }))), 404);
      assert.equal(await failsWith(c!.send(new HeadObjectCommand({ Bucket, Key: 'over' }))), 404);
    });

    await t.test('versioning and tags - a change through one gateway is what the next one reads (no stale cache)', async () => {
      const versioned = 'multi-versioned';
      await a!.send(new CreateBucketCommand({ Bucket: versioned }));
      // Read before the change through B and C, so a cache there would hold the old settings.
      for (const s3 of [b!, c!]) assert.equal((await s3.send(new GetBucketVersioningCommand({ Bucket: versioned }))).Status, undefined);
      await a!.send(new PutBucketVersioningCommand({ Bucket: versioned, VersioningConfiguration: { Status: 'Enabled' } }));
      for (const s3 of [b!, c!]) assert.equal((await s3.send(new GetBucketVersioningCommand({ Bucket: versioned }))).Status, 'Enabled');
      const v1 = await b!.send(new PutObjectCommand({ Bucket: versioned, Key: 'k', Body: 'one' }));
      const v2 = await c!.send(new PutObjectCommand({ Bucket: versioned, Key: 'k', Body: 'two' }));
      assert.ok(v1.VersionId && v2.VersionId && v1.VersionId !== v2.VersionId);
      const versions = await a!.send(new ListObjectVersionsCommand({ Bucket: versioned, Prefix: 'k' }));
      assert.deepEqual(versions.Versions?.map((v) => [v.VersionId, v.IsLatest]), [[v2.VersionId, true], [v1.VersionId, false]]);
      assert.equal((await getBytes(a!, 'k', v1.VersionId, versioned)).toString(), 'one');
      assert.equal((await getBytes(b!, 'k', undefined, versioned)).toString(), 'two');
      await c!.send(new PutBucketVersioningCommand({ Bucket: versioned, VersioningConfiguration: { Status: 'Suspended' } }));
      assert.equal((await a!.send(new GetBucketVersioningCommand({ Bucket: versioned }))).Status, 'Suspended');

      assert.equal(await failsWith(b!.send(new GetBucketTaggingCommand({ Bucket: versioned }))), 404);
      await a!.send(new PutBucketTaggingCommand({ Bucket: versioned, Tagging: { TagSet: [{ Key: 'team', Value: 'one' }] } }));
      assert.deepEqual((await b!.send(new GetBucketTaggingCommand({ Bucket: versioned }))).TagSet, [{ Key: 'team', Value: 'one' }]);
      await c!.send(new PutBucketTaggingCommand({ Bucket: versioned, Tagging: { TagSet: [{ Key: 'team', Value: 'two' }] } }));
      assert.deepEqual((await b!.send(new GetBucketTaggingCommand({ Bucket: versioned }))).TagSet, [{ Key: 'team', Value: 'two' }]);

      assert.deepEqual((await c!.send(new GetObjectTaggingCommand({ Bucket, Key: 'raw-1' }))).TagSet, []);
      await b!.send(new PutObjectTaggingCommand({ Bucket, Key: 'raw-1', Tagging: { TagSet: [{ Key: 'a', Value: 'b' }] } }));
      assert.deepEqual((await c!.send(new GetObjectTaggingCommand({ Bucket, Key: 'raw-1' }))).TagSet, [{ Key: 'a', Value: 'b' }]);
      await a!.send(new DeleteObjectTaggingCommand({ Bucket, Key: 'raw-1' }));
      assert.deepEqual((await c!.send(new GetObjectTaggingCommand({ Bucket, Key: 'raw-1' }))).TagSet, []);
    });

    await t.test('multipart - parts uploaded through two gateways, completed through a third', async () => {
      const Key = 'multipart';
      const parts = [randomBytes(5 * MiB), randomBytes(MiB + 7)];
      const { UploadId } = await a!.send(new CreateMultipartUploadCommand({ Bucket, Key }));
      const e1 = await b!.send(new UploadPartCommand({ Bucket, Key, UploadId, PartNumber: 1, Body: parts[0] }));
      const e2 = await a!.send(new UploadPartCommand({ Bucket, Key, UploadId, PartNumber: 2, Body: parts[1] }));
      const listed = await c!.send(new ListPartsCommand({ Bucket, Key, UploadId }));
      assert.deepEqual(listed.Parts?.map((p) => [p.PartNumber, p.ETag]), [[1, e1.ETag], [2, e2.ETag]]);
      await c!.send(new CompleteMultipartUploadCommand({ Bucket, Key, UploadId, MultipartUpload: { Parts: [{ PartNumber: 1, ETag: e1.ETag! }, { PartNumber: 2, ETag: e2.ETag! }] } }));
      assert.equal(digest(await getBytes(b!, Key)), digest(Buffer.concat(parts)));
    });

    await t.test('conditional writes - racing through three gateways, exactly one wins and the others get 412 or 409', async () => {
      for (let round = 0; round < 4; round++) {
        const Key = `race-${round}`;
        const bodies = gw.map((_, i) => `gateway${i + 1} round ${round}`);
        const created = await Promise.all(gw.map((s3, i) => failsWith(s3.send(new PutObjectCommand({ Bucket, Key, Body: bodies[i], IfNoneMatch: '*' })))));
        assert.equal(created.filter((s) => s === 200).length, 1, `If-None-Match round ${round}: ${created.join(',')}`);
        assert.ok(created.every((s) => s === 200 || s === 412 || s === 409), created.join(','));
        const winner = created.indexOf(200);
        assert.equal((await getBytes(gw[(winner + 1) % 3]!, Key)).toString(), bodies[winner]);

        const head = await a!.send(new HeadObjectCommand({ Bucket, Key }));
        const next = gw.map((_, i) => `if-match gateway${i + 1} round ${round}`);
        const replaced = await Promise.all(gw.map((s3, i) => failsWith(s3.send(new PutObjectCommand({ Bucket, Key, Body: next[i], IfMatch: head.ETag })))));
        assert.equal(replaced.filter((s) => s === 200).length, 1, `If-Match round ${round}: ${replaced.join(',')}`);
        assert.ok(replaced.every((s) => s === 200 || s === 412 || s === 409), replaced.join(','));
        assert.equal((await getBytes(gw[replaced.indexOf(200)]!, Key)).toString(), next[replaced.indexOf(200)]);
      }
    });

    await t.test('HAProxy - a client alternating between gateways reads every write back', async () => {
      const written = new Map<string, Buffer>();
      for (let i = 0; i < 30; i++) {
        const Key = `proxy-${i}`;
        const Body = randomBytes(i % 5 === 0 ? 300_000 : 2000);
        await viaProxy.send(new PutObjectCommand({ Bucket, Key, Body }));
        written.set(Key, Body);
        assert.equal(digest(await getBytes(viaProxy, Key)), digest(Body), Key);
      }
      const listed = await viaProxy.send(new ListObjectsV2Command({ Bucket, Prefix: 'proxy-' }));
      assert.equal(listed.KeyCount, written.size);
    });

    await t.test('health - 503 with reason "storage" once too few nodes are up to write', async () => {
      // 3 nodes: RS 2+1, a write needs 2 shards; with two nodes killed only one is left.
      for (const node of file.processes.filter((p) => p.role === 'node').slice(0, 2)) process.kill(node.pid!, 'SIGKILL');
      const report = await waitFor('a gateway to report itself unhealthy', 30_000, async () => {
        const res = await fetch(`http://${gateways[0]!.address}/_tessera/health`);
        return res.status === 503 ? ((await res.json()) as { reason: string }) : undefined;
      });
      assert.equal(report.reason, 'storage');
    });

    await t.test('stop and restart - SIGTERM ends every process (HAProxy and PostgreSQL too), a second run serves the same data', async () => {
      for (const s3 of clients.splice(0)) s3.destroy();
      const pids = (await cluster!.file()).processes.map((p) => p.pid!);
      assert.equal(await cluster!.stop(), 0);
      assert.deepEqual(pids.filter((pid) => isAlive(pid)), [], 'every child is gone');
      cluster = await startMultiGateway(dir, 3);
      const again = await cluster.file();
      assert.equal(again.endpoint, file.endpoint, 'HAProxy keeps its address');
      assert.deepEqual(gatewaysOf(again).map((g) => g.address), gateways.map((g) => g.address));
      const s3 = clientFor(again, again.endpoint);
      clients.push(s3);
      assert.equal((await getBytes(s3, 'race-0')).length > 0, true);
      assert.equal((await s3.send(new ListObjectsV2Command({ Bucket, Prefix: 'proxy-' }))).KeyCount, 30);
    });
  } finally {
    for (const s3 of clients) s3.destroy();
    await cluster?.killAll();
    await rm(dir, { recursive: true, force: true });
  }
});
