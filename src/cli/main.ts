// The `tessera` command: argv and environment → configuration → calls into main.ts. No logic of its own.
import { Command, Option } from 'commander';
import { parseMetaUrl, startServer } from '../main.js';
import { adminCommand, describeRedundancy } from './admin.js';
import { driveOpTimeoutMs } from '../constants.js';
import { nodeCommand } from './node.js';
import { tlsCommand } from './tls.js';
import { gatewayCommand } from './gateway.js';
import { devClusterCommand } from './dev-cluster.js';
import { addSharedOptions, list, nonNegative, sharedConfig, stopOnSignals, type SharedFlags } from './options.js';
import { consolePath } from '../admin/console.js';

function serverCommand(): Command {
  const cmd = new Command('server').description('Run everything in one process: the S3 endpoint, metadata (SQLite, or PostgreSQL with --meta) and local drives');
  return addSharedOptions(cmd, (c) =>
    c
      .addOption(new Option('--data <dir>', 'data directory: metadata, credentials, and the drive when --drives is not given').env('TESSERA_DATA').default('./data'))
      .addOption(new Option('--meta <url>', 'keep the metadata in PostgreSQL at postgres://USER@HOST:PORT/DB (schema created or migrated on start) instead of SQLite in the data directory').env('TESSERA_META').default(''))
      .addOption(new Option('--drives <dirs>', 'comma-separated shard directories, one per drive').env('TESSERA_DRIVES').default('')),
  )
    .addOption(new Option('--drive-timeout <ms>', 'a drive call slower than this fails, and the drive is skipped until it answers again').env('TESSERA_DRIVE_TIMEOUT').default(String(driveOpTimeoutMs)))
    .addHelpText('after', '\nRoot credentials come from TESSERA_ROOT_ACCESS_KEY and TESSERA_ROOT_SECRET_KEY; when unset they are\ngenerated on first start, kept in DATA/root-credentials.json and printed.')
    .action(async (opts: SharedFlags & { data: string; meta: string; drives: string; driveTimeout: string }) => {
      const shared = sharedConfig(opts);
      const running = await startServer({
        ...shared,
        dataDir: opts.data,
        ...(parseMetaUrl(opts.meta) ? { metaUrl: opts.meta } : {}),
        drives: list(opts.drives),
        driveTimeoutMs: Math.max(1, Math.round(nonNegative('--drive-timeout', opts.driveTimeout))),
      });
      const secret = running.credentials.generated || !process.env.TESSERA_ROOT_SECRET_KEY ? running.credentials.secretAccessKey : '(from TESSERA_ROOT_SECRET_KEY)';
      process.stdout.write(
        `Tessera S3 server\n  endpoint:   ${running.url}\n  region:     ${running.region}\n  metadata:   ${running.meta}\n  drives:     ${running.driveCount} (${describeRedundancy(running.defaultRedundancy)})\n  access key: ${running.credentials.accessKeyId}\n  secret key: ${secret}\n${running.metricsUrl ? `  metrics:    ${running.metricsUrl}\n` : ''}`,
      );
      process.stdout.write(`  console:    ${running.url}${consolePath}/\n`);
      stopOnSignals(running, shared.shutdownTimeoutMs);
    });
}

export async function main(argv: string[]): Promise<void> {
  const program = new Command('tessera')
    .description('Tessera: an S3-compatible object store')
    .showHelpAfterError()
    .addCommand(serverCommand())
    .addCommand(nodeCommand())
    .addCommand(gatewayCommand())
    .addCommand(devClusterCommand())
    .addCommand(adminCommand())
    .addCommand(tlsCommand());
  await program.parseAsync(argv, { from: 'user' });
}
