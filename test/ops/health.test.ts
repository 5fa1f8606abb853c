// Health checks (issue #14) on a single server with six drives at RS 4+2: live and ready answer anonymous
// GET and HEAD with nothing but a state; ready turns 503 when three drives fail (below the write quorum of
// five) and 200 again once they return, while live stays 200 throughout.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { rename } from 'node:fs/promises';
import { startEcServer } from '../ec/helpers.js';

const ec = await startEcServer(6);
after(() => ec.cleanup());

async function check(path: string, method = 'GET'): Promise<{ status: number; body: string }> {
  const res = await fetch(`${ec.server.url}${path}`, { method });
  return { status: res.status, body: await res.text() };
}

/** Polls `path` until it answers `status`: the block store looks at its drives again every few seconds. */
async function waitForStatus(path: string, status: number, timeoutMs = 20_000): Promise<string> {
  const deadlineMs = Date.now() + timeoutMs;
  let last = { status: 0, body: '' };
  while (Date.now() < deadlineMs) {
    last = await check(path);
    if (last.status === status) return last.body;
    await new Promise((r) => setTimeout(r, 250));
  }
  assert.fail(`${path} still answered ${last.status} ${last.body} after ${timeoutMs} ms, not ${status}`);
}

test('health - live, ready and the old alias answer 200 with only a status when every drive is up', async () => {
  for (const path of ['/_tessera/health/live', '/_tessera/health/ready', '/_tessera/health']) {
    const res = await check(path);
    assert.equal(res.status, 200, path);
    assert.deepEqual(JSON.parse(res.body), { status: 'ok' }, path);
    assert.equal((await check(path, 'HEAD')).status, 200, `HEAD ${path}`);
  }
});

test('health - ready answers 503 when three of six drives fail, and 200 once they return; live stays 200', async () => {
  const failed = ec.drives.slice(0, 3);
  for (const drive of failed) await rename(drive, `${drive}.gone`);
  const body = await waitForStatus('/_tessera/health/ready', 503);
  assert.deepEqual(JSON.parse(body), { status: 'unavailable', reason: 'storage' }, 'no count, path or drive id reaches an anonymous caller');
  assert.equal((await check('/_tessera/health')).status, 503, 'the alias follows ready');
  assert.equal((await check('/_tessera/health/live')).status, 200);
  await ec.server.logged(/Not ready.*3 storage targets are up; a write needs 5/);
  for (const drive of failed) await rename(`${drive}.gone`, drive);
  assert.deepEqual(JSON.parse(await waitForStatus('/_tessera/health/ready', 200)), { status: 'ok' });
});

test('health - one failed drive of six leaves the server ready (a write needs five)', async () => {
  await rename(ec.drives[5]!, `${ec.drives[5]!}.gone`);
  await new Promise((r) => setTimeout(r, 2500)); // past the block store's look at its drives
  assert.equal((await check('/_tessera/health/ready')).status, 200);
  await rename(`${ec.drives[5]!}.gone`, ec.drives[5]!);
});
