// `tessera admin ...`: calls to the admin API of a running server, signed with the root credentials.
// Heal draws a progress bar on a terminal and prints plain progress lines otherwise.
import { Command, Option } from 'commander';
import { call, table, type AdminOptions } from './admin-client.js';
import { layoutCommand, clusterStatusText, type ClusterStatusView } from './admin-cluster.js';
import { limitsCommand } from './admin-limits.js';
import { publicAccessCommand } from './admin-public-access.js';
import { keyCommand, policyCommand, userCommand } from './admin-iam.js';
import { kmsCommand } from './admin-kms.js';
import type { PassProgress } from '../objects/maintenance.js';
import type { LifecycleProgress } from '../objects/lifecycle.js';
import type { DriveStatus, Redundancy } from '../blocks/types.js';

/** A storage class as status shows it: its redundancy now, and why it differs from what was asked, if it does. */
interface StorageClassView {
  name: string;
  redundancy: Redundancy;
  note?: string;
}

function bar(done: number, total: number, width = 30): string {
  const fraction = total > 0 ? Math.min(1, done / total) : 1;
  const filled = Math.round(fraction * width);
  return `[${'#'.repeat(filled)}${' '.repeat(width - filled)}] ${String(Math.round(fraction * 100)).padStart(3)}%`;
}

function progressLine(p: PassProgress): string {
  return `${bar(p.blocksChecked, p.blocksTotal)} ${p.blocksChecked}/${p.blocksTotal} blocks, ${p.shardsRebuilt} shards rebuilt, ${p.damagedFound} damaged blocks`;
}

async function heal(opts: AdminOptions & { wait: boolean }): Promise<void> {
  let progress = await call<PassProgress>(opts, 'POST', 'heal');
  const tty = process.stdout.isTTY === true;
  let lastPrintMs = 0;
  while (opts.wait && progress.running) {
    if (tty) process.stdout.write(`\r${progressLine(progress)}`);
    else if (Date.now() - lastPrintMs > 2000) {
      process.stdout.write(`${progressLine(progress)}\n`);
      lastPrintMs = Date.now();
    }
    await new Promise((r) => setTimeout(r, 250));
    progress = await call<PassProgress>(opts, 'GET', 'heal');
  }
  process.stdout.write(`${tty ? '\r' : ''}${progressLine(progress)}\n`);
  if (!progress.running) process.stdout.write(`Heal ${progress.shardsSkipped > 0 ? `finished with ${progress.shardsSkipped} shards not rebuilt (their drives are missing or too few shards are left)` : 'finished: full redundancy restored'}\n`);
}

export function lifecycleLine(p: LifecycleProgress): string {
  const when = p.running ? `running${p.bucket !== undefined ? ` (bucket "${p.bucket}", ${p.phase})` : ''}` : p.finishedMs ? `last finished ${new Date(p.finishedMs).toISOString()}` : 'never run';
  return `lifecycle: ${when}, ${p.versionsScanned} versions scanned, ${p.currentExpired + p.noncurrentExpired} expired, ${p.deleteMarkersRemoved} delete markers removed, ${p.transitioned} transitioned, ${p.uploadsAborted} uploads aborted, ${p.lockedSkipped} locked versions skipped`;
}

async function lifecycleRun(opts: AdminOptions & { wait: boolean }): Promise<void> {
  let progress = await call<LifecycleProgress>(opts, 'POST', 'lifecycle');
  let lastPrintMs = Date.now();
  while (opts.wait && progress.running) {
    await new Promise((r) => setTimeout(r, 250));
    progress = await call<LifecycleProgress>(opts, 'GET', 'lifecycle');
    if (Date.now() - lastPrintMs > 2000) {
      process.stdout.write(`${lifecycleLine(progress)}\n`);
      lastPrintMs = Date.now();
    }
  }
  process.stdout.write(`${lifecycleLine(progress)}\n`);
}

/** "Reed-Solomon 4+2: any 2 drives may fail": what a new user needs to know about their drives. */
export function describeRedundancy(r: Redundancy): string {
  const tolerated = r.kind === 'rs' ? r.parity : r.copies - 1;
  const scheme = r.kind === 'rs' ? `Reed-Solomon ${r.data}+${r.parity}` : `${r.copies} ${r.copies === 1 ? 'copy' : 'copies'}`;
  return `${scheme}: ${tolerated === 0 ? 'no drive may fail' : `any ${tolerated} ${tolerated === 1 ? 'drive' : 'drives'} may fail`}`;
}

async function status(opts: AdminOptions & { json: boolean }): Promise<void> {
  const s = await call<{ drives: DriveStatus[]; defaultRedundancy: Redundancy; cluster?: ClusterStatusView; maintenance: { heal: PassProgress; scrub: PassProgress; queuedDamage: number }; lifecycle?: LifecycleProgress; storageClasses?: StorageClassView[] }>(opts, 'GET', 'status');
  if (opts.json) {
    process.stdout.write(`${JSON.stringify(s, null, 2)}\n`);
    return;
  }
  const rows = s.drives.map((d) => [d.id, d.state === 'ok' && d.corruptFound > 0 ? 'corrupt' : d.state, String(d.shardFiles), String(d.bytes), String(d.corruptFound), d.path]);
  process.stdout.write(table(['DRIVE', 'STATE', 'SHARDS', 'BYTES', 'CORRUPT', 'PATH'], rows));
  const counts = { ok: 0, missing: 0, suspect: 0, corrupt: 0, removed: 0 };
  for (const r of rows) counts[r[1] as keyof typeof counts]++;
  const removed = counts.removed > 0 ? `, ${counts.removed} removed from the layout` : '';
  process.stdout.write(`\n${counts.ok} ok, ${counts.missing} missing, ${counts.suspect} suspect, ${counts.corrupt} corrupt${removed}; ${s.maintenance.queuedDamage} damaged blocks queued for repair\n`);
  process.stdout.write(`redundancy: ${describeRedundancy(s.defaultRedundancy)}\n`);
  for (const pass of [s.maintenance.heal, s.maintenance.scrub]) {
    process.stdout.write(`${pass.kind}: ${pass.running ? 'running' : pass.finishedMs ? `last finished ${new Date(pass.finishedMs).toISOString()}` : 'never run'}, ${pass.blocksChecked}/${pass.blocksTotal} blocks, ${pass.damagedFound} damaged\n`);
  }
  if (s.lifecycle) process.stdout.write(`${lifecycleLine(s.lifecycle)}\n`);
  if (s.storageClasses) {
    process.stdout.write('\n');
    process.stdout.write(table(['STORAGE CLASS', 'REDUNDANCY', 'NOTE'], s.storageClasses.map((c) => [c.name, describeRedundancy(c.redundancy), c.note ?? ''])));
  }
  if (s.cluster) process.stdout.write(clusterStatusText(s.cluster));
}

export function adminCommand(): Command {
  const common = (cmd: Command) =>
    cmd
      .addOption(new Option('--endpoint <url>', 'the server to manage').env('TESSERA_ENDPOINT').default('http://127.0.0.1:9000'))
      .addOption(new Option('--data <dir>', 'the server\'s data directory, to read root credentials from when the environment has none').env('TESSERA_DATA').default('./data'))
      .addOption(new Option('--region <name>', 'the server\'s region').env('TESSERA_REGION').default('us-east-1'))
      .addOption(new Option('--ca-bundle <file>', 'PEM certificates to trust for an https:// endpoint with a private CA ("tessera tls init" makes one)').env('AWS_CA_BUNDLE'));
  const admin = new Command('admin').description('Manage a running server through its admin API (root credentials)');
  // `tessera admin status | head` closes our stdout early: that is the reader's choice, not an error.
  admin.hook('preAction', () => {
    process.stdout.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code !== 'EPIPE') throw err;
      process.exit(0);
    });
  });
  admin.addCommand(common(new Command('status').description('Show each drive\'s state (ok, missing, corrupt) with shard counts, heal/scrub progress, the cluster\'s nodes (up, down, draining), partition health and rebalance progress'))
    .option('--json', 'print the raw JSON', false)
    .action((opts: AdminOptions & { json: boolean }) => status(opts)));
  admin.addCommand(common(new Command('heal').description('Restore full redundancy of every block; shows progress until done'))
    .option('--no-wait', 'start the heal pass and return at once')
    .action((opts: AdminOptions & { wait: boolean }) => heal(opts)));
  admin.addCommand(common(new Command('scrub').description('Start a scrub pass: verify every shard checksum now and queue damage for repair'))
    .action(async (opts: AdminOptions) => {
      process.stdout.write(`${progressLine(await call<PassProgress>(opts, 'POST', 'scrub'))}\n`);
    }));
  const lifecycle = new Command('lifecycle').description('The lifecycle pass: bucket lifecycle rules and the store-wide abort of abandoned multipart uploads');
  lifecycle.addCommand(common(new Command('run').description('Start a lifecycle pass now (unless one is running) and show its progress until done'))
    .option('--no-wait', 'start the pass and return at once')
    .action((opts: AdminOptions & { wait: boolean }) => lifecycleRun(opts)));
  lifecycle.addCommand(common(new Command('status').description('Show the current or last lifecycle pass'))
    .action(async (opts: AdminOptions) => {
      process.stdout.write(`${lifecycleLine(await call<LifecycleProgress>(opts, 'GET', 'lifecycle'))}\n`);
    }));
  admin.addCommand(lifecycle);
  admin.addCommand(layoutCommand(common));
  admin.addCommand(limitsCommand(common));
  admin.addCommand(publicAccessCommand(common));
  admin.addCommand(userCommand(common));
  admin.addCommand(keyCommand(common));
  admin.addCommand(policyCommand(common));
  admin.addCommand(kmsCommand(common));
  return admin;
}
