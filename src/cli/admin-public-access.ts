// `tessera admin public-access-block show|set`: the store-wide Block Public Access setting (the account
// level in AWS terms), on by default; a bucket can only open itself to the public once this allows it.
import { Command } from 'commander';
import { call, type AdminOptions } from './admin-client.js';
import type { PublicAccessBlock } from '../iam/types.js';

const flags = [
  ['block-public-acls', 'BlockPublicAcls'],
  ['ignore-public-acls', 'IgnorePublicAcls'],
  ['block-public-policy', 'BlockPublicPolicy'],
  ['restrict-public-buckets', 'RestrictPublicBuckets'],
] as const;

function text(block: PublicAccessBlock): string {
  return `${flags.map(([flag, name]) => `${flag}: ${block[name] ? 'on' : 'off'}`).join('\n')}\n`;
}

function onOff(flag: string, value: string): boolean {
  if (value === 'on' || value === 'true') return true;
  if (value === 'off' || value === 'false') return false;
  throw new Error(`Cannot use --${flag} "${value}": expected on or off`);
}

export function publicAccessCommand(common: (cmd: Command) => Command): Command {
  const cmd = new Command('public-access-block').description('Show or change the store-wide Block Public Access settings (all on by default, as AWS does for accounts)');
  cmd.addCommand(common(new Command('show').description('Show the four settings'))
    .option('--json', 'print the raw JSON', false)
    .action(async (opts: AdminOptions & { json: boolean }) => {
      const block = await call<PublicAccessBlock>(opts, 'GET', 'public-access-block');
      process.stdout.write(opts.json ? `${JSON.stringify(block, null, 2)}\n` : text(block));
    }));
  const set = common(new Command('set').description('Change the settings given (on|off); "--all off" lets buckets be opened to the public with their own settings and a policy'));
  set.option('--all <on|off>', 'all four at once');
  for (const [flag] of flags) set.option(`--${flag} <on|off>`);
  set.action(async (opts: AdminOptions & Record<string, string | undefined>) => {
    const body: Partial<PublicAccessBlock> = {};
    for (const [flag, name] of flags) {
      const camel = flag.replace(/-([a-z])/g, (_, ch: string) => ch.toUpperCase());
      const value = opts[camel] ?? opts.all;
      if (value !== undefined) body[name] = onOff(opts[camel] !== undefined ? flag : 'all', value);
    }
    if (Object.keys(body).length === 0) throw new Error('Cannot set nothing: give --all or one of the four settings');
    process.stdout.write(text(await call<PublicAccessBlock>(opts, 'PUT', 'public-access-block', body)));
  });
  cmd.addCommand(set);
  return cmd;
}
