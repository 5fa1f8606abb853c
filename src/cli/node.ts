// The `tessera node` command: argv → the storage node role (src/node/). No logic of its own.
import { hostname } from 'node:os';
import { Command, Option } from 'commander';
import { driveOpTimeoutMs } from '../constants.js';
import { startNode } from '../node/node-server.js';
import { logFormatOption, loggerOf, logLevelOption, readSecret, tlsCertOption, tlsConfig, tlsKeyOption } from './options.js';

export function nodeCommand(): Command {
  return new Command('node')
    .description("Run a storage node: serve this machine's drives to gateways over the authenticated node RPC")
    .addOption(new Option('--address <host:port>', 'address to listen on').env('TESSERA_NODE_ADDRESS').default('127.0.0.1:9100'))
    .addOption(new Option('--drives <dirs>', 'comma-separated shard directories, one per drive').env('TESSERA_DRIVES').makeOptionMandatory())
    .addOption(new Option('--cluster-secret-file <file>', 'file holding the secret shared by every node and gateway (at least 16 bytes)').env('TESSERA_CLUSTER_SECRET_FILE').makeOptionMandatory())
    .addOption(new Option('--node-id <id>', 'this node\'s name in the cluster layout').env('TESSERA_NODE_ID'))
    .addOption(new Option('--drive-timeout <ms>', 'a drive call slower than this fails, and the drive is skipped until it answers again').env('TESSERA_DRIVE_TIMEOUT').default(String(driveOpTimeoutMs)))
    .addOption(logLevelOption())
    .addOption(logFormatOption())
    .addOption(tlsCertOption())
    .addOption(tlsKeyOption())
    .action(async (opts: { address: string; drives: string; clusterSecretFile: string; nodeId?: string; driveTimeout: string; logLevel: string; logFormat?: string; tlsCert?: string; tlsKey?: string }) => {
      const drivePaths = opts.drives.split(',').map((x) => x.trim()).filter((x) => x !== '');
      if (drivePaths.length === 0) throw new Error('Cannot start a node without drives: pass --drives');
      const driveTimeoutMs = Number(opts.driveTimeout);
      if (!Number.isInteger(driveTimeoutMs) || driveTimeoutMs <= 0) throw new Error(`Cannot use --drive-timeout "${opts.driveTimeout}": expected a positive number of ms`);
      const running = await startNode({
        address: opts.address,
        nodeId: opts.nodeId ?? hostname().replace(/[^A-Za-z0-9._-]/g, '-').slice(0, 64),
        secret: await readSecret(opts.clusterSecretFile),
        drivePaths,
        driveTimeoutMs,
        log: loggerOf(opts),
        ...tlsConfig(opts),
      });
      process.stdout.write(`Tessera storage node\n  endpoint:   ${running.url}\n  node id:    ${running.nodeId}\n  drives:     ${running.drives.map((d) => `${d.id}=${d.path}`).join(', ')}\n`);
      const stop = () => {
        running.close().then(() => process.exit(0), () => process.exit(1));
      };
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
    });
}
