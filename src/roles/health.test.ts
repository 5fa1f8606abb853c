import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { MetaStore } from '../meta/types.js';
import type { Logger } from '../util/log.js';
import { healthCheck, healthRequestKind } from './health.js';

function metaAnswering(get: () => Promise<Buffer | null>): MetaStore {
  return { get, scan: async () => [], readMany: async () => ({ values: [], scans: [] }), commit: async () => true, close: async () => undefined };
}
const ready = (up: number, needed: number, epoch = 1) => ({ writeReadiness: async () => ({ epoch, up, needed }) });

test('healthCheck - ok when the MetaStore answers and enough targets are up', async () => {
  assert.deepEqual(await healthCheck(metaAnswering(async () => null), ready(3, 2))(), { status: 'ok' });
});

test('healthCheck - metadata reason when the MetaStore read fails or outlasts the bound', async () => {
  const failed = await healthCheck(metaAnswering(async () => Promise.reject(new Error('ECONNREFUSED 10.0.0.1:5432'))), ready(3, 2))();
  assert.deepEqual(failed, { status: 'unavailable', reason: 'metadata' });
  const hung = await healthCheck(metaAnswering(() => new Promise(() => undefined)), ready(3, 2), { metaTimeoutMs: 50 })();
  assert.deepEqual(hung, { status: 'unavailable', reason: 'metadata' });
});

test('healthCheck - storage reason when fewer targets are up than a write needs, no-layout without an epoch', async () => {
  assert.deepEqual(await healthCheck(metaAnswering(async () => null), ready(1, 2))(), { status: 'unavailable', reason: 'storage' }, 'no counts reach an anonymous caller');
  assert.equal((await healthCheck(metaAnswering(async () => null), ready(0, 1, 0))()).reason, 'no-layout');
  const failing = { writeReadiness: () => Promise.reject(new Error('closed')) };
  assert.equal((await healthCheck(metaAnswering(async () => null), failing)()).reason, 'storage');
});

test('healthCheck - logs a change of state once, with the detail the answer leaves out', async () => {
  const lines: [string, string, Record<string, unknown> | undefined][] = [];
  const record = (level: string) => (msg: string, fields?: Record<string, unknown>) => lines.push([level, msg, fields]);
  const log: Logger = { debug: record('debug'), info: record('info'), warn: record('warn'), error: record('error') };
  let up = 1;
  const check = healthCheck(metaAnswering(async () => null), { writeReadiness: async () => ({ epoch: 1, up, needed: 2 }) }, { log });
  await check();
  await check();
  up = 2;
  await check();
  assert.deepEqual(lines.map(([level]) => level), ['warn', 'info']);
  assert.match(String(lines[0]![2]?.detail), /1 storage targets are up; a write needs 2/);
});

test('healthCheck - calls while one runs share its answer', async () => {
  let reads = 0;
  const check = healthCheck(metaAnswering(async () => (reads++, null)), ready(3, 2));
  await Promise.all([check(), check(), check()]);
  assert.equal(reads, 1);
});

test('healthRequestKind - GET and HEAD of the live, ready and alias paths only', () => {
  assert.equal(healthRequestKind('GET', '/_tessera/health'), 'ready');
  assert.equal(healthRequestKind('HEAD', '/_tessera/health?x=1'), 'ready');
  assert.equal(healthRequestKind('GET', '/_tessera/health/ready'), 'ready');
  assert.equal(healthRequestKind('GET', '/_tessera/health/live?probe=1'), 'live');
  assert.equal(healthRequestKind('PUT', '/_tessera/health/live'), undefined);
  assert.equal(healthRequestKind('GET', '/_tessera/healthz'), undefined);
  assert.equal(healthRequestKind('GET', '/_tessera/health/'), undefined);
  assert.equal(healthRequestKind('GET', '/bucket/_tessera/health'), undefined);
});
