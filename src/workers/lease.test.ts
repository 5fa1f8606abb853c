// Worker leases (issue 11): two processes cannot share a data directory, so two holders run here on one
// MetaStore, each with its own clock, as two gateways over one PostgreSQL would.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteMetaStore } from '../meta/sqlite/sqlite-store.js';
import { Lease, releaseDeadLeases } from './lease.js';
import { startWorker } from './runner.js';
import type { Worker, WorkerState } from './worker.js';
import { createLogger } from '../util/log.js';

const dir = await mkdtemp(join(tmpdir(), 'tessera-lease-'));
const meta = await SqliteMetaStore.open(join(dir, 'meta.db'));
after(async () => {
  await meta.close();
  await rm(dir, { recursive: true, force: true });
});

test('Lease - exactly one of two holders gets it, the other takes over once it expires', async () => {
  let nowMs = 1_000_000;
  const clock = () => nowMs;
  const a = new Lease({ meta, name: 'one', holder: 'a', ttlMs: 10_000, nowMs: clock });
  const b = new Lease({ meta, name: 'one', holder: 'b', ttlMs: 10_000, nowMs: clock });
  const [gotA, gotB] = await Promise.all([a.acquire(), b.acquire()]);
  assert.equal(Number(gotA) + Number(gotB), 1, 'exactly one holder');
  const [holder, other] = gotA ? [a, b] : [b, a];
  assert.equal(holder.held(), true);
  assert.equal(other.held(), false);
  nowMs += 5_000;
  assert.equal(await holder.acquire(), true, 'the holder renews');
  assert.equal(await other.acquire(), false, 'not while renewed');
  nowMs += 9_000;
  assert.equal(await other.acquire(), false, 'the renewal counts from when it was made');
  nowMs += 2_000; // the holder stopped renewing: expired
  assert.equal(holder.held(), false, 'an expired holder knows it by its clock');
  assert.equal(await other.acquire(), true, 'the other takes over');
  assert.equal(await holder.acquire(), false, 'the old holder cannot renew');
  assert.equal((await other.read())?.holder, other.holder);
});

test('Lease - a released lease is taken at once', async () => {
  const a = new Lease({ meta, name: 'two', holder: 'a', ttlMs: 60_000 });
  const b = new Lease({ meta, name: 'two', holder: 'b', ttlMs: 60_000 });
  assert.equal(await a.acquire(), true);
  assert.equal(await b.acquire(), false);
  await a.release();
  assert.equal(a.held(), false);
  assert.equal(await b.acquire(), true);
});

/** A worker that counts its steps and never finishes. */
function countingWorker(name: string): Worker & { steps: number } {
  const worker = {
    name,
    steps: 0,
    async step(): Promise<WorkerState> {
      worker.steps++;
      return 'busy';
    },
    delayMs: () => 5,
  };
  return worker;
}

test('startWorker - one of two runners steps; a holder that lost the lease stops stepping and the other takes over', async () => {
  const log = createLogger({ quiet: true });
  const nowA = Date.now();
  let nowB = Date.now();
  const wa = countingWorker('three');
  const wb = countingWorker('three');
  const ra = startWorker(wa, { meta, holder: 'a', log, leaseTtlMs: 300, nowMs: () => nowA });
  await new Promise((r) => setTimeout(r, 100));
  const rb = startWorker(wb, { meta, holder: 'b', log, leaseTtlMs: 300, nowMs: () => nowB });
  try {
    await new Promise((r) => setTimeout(r, 200));
    assert.ok(wa.steps > 0, 'the first runner holds the lease and steps');
    assert.equal(wb.steps, 0, 'the second one waits');
    assert.equal(ra.status().leaseHeld, true);
    assert.equal(rb.status().leaseHeld, false);
    // b's clock runs ahead: a's lease looks expired to b, which takes it; a's next renewal is refused.
    nowB += 10_000;
    await waitFor(() => wb.steps > 0);
    await waitFor(() => !ra.status().leaseHeld);
    const stepsA = wa.steps;
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(wa.steps, stepsA, 'the old holder took no more steps');
    assert.equal(rb.status().leaseHeld, true);
  } finally {
    await Promise.all([ra.stop(), rb.stop()]);
  }
});

async function waitFor(condition: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !condition(); i++) await new Promise((r) => setTimeout(r, 10));
  assert.ok(condition(), 'condition not reached within 2 s');
}

test('releaseDeadLeases - a restarted sole process takes its dead predecessor\'s lease at once', async () => {
  const dead = new Lease({ meta, name: 'four', holder: 'dead', ttlMs: 60_000 });
  assert.equal(await dead.acquire(), true);
  const next = new Lease({ meta, name: 'four', holder: 'next', ttlMs: 60_000 });
  assert.equal(await next.acquire(), false);
  assert.ok((await releaseDeadLeases(meta)) >= 1);
  assert.equal(await next.acquire(), true);
});

test('startWorker - a step in progress is aborted when its process loses the lease', async () => {
  const log = createLogger({ quiet: true });
  let nowB = Date.now();
  let aborted = false;
  let started = false;
  const long: Worker = {
    name: 'five',
    step: (signal) => new Promise<WorkerState>((resolve) => {
      started = true;
      signal.addEventListener('abort', () => {
        aborted = true;
        resolve('idle');
      }, { once: true });
    }),
    delayMs: () => 5,
  };
  const ra = startWorker(long, { meta, holder: 'a', log, leaseTtlMs: 300 });
  await waitFor(() => started);
  const wb = countingWorker('five');
  const rb = startWorker(wb, { meta, holder: 'b', log, leaseTtlMs: 300, nowMs: () => nowB });
  try {
    nowB += 10_000; // a's lease looks expired to b
    await waitFor(() => wb.steps > 0);
    await waitFor(() => aborted);
  } finally {
    await Promise.all([ra.stop(), rb.stop()]);
  }
});
