// Heal is resumable (issue #3): a heal pass killed with SIGKILL part-way continues from its saved cursor
// after a restart instead of starting over, and finishes with full redundancy.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { CreateBucketCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { shardCount, startEcProcess } from './helpers.js';
import { repoRoot, type TesseraProcess } from '../helpers/tessera.js';

const exec = promisify(execFile);
const blocks = 40;
// 2 blocks/s with 16 blocks per step: a step, then an 8 s pause, so the kill almost always lands between
// steps, and after the restart the resumed pass is still running when the status is read (a loaded
// machine took more than the 4 s pause of 4 blocks/s to start the server and the admin CLI). Landing
// inside a step only means a few blocks are healed twice; the assertions allow it.
const slowHeal = ['--heal-rate', '2'];

interface HealProgress {
  running: boolean;
  blocksChecked: number;
  blocksTotal: number;
  shardsRebuilt: number;
}

async function admin(server: TesseraProcess, ...args: string[]): Promise<string> {
  const { stdout } = await exec(process.execPath, [join(repoRoot, 'bin', 'tessera.js'), 'admin', ...args, '--endpoint', server.url], {
    env: { ...process.env, TESSERA_ROOT_ACCESS_KEY: server.accessKeyId, TESSERA_ROOT_SECRET_KEY: server.secretAccessKey },
  });
  return stdout;
}

async function healProgress(server: TesseraProcess): Promise<HealProgress> {
  return (JSON.parse(await admin(server, 'status', '--json')) as { maintenance: { heal: HealProgress } }).maintenance.heal;
}

test('heal - a pass killed part-way resumes from its cursor after a restart', async () => {
  const root = await mkdtemp(join(tmpdir(), 'tessera-heal-resume-'));
  const drives = Array.from({ length: 6 }, (_, i) => join(root, `drive${i + 1}`));
  let server = await startEcProcess(root, drives, slowHeal);
  try {
    const s3 = server.client();
    await s3.send(new CreateBucketCommand({ Bucket: 'resume' }));
    for (let i = 0; i < blocks; i++) await s3.send(new PutObjectCommand({ Bucket: 'resume', Key: `o${i}`, Body: randomBytes(100_000) }));
    s3.destroy();
    await rm(drives[3]!, { recursive: true, force: true });
    await mkdir(drives[3]!);
    await admin(server, 'heal', '--no-wait');
    let progress = await healProgress(server);
    for (let i = 0; i < 100 && progress.blocksChecked === 0; i++) {
      await new Promise((r) => setTimeout(r, 50));
      progress = await healProgress(server);
    }
    assert.ok(progress.running && progress.blocksChecked > 0 && progress.blocksChecked < blocks, `killed part-way (${progress.blocksChecked} of ${blocks})`);
    const checkedBeforeKill = progress.blocksChecked;
    await server.kill9();

    server = await startEcProcess(root, drives, slowHeal);
    progress = await healProgress(server);
    assert.ok(progress.running, 'the pass is still running after the restart');
    assert.ok(progress.blocksChecked >= checkedBeforeKill, 'the pass kept its progress');
    for (let i = 0; i < 300 && progress.running; i++) {
      await new Promise((r) => setTimeout(r, 100));
      progress = await healProgress(server);
    }
    assert.equal(progress.running, false);
    assert.equal(progress.blocksChecked, blocks, 'the pass went on from its cursor, not from the start');
    assert.equal((await shardCount(drives[3]!)), blocks, 'every block got its lost shard back');
  } finally {
    await server.stop();
    await rm(root, { recursive: true, force: true });
  }
});
