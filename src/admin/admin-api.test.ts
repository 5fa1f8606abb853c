import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isAdminRequest } from './admin-api.js';

test('isAdminRequest - claims the admin API, the console and a GET of metrics, leaves the rest to S3', () => {
  assert.equal(isAdminRequest('GET', '/_tessera/admin/status'), true);
  assert.equal(isAdminRequest('POST', '/_tessera/admin/heal?x=1'), true);
  assert.equal(isAdminRequest('GET', '/_tessera/metrics'), true);
  assert.equal(isAdminRequest('GET', '/_tessera/metrics?format=text'), true);
  assert.equal(isAdminRequest('PUT', '/_tessera/metrics'), false);
  assert.equal(isAdminRequest('GET', '/_tessera/metricsx'), false);
  assert.equal(isAdminRequest('GET', '/_tessera/other'), false);
  assert.equal(isAdminRequest('GET', '/_tessera/console'), true);
  assert.equal(isAdminRequest('GET', '/_tessera/console/app.js'), true);
  assert.equal(isAdminRequest('PUT', '/_tessera/console/'), true);
  assert.equal(isAdminRequest('GET', '/_tessera/consolex'), false);
  assert.equal(isAdminRequest('GET', '/bucket/_tessera/admin/status'), false);
  assert.equal(isAdminRequest('GET', '/'), false);
  assert.equal(isAdminRequest('GET', ''), false);
});
