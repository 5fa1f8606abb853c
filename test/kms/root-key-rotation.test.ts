// Replacing the KMS root key on a real server, as an operator does: restart with the new root key and the
// old one as a previous key, `tessera admin kms rewrap`, restart with the new one alone. The rewrap says
// when the old key may go; run twice it does nothing more; a server given only a stranger key says it
// cannot open what it holds.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot, startTessera, type TesseraProcess } from '../helpers/tessera.js';

const exec = promisify(execFile);

async function cli(server: TesseraProcess, ...args: string[]): Promise<string> {
  const { stdout } = await exec(process.execPath, [join(repoRoot, 'bin', 'tessera.js'), 'admin', 'kms', ...args, '--endpoint', server.url], {
    env: { ...process.env, TESSERA_ROOT_ACCESS_KEY: server.accessKeyId, TESSERA_ROOT_SECRET_KEY: server.secretAccessKey },
  });
  return stdout;
}

interface Rewrap { keys: number; versionsResealed: number; versionsUnopenable: number; rootKeyId: string }

async function withServer<T>(dataDir: string, args: string[], fn: (server: TesseraProcess) => Promise<T>, env: Record<string, string> = {}): Promise<T> {
  const server = await startTessera({ dataDir, args, env });
  try {
    return await fn(server);
  } finally {
    await server.stop();
  }
}

test('tessera admin kms rewrap - moves every master key to a new root key, crash-safe to rerun, after which the old key may go', async () => {
  const dataDir = await mkdtemp(join(tmpdir(), 'tessera-kms-root-'));
  try {
    await withServer(dataDir, [], async (server) => {
      await cli(server, 'create', 'rot-1');
      await cli(server, 'rotate', 'rot-1');
      await cli(server, 'create', 'rot-2');
    });
    const oldKey = join(dataDir, 'old.key');
    const newKey = join(dataDir, 'new.key');
    await rename(join(dataDir, 'kms.key'), oldKey);
    await writeFile(newKey, `${randomBytes(32).toString('hex')}\n`, { mode: 0o600 });

    const rootKeyId = await withServer(dataDir, ['--kms-root-key-file', newKey, '--kms-previous-root-key-file', oldKey], async (server) => {
      assert.match(await cli(server, 'rewrap'), /^Re-sealed 3 key versions of 2 keys under root key [0-9a-f]{16}; every key version is now sealed under it: the previous root keys may be dropped\n$/);
      const again = JSON.parse(await cli(server, 'rewrap', '--json')) as Rewrap;
      assert.deepEqual({ ...again, rootKeyId: '' }, { keys: 2, versionsResealed: 0, versionsUnopenable: 0, rootKeyId: '' });
      return again.rootKeyId;
    });
    // The new key alone holds everything.
    await withServer(dataDir, ['--kms-root-key-file', newKey], async (server) => {
      assert.deepEqual(JSON.parse(await cli(server, 'rewrap', '--json')), { keys: 2, versionsResealed: 0, versionsUnopenable: 0, rootKeyId });
      assert.match(await cli(server, 'show', 'rot-1'), /^versions: +2$/m);
    });
    // Given through the environment, a root key nobody sealed under: it says what it cannot open.
    await withServer(dataDir, [], async (server) => {
      assert.match(await cli(server, 'rewrap'), /3 key versions are sealed under a root key this server was not given/);
    }, { TESSERA_KMS_ROOT_KEY: randomBytes(32).toString('hex'), TESSERA_KMS_PREVIOUS_ROOT_KEYS: randomBytes(32).toString('hex') });
  } finally {
    await rm(dataDir, { recursive: true, force: true });
  }
});
