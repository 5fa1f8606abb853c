import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { MetaStore } from '../meta/types.js';
import { healthCheck, isHealthRequest } from './health.js';

function metaAnswering(get: () => Promise<Buffer | null>): MetaStore {
  return { get, scan: async () => [], readMany: async () => ({ values: [], scans: [] }), commit: async () => true, close: async () => undefined };
}
const ready = (up: number, needed: number, epoch = 1) => ({ writeReadiness: async () => ({ epoch, up, needed }) });

test('healthCheck - ok when the MetaStore answers and enough targets are up', async () => {
  assert.deepEqual(await healthCheck(metaAnswering(async () => null), ready(3, 2))(), { status: 'ok' });
});

test('healthCheck - metadata reason when the MetaStore read fails or outlasts the bound', async () => {
  const failed = await healthCheck(metaAnswering(async () => Promise.reject(new Error('ECONNREFUSED 10.0.0.1:5432'))), ready(3, 2))();
  assert.equal(failed.reason, 'metadata');
  assert.ok(!JSON.stringify(failed).includes('10.0.0.1'), 'no address reaches an anonymous caller');
  const hung = await healthCheck(metaAnswering(() => new Promise(() => undefined)), ready(3, 2), 50)();
  assert.deepEqual([hung.status, hung.reason], ['unavailable', 'metadata']);
});

test('healthCheck - storage reason when fewer targets are up than a write needs, no-layout without an epoch', async () => {
  assert.equal((await healthCheck(metaAnswering(async () => null), ready(1, 2))()).reason, 'storage');
  assert.equal((await healthCheck(metaAnswering(async () => null), ready(0, 1, 0))()).reason, 'no-layout');
});

test('healthCheck - calls while one runs share its answer', async () => {
  let reads = 0;
  const check = healthCheck(metaAnswering(async () => (reads++, null)), ready(3, 2));
  await Promise.all([check(), check(), check()]);
  assert.equal(reads, 1);
});

test('isHealthRequest - GET and HEAD of the one path only', () => {
  assert.ok(isHealthRequest('GET', '/_tessera/health'));
  assert.ok(isHealthRequest('HEAD', '/_tessera/health?x=1'));
  assert.ok(!isHealthRequest('PUT', '/_tessera/health'));
  assert.ok(!isHealthRequest('GET', '/_tessera/healthz'));
});
