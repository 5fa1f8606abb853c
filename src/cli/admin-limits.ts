// `tessera admin limits show|set|clear`: the rate limits of the process behind --endpoint, through its admin
// API. Each process enforces its own limits, so behind a load balancer every gateway is set on its own.
import { readFile } from 'node:fs/promises';
import { Command, Option } from 'commander';
import { call, table, type AdminOptions } from './admin-client.js';
import { formatBytes } from './admin-cluster.js';
import type { LimitsView } from '../admin/limits-api.js';
import type { RateLimit } from '../util/rate-limits.js';

const byteUnits: Record<string, number> = { '': 1, b: 1, k: 1024, kb: 1000, kib: 1024, m: 1024 ** 2, mb: 1000 ** 2, mib: 1024 ** 2, g: 1024 ** 3, gb: 1000 ** 3, gib: 1024 ** 3 };

/** "10MiB", "512k", "1.5GB" or a plain byte count; the K/M/G letters alone are binary. */
export function parseByteSize(flag: string, text: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$/.exec(text);
  const unit = m ? byteUnits[m[2]!.toLowerCase()] : undefined;
  if (!m || unit === undefined || Number(m[1]) <= 0) throw new Error(`Cannot use ${flag} "${text}": expected a positive size such as 1048576, 512KiB or 10MiB`);
  return Math.round(Number(m[1]) * unit);
}

function positive(flag: string, text: string): number {
  const n = Number(text);
  if (text.trim() === '' || !Number.isFinite(n) || n <= 0) throw new Error(`Cannot use ${flag} "${text}": expected a positive number`);
  return n;
}

function rate(n: number | undefined, format: (n: number) => string): string {
  return n === undefined ? '-' : format(n);
}

/** The limits as a table, then what they refused; says that they are this process's own. */
export function limitsText(view: LimitsView): string {
  const rows: string[][] = [];
  for (const kind of ['key', 'bucket', 'ip'] as const) {
    for (const [name, l] of Object.entries(view.limits[kind] ?? {})) {
      const bytes = (n: number) => `${formatBytes(n)}`;
      rows.push([kind, name, rate(l.requestsPerSec, String), rate(l.requestsBurst ?? (l.requestsPerSec === undefined ? undefined : Math.max(1, l.requestsPerSec)), String), rate(l.bytesPerSec, (n) => `${bytes(n)}/s`), rate(l.bytesBurst ?? l.bytesPerSec, bytes)]);
    }
  }
  let text = rows.length === 0 ? 'No rate limits.\n' : table(['KIND', 'NAME', 'REQUESTS/S', 'BURST', 'BYTES/S', 'BURST'], rows);
  if (view.limits.trustedProxies?.length) text += `X-Forwarded-For believed from: ${view.limits.trustedProxies.join(', ')}\n`;
  const refused = view.throttled.filter((t) => t.count > 0).map((t) => `${t.count} over ${t.kind} ${t.measure}`);
  text += `Refused with SlowDown since start: ${refused.length === 0 ? 'none' : refused.join(', ')}\n`;
  text += 'These are this process\'s limits: every gateway enforces its own (set each one).\n';
  return text;
}

function print(opts: { json: boolean }, view: LimitsView): void {
  process.stdout.write(opts.json ? `${JSON.stringify(view, null, 2)}\n` : limitsText(view));
}

type SetFlags = AdminOptions & { json: boolean; file?: string; requestsPerSec?: string; requestsBurst?: string; bytesPerSec?: string; bytesBurst?: string };

async function set(kind: string | undefined, name: string | undefined, opts: SetFlags): Promise<void> {
  if (opts.file !== undefined) {
    if (kind !== undefined) throw new Error('Cannot use --file with a kind and name: the file replaces every limit');
    const config = JSON.parse(await readFile(opts.file, 'utf8')) as unknown;
    return print(opts, await call<LimitsView>(opts, 'PUT', 'limits', config));
  }
  if (kind === undefined || name === undefined) throw new Error('Cannot set a limit without its kind (key, bucket or ip) and name ("*" for the default), or --file');
  const limit: RateLimit = {
    ...(opts.requestsPerSec !== undefined ? { requestsPerSec: positive('--requests-per-sec', opts.requestsPerSec) } : {}),
    ...(opts.requestsBurst !== undefined ? { requestsBurst: positive('--requests-burst', opts.requestsBurst) } : {}),
    ...(opts.bytesPerSec !== undefined ? { bytesPerSec: parseByteSize('--bytes-per-sec', opts.bytesPerSec) } : {}),
    ...(opts.bytesBurst !== undefined ? { bytesBurst: parseByteSize('--bytes-burst', opts.bytesBurst) } : {}),
  };
  print(opts, await call<LimitsView>(opts, 'POST', 'limits/set', { kind, name, limit }));
}

export function limitsCommand(common: (cmd: Command) => Command): Command {
  const limits = new Command('limits').description('Show and change the rate limits per access key, bucket and client IP of the process at --endpoint (not stored: a restart goes back to --rate-limits)');
  const sub = (name: string, description: string) => common(new Command(name).description(description)).option('--json', 'print the raw JSON', false);
  limits.addCommand(sub('show', 'Show the limits in force and how many requests they refused')
    .action(async (opts: AdminOptions & { json: boolean }) => print(opts, await call<LimitsView>(opts, 'GET', 'limits'))));
  limits.addCommand(sub('set', 'Set the limit of one access key, bucket or IP ("*": the default for each one without its own), replacing its previous limit; or replace every limit with --file')
    .argument('[kind]', 'key, bucket or ip')
    .argument('[name]', 'the access key id, bucket name or IP address; "*" for the default')
    .addOption(new Option('--requests-per-sec <n>', 'requests per second'))
    .addOption(new Option('--requests-burst <n>', 'requests allowed at once after a quiet time (default: one second\'s worth)'))
    .addOption(new Option('--bytes-per-sec <size>', 'bytes per second, in and out (e.g. 10MiB)'))
    .addOption(new Option('--bytes-burst <size>', 'bytes allowed at once after a quiet time (default: one second\'s worth)'))
    .addOption(new Option('--file <path>', 'a JSON file in the --rate-limits format: replaces every limit'))
    .action((kind: string | undefined, name: string | undefined, opts: SetFlags) => set(kind, name, opts)));
  limits.addCommand(sub('clear', 'Remove the limit of one access key, bucket or IP, or every limit with --all')
    .argument('[kind]', 'key, bucket or ip')
    .argument('[name]', 'the access key id, bucket name or IP address; "*" for the default')
    .option('--all', 'remove every limit', false)
    .action(async (kind: string | undefined, name: string | undefined, opts: AdminOptions & { json: boolean; all: boolean }) => {
      if (!opts.all && (kind === undefined || name === undefined)) throw new Error('Cannot clear a limit without its kind and name, or --all');
      print(opts, await call<LimitsView>(opts, 'POST', 'limits/clear', opts.all ? { all: true } : { kind, name }));
    }));
  return limits;
}
