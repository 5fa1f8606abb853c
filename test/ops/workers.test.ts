// `tessera server --workers 2` (issue 17): reads after writes through the other worker, concurrent writes
// from both workers without a 5xx (SQLITE_BUSY), background work run by one process, the workers' commits
// through the primary's one commit thread, a worker killed with SIGKILL replaced without losing an
// acknowledged write, and SIGTERM stopping all of them with exit 0.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, readlinkSync, statSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash, randomBytes } from 'node:crypto';
import { CreateBucketCommand, DeleteObjectCommand, GetBucketVersioningCommand, GetObjectCommand, HeadBucketCommand, PutBucketVersioningCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { autoWorkersMax } from '../../src/cli/server.js';
import { startTessera, type TesseraProcess } from '../helpers/tessera.js';
import { raw } from '../s3/raw-http.js';
import { allowAllPolicy, createUserWithKey, signingAs } from '../helpers/iam.js';

const token = 'metrics-token-for-workers-0001';
const workerArgs = ['--workers', '2', '--metrics-token', token, '--gc-interval', '1'];

type Line = Record<string, unknown>;

function accessLines(p: TesseraProcess): Line[] {
  return p.logs().split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Line).filter((l) => l.message === 'request');
}

/** The worker that answered the request with this id, from its access line (written just after the answer). */
async function workerOf(p: TesseraProcess, requestId: string | undefined): Promise<number> {
  assert.ok(requestId, 'the answer carries a request id');
  for (let i = 0; i < 100; i++) {
    const line = accessLines(p).find((l) => l.requestId === requestId);
    if (line) return line.worker as number;
    await new Promise((r) => setTimeout(r, 20));
  }
  assert.fail(`No access line for request ${requestId}`);
}

/** The process ids of `pid`'s children: the workers. */
function childrenOf(pid: number): number[] {
  const out: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === pid) out.push(Number(entry));
    } catch {
      // exited while we looked
    }
  }
  return out;
}

/** The inodes of the Unix sockets bound to `path`, from /proc/net/unix: its listener and the connections it accepted. */
function socketsAt(path: string): number[] {
  return readFileSync('/proc/net/unix', 'utf8').split('\n').slice(1).map((line) => line.trim().split(/\s+/)).filter((f) => f[7] === path).map((f) => Number(f[6]));
}

/** The socket inodes among `pid`'s open files. */
function socketsHeldBy(pid: number): Set<number> {
  const held = new Set<number>();
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (m) held.add(Number(m[1]));
    } catch {
      // closed while we looked
    }
  }
  return held;
}

/** The primary's commit socket serves both workers: its listener and one accepted connection per worker, all the primary's. */
async function commitSocketServesTwo(server: TesseraProcess): Promise<void> {
  const socketPath = `${server.dataDir}/meta/commit.sock`;
  assert.equal(statSync(socketPath).mode & 0o777, 0o600, 'the socket is its owner\'s alone');
  const inodes = await until('the workers connected to the commit socket', () => {
    const found = socketsAt(socketPath);
    return found.length === 3 ? found : undefined;
  });
  const held = socketsHeldBy(server.process.pid!);
  for (const inode of inodes) assert.ok(held.has(inode), 'the primary holds the listener and the accepted connections');
}

async function until<T>(what: string, probe: () => Promise<T | undefined> | T | undefined, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) assert.fail(`Timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

async function text(s3: S3Client, Bucket: string, Key: string): Promise<string | undefined> {
  try {
    const got = await s3.send(new GetObjectCommand({ Bucket, Key }));
    return await got.Body!.transformToString();
  } catch (err) {
    if ((err as { name?: string }).name === 'NoSuchKey') return undefined;
    throw err;
  }
}

test('server --workers 2 - a write through one worker reads back at once through the other, after the other read the old value', async () => {
  const server = await startTessera({ args: workerArgs });
  const [a, b] = [server.client(), server.client()]; // two clients: two connections, handed to the workers in turn
  try {
    const Bucket = 'raw-across-workers';
    await assert.rejects(b.send(new HeadBucketCommand({ Bucket })));
    await a.send(new CreateBucketCommand({ Bucket }));
    await b.send(new HeadBucketCommand({ Bucket }));
    let crossed = 0;
    for (let i = 0; i < 60; i++) {
      const Key = `k${i % 4}`;
      const before = await text(b, Bucket, Key); // the reader's cache now holds what it saw
      const put = await a.send(new PutObjectCommand({ Bucket, Key, Body: `v${i}` }));
      const got = await b.send(new GetObjectCommand({ Bucket, Key }));
      assert.equal(await got.Body!.transformToString(), `v${i}`, `after ${before ?? 'nothing'}`);
      if ((await workerOf(server, put.$metadata.requestId)) !== (await workerOf(server, got.$metadata.requestId))) crossed++;
      if (i % 10 === 9) {
        await a.send(new DeleteObjectCommand({ Bucket, Key }));
        assert.equal(await text(b, Bucket, Key), undefined, 'a delete through the other worker is seen at once');
      }
    }
    assert.ok(crossed >= 30, `only ${crossed} of 60 write-read pairs went through different workers`);
  } finally {
    a.destroy();
    b.destroy();
    await server.cleanup();
  }
});

test('server --workers 2 - a bucket setting changed through one worker is in force at once through the other, whose cache held the old one', async () => {
  const server = await startTessera({ args: workerArgs });
  const [a, b] = [server.client(), server.client()];
  try {
    const Bucket = 'settings-across-workers';
    await a.send(new CreateBucketCommand({ Bucket }));
    // Objects b reads between the changes: their records stay cached while the bucket's changes.
    for (let i = 0; i < 4; i++) await a.send(new PutObjectCommand({ Bucket, Key: `still-${i}`, Body: `s${i}` }));
    let crossed = 0;
    for (let i = 0; i < 12; i++) {
      const Status = i % 2 === 0 ? 'Enabled' : 'Suspended';
      await b.send(new GetBucketVersioningCommand({ Bucket }));
      assert.equal(await text(b, Bucket, `still-${i % 4}`), `s${i % 4}`);
      const set = await a.send(new PutBucketVersioningCommand({ Bucket, VersioningConfiguration: { Status } }));
      const seen = await b.send(new GetBucketVersioningCommand({ Bucket }));
      assert.equal(seen.Status, Status);
      const put = await b.send(new PutObjectCommand({ Bucket, Key: 'versioned', Body: `v${i}` }));
      if (Status === 'Enabled') assert.ok(put.VersionId && put.VersionId !== 'null', `a version id under Enabled, got ${put.VersionId}`);
      else assert.ok(put.VersionId === undefined || put.VersionId === 'null', `the null version under Suspended, got ${put.VersionId}`);
      assert.equal(await text(a, Bucket, 'versioned'), `v${i}`);
      if ((await workerOf(server, set.$metadata.requestId)) !== (await workerOf(server, seen.$metadata.requestId))) crossed++;
    }
    for (let i = 0; i < 4; i++) assert.equal(await text(b, Bucket, `still-${i}`), `s${i}`);
    assert.ok(crossed >= 4, `only ${crossed} of 12 changes were read back through the other worker`);
  } finally {
    a.destroy();
    b.destroy();
    await server.cleanup();
  }
});

test('server --workers 2 - concurrent writes through both workers all succeed and none answers 5xx', async () => {
  const server = await startTessera({ args: workerArgs });
  const clients = Array.from({ length: 8 }, () => server.client());
  try {
    const Bucket = 'busy-writes';
    await clients[0]!.send(new CreateBucketCommand({ Bucket }));
    await Promise.all(clients.map(async (s3, c) => {
      for (let i = 0; i < 40; i++) await s3.send(new PutObjectCommand({ Bucket, Key: `c${c}/o${i}`, Body: `${c}-${i}` }));
    }));
    const puts = await until('every PUT logged', () => {
      const lines = accessLines(server).filter((l) => l.operation === 'PutObject');
      return lines.length >= 320 ? lines : undefined;
    });
    assert.deepEqual(puts.filter((l) => (l.status as number) >= 500), []);
    assert.deepEqual(new Set(puts.map((l) => l.worker)), new Set([1, 2]), 'both workers took writes');
    assert.equal(await text(clients[3]!, Bucket, 'c7/o39'), '7-39');
  } finally {
    for (const s3 of clients) s3.destroy();
    await server.cleanup();
  }
});

/** The slabs of the primary `primary`'s hashing service that process `pid` has mapped (each a deleted /dev/shm file). */
function slabsMappedBy(pid: number, primary: number): string[] {
  return readFileSync(`/proc/${pid}/maps`, 'utf8').split('\n').filter((line) => line.includes(`/dev/shm/tessera-hash-${primary}-`));
}

test('server --workers 3 - the workers\' upload digests go to the primary\'s hashing threads, one per two workers, through shared memory: ETags right, nothing left in /dev/shm', async () => {
  // The side threads take the SHA-256 of every long signed upload (here three of 9 MiB, one per worker as the
  // connections go round), busy or not.
  const server = await startTessera({ args: ['--workers', '3', '--metrics-token', token], env: { TESSERA_HASH_SIDE_FROM: '0' } });
  const primary = server.process.pid!;
  // Connections go to the workers in turn: 12 clients give each worker four.
  const clients = Array.from({ length: 12 }, () => server.client());
  try {
    const Bucket = 'hashed-together';
    await clients[0]!.send(new CreateBucketCommand({ Bucket }));
    const bodies = clients.map((_, i) => randomBytes((i % 4 === 0 ? 9 * 1024 * 1024 : 1_500_000) + i * 4099));
    const etags = await Promise.all(clients.map(async (s3, i) => (await s3.send(new PutObjectCommand({ Bucket, Key: `o${i}`, Body: bodies[i] }))).ETag));
    for (const [i, etag] of etags.entries()) assert.equal(etag, `"${createHash('md5').update(bodies[i]!).digest('hex')}"`, `object ${i}`);
    const puts = await until('every PUT logged', () => {
      const lines = accessLines(server).filter((l) => l.operation === 'PutObject');
      return lines.length >= 12 ? lines : undefined;
    });
    assert.deepEqual(new Set(puts.map((l) => l.worker)), new Set([1, 2, 3]), 'every worker took uploads');
    assert.match(server.logs(), /"message":"MD5 for ETags".*"hashing":"the primary's service/);
    // Each worker made a slab and mapped it, the primary's threads (a service thread and its side thread for
    // each two workers) mapped all three, and the files are gone.
    const workers = childrenOf(primary);
    assert.equal(workers.length, 3);
    for (const pid of workers) {
      const mapped = slabsMappedBy(pid, primary);
      assert.equal(mapped.length, 1, `worker ${pid}'s slab`);
      assert.match(mapped[0]!, new RegExp(`tessera-hash-${primary}-${pid}-1 \\(deleted\\)$`));
    }
    assert.equal(slabsMappedBy(primary, primary).length, 6);
    assert.deepEqual(readdirSync('/dev/shm').filter((name) => name.startsWith(`tessera-hash-${primary}-`)), []);
    // Workers 1 and 3 share the first thread, worker 2 has the second: a listener and a connection per worker.
    const held = socketsHeldBy(primary);
    const sockets = [`${server.dataDir}/meta/hash-1.sock`, `${server.dataDir}/meta/hash-2.sock`];
    for (const [n, hashSocket] of sockets.entries()) {
      assert.equal(statSync(hashSocket).mode & 0o777, 0o600);
      const inodes = socketsAt(hashSocket);
      assert.equal(inodes.length, n === 0 ? 3 : 2, hashSocket);
      for (const inode of inodes) assert.ok(held.has(inode));
    }
    assert.equal(existsSync(`${server.dataDir}/meta/hash-3.sock`), false);
    for (const i of [4, 5]) {
      const got = await clients[i]!.send(new GetObjectCommand({ Bucket, Key: `o${i}` }));
      assert.ok(Buffer.from(await got.Body!.transformToByteArray()).equals(bodies[i]!), `object ${i}`);
    }

    const exited = new Promise<number | null>((r) => server.process.once('exit', (code) => r(code)));
    server.process.kill('SIGTERM');
    assert.equal(await exited, 0);
    for (const hashSocket of sockets) assert.equal(existsSync(hashSocket), false, 'the primary removed its hashing sockets');
  } finally {
    for (const s3 of clients) s3.destroy();
    await server.cleanup();
  }
});

/** Per background worker name, how many processes hold its lease, from one scrape (whichever worker answers). */
async function leaseHolders(server: TesseraProcess): Promise<Map<string, number>> {
  const res = await fetch(`${server.url}/_tessera/metrics`, { headers: { authorization: `Bearer ${token}` } });
  assert.equal(res.status, 200);
  const holders = new Map<string, number>();
  for (const m of (await res.text()).matchAll(/^tessera_worker_lease_held\{worker="([^"]+)",process="(\d)"\} (\d)$/gm)) holders.set(m[1]!, (holders.get(m[1]!) ?? 0) + Number(m[3]));
  return holders;
}

test('server --workers 2 - each background worker runs in one process, the workers commit through the primary\'s commit socket, and after a SIGKILL the replacement serves and no acknowledged write is lost; SIGTERM then exits 0', { timeout: 180_000 }, async () => {
  const server = await startTessera({ args: workerArgs });
  const primary = server.process.pid!;
  const s3 = server.client();
  try {
    const held = await until('every background worker taken', async () => {
      const h = await leaseHolders(server);
      return h.size >= 5 && [...h.values()].every((n) => n === 1) ? h : undefined;
    });
    for (let i = 0; i < 10; i++) for (const [name, n] of await leaseHolders(server)) assert.ok(n <= 1, `${name} runs in ${n} processes`);
    assert.ok(held.has('gc') && held.has('orphan-sweep'), [...held.keys()].join(','));

    const Bucket = 'kill-a-worker';
    await s3.send(new CreateBucketCommand({ Bucket }));
    const workers = childrenOf(primary);
    assert.equal(workers.length, 2);
    await commitSocketServesTwo(server);
    // Kill the worker that runs GC: its replacement must end that lease at once rather than wait it out.
    const gcHolder = /^tessera_worker_lease_held\{worker="gc",process="(\d)"\} 1$/m.exec(await (await fetch(`${server.url}/_tessera/metrics`, { headers: { authorization: `Bearer ${token}` } })).text());
    assert.ok(gcHolder, 'a worker holds the gc lease');
    const status = JSON.parse((await raw(server, { method: 'GET', path: '/_tessera/admin/status' })).text) as { processes: { worker: number; pid: number }[] };
    const victim = status.processes.find((p) => p.worker === Number(gcHolder[1]))!.pid;
    assert.ok(workers.includes(victim));
    const acknowledged: string[] = [];
    let stop = false;
    const writers = Array.from({ length: 4 }, async (_, w) => {
      const client = server.client();
      for (let i = 0; !stop; i++) {
        const Key = `w${w}/o${i}`;
        try {
          await client.send(new PutObjectCommand({ Bucket, Key, Body: Key }));
          acknowledged.push(Key);
        } catch {
          // a write cut by the kill is not acknowledged; the client may try the next one
        }
      }
      client.destroy();
    });
    await until('writes under way', () => (acknowledged.length >= 20 ? true : undefined));
    process.kill(victim, 'SIGKILL');
    const replaced = await until('a new worker', () => {
      const now = childrenOf(primary);
      return now.length === 2 && !now.includes(victim) ? now : undefined;
    });
    const atReplace = acknowledged.length;
    await until('writes after the replacement', () => (acknowledged.length >= atReplace + 40 ? true : undefined));
    stop = true;
    await Promise.all(writers);
    assert.match(server.logs(), /A worker exited: starting another in its place/);
    const ended = await until('the replacement started', () => /"message":"Ended the leases of the worker this one replaces".*"released":(\d+)/.exec(server.logs()) ?? undefined);
    assert.ok(Number(ended[1]) >= 1, 'the replacement ended the dead worker\'s leases (gc at least)');
    for (const Key of acknowledged) assert.equal(await text(s3, Bucket, Key), Key, `acknowledged ${Key} reads back`);
    // The dead worker's connection is gone, and the replacement commits through the same thread.
    await commitSocketServesTwo(server);
    // Every background worker is run by one process again.
    await until('every background worker held once after the kill', async () => {
      const h = await leaseHolders(server);
      return h.size >= 5 && [...h.values()].every((n) => n === 1) ? true : undefined;
    }, 20_000);

    const exited = new Promise<number | null>((r) => server.process.once('exit', (code) => r(code)));
    server.process.kill('SIGTERM');
    assert.equal(await exited, 0);
    for (const pid of replaced) assert.throws(() => process.kill(pid, 0), 'every worker has exited');
    assert.equal(existsSync(`${server.dataDir}/meta/commit.sock`), false, 'the primary removed its commit socket');
  } finally {
    s3.destroy();
    await server.cleanup();
  }
});

test('server --workers 2 - in a data directory too deep for a commit socket, each worker commits on its own, and reads after writes hold', async () => {
  const root = await mkdtemp(join(tmpdir(), 'tessera-deep-'));
  const dataDir = join(root, 'd'.repeat(60), 'e'.repeat(60));
  const server = await startTessera({ args: workerArgs, dataDir });
  const s3 = server.client();
  try {
    await until('the banner', () => (/secret key:/.test(server.stdout()) ? true : undefined));
    assert.match(server.logs(), /too long for the commit socket: each worker commits metadata on its own/);
    assert.equal(existsSync(join(dataDir, 'meta', 'commit.sock')), false);
    const Bucket = 'deep';
    await s3.send(new CreateBucketCommand({ Bucket }));
    // Both workers write (the SDK's connections spread over them) and read back what the other wrote.
    await Promise.all(Array.from({ length: 20 }, (_, i) => s3.send(new PutObjectCommand({ Bucket, Key: `k${i}`, Body: `v${i}` }))));
    for (let i = 0; i < 20; i++) assert.equal(await text(s3, Bucket, `k${i}`), `v${i}`);
  } finally {
    s3.destroy();
    await server.cleanup();
    await rm(root, { recursive: true, force: true });
  }
});

test('server - with no --workers it serves with one process per core (at most autoWorkersMax)', async () => {
  const expected = Math.min(availableParallelism(), autoWorkersMax);
  const server = await startTessera({ env: { TESSERA_WORKERS: undefined } });
  try {
    const banner = await until('the banner', () => (/secret key:/.test(server.stdout()) ? server.stdout() : undefined));
    if (expected === 1) assert.doesNotMatch(banner, /workers:/);
    else {
      assert.match(banner, new RegExp(`workers: +${expected} processes`));
      await until('every worker', () => (childrenOf(server.process.pid!).length >= expected ? true : undefined));
    }
  } finally {
    await server.cleanup();
  }
});

test('server --workers 2 - the banner is printed once and the root credentials are made once', async () => {
  const server = await startTessera({ args: ['--workers', '2'], env: { TESSERA_ROOT_ACCESS_KEY: '', TESSERA_ROOT_SECRET_KEY: '' } });
  try {
    const banner = await until('the banner', () => {
      const out = server.stdout();
      return /secret key:/.test(out) ? out : undefined;
    });
    assert.equal(banner.match(/Tessera S3 server/g)?.length, 1);
    const stored = JSON.parse(readFileSync(`${server.dataDir}/root-credentials.json`, 'utf8')) as { accessKeyId: string };
    assert.match(banner, new RegExp(`access key: ${stored.accessKeyId}`));
  } finally {
    await server.cleanup();
  }
});

test('server --workers 2 - a rate limit set through the admin API is in force in every worker, and metrics count each worker\'s requests', async () => {
  const server = await startTessera({ args: workerArgs });
  try {
    const limit = { requestsPerSec: 3, requestsBurst: 5 };
    assert.equal((await raw(server, { method: 'POST', path: '/_tessera/admin/limits/set', body: JSON.stringify({ kind: 'bucket', name: 'hot', limit }) })).status, 200);
    const seen = new Set<number>();
    for (let i = 0; i < 8; i++) {
      const res = await raw(server, { method: 'GET', path: '/_tessera/admin/limits' }); // a new connection each: the workers in turn
      assert.equal(res.status, 200);
      assert.deepEqual((JSON.parse(res.text) as { limits: { bucket?: Record<string, unknown> } }).limits.bucket?.hot, limit);
      seen.add(await workerOf(server, res.headers['x-amz-request-id'] as string));
    }
    assert.deepEqual(seen, new Set([1, 2]), 'both workers answered');
    const metrics = await raw(server, { method: 'GET', path: '/_tessera/metrics' });
    for (const worker of [1, 2]) assert.match(metrics.text, new RegExp(`^tessera_requests_total\\{process="${worker}"\\} [1-9]\\d*$`, 'm'));
    // Each worker's request histogram and open connections too, whichever worker answered the scrape.
    for (const worker of [1, 2]) {
      assert.match(metrics.text, new RegExp(`^tessera_s3_request_duration_seconds_count\\{process="${worker}",operation="\\w+"\\} [1-9]\\d*$`, 'm'));
      assert.match(metrics.text, new RegExp(`^tessera_http_open_connections\\{process="${worker}"\\} \\d+$`, 'm'));
    }
    assert.equal(metrics.text.match(/^# TYPE tessera_s3_request_duration_seconds histogram$/gm)?.length, 1);
  } finally {
    await server.cleanup();
  }
});

test('server --workers 2 - a request limit holds for both workers together, not for each one', { timeout: 60_000 }, async () => {
  const server = await startTessera({ args: workerArgs });
  try {
    assert.equal((await raw(server, { method: 'PUT', path: '/hot' })).status, 200);
    const limit = { requestsPerSec: 20, requestsBurst: 5 };
    assert.equal((await raw(server, { method: 'POST', path: '/_tessera/admin/limits/set', body: JSON.stringify({ kind: 'bucket', name: 'hot', limit }) })).status, 200);
    // Four clients, each a new connection per request (the workers in turn), far faster than the limit.
    const started = performance.now();
    const statuses: number[] = [];
    const seen = new Set<number>();
    await Promise.all(
      Array.from({ length: 4 }, async () => {
        while (performance.now() - started < 3_000) {
          const res = await raw(server, { method: 'HEAD', path: '/hot' });
          statuses.push(res.status);
          if (res.status === 200 && seen.size < 2) seen.add(await workerOf(server, res.headers['x-amz-request-id'] as string));
        }
      }),
    );
    const elapsedSec = (performance.now() - started) / 1000;
    const admitted = statuses.filter((s) => s === 200).length;
    assert.deepEqual(new Set(statuses), new Set([200, 503]), 'requests were admitted and refused');
    assert.deepEqual(seen, new Set([1, 2]), 'both workers admitted requests');
    // Together: each worker's burst before they first hear of each other, the rate, and what one spending
    // interval lets through; each on its own would admit twice the rate (2 × (5 + 20 × elapsed)).
    const bound = 2 * limit.requestsBurst + limit.requestsPerSec * elapsedSec * 1.25 + 5;
    assert.ok(statuses.length > 2 * bound, `the clients sent enough to tell (${statuses.length} requests)`);
    assert.ok(admitted <= bound, `${admitted} requests admitted in ${elapsedSec.toFixed(1)} s, more than ${bound.toFixed(0)}: each worker enforced the limit on its own`);
  } finally {
    await server.cleanup();
  }
});

test('server --workers 2 - an access key created, then disabled, through one worker is in force in every worker within the poll', async () => {
  const server = await startTessera({ args: workerArgs });
  try {
    const key = await createUserWithKey(server, 'across-workers', { all: allowAllPolicy });
    const asUser = signingAs(server, key);
    // Each raw request is a connection of its own, and the workers take connections in turn.
    const statuses = async (): Promise<number[]> => Promise.all(Array.from({ length: 8 }, async () => (await raw(asUser, { path: '/' })).status));
    await until('the new key accepted by every worker', async () => ((await statuses()).every((s) => s === 200) ? true : undefined), 10_000);
    const disabled = await raw(server, { method: 'POST', path: '/_tessera/admin/iam/keys/update', body: JSON.stringify({ accessKeyId: key.accessKeyId, status: 'Inactive' }) });
    assert.equal(disabled.status, 200, disabled.text);
    await until('the disabled key refused by every worker', async () => ((await statuses()).every((s) => s === 403) ? true : undefined), 10_000);
  } finally {
    await server.cleanup();
  }
});
