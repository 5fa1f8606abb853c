// Starts a throwaway PostgreSQL (Debian's binaries under /usr/lib/postgresql/*/bin) in a temporary
// directory on a free loopback port, for tests. As root (CI) the server runs as the `postgres` system user,
// since initdb and postgres refuse root. Tests skip without the binaries, except under CI=true.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chownSync, existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';

/** The bin directory of the newest installed PostgreSQL, or undefined. */
export function postgresBinDir(): string | undefined {
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return undefined;
  const versions = readdirSync(root)
    .filter((v) => existsSync(join(root, v, 'bin', 'initdb')) && existsSync(join(root, v, 'bin', 'postgres')))
    .sort((a, b) => Number(b) - Number(a));
  return versions[0] === undefined ? undefined : join(root, versions[0], 'bin');
}

/**
 * For `test(name, { skip: skipWithoutPostgres() }, ...)`: a reason to skip when PostgreSQL is not
 * installed, false when it is. Under CI=true it never skips, so a missing PostgreSQL fails the tests there.
 */
export function skipWithoutPostgres(): string | false {
  if (postgresBinDir() !== undefined || process.env.CI === 'true') return false;
  return 'PostgreSQL is not installed (/usr/lib/postgresql/*/bin); CI installs it';
}

export interface PostgresServer {
  port: number;
  /** postgres://tessera@127.0.0.1:PORT/DB */
  url(database?: string): string;
  /** Creates an empty database and returns its URL. */
  createDatabase(): Promise<string>;
  /** Stops the server (fast shutdown: sessions are ended) and waits for it to exit; the data stays. */
  stop(): Promise<void>;
  /** Starts it again on the same port and data. */
  start(): Promise<void>;
  /** The postmaster's pid while it runs (its backends are its children), for CPU accounting. */
  pid(): number | undefined;
  /** What the server logged, for failure messages. */
  logs(): string;
  /** Stops it and removes its directory. */
  cleanup(): Promise<void>;
}

const superuser = 'tessera';
const setpriv = '/usr/bin/setpriv';

function systemUser(name: string): { uid: number; gid: number } {
  const line = readFileSync('/etc/passwd', 'utf8').split('\n').find((l) => l.startsWith(`${name}:`));
  if (!line) throw new Error(`Cannot run PostgreSQL as root: there is no "${name}" system user`);
  const [, , uid, gid] = line.split(':');
  return { uid: Number(uid), gid: Number(gid) };
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

let databaseCount = 0;

export interface StartPostgresOptions {
  /**
   * fsync and full-page writes on, as in production (default off: tests never cut power). Benchmarks that
   * measure commit rates need it.
   */
  durable?: boolean;
}

export async function startPostgres(options: StartPostgresOptions = {}): Promise<PostgresServer> {
  const bin = postgresBinDir();
  if (bin === undefined) throw new Error('Cannot start PostgreSQL: no /usr/lib/postgresql/*/bin/initdb (install the postgresql package)');
  const dir = await mkdtemp(join(tmpdir(), 'tessera-pg-'));
  const dataDir = join(dir, 'data');
  const socketDir = join(dir, 'socket');
  await mkdir(socketDir);
  // initdb and postgres refuse to run as root; run them as the postgres system user, owning the directory.
  const owner = process.getuid?.() === 0 ? systemUser('postgres') : undefined;
  if (owner) for (const path of [dir, socketDir]) chownSync(path, owner.uid, owner.gid);
  const asOwner = owner ? { uid: owner.uid, gid: owner.gid } : {};
  const init = spawnSync(join(bin, 'initdb'), ['-D', dataDir, '-U', superuser, '--auth=trust', '-E', 'UTF8', '--locale=C', '--no-sync'], {
    ...asOwner,
    cwd: dir,
    encoding: 'utf8',
  });
  if (init.status !== 0) {
    await rm(dir, { recursive: true, force: true });
    throw new Error(`Cannot initdb in "${dataDir}": ${init.stderr || init.error?.message}`);
  }
  const port = await freePort();
  let log = '';
  let child: ChildProcess | undefined;

  const start = async (): Promise<void> => {
    // fsync off: these tests never cut power, and a cluster starts and commits much faster without it.
    const durability = options.durable ? [] : ['-c', 'fsync=off', '-c', 'full_page_writes=off'];
    const args = ['-D', dataDir, '-p', String(port), '-k', socketDir, '-c', 'listen_addresses=127.0.0.1', ...durability, '-c', 'shared_buffers=32MB', '-c', 'max_connections=100'];
    // A test process that ends without its teardown (killed by the runner's timeout, an uncaught error)
    // must not leave the server running: setpriv asks the kernel to send the postmaster SIGQUIT (immediate
    // shutdown) when its parent dies, and execs it, so the pid stays the postmaster's.
    const proc = existsSync(setpriv)
      ? spawn(setpriv, [...(owner ? [`--reuid=${owner.uid}`, `--regid=${owner.gid}`, '--clear-groups'] : []), '--pdeathsig=QUIT', '--', join(bin, 'postgres'), ...args], {
          cwd: dir,
          stdio: ['ignore', 'ignore', 'pipe'],
        })
      : spawn(join(bin, 'postgres'), args, { ...asOwner, cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
    child = proc;
    const onExit = () => proc.kill('SIGQUIT');
    process.once('exit', onExit);
    proc.once('exit', () => process.removeListener('exit', onExit));
    const logFrom = log.length; // an earlier start's lines do not count
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`PostgreSQL did not start within 30 s: ${log}`)), 30_000);
      proc.stderr!.on('data', (d: Buffer) => {
        log += d.toString();
        if (log.includes('database system is ready to accept connections', logFrom)) {
          clearTimeout(timer);
          resolve();
        }
      });
      proc.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`PostgreSQL exited with ${code} while starting: ${log}`));
      });
    });
  };

  const stop = async (): Promise<void> => {
    const proc = child;
    child = undefined;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
    proc.kill('SIGINT'); // fast shutdown: sessions are terminated, the server exits cleanly
    const timer = setTimeout(() => proc.kill('SIGKILL'), 20_000);
    await exited;
    clearTimeout(timer);
  };

  const url = (database = 'postgres') => `postgres://${superuser}@127.0.0.1:${port}/${database}`;
  try {
    await start();
  } catch (err) {
    await stop();
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
  return {
    port,
    url,
    async createDatabase() {
      const name = `t${process.pid}_${++databaseCount}`;
      const client = new pg.Client({ connectionString: url() });
      await client.connect();
      try {
        await client.query(`CREATE DATABASE ${name} STRATEGY FILE_COPY`);
      } finally {
        await client.end();
      }
      return url(name);
    },
    stop,
    start,
    pid: () => child?.pid,
    logs: () => log,
    async cleanup() {
      await stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
