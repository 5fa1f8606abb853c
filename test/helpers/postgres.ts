// Starts a throwaway PostgreSQL (Debian's binaries under /usr/lib/postgresql/*/bin) in a temporary
// directory on a free loopback port, for tests. As root (CI) the server runs as the `postgres` system user,
// since initdb and postgres refuse root. Tests skip without the binaries, except under CI=true.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { initLocalPostgres, localPostgresArgv, localPostgresUrl, postgresBinDir, postgresReadyLine } from '../../src/cli/local-postgres.js';

export { postgresBinDir };

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
  const dir = await mkdtemp(join(tmpdir(), 'tessera-pg-'));
  try {
    await initLocalPostgres(dir);
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
  const port = await freePort();
  let log = '';
  let child: ChildProcess | undefined;

  const start = async (): Promise<void> => {
    // fsync off unless durable: these tests never cut power, and a cluster starts and commits much faster without it.
    // The argv runs it through setpriv (as the postgres user when we are root) with a parent-death signal,
    // so a test process that ends without its teardown leaves no server running.
    const durability = options.durable ? [] : ['fsync=off', 'full_page_writes=off'];
    const argv = localPostgresArgv(dir, port, [...durability, 'shared_buffers=32MB']);
    const proc = spawn(argv[0]!, argv.slice(1), { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
    child = proc;
    const onExit = () => proc.kill('SIGQUIT');
    process.once('exit', onExit);
    proc.once('exit', () => process.removeListener('exit', onExit));
    const logFrom = log.length; // an earlier start's lines do not count
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`PostgreSQL did not start within 30 s: ${log}`)), 30_000);
      proc.stderr!.on('data', (d: Buffer) => {
        log += d.toString();
        if (log.includes(postgresReadyLine, logFrom)) {
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

  const url = (database = 'postgres') => localPostgresUrl(port, database);
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
