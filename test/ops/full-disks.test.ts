// Full disks (issue #10): a write that loses its quorum because data drives are full says which drives and
// how full, and a full metadata disk says so, in the 503 body and in the log; neither blames drive health
// or a shutdown. The disks are small tmpfs mounts (root only; skipped elsewhere unless CI=true).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile, unlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTessera } from '../helpers/tessera.js';
import { assertS3Error, raw } from '../s3/raw-http.js';

const exec = promisify(execFile);
const root = await mkdtemp(join(tmpdir(), 'tessera-full-'));
const mounted: string[] = [];
after(async () => {
  for (const dir of mounted) await exec('umount', [dir]).catch(() => undefined);
  await rm(root, { recursive: true, force: true });
});

/** Mounts a tmpfs of `size` at `dir`; false when this host does not allow it. */
async function tmpfs(dir: string, size: string): Promise<boolean> {
  await mkdir(dir, { recursive: true });
  try {
    await exec('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', dir]);
    mounted.push(dir);
    return true;
  } catch (err) {
    if (process.env.CI === 'true') throw err;
    return false;
  }
}

test('full disks - a PUT that loses its quorum to full drives gets 503 naming the drives and how full', async (t) => {
  const drives = [join(root, 'd1'), join(root, 'd2'), join(root, 'd3')];
  if (!(await tmpfs(drives[1]!, '1m')) || !(await tmpfs(drives[2]!, '1m'))) return t.skip('cannot mount tmpfs here');
  const server = await startTessera({ dataDir: join(root, 'data1'), args: ['--drives', drives.join(',')] });
  try {
    assert.equal((await raw(server, { method: 'PUT', path: '/full' })).status, 200);
    const res = await raw(server, { method: 'PUT', path: '/full/big', body: randomBytes(6 * 1024 * 1024) });
    const body = assertS3Error(res, 503, 'ServiceUnavailable');
    assert.match(body.Message!.replaceAll('&quot;', '"'), /^Cannot write: drives "[^"]+" \(\d+% used\), "[^"]+" \(\d+% used\) are full$/);
    assert.doesNotMatch(body.Message!, /healthy/);
    const logged = await server.logged(/ERR_DRIVES_FULL/);
    assert.ok(logged.includes(drives[1]!) && logged.includes(drives[2]!), 'the log names the full drives\' paths');
    assert.match(logged, /ENOSPC/);
  } finally {
    await server.stop();
  }
});

test('full disks - a write to a full metadata disk gets 503 "metadata disk is full" and the log names the path', async (t) => {
  const dataDir = join(root, 'meta-disk');
  if (!(await tmpfs(dataDir, '4m'))) return t.skip('cannot mount tmpfs here');
  const server = await startTessera({ dataDir, args: ['--drives', join(root, 'meta-test-drive')] });
  try {
    assert.equal((await raw(server, { method: 'PUT', path: '/meta' })).status, 200);
    // Take all but a few KiB of the disk; small objects go inline into the metadata, so PUTs fill it.
    const filler = join(dataDir, 'filler');
    await writeFile(filler, Buffer.alloc(0));
    for (;;) {
      const written = await writeFile(filler, Buffer.alloc(64 * 1024), { flag: 'a' }).then(() => true, () => false);
      if (!written) break;
    }
    let res = await raw(server, { method: 'PUT', path: '/meta/k0', body: randomBytes(3000) });
    for (let i = 1; i < 200 && res.status === 200; i++) res = await raw(server, { method: 'PUT', path: `/meta/k${i}`, body: randomBytes(3000) });
    const body = assertS3Error(res, 503, 'ServiceUnavailable');
    assert.equal(body.Message, 'Cannot write: the metadata disk is full');
    const logged = await server.logged(/ERR_META_FULL/);
    assert.ok(logged.includes(join(dataDir, 'meta', 'tessera.db')), 'the log names the database path');
    assert.doesNotMatch(logged, /shutting down/);
    // Space comes back: writes work again without a restart.
    await unlink(filler);
    assert.equal((await raw(server, { method: 'PUT', path: '/meta/after', body: 'ok' })).status, 200);
  } finally {
    await server.stop();
  }
});
