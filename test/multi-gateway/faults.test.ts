// Faults of a two-gateway cluster on one PostgreSQL (dev-cluster --gateways 2 --postgres): a gateway killed
// with kill -9 mid-PUT leaves nothing visible and none of its shard files stay, and one killed between its
// data and its commit leaves committed shards that the other gateway's orphan sweep deletes; the background work's
// leases move to the surviving gateway when their holder dies; PostgreSQL stopped and started again under
// load through HAProxy gives 503s while it is gone (no 500, no hang) and loses nothing acknowledged.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { closeSync, openSync } from 'node:fs';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { CreateBucketCommand, GetObjectCommand, HeadObjectCommand, ListObjectsV2Command, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import pg from 'pg';
import type { ClusterFile, ClusterProcess } from '../../src/cli/dev-cluster.js';
import { keys } from '../../src/objects/keys.js';
import { isAlive, shardFilesUnder, type DevCluster } from '../cluster/helpers.js';
import { clientFor, gatewaysOf, skipWithoutClusterTools, sleep, startMultiGateway, statusOf, waitFor, workersOf } from './helpers.js';

const MiB = 1024 * 1024;
const Bucket = 'faults';
const digest = (b: Buffer | Uint8Array) => createHash('sha256').update(b).digest('hex');

// Inherited by dev-cluster's gateways: a short orphan grace and sweep interval, so a crash's shards go within seconds.
process.env.TESSERA_ORPHAN_GRACE = '3';
process.env.TESSERA_ORPHAN_SWEEP_INTERVAL = '2';

/** Committed shard files on every node, and every file under their shard directories (temporary ones too). */
async function shardsOf(file: ClusterFile): Promise<{ committed: number; files: number }> {
  let committed = 0;
  let files = 0;
  for (const node of file.processes.filter((p) => p.role === 'node')) {
    for (const drive of node.drives ?? []) {
      committed += await shardFilesUnder(drive);
      const entries = await readdir(join(drive, 'shards'), { recursive: true, withFileTypes: true }).catch(() => []);
      files += entries.filter((e) => e.isFile()).length;
    }
  }
  return { committed, files };
}

/** Which gateway holds the orphan sweep's lease, once one does. */
function sweepHolder(file: ClusterFile, among: ClusterProcess[]): Promise<ClusterProcess> {
  return waitFor('a gateway holding the orphan-sweep lease', 60_000, async () => {
    for (const g of among) if ((await workersOf(file, g.address).catch(() => [])).some((w) => w.name === 'orphan-sweep' && w.leaseHeld)) return g;
    return undefined;
  });
}

/** Starts a process again with the argv cluster.json recorded; output to DIR/logs/NAME-restarted.log. */
function restart(dir: string, entry: ClusterProcess): ChildProcess {
  const log = openSync(join(dir, 'logs', `${entry.name}-restarted.log`), 'a');
  try {
    return spawn(entry.argv[0]!, entry.argv.slice(1), { stdio: ['ignore', log, log] });
  } finally {
    closeSync(log);
  }
}

async function killAndWait(pid: number, signal: NodeJS.Signals): Promise<void> {
  process.kill(pid, signal);
  await waitFor(`pid ${pid} to exit`, 30_000, async () => (isAlive(pid) ? undefined : true));
}

test('multi-gateway faults - kill -9 mid-PUT, lease takeover, PostgreSQL restarted under load', { skip: skipWithoutClusterTools() }, async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'tessera-multi-gw-faults-'));
  let cluster: DevCluster | undefined;
  const clients: S3Client[] = [];
  const restarted: ChildProcess[] = [];
  try {
    cluster = await startMultiGateway(dir, 2);
    const file = await cluster.file();
    const gateways = gatewaysOf(file);
    const client = (g: ClusterProcess, attempts?: number) => {
      const s3 = clientFor(file, `http://${g.address}`, attempts);
      clients.push(s3);
      return s3;
    };
    await client(gateways[0]!).send(new CreateBucketCommand({ Bucket }));
    const holder = await sweepHolder(file, gateways);
    const other = gateways.find((g) => g !== holder)!;

    await t.test('kill -9 mid-PUT - nothing partial is visible and its shard files are reclaimed', async () => {
      const baseline = await shardsOf(file);
      let sent = 0;
      const body = new Readable({
        read() {
          // 1 MiB every 200 ms, up to 64 MiB (13 s): slow enough that the kill lands mid-stream.
          if (sent >= 64 * MiB) return void this.push(null);
          sent += MiB;
          setTimeout(() => this.push(randomBytes(MiB)), 200);
        },
      });
      const put = client(other, 1).send(new PutObjectCommand({ Bucket, Key: 'killed', Body: body, ContentLength: 64 * MiB })).then(
        () => 'acknowledged',
        (err: unknown) => `failed ${statusOf(err)}`,
      );
      // Killed once a third of the body is in and its shard files (one block, still temporary) are on the nodes.
      await waitFor('the PUT to be a third through', 60_000, async () => (sent >= 20 * MiB && (await shardsOf(file)).files > baseline.files ? true : undefined));
      await killAndWait(other.pid!, 'SIGKILL');
      assert.notEqual(await put, 'acknowledged');
      const survivor = client(holder);
      assert.equal(await survivor.send(new HeadObjectCommand({ Bucket, Key: 'killed' })).then(() => 200, statusOf), 404);
      assert.equal((await survivor.send(new ListObjectsV2Command({ Bucket }))).KeyCount, 0);
      await waitFor('the killed PUT\'s shard files to be reclaimed', 90_000, async () => {
        const now = await shardsOf(file);
        return now.committed === baseline.committed && now.files === baseline.files ? true : undefined;
      });
    });

    const restartOther = async () => {
      const child = restart(dir, other);
      restarted.push(child);
      other.pid = child.pid!;
      await waitFor(`${other.name} to serve again`, 60_000, async () => ((await fetch(`http://${other.address}/_tessera/health`)).status === 200 ? true : undefined));
    };

    await t.test('kill -9 between the data and its commit - the object never appears and its committed shards are swept by the other gateway', async () => {
      await restartOther();
      const baseline = await shardsOf(file);
      const metaUrl = other.argv[other.argv.indexOf('--meta') + 1]!;
      const db = new pg.Client({ connectionString: metaUrl });
      await db.connect();
      try {
        // The commit function takes an advisory lock per key it writes: holding the one of this key's head
        // stops the PUT's commit after its shards are stored, while every other key goes on.
        await db.query('BEGIN');
        await db.query("SELECT pg_advisory_xact_lock(('x' || left(md5($1::bytea), 16))::bit(64)::bigint)", [keys.head(Bucket, 'between')]);
        const put = client(other, 1).send(new PutObjectCommand({ Bucket, Key: 'between', Body: randomBytes(3 * MiB) })).then(
          () => 'acknowledged',
          (err: unknown) => `failed ${statusOf(err)}`,
        );
        await waitFor('the PUT to wait on its commit', 60_000, async () => {
          const waiting = await db.query("SELECT 1 FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND wait_event = 'advisory'");
          return waiting.rowCount! > 0 ? true : undefined;
        });
        assert.ok((await shardsOf(file)).committed > baseline.committed, 'the block is stored before the commit');
        await killAndWait(other.pid!, 'SIGKILL');
        // PostgreSQL would run the dead gateway's commit once the lock is free; end its session first, as if
        // the commit had never reached the database.
        await db.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND wait_event = 'advisory'");
        await db.query('ROLLBACK');
        assert.notEqual(await put, 'acknowledged');
      } finally {
        await db.end();
      }
      const survivor = client(holder);
      assert.equal(await survivor.send(new HeadObjectCommand({ Bucket, Key: 'between' })).then(() => 200, statusOf), 404);
      await waitFor('the orphan sweep to delete the uncommitted block', 90_000, async () => ((await shardsOf(file)).committed === baseline.committed ? true : undefined));
    });

    await t.test('leases - kill -9 the gateway running the background work, the other takes it over', async () => {
      await restartOther();
      // The other leases may have been either gateway's from the start; the sweep's is the holder's, renewed while it lives.
      const before = await workersOf(file, other.address);
      assert.equal(before.find((w) => w.name === 'orphan-sweep')?.leaseHeld, false, `${other.name} does not sweep while ${holder.name} holds the lease`);
      await killAndWait(holder.pid!, 'SIGKILL');
      // The dead holder's leases lapse (30 s); the survivor's next try takes them.
      const after = await waitFor('every lease to move to the surviving gateway', 90_000, async () => {
        const workers = await workersOf(file, other.address);
        return workers.every((w) => w.leaseHeld) ? workers : undefined;
      });
      assert.ok(after.some((w) => w.name === 'orphan-sweep'));
    });

    await t.test('PostgreSQL restarted under load through HAProxy - 503 while gone, recovery on its own, nothing acknowledged lost', async () => {
      const proxy = clientFor(file, file.endpoint, 1);
      clients.push(proxy);
      const acknowledged = new Map<string, Buffer>();
      const failures: number[] = [];
      let slowestMs = 0;
      let phase: 'before' | 'down' | 'after' = 'before';
      let afterSuccesses = 0;
      let downFailures = 0;
      let running = true;
      const writer = async (w: number) => {
        for (let i = 0; running; i++) {
          const Key = `load-${w}-${i}`;
          const Body = randomBytes(i % 4 === 0 ? 200_000 : 3000);
          const startedMs = Date.now();
          try {
            await proxy.send(new PutObjectCommand({ Bucket, Key, Body }), { abortSignal: AbortSignal.timeout(60_000) });
            acknowledged.set(Key, Body);
            if (phase === 'after') afterSuccesses++;
          } catch (err) {
            failures.push(statusOf(err));
            if (phase === 'down') downFailures++;
            await sleep(100);
          }
          slowestMs = Math.max(slowestMs, Date.now() - startedMs);
        }
      };
      const writers = [0, 1, 2].map(writer);
      await waitFor('writes before the outage', 30_000, async () => (acknowledged.size >= 10 ? true : undefined));
      const postgres = file.processes.find((p) => p.role === 'postgres')!;
      await killAndWait(postgres.pid!, 'SIGINT');
      phase = 'down';
      await waitFor('writers to meet the outage', 60_000, async () => (downFailures >= 6 ? true : undefined));
      const health = await fetch(`http://${other.address}/_tessera/health`);
      assert.equal(health.status, 503);
      assert.equal(((await health.json()) as { reason: string }).reason, 'metadata');
      restarted.push(restart(dir, postgres));
      phase = 'after';
      await waitFor('writes to succeed again after PostgreSQL is back', 90_000, async () => (afterSuccesses >= 10 ? true : undefined));
      running = false;
      await Promise.all(writers);
      assert.ok(failures.length > 0);
      assert.deepEqual([...new Set(failures)].filter((s) => s !== 503), [], `every failure is a 503: ${failures.join(',')}`);
      assert.ok(slowestMs < 60_000, `no request hung (slowest ${slowestMs} ms)`);
      const reader = client(other);
      for (const [Key, Body] of acknowledged) {
        const got = await reader.send(new GetObjectCommand({ Bucket, Key }));
        assert.equal(digest(await got.Body!.transformToByteArray()), digest(Body), Key);
      }
    });
  } finally {
    for (const s3 of clients) s3.destroy();
    await cluster?.killAll();
    for (const child of restarted) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await rm(dir, { recursive: true, force: true });
  }
});
