// One server per data directory: a second one on the same directory refuses to start instead of serving
// beside the first from an incoherent read cache, and a kill -9 leaves no lock behind.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { GetObjectCommand, CreateBucketCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { repoRoot, startTessera, withClient } from './helpers/tessera.js';

function runSecondServer(dataDir: string): Promise<{ code: number | null; stderr: string }> {
  const child = spawn(process.execPath, [join(repoRoot, 'bin', 'tessera.js'), 'server', '--address', '127.0.0.1:0', '--data', dataDir], {
    env: { ...process.env, TESSERA_ROOT_ACCESS_KEY: 'TESTACCESSKEY0000002', TESSERA_ROOT_SECRET_KEY: 'test/secret/key/0000000000000000000000002' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), 20_000); // a second server that started would never exit
  return new Promise((resolve) => child.once('exit', (code) => {
    clearTimeout(timer);
    resolve({ code, stderr });
  }));
}

test('data directory lock - a second server on it exits with a clear error; the first serves on; kill -9 frees it', async () => {
  const first = await startTessera();
  let restarted: Awaited<ReturnType<typeof startTessera>> | undefined;
  try {
    await withClient(first, async (s3) => {
      await s3.send(new CreateBucketCommand({ Bucket: 'lock' }));
      await s3.send(new PutObjectCommand({ Bucket: 'lock', Key: 'k', Body: 'kept' }));
    });
    const second = await runSecondServer(first.dataDir);
    assert.equal(second.code, 1, `the second server exited with ${second.code}: ${second.stderr}`);
    assert.match(second.stderr, /Cannot start on data directory ".*": another Tessera server is using it/);
    await withClient(first, async (s3) => {
      assert.equal(await (await s3.send(new GetObjectCommand({ Bucket: 'lock', Key: 'k' }))).Body!.transformToString(), 'kept');
    });
    await first.kill9();
    restarted = await startTessera({ dataDir: first.dataDir });
    await withClient(restarted, async (s3) => {
      assert.equal(await (await s3.send(new GetObjectCommand({ Bucket: 'lock', Key: 'k' }))).Body!.transformToString(), 'kept');
    });
  } finally {
    if (restarted) await restarted.cleanup();
    await first.cleanup();
  }
});
