// `tessera server`: flags → configuration → the server role, in one process (`--workers 1`) or as the
// primary and the workers of `--workers N` (roles/workers-primary.ts forks this same command, which then
// runs as a worker). No logic of its own beyond choosing which of the three this process is.
import cluster from 'node:cluster';
import { availableParallelism } from 'node:os';
import { Command, Option } from 'commander';
import { parseMetaUrl, startServer, type RunningServer, type ServerConfig } from '../main.js';
import { startPrimary } from '../roles/workers-primary.js';
import { send, workerEnv, type WorkerBanner } from '../roles/worker-link.js';
import { describeRedundancy } from './admin.js';
import { consolePath } from '../admin/console.js';
import { driveOpTimeoutMs, shutdownTimeoutMsDefault } from '../constants.js';
import { addSharedOptions, list, loggerOf, nonNegative, sharedConfig, stopOnSignals, type SharedFlags } from './options.js';

type ServerFlags = SharedFlags & { data: string; meta: string; drives: string; driveTimeout: string; workers: string };

/** The most workers accepted: each holds its own drive handles, caches and SQLite connections. */
const workersMax = 256;

/**
 * What `auto` starts at most. Each worker holds its own caches and connections, and SQLite has one writer
 * (the primary's commit thread): past a handful, more processes add memory sooner than requests per
 * second (docs/architecture.md "Process model").
 */
export const autoWorkersMax = 8;

/** --workers: a count, or auto for one per core (at most autoWorkersMax). */
export function parseWorkers(text: string, cores = availableParallelism()): number {
  if (text.trim().toLowerCase() === 'auto') return Math.max(1, Math.min(cores, autoWorkersMax));
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1 || n > workersMax) throw new Error(`Cannot use --workers "${text}": expected auto or a whole number from 1 to ${workersMax}`);
  return n;
}

export function serverCommand(): Command {
  const cmd = new Command('server').description('Run everything in one process: the S3 endpoint, metadata (SQLite, or PostgreSQL with --meta) and local drives');
  return addSharedOptions(cmd, (c) =>
    c
      .addOption(new Option('--data <dir>', 'data directory: metadata, credentials, and the drive when --drives is not given').env('TESSERA_DATA').default('./data'))
      .addOption(new Option('--meta <url>', 'keep the metadata in PostgreSQL at postgres://USER@HOST:PORT/DB (schema created or migrated on start) instead of SQLite in the data directory').env('TESSERA_META').default(''))
      .addOption(new Option('--drives <dirs>', 'comma-separated shard directories, one per drive').env('TESSERA_DRIVES').default('')),
  )
    .addOption(new Option('--drive-timeout <ms>', 'a drive call slower than this fails, and the drive is skipped until it answers again').env('TESSERA_DRIVE_TIMEOUT').default(String(driveOpTimeoutMs)))
    .addOption(new Option('--workers <n|auto>', `serve with this many processes sharing the port (auto: one per core, at most ${autoWorkersMax}); background work still runs once`).env('TESSERA_WORKERS').default('auto'))
    .addHelpText('after', '\nRoot credentials come from TESSERA_ROOT_ACCESS_KEY and TESSERA_ROOT_SECRET_KEY; when unset they are\ngenerated on first start, kept in DATA/root-credentials.json and printed.')
    .action(async (opts: ServerFlags) => {
      if (cluster.isWorker) return runWorker(opts);
      const workers = parseWorkers(opts.workers);
      if (workers > 1) return runPrimary(opts, workers);
      const shared = sharedConfig(opts);
      const running = await startServer(serverConfig(opts, shared));
      printBanner(bannerOf(running), running.credentials);
      stopOnSignals(running, shared.shutdownTimeoutMs);
    });
}

function serverConfig(opts: ServerFlags, shared: ReturnType<typeof sharedConfig>): ServerConfig {
  return {
    ...shared,
    dataDir: opts.data,
    ...(parseMetaUrl(opts.meta) ? { metaUrl: opts.meta } : {}),
    drives: list(opts.drives),
    driveTimeoutMs: Math.max(1, Math.round(nonNegative('--drive-timeout', opts.driveTimeout))),
  };
}

function bannerOf(running: RunningServer): WorkerBanner {
  return {
    url: running.url,
    ...(running.metricsUrl ? { metricsUrl: running.metricsUrl } : {}),
    region: running.region,
    ...(running.meta ? { meta: running.meta } : {}),
    driveCount: running.driveCount,
    redundancy: describeRedundancy(running.defaultRedundancy),
  };
}

function printBanner(banner: WorkerBanner, credentials: { accessKeyId: string; secretAccessKey: string; generated: boolean }, workers?: number): void {
  const secret = credentials.generated || !process.env.TESSERA_ROOT_SECRET_KEY ? credentials.secretAccessKey : '(from TESSERA_ROOT_SECRET_KEY)';
  process.stdout.write(
    `Tessera S3 server\n  endpoint:   ${banner.url}\n  region:     ${banner.region}\n  metadata:   ${banner.meta}\n  drives:     ${banner.driveCount} (${banner.redundancy})\n${workers ? `  workers:    ${workers} processes\n` : ''}  access key: ${credentials.accessKeyId}\n  secret key: ${secret}\n${banner.metricsUrl ? `  metrics:    ${banner.metricsUrl}\n` : ''}  console:    ${banner.url}${consolePath}/\n`,
  );
}

/** The primary: forks the workers, prints the banner once they all listen, stops them on a signal. */
async function runPrimary(opts: ServerFlags, workers: number): Promise<void> {
  const shared = sharedConfig(opts);
  const config = serverConfig(opts, shared);
  const log = loggerOf(opts);
  const primary = await startPrimary({
    workers,
    dataDir: config.dataDir,
    ...(config.metaUrl ? { metaUrl: config.metaUrl } : {}),
    ...(config.rootAccessKey ? { rootAccessKey: config.rootAccessKey } : {}),
    ...(config.rootSecretKey ? { rootSecretKey: config.rootSecretKey } : {}),
    shutdownTimeoutMs: shared.shutdownTimeoutMs ?? shutdownTimeoutMsDefault,
    log,
  });
  printBanner(primary.banner, primary.credentials, workers);
  let stopping = false;
  const stop = (signal: NodeJS.Signals): void => {
    if (stopping) {
      // The workers exit when their channel to the primary closes.
      process.stderr.write(`tessera: ${signal} again: stopping now\n`);
      process.exit(1);
    }
    stopping = true;
    log.info('Stopping the workers', { signal });
    void primary.close().then((code) => process.exit(code));
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  // The workers hold the TLS listeners; a renewal signalled to the primary reaches them all.
  process.on('SIGHUP', () => primary.signalAll('SIGHUP'));
}

/** A worker: the server role over stores its siblings share; tells the primary where it listens. */
async function runWorker(opts: ServerFlags): Promise<void> {
  const index = Number(process.env[workerEnv.index]);
  const shared = { ...sharedConfig(opts), log: loggerOf(opts, { fields: { worker: index }, sharedStderr: true }) };
  const replaces = process.env[workerEnv.replaces];
  const commitSocket = process.env[workerEnv.commitSocket];
  const running = await startServer({ ...serverConfig(opts, shared), worker: { index, first: process.env[workerEnv.first] === '1', ...(replaces ? { replaces } : {}), ...(commitSocket ? { commitSocket } : {}) } });
  send({ type: 'tessera-ready', banner: bannerOf(running) });
  // The primary forwards SIGTERM; a Ctrl-C reaches the whole process group, and the primary's forward must
  // not count as this worker's second signal (which stops at once).
  process.on('SIGINT', () => undefined);
  stopOnSignals(running, shared.shutdownTimeoutMs, ['SIGTERM']);
}
