// Issue 10, "A hung drive hangs requests": with one of six drives not answering at all, PUTs and GETs of
// block objects and `tessera admin status` still answer, the drive shows as suspect, and it comes back once
// it answers again. The hang is real: the test-only fault hook (src/blocks/drive-io.ts) makes every call on
// the drive open a FIFO no one writes to, which blocks a libuv thread the way a stuck FUSE mount does.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { mkdtemp, open, rm, unlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { CreateBucketCommand, GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { repoRoot, startTessera } from '../helpers/tessera.js';
import type { DriveStatus } from '../../src/blocks/types.js';

const exec = promisify(execFile);
const driveTimeoutMs = 1000;
/** Far above one drive timeout, far below "hangs": a request not done by then counts as hung. */
const requestDeadlineMs = 15_000;

const root = await mkdtemp(join(tmpdir(), 'tessera-hung-'));
const drives = Array.from({ length: 6 }, (_, i) => join(root, `drive${i + 1}`));
const hungDrive = drives[2]!;
const fifo = join(root, 'hang.fifo');
const server = await startTessera({
  dataDir: join(root, 'data'),
  args: ['--drives', drives.join(','), '--drive-timeout', String(driveTimeoutMs)],
  env: { TESSERA_TEST_FAULTS: JSON.stringify({ hang: [{ drive: hungDrive, fifo }] }) },
});
const s3 = server.client();
after(async () => {
  s3.destroy();
  await releaseHang().catch(() => undefined); // threads blocked in open() would keep the server from exiting cleanly
  await server.stop();
  await rm(root, { recursive: true, force: true });
});

const bodies = new Map<string, Buffer>();

async function put(key: string): Promise<void> {
  const body = randomBytes(3 * 1024 * 1024);
  await s3.send(new PutObjectCommand({ Bucket: 'hung', Key: key, Body: body }), { abortSignal: AbortSignal.timeout(requestDeadlineMs) });
  bodies.set(key, body);
}

async function getExact(key: string): Promise<void> {
  const res = await s3.send(new GetObjectCommand({ Bucket: 'hung', Key: key }), { abortSignal: AbortSignal.timeout(requestDeadlineMs) });
  const got = Buffer.from(await res.Body!.transformToByteArray());
  assert.ok(got.equals(bodies.get(key)!), `"${key}" reads back exactly`);
}

async function admin(...args: string[]): Promise<string> {
  const { stdout } = await exec(process.execPath, [join(repoRoot, 'bin', 'tessera.js'), 'admin', ...args, '--endpoint', server.url], {
    env: { ...process.env, TESSERA_ROOT_ACCESS_KEY: server.accessKeyId, TESSERA_ROOT_SECRET_KEY: server.secretAccessKey },
    timeout: requestDeadlineMs,
  });
  return stdout;
}

async function driveStates(): Promise<string[]> {
  const status = JSON.parse(await admin('status', '--json')) as { drives: DriveStatus[] };
  return status.drives.map((d) => (d.path === hungDrive ? `hung:${d.state}` : d.state));
}

/** Lets the blocked calls go (a writer opens the FIFO) and stops new ones blocking (the FIFO goes). */
async function releaseHang(): Promise<void> {
  const writer = await open(fifo, constants.O_WRONLY | constants.O_NONBLOCK).catch(() => undefined); // ENXIO: nobody blocked
  await unlink(fifo).catch(() => undefined);
  await writer?.close();
}

test('hung drive - PUT and GET of 3 MiB objects and admin status answer while one of six drives hangs (issue 10)', async () => {
  await s3.send(new CreateBucketCommand({ Bucket: 'hung' }));
  await put('before');
  await exec('mkfifo', [fifo]); // from now on every call on the drive blocks
  // Before the drive is known to hang, more calls reach it than libuv's default 4 threads: it must not take them all.
  await Promise.all([...['a', 'b', 'c', 'd', 'e', 'f'].map((key) => put(`during-${key}`)), getExact('before')]);
  await put('later'); // the drive is suspect by now: skipped, not waited on
  await Promise.all([...bodies.keys()].map(getExact));
  const states = await driveStates();
  assert.ok(states.includes('hung:suspect'), `the hung drive shows as suspect: ${states.join(', ')}`);
  assert.equal(states.filter((s) => s === 'ok').length, 5, `the other drives are ok: ${states.join(', ')}`);
  // Heal first revives drives that came back empty: a hung one must be left alone, not waited on.
  assert.match(await admin('heal'), /Heal finished/);
});

test('hung drive - a drive that answers again is ok at the next probe, and serves reads', async () => {
  await releaseHang();
  let states: string[] = [];
  for (let tries = 0; tries < 50; tries++) {
    states = await driveStates();
    if (states.every((s) => s === 'ok' || s === 'hung:ok')) break;
    await new Promise((r) => setTimeout(r, 200));
  }
  assert.deepEqual(states.filter((s) => s !== 'ok'), ['hung:ok']);
  await put('after');
  await getExact('after');
});
