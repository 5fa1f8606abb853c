// Rate limit configuration: the JSON an operator writes (`--rate-limits FILE`, the admin API), checked
// field by field with messages that name the offending value. No state and no clocks: rate-limiter.ts
// enforces what this describes.
import { isIP } from 'node:net';

/** What a limit is kept per: the signing access key, the bucket named, or the client's IP address. */
export type LimitKind = 'key' | 'bucket' | 'ip';
export const limitKinds: readonly LimitKind[] = ['key', 'bucket', 'ip'];

/** The name whose limit applies to every key, bucket or IP without one of its own (each still gets its own bucket). */
export const defaultLimitName = '*';

/** One limit; an absent rate is no limit on that measure. Bursts default to one second's worth. */
export interface RateLimit {
  requestsPerSec?: number;
  requestsBurst?: number;
  bytesPerSec?: number;
  bytesBurst?: number;
}

export interface RateLimitConfig {
  key?: Record<string, RateLimit>;
  bucket?: Record<string, RateLimit>;
  ip?: Record<string, RateLimit>;
  /**
   * Peers (exact IP addresses, e.g. the load balancer) whose X-Forwarded-For is believed: for a request
   * from one of them, the per-IP limit applies to the last address that header names.
   */
  trustedProxies?: string[];
}

const limitFields: readonly (keyof RateLimit)[] = ['requestsPerSec', 'requestsBurst', 'bytesPerSec', 'bytesBurst'];
/** Names per kind in one configuration: each is a bucket kept in memory, and the admin API shows them all. */
const namedLimitsMax = 10_000;

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Checks one limit; throws RangeError naming `where` and the field. */
export function parseRateLimit(value: unknown, where: string): RateLimit {
  if (!isRecord(value)) throw new RangeError(`Cannot use rate limit ${where}: expected an object with ${limitFields.join(', ')}`);
  const limit: RateLimit = {};
  for (const [field, raw] of Object.entries(value)) {
    if (!(limitFields as readonly string[]).includes(field)) throw new RangeError(`Cannot use rate limit ${where}: unknown field "${field}" (expected ${limitFields.join(', ')})`);
    if (typeof raw !== 'number' || !Number.isFinite(raw) || raw <= 0) throw new RangeError(`Cannot use rate limit ${where}: "${field}" must be a positive number, not ${JSON.stringify(raw)}`);
    limit[field as keyof RateLimit] = raw;
  }
  if (limit.requestsBurst !== undefined && limit.requestsPerSec === undefined) throw new RangeError(`Cannot use rate limit ${where}: "requestsBurst" needs "requestsPerSec"`);
  if (limit.bytesBurst !== undefined && limit.bytesPerSec === undefined) throw new RangeError(`Cannot use rate limit ${where}: "bytesBurst" needs "bytesPerSec"`);
  if (limit.requestsBurst !== undefined && limit.requestsBurst < 1) throw new RangeError(`Cannot use rate limit ${where}: "requestsBurst" must be at least 1, not ${limit.requestsBurst}`);
  return limit;
}

/** Checks the name a limit is kept under for `kind`. */
export function checkLimitName(kind: LimitKind, name: string): void {
  if (name === defaultLimitName) return;
  if (name === '' || name.length > 1024) throw new RangeError(`Cannot use ${kind} name "${name.slice(0, 64)}" for a rate limit: expected 1 to 1024 characters`);
  if (kind === 'ip' && isIP(name) === 0) throw new RangeError(`Cannot use "${name}" as an IP rate limit: not an IP address`);
}

/** Checks a whole configuration (the file, or a replacement sent to the admin API). */
export function parseRateLimitConfig(value: unknown): RateLimitConfig {
  if (!isRecord(value)) throw new RangeError('Cannot use the rate limits: expected a JSON object with "key", "bucket", "ip" and "trustedProxies"');
  const config: RateLimitConfig = {};
  for (const [field, raw] of Object.entries(value)) {
    if (field === 'trustedProxies') {
      if (!Array.isArray(raw) || raw.some((a) => typeof a !== 'string' || isIP(a) === 0)) throw new RangeError('Cannot use "trustedProxies": expected a list of IP addresses');
      config.trustedProxies = (raw as string[]).map(normalizeIp);
      continue;
    }
    if (!(limitKinds as readonly string[]).includes(field)) throw new RangeError(`Cannot use the rate limits: unknown field "${field}" (expected key, bucket, ip, trustedProxies)`);
    const kind = field as LimitKind;
    if (!isRecord(raw)) throw new RangeError(`Cannot use the ${kind} rate limits: expected an object of name → limit`);
    const names = Object.keys(raw);
    if (names.length > namedLimitsMax) throw new RangeError(`Cannot use ${names.length} ${kind} rate limits: at most ${namedLimitsMax}`);
    const limits: Record<string, RateLimit> = {};
    for (const name of names) {
      checkLimitName(kind, name);
      limits[kind === 'ip' ? normalizeIp(name) : name] = parseRateLimit(raw[name], `for ${kind} "${name}"`);
    }
    config[kind] = limits;
  }
  return config;
}

/** "::ffff:10.0.0.1" (an IPv4 peer of a dual-stack socket) is 10.0.0.1: one client, one bucket. */
export function normalizeIp(address: string): string {
  return address.startsWith('::ffff:') && isIP(address.slice(7)) === 4 ? address.slice(7) : address;
}
