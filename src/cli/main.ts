// The `tessera` command: argv and environment → configuration → calls into main.ts. No logic of its own.
import { Command, Option } from 'commander';
import { parseStorageClasses, startServer } from '../main.js';
import { adminCommand, describeRedundancy } from './admin.js';
import { driveOpTimeoutMs, rebalanceRateBlocksPerSecDefault, rebalanceRateBytesPerSecDefault } from '../constants.js';
import { nodeCommand } from './node.js';

/** A flag's value as a number, or a clear error naming the flag. */
function nonNegative(flag: string, value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n < 0) throw new Error(`Cannot use ${flag} "${value}": expected a non-negative number`);
  return n;
}

function serverCommand(): Command {
  return new Command('server')
    .description('Run everything in one process: the S3 endpoint, SQLite metadata and local drives')
    .addOption(new Option('--address <host:port>', 'address to listen on').env('TESSERA_ADDRESS').default('127.0.0.1:9000'))
    .addOption(new Option('--data <dir>', 'data directory: metadata, credentials, and the drive when --drives is not given').env('TESSERA_DATA').default('./data'))
    .addOption(new Option('--drives <dirs>', 'comma-separated shard directories, one per drive').env('TESSERA_DRIVES').default(''))
    .addOption(new Option('--region <name>', 'the S3 region this endpoint serves').env('TESSERA_REGION').default('us-east-1'))
    .addOption(new Option('--domain <names>', 'comma-separated base domains for virtual-hosted-style requests (bucket.DOMAIN)').env('TESSERA_DOMAIN').default('localhost'))
    .addOption(new Option('--gc-delay <seconds>', 'how long replaced data is kept before deletion, so reads in flight finish').env('TESSERA_GC_DELAY').default('60'))
    .addOption(new Option('--gc-interval <seconds>', 'how often the garbage collector runs').env('TESSERA_GC_INTERVAL').default('5'))
    .addOption(new Option('--orphan-grace <seconds>', 'unreferenced shards untouched this long are leftovers of crashed writes and get deleted (writes in flight in this process are never taken)').env('TESSERA_ORPHAN_GRACE').default('900'))
    .addOption(new Option('--orphan-sweep-interval <seconds>', 'how often the drives are swept for such leftovers, besides at start and once the grace has passed after start').env('TESSERA_ORPHAN_SWEEP_INTERVAL').default('21600'))
    .addOption(new Option('--storage-classes <map>', 'redundancy per storage class, e.g. "STANDARD=rs:4+2,REDUCED_REDUNDANCY=rep:2"; unlisted classes get the default for the drive count').env('TESSERA_STORAGE_CLASSES').default(''))
    .addOption(new Option('--heal-rate <blocks/s>', 'how many blocks per second a heal pass may check').env('TESSERA_HEAL_RATE').default('200'))
    .addOption(new Option('--scrub-rate <blocks/s>', 'how many blocks per second the background scrubber verifies').env('TESSERA_SCRUB_RATE').default('20'))
    .addOption(new Option('--rebalance-rate <blocks/s>', 'how many blocks per second a rebalance (after drives join) may move shards of; 0 pauses it').env('TESSERA_REBALANCE_RATE').default(String(rebalanceRateBlocksPerSecDefault)))
    .addOption(new Option('--rebalance-bandwidth <MiB/s>', 'how many MiB of shards per second a rebalance may copy or rebuild; 0: no limit').env('TESSERA_REBALANCE_BANDWIDTH').default(String(rebalanceRateBytesPerSecDefault / 1024 / 1024)))
    .addOption(new Option('--scrub-interval <hours>', 'start a scrub pass this often (0: only on request)').env('TESSERA_SCRUB_INTERVAL').default('24'))
    .addOption(new Option('--metrics-address <host:port>', 'also serve Prometheus metrics at /metrics here, without authentication (keep it on loopback); off when empty. The S3 endpoint serves /_tessera/metrics to the root key only').env('TESSERA_METRICS_ADDRESS').default(''))
    .addOption(new Option('--drive-timeout <ms>', 'a drive call slower than this fails, and the drive is skipped until it answers again').env('TESSERA_DRIVE_TIMEOUT').default(String(driveOpTimeoutMs)))
    .addHelpText('after', '\nRoot credentials come from TESSERA_ROOT_ACCESS_KEY and TESSERA_ROOT_SECRET_KEY; when unset they are\ngenerated on first start, kept in DATA/root-credentials.json and printed.')
    .action(async (opts: { address: string; data: string; drives: string; region: string; domain: string; gcDelay: string; gcInterval: string; orphanGrace: string; orphanSweepInterval: string; storageClasses: string; healRate: string; scrubRate: string; rebalanceRate: string; rebalanceBandwidth: string; scrubInterval: string; driveTimeout: string; metricsAddress: string }) => {
      const list = (s: string) => s.split(',').map((x) => x.trim()).filter((x) => x !== '');
      const running = await startServer({
        address: opts.address,
        dataDir: opts.data,
        drives: list(opts.drives),
        region: opts.region,
        domains: list(opts.domain),
        gcDelayMs: nonNegative('--gc-delay', opts.gcDelay) * 1000,
        gcIntervalMs: Math.max(100, nonNegative('--gc-interval', opts.gcInterval) * 1000),
        orphanGraceMs: nonNegative('--orphan-grace', opts.orphanGrace) * 1000,
        orphanSweepIntervalMs: Math.max(1000, nonNegative('--orphan-sweep-interval', opts.orphanSweepInterval) * 1000),
        storageClasses: parseStorageClasses(opts.storageClasses),
        healRateBlocksPerSec: nonNegative('--heal-rate', opts.healRate),
        scrubRateBlocksPerSec: nonNegative('--scrub-rate', opts.scrubRate),
        rebalanceRateBlocksPerSec: nonNegative('--rebalance-rate', opts.rebalanceRate),
        rebalanceRateBytesPerSec: Math.round(nonNegative('--rebalance-bandwidth', opts.rebalanceBandwidth) * 1024 * 1024),
        scrubIntervalMs: nonNegative('--scrub-interval', opts.scrubInterval) * 3600 * 1000,
        ...(opts.metricsAddress ? { metricsAddress: opts.metricsAddress } : {}),
        driveTimeoutMs: Math.max(1, Math.round(nonNegative('--drive-timeout', opts.driveTimeout))),
        ...(process.env.TESSERA_ROOT_ACCESS_KEY ? { rootAccessKey: process.env.TESSERA_ROOT_ACCESS_KEY } : {}),
        ...(process.env.TESSERA_ROOT_SECRET_KEY ? { rootSecretKey: process.env.TESSERA_ROOT_SECRET_KEY } : {}),
      });
      const secret = running.credentials.generated || !process.env.TESSERA_ROOT_SECRET_KEY ? running.credentials.secretAccessKey : '(from TESSERA_ROOT_SECRET_KEY)';
      process.stdout.write(
        `Tessera S3 server\n  endpoint:   ${running.url}\n  region:     ${running.region}\n  drives:     ${running.driveCount} (${describeRedundancy(running.defaultRedundancy)})\n  access key: ${running.credentials.accessKeyId}\n  secret key: ${secret}\n${running.metricsUrl ? `  metrics:    ${running.metricsUrl}\n` : ''}`,
      );
      const stop = () => {
        running.close().then(() => process.exit(0), () => process.exit(1));
      };
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
    });
}

export async function main(argv: string[]): Promise<void> {
  const program = new Command('tessera')
    .description('Tessera: an S3-compatible object store')
    .showHelpAfterError()
    .addCommand(serverCommand())
    .addCommand(nodeCommand())
    .addCommand(adminCommand());
  await program.parseAsync(argv, { from: 'user' });
}
