// The `tessera gateway` command: argv → the gateway role (src/roles/gateway.ts). No logic of its own.
import { Command, Option } from 'commander';
import { parseMetaUrl, readInitialLayout, startGateway } from '../main.js';
import { describeRedundancy } from './admin.js';
import { rpcCallTimeoutMs } from '../blocks/rpc-protocol.js';
import { readCaBundle } from '../util/tls.js';
import { addSharedOptions, nonNegative, readSecret, sharedConfig, stopOnSignals, type SharedFlags } from './options.js';
import { consolePath } from '../admin/console.js';

export function gatewayCommand(): Command {
  const cmd = new Command('gateway').description('Run an S3 gateway: metadata in PostgreSQL (--meta, shared by every gateway) or its data directory, data on the storage nodes of the cluster layout');
  return addSharedOptions(cmd, (c) =>
    c
      .addOption(new Option('--data-dir <dir>', 'data directory: the metadata (SQLite) and root credentials when --meta is not given').env('TESSERA_DATA').default('./gateway-data'))
      .addOption(new Option('--meta <url>', 'keep the metadata in PostgreSQL at postgres://USER@HOST:PORT/DB, shared by every gateway of the cluster (schema created or migrated on start), instead of SQLite in the data directory').env('TESSERA_META').default(''))
      .addOption(new Option('--cluster-secret-file <file>', 'file holding the secret shared by every node and gateway (at least 16 bytes)').env('TESSERA_CLUSTER_SECRET_FILE').makeOptionMandatory())
      .addOption(new Option('--node-ca <file>', 'reach the storage nodes over TLS (they run with --tls-cert), checking their certificates against these PEM CA certificates').env('TESSERA_NODE_CA'))
      .addOption(new Option('--node-timeout <ms>', 'a node RPC call with no answer after this fails, and the node is skipped until a probe answers').env('TESSERA_NODE_TIMEOUT').default(String(rpcCallTimeoutMs)))
      .addOption(new Option('--initial-layout <file>', 'JSON {"nodes": [{"id", "address", "zone"}]}: when no layout is stored yet, ask these nodes for their drives and store it as epoch 1 (ignored once one exists)').env('TESSERA_INITIAL_LAYOUT')),
  )
    .addHelpText('after', '\nRoot credentials come from TESSERA_ROOT_ACCESS_KEY and TESSERA_ROOT_SECRET_KEY; when unset they are\ngenerated on first start, kept in DATA-DIR/root-credentials.json (with --meta: in the database, so every\ngateway of the cluster accepts the same key) and printed.')
    .action(async (opts: SharedFlags & { dataDir: string; meta: string; clusterSecretFile: string; initialLayout?: string; nodeTimeout: string; nodeCa?: string }) => {
      const shared = sharedConfig(opts);
      const running = await startGateway({
        ...shared,
        dataDir: opts.dataDir,
        ...(parseMetaUrl(opts.meta) ? { metaUrl: opts.meta } : {}),
        clusterSecret: await readSecret(opts.clusterSecretFile),
        ...(opts.nodeCa ? { nodeCa: readCaBundle(opts.nodeCa) } : {}),
        nodeTimeoutMs: Math.max(1, Math.round(nonNegative('--node-timeout', opts.nodeTimeout))),
        ...(opts.initialLayout ? { initialLayout: await readInitialLayout(opts.initialLayout) } : {}),
      });
      const secret = running.credentials.generated || !process.env.TESSERA_ROOT_SECRET_KEY ? running.credentials.secretAccessKey : '(from TESSERA_ROOT_SECRET_KEY)';
      const layout = running.layout();
      const placed = layout.epoch === 0 ? 'none yet: assign nodes with "tessera admin layout assign", then apply' : `epoch ${layout.epoch}, ${layout.nodes} nodes, ${layout.drives} drives (${describeRedundancy(running.defaultRedundancy)})`;
      process.stdout.write(
        `Tessera S3 gateway\n  endpoint:   ${running.url}\n  region:     ${running.region}\n  metadata:   ${running.meta}\n  layout:     ${placed}\n  access key: ${running.credentials.accessKeyId}\n  secret key: ${secret}\n${running.metricsUrl ? `  metrics:    ${running.metricsUrl}\n` : ''}`,
      );
      process.stdout.write(`  console:    ${running.url}${consolePath}/\n`);
      stopOnSignals(running, shared.shutdownTimeoutMs);
    });
}
