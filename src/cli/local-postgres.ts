// A local PostgreSQL for `tessera dev-cluster --postgres` (and the tests' throwaway servers): Debian's
// binaries under /usr/lib/postgresql/*/bin, a data directory made by initdb, the server on a loopback
// port. As root it runs as the `postgres` system user, since initdb and postgres refuse root.
import { spawnSync } from 'node:child_process';
import { chownSync, existsSync, readdirSync, readFileSync } from 'node:fs';
import { chmod, mkdir, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import pg from 'pg';

/** The superuser initdb creates; trusted on loopback only. */
export const localPostgresUser = 'tessera';
const setpriv = '/usr/bin/setpriv';

/** The bin directory of the newest installed PostgreSQL, or undefined. */
export function postgresBinDir(): string | undefined {
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return undefined;
  const versions = readdirSync(root)
    .filter((v) => existsSync(join(root, v, 'bin', 'initdb')) && existsSync(join(root, v, 'bin', 'postgres')))
    .sort((a, b) => Number(b) - Number(a));
  return versions[0] === undefined ? undefined : join(root, versions[0], 'bin');
}

/** The uid and gid PostgreSQL runs as when we are root; undefined otherwise (it runs as us). */
export function postgresOwner(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const line = readFileSync('/etc/passwd', 'utf8').split('\n').find((l) => l.startsWith('postgres:'));
  if (!line) throw new Error('Cannot run PostgreSQL as root: there is no "postgres" system user (install the postgresql package)');
  const [, , uid, gid] = line.split(':');
  return { uid: Number(uid), gid: Number(gid) };
}

function binDirOrThrow(): string {
  const bin = postgresBinDir();
  if (bin === undefined) throw new Error('Cannot start PostgreSQL: no /usr/lib/postgresql/*/bin/initdb (install the postgresql package)');
  return bin;
}

/**
 * Makes `dir` a PostgreSQL home (DIR/data by initdb, DIR/socket) unless it is one already; returns the
 * data directory. Trust authentication: the server listens on loopback only.
 */
export async function initLocalPostgres(dir: string): Promise<string> {
  const bin = binDirOrThrow();
  const dataDir = join(dir, 'data');
  const socketDir = join(dir, 'socket');
  await mkdir(socketDir, { recursive: true });
  const owner = postgresOwner();
  if (owner) {
    for (const path of [dir, socketDir]) chownSync(path, owner.uid, owner.gid);
    // The postgres user must get through the directory holding DIR (e.g. a mkdtemp one, mode 0700): let
    // others search it, not list or read it.
    const parent = dirname(dir);
    const mode = (await stat(parent)).mode;
    if ((mode & 0o001) === 0) await chmod(parent, (mode & 0o7777) | 0o001);
  }
  if (existsSync(join(dataDir, 'PG_VERSION'))) return dataDir;
  const init = spawnSync(join(bin, 'initdb'), ['-D', dataDir, '-U', localPostgresUser, '--auth=trust', '-E', 'UTF8', '--locale=C', '--no-sync'], {
    ...(owner ? { uid: owner.uid, gid: owner.gid } : {}),
    cwd: dir,
    encoding: 'utf8',
  });
  if (init.status !== 0) throw new Error(`Cannot initdb in "${dataDir}": ${init.stderr || init.error?.message}`);
  return dataDir;
}

/**
 * The argv that runs the server of `dir` in the foreground on 127.0.0.1:`port` (as the postgres user when
 * we are root). Through setpriv the kernel sends it SIGQUIT (immediate shutdown) when its parent dies, so
 * a killed parent leaves no server behind; setpriv execs it, so the pid is the postmaster's.
 * Its dynamic shared memory lives in files of its data directory (pg_dynshmem), not in /dev/shm: a server
 * stopped by SIGQUIT or SIGKILL leaves its segments behind, and in /dev/shm nothing removed them once the
 * directory was gone (the tests' fault drills left two per run there, 1 MiB each); in the data directory
 * they go with it, and PostgreSQL removes them itself on its next start there.
 */
export function localPostgresArgv(dir: string, port: number, settings: string[] = []): string[] {
  const bin = binDirOrThrow();
  const owner = postgresOwner();
  const fixed = ['listen_addresses=127.0.0.1', 'max_connections=200', 'dynamic_shared_memory_type=mmap'];
  const args = ['-D', join(dir, 'data'), '-p', String(port), '-k', join(dir, 'socket'), ...[...fixed, ...settings].flatMap((s) => ['-c', s])];
  if (!existsSync(setpriv)) return [join(bin, 'postgres'), ...args];
  return [setpriv, ...(owner ? [`--reuid=${owner.uid}`, `--regid=${owner.gid}`, '--clear-groups'] : []), '--pdeathsig=QUIT', '--', join(bin, 'postgres'), ...args];
}

/** The line PostgreSQL logs once it accepts connections. */
export const postgresReadyLine = 'database system is ready to accept connections';

export function localPostgresUrl(port: number, database: string): string {
  return `postgres://${localPostgresUser}@127.0.0.1:${port}/${database}`;
}

/** Creates `database` on the local server unless it exists. */
export async function ensureDatabase(port: number, database: string): Promise<void> {
  if (!/^[a-z_][a-z0-9_]*$/.test(database)) throw new RangeError(`Cannot create database "${database}": expected lowercase letters, digits and _`);
  const client = new pg.Client({ connectionString: localPostgresUrl(port, 'postgres') });
  await client.connect();
  try {
    const found = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [database]);
    if (found.rowCount === 0) await client.query(`CREATE DATABASE ${database}`);
  } finally {
    await client.end();
  }
}
