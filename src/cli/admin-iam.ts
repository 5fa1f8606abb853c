// `tessera admin user|key|policy ...`: users, their access keys and attached identity policies, through the
// admin API of the server at --endpoint. A key's secret is printed once, when it is created.
import { readFile } from 'node:fs/promises';
import { basename, extname } from 'node:path';
import { Command } from 'commander';
import { call, table, type AdminOptions } from './admin-client.js';
import type { AccessKeyView, AttachedPolicyRecord, UserView } from '../iam/users.js';

type Json = { json: boolean };

function print(opts: Json, value: unknown, text: string): void {
  process.stdout.write(opts.json ? `${JSON.stringify(value, null, 2)}\n` : text);
}

const when = (ms: number) => new Date(ms).toISOString();

export function userCommand(common: (cmd: Command) => Command): Command {
  const user = new Command('user').description('Create, list and delete users (each signs with its own access keys and acts under its attached policies)');
  const sub = (name: string, description: string) => common(new Command(name).description(description)).option('--json', 'print the raw JSON', false);
  user.addCommand(sub('create', 'Create a user; it can do nothing until it has an access key and a policy allowing something')
    .argument('<name>', '1-64 letters, digits or + = , . @ _ -')
    .action(async (name: string, opts: AdminOptions & Json) => {
      const created = await call<UserView>(opts, 'POST', 'iam/users/create', { userName: name });
      print(opts, created, `Created user ${created.userName} (${created.arn})\n`);
    }));
  user.addCommand(sub('list', 'List users with their access keys and attached policies')
    .action(async (opts: AdminOptions & Json) => {
      const { users } = await call<{ users: UserView[] }>(opts, 'GET', 'iam/users');
      const rows = users.map((u) => [u.userName, when(u.createdMs), u.accessKeyIds.join(',') || '-', u.policyNames.join(',') || '-']);
      print(opts, { users }, users.length === 0 ? 'No users.\n' : table(['USER', 'CREATED', 'ACCESS KEYS', 'POLICIES'], rows));
    }));
  user.addCommand(sub('delete', 'Delete a user; refused (DeleteConflict) while it has access keys or attached policies: delete and detach them first')
    .argument('<name>')
    .action(async (name: string, opts: AdminOptions & Json) => {
      await call(opts, 'POST', 'iam/users/delete', { userName: name });
      print(opts, {}, `Deleted user ${name}\n`);
    }));
  return user;
}

export function keyCommand(common: (cmd: Command) => Command): Command {
  const key = new Command('key').description('Create, list, disable, enable and delete users\' access keys (at most 2 per user)');
  const sub = (name: string, description: string) => common(new Command(name).description(description)).option('--json', 'print the raw JSON', false);
  key.addCommand(sub('create', 'Create an access key for a user and print its secret: the only time it is shown')
    .requiredOption('--user <name>', 'the user the key signs as')
    .action(async (opts: AdminOptions & Json & { user: string }) => {
      const created = await call<{ accessKeyId: string; secretAccessKey: string; userName: string }>(opts, 'POST', 'iam/keys/create', { userName: opts.user });
      if (opts.json) process.stdout.write(`${JSON.stringify({ accessKeyId: created.accessKeyId, secretAccessKey: created.secretAccessKey })}\n`);
      else process.stdout.write(`Access key for user ${created.userName} (the secret is not shown again):\n  access key: ${created.accessKeyId}\n  secret key: ${created.secretAccessKey}\n`);
    }));
  key.addCommand(sub('list', 'List access keys (never their secrets)')
    .option('--user <name>', 'only this user\'s keys')
    .action(async (opts: AdminOptions & Json & { user?: string }) => {
      const { accessKeys } = await call<{ accessKeys: AccessKeyView[] }>(opts, 'GET', `iam/keys${opts.user === undefined ? '' : `?user=${encodeURIComponent(opts.user)}`}`);
      const rows = accessKeys.map((k) => [k.accessKeyId, k.userName, k.status, when(k.createdMs)]);
      print(opts, { accessKeys }, accessKeys.length === 0 ? 'No access keys.\n' : table(['ACCESS KEY', 'USER', 'STATUS', 'CREATED'], rows));
    }));
  for (const [name, status, verb] of [['disable', 'Inactive', 'Disabled'], ['enable', 'Active', 'Enabled']] as const) {
    key.addCommand(sub(name, name === 'disable' ? 'Make an access key Inactive: requests signed with it are refused (InvalidAccessKeyId) until it is enabled' : 'Make an Inactive access key Active again')
      .argument('<access-key-id>')
      .action(async (id: string, opts: AdminOptions & Json) => {
        const view = await call<AccessKeyView>(opts, 'POST', 'iam/keys/update', { accessKeyId: id, status });
        print(opts, view, `${verb} access key ${id}\n`);
      }));
  }
  key.addCommand(sub('delete', 'Delete an access key: requests signed with it, presigned URLs too, are refused from now on')
    .argument('<access-key-id>')
    .action(async (id: string, opts: AdminOptions & Json) => {
      await call(opts, 'POST', 'iam/keys/delete', { accessKeyId: id });
      print(opts, {}, `Deleted access key ${id}\n`);
    }));
  return key;
}

export function policyCommand(common: (cmd: Command) => Command): Command {
  const policy = new Command('policy').description('Attach, detach and list a user\'s identity policies (IAM policy JSON: Version, Statement)');
  const sub = (name: string, description: string) => common(new Command(name).description(description)).option('--json', 'print the raw JSON', false);
  policy.addCommand(sub('attach', 'Attach a policy document to a user, replacing the one of the same name')
    .requiredOption('--user <name>', 'the user')
    .option('--name <policy>', 'the policy\'s name (default: the file name without .json)')
    .argument('<file>', 'the policy document, JSON')
    .action(async (file: string, opts: AdminOptions & Json & { user: string; name?: string }) => {
      const document = await readFile(file, 'utf8').catch((err: NodeJS.ErrnoException) => {
        throw new Error(`Cannot read policy file "${file}": ${err.code ?? String(err)}`);
      });
      const policyName = opts.name ?? basename(file, extname(file));
      const attached = await call<AttachedPolicyRecord>(opts, 'POST', 'iam/policies/attach', { userName: opts.user, policyName, document });
      print(opts, attached, `Attached policy ${attached.policyName} to user ${opts.user}\n`);
    }));
  policy.addCommand(sub('detach', 'Detach a policy from a user')
    .requiredOption('--user <name>', 'the user')
    .requiredOption('--name <policy>', 'the policy\'s name')
    .action(async (opts: AdminOptions & Json & { user: string; name: string }) => {
      await call(opts, 'POST', 'iam/policies/detach', { userName: opts.user, policyName: opts.name });
      print(opts, {}, `Detached policy ${opts.name} from user ${opts.user}\n`);
    }));
  policy.addCommand(sub('list', 'List a user\'s attached policies')
    .requiredOption('--user <name>', 'the user')
    .option('--documents', 'print each policy document too', false)
    .action(async (opts: AdminOptions & Json & { user: string; documents: boolean }) => {
      const { policies } = await call<{ policies: AttachedPolicyRecord[] }>(opts, 'GET', `iam/policies?user=${encodeURIComponent(opts.user)}`);
      let text = policies.length === 0 ? `No policies attached to user ${opts.user}.\n` : table(['POLICY', 'ATTACHED'], policies.map((p) => [p.policyName, when(p.attachedMs)]));
      if (opts.documents) for (const p of policies) text += `\n${p.policyName}:\n${p.document.trimEnd()}\n`;
      print(opts, { policies }, text);
    }));
  return policy;
}
