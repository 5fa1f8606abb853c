// Checks the README's claim about PostgreSQL failover: with a synchronous standby (synchronous_commit = on,
// synchronous_standby_names naming it), every commit the MetaStore acknowledged survives the primary's
// crash and the standby's promotion. A primary and a streaming standby (Debian's binaries, loopback, fsync
// on) in a temporary directory; writers commit through PostgresMetaStore; the primary is killed with
// SIGKILL mid-load; the standby is promoted; every acknowledged key must be on it with its value.
// Run: npx tsx bench/pg-failover.ts [--mode sync|async] [--seconds 3] [--writers 8]
// Exit status 0 when nothing acknowledged was lost.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { appendFileSync, chownSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PostgresMetaStore } from '../src/meta/postgres/postgres-store.js';
import { postgresBinDir } from '../test/helpers/postgres.js';

const user = 'tessera';
const standbyName = 'standby1';

function option(name: string, fallback: string): string {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1]! : fallback;
}

const mode = option('--mode', 'sync');
if (mode !== 'sync' && mode !== 'async') throw new RangeError(`Unknown --mode "${mode}": expected sync or async`);
const seconds = Number(option('--seconds', '3'));
const writers = Number(option('--writers', '8'));
const bin = postgresBinDir();
if (bin === undefined) throw new Error('Cannot find PostgreSQL under /usr/lib/postgresql (install the postgresql package)');

/** As root, initdb and postgres must run as the postgres system user (they refuse root). */
function owner(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const line = readFileSync('/etc/passwd', 'utf8').split('\n').find((l) => l.startsWith('postgres:'));
  if (!line) throw new Error('Cannot run PostgreSQL as root: there is no "postgres" system user');
  const [, , uid, gid] = line.split(':');
  return { uid: Number(uid), gid: Number(gid) };
}
const runAs = owner();

function run(program: string, args: string[]): string {
  const result = spawnSync(join(bin!, program), args, { ...(runAs ?? {}), encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`${program} ${args.join(' ')} failed: ${result.stderr || result.error?.message}`);
  return result.stdout;
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

interface Instance {
  port: number;
  dataDir: string;
  child: ChildProcess;
  log(): string;
}

async function startInstance(dataDir: string, port: number, socketDir: string, settings: string[]): Promise<Instance> {
  const args = ['-D', dataDir, '-p', String(port), '-k', socketDir, '-c', 'listen_addresses=127.0.0.1', ...settings.flatMap((s) => ['-c', s])];
  const child = spawn(join(bin!, 'postgres'), args, { ...(runAs ?? {}), stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  child.stderr!.on('data', (d: Buffer) => (log += d.toString()));
  process.once('exit', () => child.kill('SIGKILL'));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`PostgreSQL on ${port} did not start: ${log}`)), 30_000);
    const check = () => {
      if (/ready to accept (read-only )?connections/.test(log)) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stderr!.on('data', check);
    child.once('exit', (code) => reject(new Error(`PostgreSQL on ${port} exited with ${code}: ${log}`)));
  });
  return { port, dataDir, child, log: () => log };
}

async function stopInstance(instance: Instance, signal: NodeJS.Signals): Promise<void> {
  if (instance.child.exitCode !== null || instance.child.signalCode !== null) return;
  const exited = new Promise<void>((r) => instance.child.once('exit', () => r()));
  instance.child.kill(signal);
  await exited;
}

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'tessera-failover-'));
  const socketDir = join(dir, 'socket');
  await mkdir(socketDir);
  if (runAs) for (const path of [dir, socketDir]) chownSync(path, runAs.uid, runAs.gid);
  const primaryDir = join(dir, 'primary');
  const standbyDir = join(dir, 'standby');
  const instances: Instance[] = [];
  try {
    run('initdb', ['-D', primaryDir, '-U', user, '--auth=trust', '-E', 'UTF8', '--locale=C']);
    // Replication connections from loopback, trusted like the rest of this throwaway cluster.
    appendFileSync(join(primaryDir, 'pg_hba.conf'), 'host replication all 127.0.0.1/32 trust\n');
    const primaryPort = await freePort();
    const standbyPort = await freePort();
    // The settings under test. synchronous_commit = on with a named synchronous standby: a commit returns
    // only once the standby has flushed its WAL to disk. async: the same cluster without the standby named.
    const durability = ['fsync=on', 'synchronous_commit=on', `synchronous_standby_names=${mode === 'sync' ? `FIRST 1 (${standbyName})` : ''}`];
    const primary = await startInstance(primaryDir, primaryPort, socketDir, ['wal_level=replica', 'max_wal_senders=4', ...durability]);
    instances.push(primary);
    run('pg_basebackup', ['-h', '127.0.0.1', '-p', String(primaryPort), '-U', user, '-D', standbyDir, '-X', 'stream', '-c', 'fast']);
    writeFileSync(join(standbyDir, 'standby.signal'), '');
    appendFileSync(join(standbyDir, 'postgresql.auto.conf'), `primary_conninfo = 'host=127.0.0.1 port=${primaryPort} user=${user} application_name=${standbyName}'\n`);
    if (runAs) {
      chownSync(join(standbyDir, 'standby.signal'), runAs.uid, runAs.gid);
    }
    // Not the primary's synchronous_standby_names: once promoted it would wait for a standby of its own
    // that does not exist, and every write would hang (an operator sets it when a new standby joins).
    const standby = await startInstance(standbyDir, standbyPort, socketDir, ['hot_standby=on', 'fsync=on', 'synchronous_commit=on']);
    instances.push(standby);

    const primaryUrl = `postgres://${user}@127.0.0.1:${primaryPort}/postgres`;
    const store = await PostgresMetaStore.open({ url: primaryUrl, statementTimeoutMs: 5_000, connectTimeoutMs: 2_000 });
    // Wait until the standby streams (and, in sync mode, is the synchronous one) before loading.
    const probe = await PostgresMetaStore.open({ url: primaryUrl });
    await probe.close();
    for (let i = 0; ; i++) {
      const state = run('psql', ['-h', '127.0.0.1', '-p', String(primaryPort), '-U', user, '-d', 'postgres', '-Atc', 'SELECT sync_state FROM pg_stat_replication']).trim();
      if (state === (mode === 'sync' ? 'sync' : 'async')) break;
      if (i > 100) throw new Error(`The standby did not start streaming (pg_stat_replication: "${state}")`);
      await new Promise((r) => setTimeout(r, 100));
    }

    const acknowledged: Buffer[] = [];
    let failed = 0;
    let next = 0;
    let stop = false;
    const value = (key: Buffer) => Buffer.concat([Buffer.from('value of '), key]);
    const loops = Array.from({ length: writers }, async () => {
      while (!stop) {
        const key = Buffer.from(`k${String(next++).padStart(8, '0')}`);
        try {
          if (await store.commit({ checks: [{ key, value: null }], writes: [{ key, value: value(key) }] })) acknowledged.push(key);
        } catch {
          failed++; // the primary is gone: outcome unknown, not acknowledged
          await new Promise((r) => setTimeout(r, 20));
        }
      }
    });
    await new Promise((r) => setTimeout(r, seconds * 1000));
    await stopInstance(primary, 'SIGKILL'); // a crash: no shutdown checkpoint, no final WAL sent
    const killedAt = acknowledged.length;
    await new Promise((r) => setTimeout(r, 300));
    stop = true;
    await Promise.all(loops);
    await store.close();

    run('pg_ctl', ['promote', '-D', standbyDir, '-w']);
    const promoted = await PostgresMetaStore.open({ url: `postgres://${user}@127.0.0.1:${standbyPort}/postgres` });
    let lost = 0;
    let wrong = 0;
    for (let i = 0; i < acknowledged.length; i += 500) {
      const batch = acknowledged.slice(i, i + 500);
      const { values } = await promoted.readMany({ gets: batch, scans: [] });
      values.forEach((v, j) => {
        if (v === null) lost++;
        else if (!v.equals(value(batch[j]!))) wrong++;
      });
    }
    await promoted.close();
    console.log(`mode: ${mode} (synchronous_standby_names ${mode === 'sync' ? `'FIRST 1 (${standbyName})'` : "''"}, synchronous_commit on, fsync on)`);
    console.log(`acknowledged commits: ${acknowledged.length} (${killedAt} when the primary was killed), failed or unknown: ${failed}`);
    console.log(`on the promoted standby: ${acknowledged.length - lost - wrong} present, ${lost} lost, ${wrong} with another value`);
    process.exitCode = lost + wrong === 0 ? 0 : 1;
  } finally {
    for (const instance of instances.reverse()) await stopInstance(instance, 'SIGINT');
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
