// The `tessera` command: argv and environment → configuration → calls into main.ts. No logic of its own.
import { Command } from 'commander';
import { adminCommand } from './admin.js';
import { nodeCommand } from './node.js';
import { tlsCommand } from './tls.js';
import { gatewayCommand } from './gateway.js';
import { devClusterCommand } from './dev-cluster.js';
import { serverCommand } from './server.js';

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
