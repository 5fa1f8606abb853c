// Flags shared by the roles that serve S3 (server, gateway): the endpoint's and the background work's,
// and their conversion to configuration. No logic of its own beyond checking the numbers.
import { readFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { totalmem } from 'node:os';
import { Command, Option } from 'commander';
import { parseStorageClasses, type ServerConfig } from '../main.js';
import type { VaultConfig } from '../kms/vault-key-service.js';
import { abortUploadsAfterDaysDefault, lifecycleRateKeysPerSecDefault, MiB, readCacheMemoryShare, readCacheMiBMax, rebalanceRateBlocksPerSecDefault, rebalanceRateBytesPerSecDefault, shutdownTimeoutMsDefault } from '../constants.js';
import { checkMetricsToken } from '../admin/metrics.js';
import { TrustedProxies } from '../s3/client-address.js';
import { parseRateLimitConfig, type RateLimitConfig } from '../util/rate-limits.js';
import { createLogger, parseLogFormat, parseLogLevel, type Logger, type LoggerOptions } from '../util/log.js';
import { readTlsFiles, tlsFilesOf, type TlsFiles } from '../util/tls.js';

/** A flag's value as a number, or a clear error naming the flag. */
export function nonNegative(flag: string, value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n < 0) throw new Error(`Cannot use ${flag} "${value}": expected a non-negative number`);
  return n;
}

/** A flag's value as a whole number of at least 1, or a clear error naming the flag. */
export function positiveInteger(flag: string, value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isInteger(n) || n < 1) throw new Error(`Cannot use ${flag} "${value}": expected a whole number of at least 1`);
  return n;
}

/** A flag's on/off value as a boolean, or a clear error naming the flag. */
export function onOff(flag: string, value: string): boolean {
  const v = value.trim().toLowerCase();
  if (v === 'on' || v === 'true' || v === '1') return true;
  if (v === 'off' || v === 'false' || v === '0') return false;
  throw new Error(`Cannot use ${flag} "${value}": expected on or off`);
}

/** --default-encryption: off, or AES256 (SSE-S3 for every new object without its own encryption). */
export function defaultEncryptionOf(value: string): { defaultEncryption?: 'AES256' } {
  const v = value.trim();
  if (v.toLowerCase() === 'off' || v === '') return {};
  if (v.toUpperCase() === 'AES256') return { defaultEncryption: 'AES256' };
  throw new Error(`Cannot use --default-encryption "${value}": expected off or AES256`);
}

export const list = (s: string) => s.split(',').map((x) => x.trim()).filter((x) => x !== '');

export interface SharedFlags {
  address: string;
  region: string;
  domain: string;
  gcDelay: string;
  gcInterval: string;
  orphanGrace: string;
  orphanSweepInterval: string;
  storageClasses: string;
  healRate: string;
  scrubRate: string;
  rebalanceRate: string;
  rebalanceBandwidth: string;
  scrubInterval: string;
  lifecycleInterval: string;
  lifecycleRate: string;
  abortUploadsAfter: string;
  metricsAddress: string;
  metricsToken?: string;
  shutdownTimeout: string;
  sigv2: string;
  trustedProxies: string;
  iamKeyFile: string;
  kmsRootKeyFile: string;
  metaConnections: string;
  metaConnectTimeout: string;
  metaStatementTimeout: string;
  readCache: string;
  kmsPreviousRootKeyFile: string;
  kms: string;
  vaultAddress?: string;
  vaultTokenFile?: string;
  vaultMount: string;
  vaultCaFile?: string;
  defaultEncryption: string;
  blockPublicAccess: string;
  rateLimits: string;
  logLevel: string;
  logFormat?: string;
  tlsCert?: string;
  tlsKey?: string;
}

/** Adds the endpoint and background-work flags, in the order `tessera server --help` has always shown them. */
export function addSharedOptions(cmd: Command, between: (cmd: Command) => Command = (c) => c): Command {
  cmd.addOption(new Option('--address <host:port>', 'address to listen on').env('TESSERA_ADDRESS').default('127.0.0.1:9000'));
  between(cmd);
  return cmd
    .addOption(new Option('--region <name>', 'the S3 region this endpoint serves').env('TESSERA_REGION').default('us-east-1'))
    .addOption(new Option('--domain <names>', 'comma-separated base domains for virtual-hosted-style requests (bucket.DOMAIN)').env('TESSERA_DOMAIN').default('localhost'))
    .addOption(new Option('--sigv2 <on|off>', 'accept AWS Signature Version 2 (Authorization: AWS ..., and presigned URLs with AWSAccessKeyId/Signature/Expires), which older tools still send; off answers it as AWS\'s SigV4-only regions do').env('TESSERA_SIGV2').default('on'))
    .addOption(new Option('--trusted-proxies <cidrs>', 'comma-separated addresses or CIDR blocks of proxies in front of this endpoint (a load balancer) whose X-Forwarded-For is believed: a request from one is taken to come from the address it forwarded, for aws:SourceIp in policies, the per-IP rate limits and the access log; empty: the connection\'s peer is the client').env('TESSERA_TRUSTED_PROXIES').default(''))
    .addOption(new Option('--iam-key-file <file>', 'the key access key secrets are encrypted under in the metadata (created, mode 0600, when missing); every gateway of a cluster must be given the same file. Default: iam.key in the data directory').env('TESSERA_IAM_KEY_FILE').default(''))
    .addOption(new Option('--kms-root-key-file <file>', 'the root key the built-in key service seals its master keys under (SSE-S3, SSE-KMS; created, mode 0600, when missing); every gateway of a cluster must be given the same file. TESSERA_KMS_ROOT_KEY (64 hex digits) gives the key itself instead. Default: kms.key in the data directory').env('TESSERA_KMS_ROOT_KEY_FILE').default(''))
    .addOption(new Option('--kms-previous-root-key-file <files>', 'comma-separated files of root keys being retired: master keys sealed under them still open, and `tessera admin kms rewrap` re-seals them under the current one; drop this once the rewrap reports none left. TESSERA_KMS_PREVIOUS_ROOT_KEYS (comma-separated hex) gives the keys themselves instead').env('TESSERA_KMS_PREVIOUS_ROOT_KEY_FILE').default(''))
    .addOption(new Option('--kms <service>', 'the key service SSE-S3 and SSE-KMS wrap data keys with: local (built in: master keys in the metadata, sealed under the KMS root key) or vault (HashiCorp Vault\'s transit engine: --vault-address, --vault-token-file; keys are made and rotated in Vault)').env('TESSERA_KMS').choices(['local', 'vault']).default('local'))
    .addOption(new Option('--vault-address <url>', 'with --kms vault: the Vault server, http(s)://host:port').env('VAULT_ADDR'))
    .addOption(new Option('--vault-token-file <file>', 'with --kms vault: the file holding the Vault token (a Vault agent\'s sink works: it is read again when Vault refuses the token)').env('TESSERA_VAULT_TOKEN_FILE'))
    .addOption(new Option('--vault-mount <path>', 'with --kms vault: where the transit engine is mounted').env('TESSERA_VAULT_MOUNT').default('transit'))
    .addOption(new Option('--vault-ca-file <file>', 'with --kms vault: PEM certificates to check Vault\'s certificate against, instead of the system\'s').env('VAULT_CACERT'))
    .addOption(new Option('--default-encryption <off|AES256>', 'AES256 stores every new object with SSE-S3 unless its request or its bucket\'s default encryption says otherwise (GetBucketEncryption then answers AES256 for buckets without their own rule, as AWS does); off stores such objects as sent').env('TESSERA_DEFAULT_ENCRYPTION').default('off'))
    .addOption(new Option('--block-public-access <on|off>', 'the store-wide Block Public Access settings: on (all four, AWS\'s default for new accounts) refuses public ACLs whatever a bucket says; off leaves it to each bucket\'s own settings').env('TESSERA_BLOCK_PUBLIC_ACCESS').default('on'))
    .addOption(new Option('--meta-connections <n>', 'with --meta: PostgreSQL connections this process keeps at most').env('TESSERA_META_CONNECTIONS').default('10'))
    .addOption(new Option('--meta-connect-timeout <seconds>', 'with --meta: how long a metadata call may wait for a PostgreSQL connection before it fails (503)').env('TESSERA_META_CONNECT_TIMEOUT').default('5'))
    .addOption(new Option('--meta-statement-timeout <seconds>', 'with --meta: PostgreSQL cancels a metadata statement running longer than this, lock waits included (503)').env('TESSERA_META_STATEMENT_TIMEOUT').default('10'))
    .addOption(new Option('--read-cache <MiB|auto>', `MiB of memory each serving process keeps for the checked bytes of objects read often (read a second time lately, each at most 1/8 of this), so their GETs skip the drive read and the checksum pass; auto: ${readCacheMiBMax}, or 1/${1 / readCacheMemoryShare} of the machine's memory when less; 0: none`).env('TESSERA_READ_CACHE').default('auto'))
    .addOption(new Option('--gc-delay <seconds>', 'how long replaced data is kept before deletion, so reads in flight finish').env('TESSERA_GC_DELAY').default('60'))
    .addOption(new Option('--gc-interval <seconds>', 'how often the garbage collector runs').env('TESSERA_GC_INTERVAL').default('5'))
    .addOption(new Option('--orphan-grace <seconds>', 'unreferenced shards untouched this long are leftovers of crashed writes and get deleted (writes in flight in this process are never taken)').env('TESSERA_ORPHAN_GRACE').default('900'))
    .addOption(new Option('--orphan-sweep-interval <seconds>', 'how often the drives are swept for such leftovers, besides at start and once the grace has passed after start').env('TESSERA_ORPHAN_SWEEP_INTERVAL').default('21600'))
    .addOption(new Option('--storage-classes <map>', 'redundancy per storage class, e.g. "STANDARD=rs:4+2,REDUCED_REDUNDANCY=rep:2"; unlisted classes get the default for the drive count').env('TESSERA_STORAGE_CLASSES').default(''))
    .addOption(new Option('--heal-rate <blocks/s>', 'how many blocks per second a heal pass may check').env('TESSERA_HEAL_RATE').default('200'))
    .addOption(new Option('--scrub-rate <blocks/s>', 'how many blocks per second the background scrubber verifies').env('TESSERA_SCRUB_RATE').default('20'))
    .addOption(new Option('--rebalance-rate <blocks/s>', 'how many blocks per second a rebalance (after a layout change) may move shards of; 0 pauses it').env('TESSERA_REBALANCE_RATE').default(String(rebalanceRateBlocksPerSecDefault)))
    .addOption(new Option('--rebalance-bandwidth <MiB/s>', 'how many MiB of shards per second a rebalance may copy or rebuild; 0: no limit').env('TESSERA_REBALANCE_BANDWIDTH').default(String(rebalanceRateBytesPerSecDefault / 1024 / 1024)))
    .addOption(new Option('--scrub-interval <hours>', 'start a scrub pass this often (0: only on request)').env('TESSERA_SCRUB_INTERVAL').default('24'))
    .addOption(new Option('--lifecycle-interval <hours>', 'start a lifecycle pass (bucket lifecycle rules, abandoned uploads) this often (0: only on request, "tessera admin lifecycle run")').env('TESSERA_LIFECYCLE_INTERVAL').default('24'))
    .addOption(new Option('--lifecycle-rate <keys/s>', 'how many object keys per second a lifecycle pass may judge').env('TESSERA_LIFECYCLE_RATE').default(String(lifecycleRateKeysPerSecDefault)))
    .addOption(new Option('--abort-uploads-after <days>', 'multipart uploads left incomplete this long are aborted by the lifecycle pass in every bucket, rule or not (0: kept until a rule or a client aborts them)').env('TESSERA_ABORT_UPLOADS_AFTER').default(String(abortUploadsAfterDaysDefault)))
    .addOption(new Option('--rate-limits <file>', 'JSON file of rate limits per access key, bucket and client IP (requests/s and bytes/s with bursts; see README "Rate limits"); enforced by each process on its own, changed at run time with "tessera admin limits"').env('TESSERA_RATE_LIMITS').default(''))
    .addOption(new Option('--metrics-token <token>', 'a bearer token (16 characters or more) that reads /_tessera/metrics without a signature (Authorization: Bearer TOKEN); without it only requests signed by the root key read them. Prefer the environment variable: argv is visible to other users').env('TESSERA_METRICS_TOKEN'))
    .addOption(new Option('--metrics-address <host:port>', 'also serve Prometheus metrics at /metrics here, to the same token or signature (needs --metrics-token); off when empty').env('TESSERA_METRICS_ADDRESS').default(''))
    .addOption(new Option('--shutdown-timeout <seconds>', 'on SIGTERM or SIGINT, how long requests in flight may take to finish before they are cut').env('TESSERA_SHUTDOWN_TIMEOUT').default(String(shutdownTimeoutMsDefault / 1000)))
    .addOption(logLevelOption())
    .addOption(logFormatOption())
    .addOption(tlsCertOption())
    .addOption(tlsKeyOption());
}

/** --tls-cert and --tls-key: HTTPS on the role's listeners, the files re-read on SIGHUP. */
export function tlsCertOption(): Option {
  return new Option('--tls-cert <file>', 'serve HTTPS with this PEM certificate chain (with --tls-key); re-read on SIGHUP without dropping connections ("tessera tls init" makes a CA and certificates to try it)').env('TESSERA_TLS_CERT');
}

export function tlsKeyOption(): Option {
  return new Option('--tls-key <file>', 'the PEM private key of --tls-cert').env('TESSERA_TLS_KEY');
}

/** --log-level: info writes one access line per request; warn drops them and keeps problems only. */
export function logLevelOption(): Option {
  return new Option('--log-level <level>', 'debug, info (one access line per request), warn or error').env('TESSERA_LOG_LEVEL').default('info');
}

export function logFormatOption(): Option {
  return new Option('--log-format <format>', 'json (one object per line) or pretty (one readable line per entry); default: pretty when stderr is a terminal, else json').env('TESSERA_LOG_FORMAT');
}

/** The logger the --log-level and --log-format flags ask for. */
export function loggerOf(opts: { logLevel: string; logFormat?: string }, extra: Pick<LoggerOptions, 'fields' | 'sharedStderr'> = {}): Logger {
  return createLogger({
    level: parseLogLevel('--log-level', opts.logLevel),
    ...(opts.logFormat ? { format: parseLogFormat('--log-format', opts.logFormat) } : {}),
    ...extra,
  });
}

/** --read-cache in bytes: a number of MiB, or auto (readCacheMiBMax, or a share of the machine's memory when less). */
export function readCacheBytesOf(value: string): number {
  if (value.trim().toLowerCase() === 'auto') return Math.min(readCacheMiBMax * MiB, Math.floor((totalmem() * readCacheMemoryShare) / MiB) * MiB);
  return Math.round(nonNegative('--read-cache', value) * MiB);
}

/** --kms vault's settings; both the address and the token file are needed. */
function vaultConfig(opts: SharedFlags): VaultConfig {
  if (!opts.vaultAddress || !opts.vaultTokenFile) throw new RangeError('Cannot use --kms vault without --vault-address and --vault-token-file');
  return { address: opts.vaultAddress, tokenFile: opts.vaultTokenFile, mount: opts.vaultMount, ...(opts.vaultCaFile ? { caFile: opts.vaultCaFile } : {}) };
}

/** The configuration the shared flags give (the role adds its stores' own). */
export function sharedConfig(opts: SharedFlags): Omit<ServerConfig, 'dataDir' | 'drives'> {
  return {
    address: opts.address,
    region: opts.region,
    domains: list(opts.domain),
    sigv2: onOff('--sigv2', opts.sigv2),
    ...trustedProxiesConfig(opts.trustedProxies),
    ...(opts.iamKeyFile ? { iamKeyFile: opts.iamKeyFile } : {}),
    ...(opts.kmsRootKeyFile ? { kmsRootKeyFile: opts.kmsRootKeyFile } : {}),
    ...(opts.kmsPreviousRootKeyFile ? { kmsPreviousRootKeyFiles: list(opts.kmsPreviousRootKeyFile) } : {}),
    ...(opts.kms === 'vault' ? { vault: vaultConfig(opts) } : {}),
    ...defaultEncryptionOf(opts.defaultEncryption),
    blockPublicAccess: onOff('--block-public-access', opts.blockPublicAccess),
    metaPostgres: {
      poolConnectionsMax: positiveInteger('--meta-connections', opts.metaConnections),
      connectTimeoutMs: Math.max(1, Math.round(nonNegative('--meta-connect-timeout', opts.metaConnectTimeout) * 1000)),
      statementTimeoutMs: Math.max(1, Math.round(nonNegative('--meta-statement-timeout', opts.metaStatementTimeout) * 1000)),
    },
    readCacheBytes: readCacheBytesOf(opts.readCache),
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
    lifecycleIntervalMs: nonNegative('--lifecycle-interval', opts.lifecycleInterval) * 3600 * 1000,
    lifecycleRateKeysPerSec: Math.max(1, nonNegative('--lifecycle-rate', opts.lifecycleRate)),
    abortUploadsAfterMs: nonNegative('--abort-uploads-after', opts.abortUploadsAfter) * 86_400_000,
    ...(opts.metricsAddress ? { metricsAddress: opts.metricsAddress } : {}),
    ...(opts.metricsToken ? { metricsToken: checkMetricsToken(opts.metricsToken) } : {}),
    shutdownTimeoutMs: nonNegative('--shutdown-timeout', opts.shutdownTimeout) * 1000,
    ...(opts.rateLimits ? { rateLimits: readRateLimits(opts.rateLimits) } : {}),
    log: loggerOf(opts),
    ...tlsConfig(opts),
    ...(process.env.TESSERA_ROOT_ACCESS_KEY ? { rootAccessKey: process.env.TESSERA_ROOT_ACCESS_KEY } : {}),
    ...(process.env.TESSERA_ROOT_SECRET_KEY ? { rootSecretKey: process.env.TESSERA_ROOT_SECRET_KEY } : {}),
  };
}

/** --trusted-proxies, checked now, so a role given a malformed one fails at start. */
export function trustedProxiesConfig(value: string): { trustedProxies?: string[] } {
  const entries = list(value);
  if (entries.length === 0) return {};
  TrustedProxies.parse(entries);
  return { trustedProxies: entries };
}

/** The listener's TLS files, checked now, so a role with an unreadable certificate fails at start. */
export function tlsConfig(opts: { tlsCert?: string; tlsKey?: string }): { tls?: TlsFiles } {
  const tls = tlsFilesOf(opts.tlsCert, opts.tlsKey);
  if (!tls) return {};
  readTlsFiles(tls);
  return { tls };
}

/** The rate limits file, checked: a start with limits it cannot read fails rather than run unlimited. */
export function readRateLimits(path: string): RateLimitConfig {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new Error(`Cannot read rate limits file "${path}": ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
  try {
    return parseRateLimitConfig(JSON.parse(text));
  } catch (err) {
    throw new Error(`Cannot use rate limits file "${path}": ${(err as Error).message}`);
  }
}

/** The secret is the file's bytes without a trailing newline, so `echo` and editors make the same secret. */
export async function readSecret(path: string): Promise<Buffer> {
  const bytes = await readFile(path).catch((err: NodeJS.ErrnoException) => {
    throw new Error(`Cannot read cluster secret file "${path}": ${err.code ?? String(err)}`);
  });
  let end = bytes.length;
  while (end > 0 && (bytes[end - 1] === 0x0a || bytes[end - 1] === 0x0d)) end--;
  return bytes.subarray(0, end);
}

/** How long past the shutdown timeout a stop may take (workers ending their step, stores closing) before the process gives up on it. */
const stopOverrunMs = 30_000;

/**
 * Stops `running` gracefully on SIGINT or SIGTERM and exits 0 (1 when closing failed). A second signal, or
 * a stop that outlasts its bound, exits 1 at once: no acknowledged write depends on a clean close.
 */
export function stopOnSignals(running: { close(): Promise<void> }, shutdownTimeoutMs = shutdownTimeoutMsDefault, signals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM']): void {
  let stopping = false;
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) {
      process.stderr.write(`tessera: ${signal} again: stopping now\n`);
      process.exit(1);
    }
    stopping = true;
    setTimeout(() => {
      process.stderr.write(`tessera: the stop did not finish within ${(shutdownTimeoutMs + stopOverrunMs) / 1000} s: stopping now\n`);
      process.exit(1);
    }, shutdownTimeoutMs + stopOverrunMs).unref();
    running.close().then(() => process.exit(0), (err: unknown) => {
      process.stderr.write(`tessera: cannot stop cleanly: ${String(err)}\n`);
      process.exit(1);
    });
  };
  for (const signal of signals) process.on(signal, stop);
}
