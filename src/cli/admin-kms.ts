// `tessera admin kms ...`: the key service's master keys (SSE-KMS, and SSE-S3's own key), through the admin
// API of the server at --endpoint: made, listed, shown, rotated, disabled, enabled; and the rewrap that
// re-seals them all under a new root key. Nothing here ever prints key material: the API answers none.
import { Command } from 'commander';
import { call, table, type AdminOptions } from './admin-client.js';
import type { KmsKeyInfo } from '../kms/types.js';
import type { RewrapResult } from '../kms/local-key-service.js';

type Json = { json: boolean };

function print(opts: Json, value: unknown, text: string): void {
  process.stdout.write(opts.json ? `${JSON.stringify(value, null, 2)}\n` : text);
}

const when = (ms: number | undefined) => (ms === undefined ? '-' : new Date(ms).toISOString());

/** One key as `show` prints it: a field a line. */
export function keyText(info: KmsKeyInfo): string {
  const lines = [
    ['key id', info.keyId],
    ['arn', info.arn],
    ['state', info.enabled ? 'Enabled' : 'Disabled'],
    ['versions', String(info.versions)],
    ['created', when(info.createdMs)],
    ['rotated', when(info.rotatedMs)],
    ...(info.description !== undefined ? [['description', info.description]] : []),
  ];
  return lines.map(([name, value]) => `${`${name}:`.padEnd(13)}${value}\n`).join('');
}

const path = (keyId: string, action?: string) => `kms/keys/${encodeURIComponent(keyId)}${action ? `/${action}` : ''}`;

export function kmsCommand(common: (cmd: Command) => Command): Command {
  const kms = new Command('kms').description('Manage the key service\'s master keys (SSE-KMS key ids, and the SSE-S3 key): create, list, show, rotate, disable, enable, rewrap');
  const sub = (name: string, description: string) => common(new Command(name).description(description)).option('--json', 'print the raw JSON', false);
  kms.addCommand(sub('create', 'Create a master key; objects name it in x-amz-server-side-encryption-aws-kms-key-id (its id or its ARN)')
    .argument('[key-id]', '1-64 letters, digits, - or _ (default: a fresh UUID)')
    .option('--description <text>', 'what the key is for')
    .action(async (keyId: string | undefined, opts: AdminOptions & Json & { description?: string }) => {
      const info = await call<KmsKeyInfo>(opts, 'POST', 'kms/keys', { ...(keyId !== undefined ? { keyId } : {}), ...(opts.description !== undefined ? { description: opts.description } : {}) });
      print(opts, info, `Created KMS key ${info.keyId} (${info.arn})\n`);
    }));
  kms.addCommand(sub('list', 'List master keys with their state and number of versions (never their material)')
    .action(async (opts: AdminOptions & Json) => {
      const { keys } = await call<{ keys: KmsKeyInfo[] }>(opts, 'GET', 'kms/keys');
      const rows = keys.map((k) => [k.keyId, k.enabled ? 'Enabled' : 'Disabled', String(k.versions), when(k.createdMs), when(k.rotatedMs), k.description ?? '']);
      print(opts, { keys }, keys.length === 0 ? 'No KMS keys.\n' : table(['KEY ID', 'STATE', 'VERSIONS', 'CREATED', 'ROTATED', 'DESCRIPTION'], rows));
    }));
  kms.addCommand(sub('show', 'Show one master key: its ARN, state, versions and dates')
    .argument('<key-id>')
    .action(async (keyId: string, opts: AdminOptions & Json) => {
      const info = await call<KmsKeyInfo>(opts, 'GET', path(keyId));
      print(opts, info, keyText(info));
    }));
  kms.addCommand(sub('rotate', 'Give a master key new material: new objects use it, objects written before still open with the older versions')
    .argument('<key-id>')
    .action(async (keyId: string, opts: AdminOptions & Json) => {
      const info = await call<KmsKeyInfo>(opts, 'POST', path(keyId, 'rotate'));
      print(opts, info, `Rotated KMS key ${info.keyId}: now at version ${info.versions}\n`);
    }));
  for (const [name, verb] of [['disable', 'Disabled'], ['enable', 'Enabled']] as const) {
    kms.addCommand(sub(name, name === 'disable'
      ? 'Disable a master key: objects encrypted under it cannot be read, nor new ones written, until it is enabled (every gateway within its KMS poll, a second by default)'
      : 'Enable a disabled master key again: its objects can be read')
      .argument('<key-id>')
      .action(async (keyId: string, opts: AdminOptions & Json) => {
        const info = await call<KmsKeyInfo>(opts, 'POST', path(keyId, name));
        print(opts, info, `${verb} KMS key ${info.keyId}\n`);
      }));
  }
  kms.addCommand(sub('rewrap', 'Re-seal every master key version under the server\'s current KMS root key (after starting it with the new root key and the old one as --kms-previous-root-key-file); safe to run again after a crash')
    .action(async (opts: AdminOptions & Json) => {
      const result = await call<RewrapResult>(opts, 'POST', 'kms/rewrap');
      const left = result.versionsUnopenable === 0
        ? 'every key version is now sealed under it: the previous root keys may be dropped'
        : `${result.versionsUnopenable} key versions are sealed under a root key this server was not given: keep it until they are rewrapped`;
      print(opts, result, `Re-sealed ${result.versionsResealed} key versions of ${result.keys} keys under root key ${result.rootKeyId}; ${left}\n`);
    }));
  return kms;
}
