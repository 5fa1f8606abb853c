// Token buckets per access key, bucket and client IP, for requests/s and bytes/s (rate-limits.ts holds
// what is configured). Decides admissions and paces bodies; it never sleeps, answers nothing and knows no
// HTTP: callers wait the milliseconds it names, or refuse with the Retry-After it names.
import { assert } from './assert.js';
import { defaultLimitName, limitKinds, normalizeIp, type LimitKind, type RateLimit, type RateLimitConfig } from './rate-limits.js';

export type LimitMeasure = 'requests' | 'bytes';

/** Requests and bytes one process charged under one name's limit, told to the other workers. */
export interface SpentEntry {
  kind: LimitKind;
  name: string;
  requests: number;
  bytes: number;
}

/** Why a request is refused: the limit that refused it and when to come back. */
export class RateRefusal {
  constructor(readonly kind: LimitKind, readonly measure: LimitMeasure, readonly retryAfterSec: number) {}
}

interface Bucket {
  tokens: number;
  updatedMs: number;
}

/**
 * What this process charged and the other workers of `--workers N` have not been told yet (see
 * RateLimiter.shareSpending): the states charged since the last takeSpent().
 */
interface Spending {
  dirty: Set<LimitState> | undefined;
}

/** One configured limit with its rates per millisecond, and one name's buckets under it. */
interface LimitState {
  readonly kind: LimitKind;
  readonly name: string;
  readonly spending: Spending;
  /** Charged here since the last takeSpent() (kept only while sharing). */
  spentRequests: number;
  spentBytes: number;
  readonly requestsPerMs: number;
  readonly requestsBurst: number;
  readonly bytesPerMs: number;
  readonly bytesBurst: number;
  readonly requests: Bucket | undefined;
  readonly bytes: Bucket | undefined;
}

/** Buckets kept per kind: one per key, bucket or IP seen. Full (idle) ones go first when there are more. */
export const limitStatesMax = 50_000;

function refill(bucket: Bucket, perMs: number, burst: number, nowMs: number): number {
  const elapsedMs = nowMs - bucket.updatedMs;
  if (elapsedMs > 0) {
    bucket.tokens = Math.min(burst, bucket.tokens + elapsedMs * perMs);
    bucket.updatedMs = nowMs;
  }
  return bucket.tokens;
}

function retryAfterSec(waitMs: number): number {
  return Math.max(1, Math.ceil(waitMs / 1000));
}

/**
 * Byte buckets a request was admitted under. Request bodies are paced: each piece is taken from every
 * bucket, and the reader waits until none is in debt before reading on. Responses are charged once sent
 * and are not paced; their debt makes the following requests wait instead.
 */
export class ByteMeter {
  constructor(readonly states: readonly LimitState[], readonly nowMs: () => number) {}

  /** Takes `bytes`; returns how long to wait before reading more (0: at once). */
  take(bytes: number): number {
    const nowMs = this.nowMs();
    let waitMs = 0;
    for (const s of this.states) {
      const tokens = refill(s.bytes!, s.bytesPerMs, s.bytesBurst, nowMs) - bytes;
      s.bytes!.tokens = tokens;
      charge(s, 0, bytes);
      if (tokens < 0) waitMs = Math.max(waitMs, -tokens / s.bytesPerMs);
    }
    return waitMs;
  }
}

/** Notes a charge for the other workers, when they are to hear of it. */
function charge(s: LimitState, requests: number, bytes: number): void {
  if (!s.spending.dirty) return;
  s.spentRequests += requests;
  s.spentBytes += bytes;
  s.spending.dirty.add(s);
}

/** Takes one request from `s`'s request bucket, if it has one. */
function takeRequest(s: LimitState | undefined): void {
  if (!s?.requests) return;
  s.requests.tokens -= 1;
  charge(s, 1, 0);
}

/** The buckets of one kind and the limits they follow. */
class KindLimits {
  /** Configured limits by name, `*` for the default. */
  readonly limits = new Map<string, RateLimit>();
  readonly states = new Map<string, LimitState>();

  constructor(readonly kind: LimitKind, readonly spending: Spending) {}

  stateOf(name: string, nowMs: number): LimitState | undefined {
    const known = this.states.get(name);
    if (known) return known;
    const limit = this.limits.get(name) ?? this.limits.get(defaultLimitName);
    if (!limit) return undefined;
    if (this.states.size >= limitStatesMax) this.evict(nowMs);
    const requestsBurst = limit.requestsBurst ?? Math.max(1, limit.requestsPerSec ?? 0);
    const bytesBurst = limit.bytesBurst ?? limit.bytesPerSec ?? 0;
    const state: LimitState = {
      kind: this.kind,
      name,
      spending: this.spending,
      spentRequests: 0,
      spentBytes: 0,
      requestsPerMs: (limit.requestsPerSec ?? 0) / 1000,
      requestsBurst,
      bytesPerMs: (limit.bytesPerSec ?? 0) / 1000,
      bytesBurst,
      requests: limit.requestsPerSec ? { tokens: requestsBurst, updatedMs: nowMs } : undefined,
      bytes: limit.bytesPerSec ? { tokens: bytesBurst, updatedMs: nowMs } : undefined,
    };
    this.states.set(name, state);
    return state;
  }

  /** Forgets full buckets (a fresh one is the same), then, if that was not enough, the oldest quarter. */
  evict(nowMs: number): void {
    for (const [name, s] of this.states) {
      const requestsFull = !s.requests || refill(s.requests, s.requestsPerMs, s.requestsBurst, nowMs) >= s.requestsBurst;
      const bytesFull = !s.bytes || refill(s.bytes, s.bytesPerMs, s.bytesBurst, nowMs) >= s.bytesBurst;
      if (requestsFull && bytesFull && !this.spending.dirty?.has(s)) this.states.delete(name);
    }
    if (this.states.size < limitStatesMax * 0.75) return;
    let drop = Math.ceil(this.states.size / 4);
    for (const name of this.states.keys()) {
      if (drop-- <= 0) break;
      this.states.delete(name);
    }
  }
}

/** Raises `waits` to the wait `s` demands before it admits a request, with its refusal. */
function waitOf(kind: LimitKind, s: LimitState, nowMs: number, waits: { ms: number; refusal: RateRefusal | undefined }): void {
  if (s.requests) {
    const waitMs = (1 - refill(s.requests, s.requestsPerMs, s.requestsBurst, nowMs)) / s.requestsPerMs;
    if (waitMs > waits.ms) [waits.ms, waits.refusal] = [waitMs, new RateRefusal(kind, 'requests', retryAfterSec(waitMs))];
  }
  if (s.bytes) {
    // Bodies being paced overdraw a byte bucket by up to a piece each; only an overdraft beyond a whole
    // burst (a finished download's debt, or many bodies at once) refuses new requests.
    const waitMs = (-s.bytesBurst - refill(s.bytes, s.bytesPerMs, s.bytesBurst, nowMs)) / s.bytesPerMs;
    if (waitMs > waits.ms) [waits.ms, waits.refusal] = [waitMs, new RateRefusal(kind, 'bytes', retryAfterSec(waitMs))];
  }
}

export interface LimitSubjects {
  ip?: string | undefined;
  key?: string | undefined;
  bucket?: string | undefined;
}

/** Every limit of one process. Cheap when nothing is configured: `active` is false and callers skip it. */
export class RateLimiter {
  readonly #spending: Spending = { dirty: undefined };
  readonly #kinds: Record<LimitKind, KindLimits> = {
    key: new KindLimits('key', this.#spending),
    bucket: new KindLimits('bucket', this.#spending),
    ip: new KindLimits('ip', this.#spending),
  };
  readonly #nowMs: () => number;
  #trustedProxies = new Set<string>();
  readonly #throttled = new Map<string, number>();
  /** Whether any limit is configured. */
  active = false;

  constructor(config: RateLimitConfig = {}, options: { nowMs?: () => number } = {}) {
    this.#nowMs = options.nowMs ?? (() => performance.now());
    this.replace(config);
  }

  /** The configuration in force, as the admin API shows it. */
  config(): RateLimitConfig {
    const out: RateLimitConfig = {};
    for (const kind of limitKinds) {
      const limits = this.#kinds[kind].limits;
      if (limits.size > 0) out[kind] = Object.fromEntries(limits);
    }
    if (this.#trustedProxies.size > 0) out.trustedProxies = [...this.#trustedProxies];
    return out;
  }

  /** Replaces every limit (checked by parseRateLimitConfig); every bucket starts full again. */
  replace(config: RateLimitConfig): void {
    for (const kind of limitKinds) {
      const k = this.#kinds[kind];
      k.limits.clear();
      k.states.clear();
      for (const [name, limit] of Object.entries(config[kind] ?? {})) k.limits.set(name, { ...limit });
    }
    this.#trustedProxies = new Set(config.trustedProxies ?? []);
    this.#spending.dirty?.clear();
    this.#updateActive();
  }

  /**
   * Keeps what this process charges, for takeSpent(): the workers of `--workers N` each admit a share of
   * the same clients, and a limit holds for all of them together once each takes in what the others spent.
   */
  shareSpending(): void {
    this.#spending.dirty ??= new Set();
  }

  /** What was charged here since the last call, per name, and forgets it. */
  takeSpent(): SpentEntry[] {
    const dirty = this.#spending.dirty;
    if (!dirty || dirty.size === 0) return [];
    const out: SpentEntry[] = [];
    for (const s of dirty) {
      out.push({ kind: s.kind, name: s.name, requests: s.spentRequests, bytes: s.spentBytes });
      s.spentRequests = 0;
      s.spentBytes = 0;
    }
    dirty.clear();
    return out;
  }

  /**
   * Charges what other workers admitted to this process's buckets: a bucket may go into debt, which makes
   * the next requests here wait (or be refused) as if this process had admitted them. Not passed on again.
   */
  absorbSpent(entries: readonly SpentEntry[]): void {
    const nowMs = this.#nowMs();
    for (const e of entries) {
      const s = this.#kinds[e.kind]?.stateOf(e.name, nowMs);
      if (!s) continue;
      if (s.requests && e.requests > 0) s.requests.tokens = refill(s.requests, s.requestsPerMs, s.requestsBurst, nowMs) - e.requests;
      if (s.bytes && e.bytes > 0) s.bytes.tokens = refill(s.bytes, s.bytesPerMs, s.bytesBurst, nowMs) - e.bytes;
    }
  }

  /** Sets the limit of one name (`*`: the default of its kind); the buckets it governs start full. */
  set(kind: LimitKind, name: string, limit: RateLimit): void {
    const k = this.#kinds[kind];
    k.limits.set(name, { ...limit });
    if (name === defaultLimitName) k.states.clear();
    else k.states.delete(name);
    this.#updateActive();
  }

  /** Removes the limit of one name; returns whether there was one. */
  clear(kind: LimitKind, name: string): boolean {
    const k = this.#kinds[kind];
    const had = k.limits.delete(name);
    if (name === defaultLimitName) k.states.clear();
    else k.states.delete(name);
    this.#updateActive();
    return had;
  }

  #updateActive(): void {
    this.active = limitKinds.some((kind) => this.#kinds[kind].limits.size > 0);
  }

  /** The address a request's per-IP limit is kept under: the socket's peer, or what a trusted proxy forwarded. */
  clientIp(peer: string | undefined, forwardedFor: string | string[] | undefined): string {
    const ip = normalizeIp(peer ?? '');
    if (forwardedFor === undefined || !this.#trustedProxies.has(ip)) return ip;
    const header = Array.isArray(forwardedFor) ? forwardedFor.join(',') : forwardedFor;
    const last = header.slice(header.lastIndexOf(',') + 1).trim();
    return last === '' ? ip : normalizeIp(last);
  }

  /**
   * Admits a request under the limits of its subjects, or refuses it: all of them or none are charged, so
   * a refused request costs no budget. Returns undefined when admitted without a byte limit, a ByteMeter
   * when admitted under one, a RateRefusal when refused (the longest wait among the limits it is over).
   */
  admit(subjects: LimitSubjects): RateRefusal | ByteMeter | undefined {
    const nowMs = this.#nowMs();
    const ip = subjects.ip === undefined ? undefined : this.#kinds.ip.stateOf(subjects.ip, nowMs);
    const key = subjects.key === undefined ? undefined : this.#kinds.key.stateOf(subjects.key, nowMs);
    const bucket = subjects.bucket === undefined ? undefined : this.#kinds.bucket.stateOf(subjects.bucket, nowMs);
    if (!ip && !key && !bucket) return undefined;
    const waits = { ms: 0, refusal: undefined as RateRefusal | undefined };
    if (ip) waitOf('ip', ip, nowMs, waits);
    if (key) waitOf('key', key, nowMs, waits);
    if (bucket) waitOf('bucket', bucket, nowMs, waits);
    if (waits.refusal) {
      const label = `${waits.refusal.kind}/${waits.refusal.measure}`;
      this.#throttled.set(label, (this.#throttled.get(label) ?? 0) + 1);
      return waits.refusal;
    }
    takeRequest(ip);
    takeRequest(key);
    takeRequest(bucket);
    if (!ip?.bytes && !key?.bytes && !bucket?.bytes) return undefined;
    return new ByteMeter([ip, key, bucket].filter((s): s is LimitState => s?.bytes !== undefined), this.#nowMs);
  }

  /** Requests refused since start, by kind and measure, for metrics. */
  throttled(): { kind: LimitKind; measure: LimitMeasure; count: number }[] {
    const out: { kind: LimitKind; measure: LimitMeasure; count: number }[] = [];
    for (const kind of limitKinds) {
      for (const measure of ['requests', 'bytes'] as const) out.push({ kind, measure, count: this.#throttled.get(`${kind}/${measure}`) ?? 0 });
    }
    return out;
  }

  /** Buckets kept for `kind` (bounded by limitStatesMax). */
  statesKept(kind: LimitKind): number {
    const n = this.#kinds[kind].states.size;
    assert(n <= limitStatesMax, `Kept ${n} ${kind} rate limit buckets, more than ${limitStatesMax}`);
    return n;
  }
}

/** One meter for a request admitted in two steps (its IP before authentication, key and bucket after). */
export function joinMeters(a: ByteMeter | undefined, b: ByteMeter | undefined): ByteMeter | undefined {
  if (!a || !b) return a ?? b;
  return new ByteMeter([...a.states, ...b.states], a.nowMs);
}
