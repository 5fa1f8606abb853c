// Streaming digests computed on a worker thread. S3 needs the MD5 of every uploaded byte for the ETag;
// on the event loop's thread it was a third of a 1 MiB PUT's CPU (bench/http.ts profile, about 3 ms per
// MiB here), so with it there the loop thread, not the disk or the second core, bounded PUT throughput.
// Bytes are copied into 256 KiB batches, which are transferred to the thread and back (no structured
// clone, no allocation per chunk): one message each way per batch instead of one per socket chunk, whose
// copies and thread wake-ups cost a 1 MiB PUT more than the copy into the batch does. A full batch goes
// when the next byte arrives or the digest is asked for, so the last one carries the digest request and
// its reply the digests: a 1 MiB body is 4 messages each way, not 5.
// A digest's bytes in flight are capped, so a slow hash slows its upload instead of growing a queue.
import { createHash } from 'node:crypto';
import { assert } from './assert.js';
import { loadMd5Lanes, md5LanesAddonPath, md5LanesMax } from './md5-lanes.js';
import { OnDemandThread } from './on-demand-thread.js';

export type HashAlgorithm = 'md5' | 'sha1' | 'sha256';

/** Bytes one digest may have sent to the thread and not yet had hashed. */
const hashBytesInFlightMax = 4 * 1024 * 1024;

/** Bytes gathered before they go to the thread in one message. */
const batchBytes = 256 * 1024;

/**
 * Batch buffers the thread has handed back, kept for the next batches (at most this many, 16 MiB). The
 * thread hands them back in bursts (lanes rounds, MD5 bytes waiting for company), so with 16 uploads at once
 * a pool of 16 dropped about half of them and the next batches were new buffers: 2 of the 4 of a 1 MiB PUT
 * (hash-thread.test.ts; 64 brings it under 0.1).
 */
const idleBatchesMax = 64;
const idleBatches: ArrayBuffer[] = [];

/**
 * A batch buffer: one handed back, or a new one left uninitialised (a batch sends only the bytes written
 * into it; `new ArrayBuffer` zero-filled its 256 KiB, about 1 % of a 1 MiB PUT's CPU under perf).
 */
function takeBatch(): Uint8Array {
  const idle = idleBatches.pop();
  if (idle) return new Uint8Array(idle);
  batchCounts.allocated++;
  return new Uint8Array(Buffer.allocUnsafeSlow(batchBytes).buffer as ArrayBuffer);
}

/** Batch buffers allocated since the process started (the rest were handed back ones), for tests and benchmarks. */
export const batchCounts = { allocated: 0 };

function giveBackBatch(buffer: ArrayBuffer): void {
  if (buffer.byteLength === batchBytes && idleBatches.length < idleBatchesMax) idleBatches.push(buffer);
}

// Plain CommonJS, so the same code runs whether this module is TypeScript under tsx or built JavaScript.
// MD5 goes through the lanes addon (util/md5-lanes.ts) when it is in use: every digest with MD5 bytes
// waiting gets a lane, and the lanes advance together one slice at a time. Between slices the thread takes
// what has arrived on its port since (receiveMessageOnPort), so a batch that comes while others are being
// hashed joins them at once instead of queueing behind them. While other digests are under way, MD5 bytes
// wait for them, until some digest is asked for (its final batch, sent once its body is stored), holds a
// backlog, or deferMs pass: then every digest with bytes waiting shares the lanes. A lone digest's bytes
// never wait. Each digest's batches go in order, and its replies with them. Other algorithms (SHA-256 on
// SHA-NI, SHA-1) stay on node:crypto, hashed as their batch arrives.
const threadSource = `
const { parentPort, receiveMessageOnPort, workerData } = require('node:worker_threads');
const { createHash } = require('node:crypto');
const { md5Addon, md5Path, lanesMax, sliceBytes, laneStats, deferMs, backlogBytes } = workerData;
// The main thread checked the addon; should it still fail to load here, node:crypto hashes MD5 instead of
// every digest failing with the thread.
let lanes;
try {
  lanes = md5Addon ? require(md5Addon) : undefined;
} catch {
  lanes = undefined;
}
// stats[n]: calls with n lanes; stats[lanesMax + 1 + n]: the bytes they hashed; then how often bytes were
// left to wait for company; the last: this thread's id (Linux), so a benchmark can tell its CPU time from
// the other threads'. Only this thread writes them.
const stats = new Float64Array(laneStats);
try {
  stats[stats.length - 1] = Number(require('node:fs').readFileSync('/proc/thread-self/stat', 'utf8').split(' ')[0]);
} catch {
  // not Linux: no thread id to give
}
const states = new Map(); // id → { hashes, context, queue }, while the digest takes bytes
// Digests with MD5 bytes waiting for the lanes, in arrival order; a queue holds their update messages
// (with how far the lanes are into each) and digest requests, answered in order.
const waiting = new Set();
const start = (m) => ({
  hashes: m.algorithms.map((algorithm) => (lanes && algorithm === 'md5' ? undefined : createHash(algorithm))),
  context: lanes && m.algorithms.includes('md5') ? lanes.create() : undefined,
  queue: [],
  pending: 0, // MD5 bytes queued and not yet hashed
  due: 0, // final updates and digest requests queued
});
const digestsOf = (state) => state.hashes.map((hash) => (hash ? hash.digest() : lanes.digest(state.context)));
function answer(m, state) {
  if (m.op === 'digest') return parentPort.postMessage({ id: m.id, digests: digestsOf(state) });
  const reply = { id: m.id, hashed: m.bytes.length, batch: m.bytes.buffer };
  if (m.final && !state.dropped) reply.digests = digestsOf(state);
  parentPort.postMessage(reply, [m.bytes.buffer]);
}
function enqueue(m, state) {
  if (state.queue.length === 0 && !(m.op === 'update' && state.context)) return answer(m, state);
  m.done = 0;
  state.queue.push(m);
  if (m.op === 'update') state.pending += m.bytes.length;
  if (m.final || m.op === 'digest') state.due++;
  waiting.add(state);
}
// Whether the lanes should run now: a digest is asked for, one has a backlog, every lane has a digest, or
// no other digest is under way to share them with. Otherwise the bytes wait (at most deferMs).
function urgent() {
  if (waiting.size >= lanesMax) return true;
  if (waiting.size === 1 && states.size <= 1) return true;
  for (const state of waiting) if (state.due > 0 || state.pending >= backlogBytes) return true;
  return false;
}
let timer;
function accept(m) {
  if (m.op === 'update') {
    let state = states.get(m.id);
    if (!state) states.set(m.id, (state = start(m)));
    for (const hash of state.hashes) hash?.update(m.bytes);
    if (m.final) states.delete(m.id);
    enqueue(m, state);
  } else if (m.op === 'digest') {
    const state = states.get(m.id) ?? start(m);
    states.delete(m.id);
    enqueue(m, state);
  } else if (m.op === 'drop') {
    const state = states.get(m.id);
    states.delete(m.id);
    if (!state) return;
    // Its batches go back unhashed: nobody reads this digest.
    state.dropped = true;
    waiting.delete(state);
    for (const queued of state.queue.splice(0)) answer(queued, state);
  }
}
function settle(m, state) {
  if (m.final || m.op === 'digest') state.due--;
  answer(m, state);
}
let inbox = [];
parentPort.on('message', (m) => {
  if (inbox.push(m) === 1) setImmediate(work);
});
function work(force) {
  const arrived = inbox;
  inbox = [];
  for (const m of arrived) accept(m);
  for (;;) {
    for (let got; (got = receiveMessageOnPort(parentPort)); ) accept(got.message);
    if (waiting.size === 0) return;
    if (deferMs > 0 && !force && !urgent()) {
      stats[stats.length - 2] += 1;
      timer ??= setTimeout(() => {
        timer = undefined;
        work(true);
      }, deferMs);
      return;
    }
    const round = [];
    for (const state of waiting) {
      if (round.length === lanesMax) break;
      round.push(state);
    }
    const inputs = round.map((state) => {
      const m = state.queue[0];
      const end = Math.min(m.bytes.length, m.done + sliceBytes);
      const slice = m.bytes.subarray(m.done, end);
      m.done = end;
      state.pending -= slice.length;
      return slice;
    });
    lanes.update(round.map((state) => state.context), inputs, md5Path);
    stats[round.length] += 1;
    stats[lanesMax + 1 + round.length] += inputs.reduce((sum, input) => sum + input.length, 0);
    for (const state of round) {
      const queue = state.queue;
      if (queue[0].done === queue[0].bytes.length) settle(queue.shift(), state);
      while (queue.length > 0 && queue[0].op === 'digest') settle(queue.shift(), state);
      if (queue.length === 0) waiting.delete(state);
    }
  }
}
`;

/**
 * A lane's bytes per call: how long a batch that arrives waits before it joins the lanes (~0.15 ms for one
 * lane here), against the call's fixed cost (a few µs).
 */
const md5SliceBytes = 64 * 1024;

/** How long MD5 bytes may wait for other digests to share the lanes with (0: never wait). */
const md5DeferMs = Number(process.env.TESSERA_MD5_DEFER_MS ?? '20');

/** A digest with this many bytes waiting is hashed at once, company or not. */
const md5BacklogBytes = 2 * 1024 * 1024;

/** What hashes MD5 on the thread: the lanes addon and its path, or node:crypto (and why). */
const md5Lanes = loadMd5Lanes();
const laneStats = new SharedArrayBuffer(Float64Array.BYTES_PER_ELEMENT * (2 * (md5LanesMax + 1) + 2));

/** The hashing thread's MD5 so far: per number of lanes in a call, the calls and the bytes they hashed. */
export function md5LaneUse(): { lanes: number; calls: number; bytes: number }[] {
  const stats = new Float64Array(laneStats);
  const use = [];
  for (let lanes = 1; lanes <= md5LanesMax; lanes++) {
    if (stats[lanes]! > 0) use.push({ lanes, calls: stats[lanes]!, bytes: stats[md5LanesMax + 1 + lanes]! });
  }
  return use;
}

/** How many times the hashing thread left MD5 bytes to wait for other digests' company, so far. */
export function md5Deferrals(): number {
  const stats = new Float64Array(laneStats);
  return stats[stats.length - 2]!;
}

/** The hashing thread's id in /proc/PID/task (Linux, once it has started), for benchmarks. */
export function hashingThreadId(): number | undefined {
  const stats = new Float64Array(laneStats);
  return stats[stats.length - 1] || undefined;
}

/** What the start-up log says about the hashing thread's MD5. */
export function md5Summary(): { md5: string; reason?: string } {
  return md5Lanes.path ? { md5: `lanes (${md5Lanes.path})` } : { md5: 'node:crypto', ...(md5Lanes.reason ? { reason: md5Lanes.reason } : {}) };
}

type ToThread =
  /** `final`: no bytes follow; the reply carries the digests too. */
  | { op: 'update'; id: number; algorithms: readonly HashAlgorithm[]; bytes: Uint8Array; final?: true }
  | { op: 'digest'; id: number; algorithms: readonly HashAlgorithm[] }
  | { op: 'drop'; id: number };
/** An update's reply has `hashed` and `batch`, a final update's and a digest's have `digests`. */
type FromThread = { id: number; hashed?: number; batch?: ArrayBuffer; digests?: Uint8Array[] };

interface Listener {
  onHashed(bytes: number): void;
  onDigest(digests: Buffer[]): void;
  onError(err: Error): void;
}

const listeners = new Map<number, Listener>();
let nextId = 1;

/** Messages posted to the thread since the process started, for tests and benchmarks. */
export const threadMessages = { posted: 0 };

// Only digests in progress keep the process alive; after a failure the next digest starts a new thread.
const thread = new OnDemandThread<ToThread, FromThread>({
  name: 'hashing',
  source: threadSource,
  workerData: {
    md5Addon: md5Lanes.path ? md5LanesAddonPath : undefined,
    md5Path: md5Lanes.path,
    lanesMax: md5LanesMax,
    sliceBytes: md5SliceBytes,
    laneStats,
    deferMs: md5DeferMs,
    backlogBytes: md5BacklogBytes,
  },
  busy: () => listeners.size > 0,
  onReply: (m) => {
    if (m.batch) giveBackBatch(m.batch);
    const listener = listeners.get(m.id);
    if (!listener) return;
    if (m.hashed !== undefined) listener.onHashed(m.hashed);
    if (m.digests) listener.onDigest(m.digests.map((d) => Buffer.from(d.buffer, d.byteOffset, d.byteLength)));
  },
  onFail: (err) => {
    for (const listener of listeners.values()) listener.onError(err);
    listeners.clear();
  },
});

/**
 * A streaming digest whose hashing happens off the event loop's thread. Given several algorithms, every
 * byte is copied and sent once and hashed by each: a signed PUT's SHA-256 and its ETag's MD5 share one
 * stream of batches instead of two (issue 17).
 */
export class ThreadHash {
  readonly #id = nextId++;
  readonly #algorithms: readonly HashAlgorithm[];
  /** Bytes not yet sent: batch[0, batched). */
  #batch: Uint8Array | undefined;
  #batched = 0;
  #inFlightBytes = 0;
  #drainWaiters: (() => void)[] = [];
  #digest: Promise<Buffer[]> | undefined;
  #resolveDigest: ((digests: Buffer[]) => void) | undefined;
  #rejectDigest: ((err: Error) => void) | undefined;
  #error: Error | undefined;

  constructor(algorithms: HashAlgorithm | readonly HashAlgorithm[]) {
    this.#algorithms = typeof algorithms === 'string' ? [algorithms] : algorithms;
    assert(this.#algorithms.length > 0, 'A digest needs at least one algorithm');
    listeners.set(this.#id, {
      onHashed: (bytes) => {
        this.#inFlightBytes -= bytes;
        if (this.#inFlightBytes <= hashBytesInFlightMax) this.#wakeDrainWaiters();
      },
      onDigest: (digests) => {
        listeners.delete(this.#id);
        thread.refresh();
        this.#resolveDigest?.(digests);
      },
      onError: (err) => {
        this.#error = err;
        this.#wakeDrainWaiters();
        this.#rejectDigest?.(err);
      },
    });
    thread.refresh();
  }

  /** Adds bytes; the caller may reuse `bytes` at once (they are copied). */
  update(bytes: Uint8Array): void {
    assert(this.#digest === undefined, 'Cannot update a digest after digest()');
    if (this.#error) return; // digest() reports it
    for (let offset = 0; offset < bytes.length;) {
      // A full batch waits for the next byte (here) or for digests(), so the last one can carry the request.
      if (this.#batch && this.#batched === this.#batch.length) this.#flush(false);
      const batch = (this.#batch ??= takeBatch());
      const taken = Math.min(bytes.length - offset, batch.length - this.#batched);
      batch.set(bytes.subarray(offset, offset + taken), this.#batched);
      this.#batched += taken;
      offset += taken;
    }
  }

  /** Sends the gathered bytes, handing their buffer to the thread; `final` asks for the digests with them. */
  #flush(final: boolean): boolean {
    const batch = this.#batch;
    if (!batch || this.#batched === 0) return false;
    const bytes = batch.subarray(0, this.#batched);
    this.#batch = undefined;
    this.#batched = 0;
    this.#inFlightBytes += bytes.length;
    this.#post({ op: 'update', id: this.#id, algorithms: this.#algorithms, bytes, ...(final ? { final: true as const } : {}) }, [bytes.buffer as ArrayBuffer]);
    return true;
  }

  #post(message: ToThread, transfer: ArrayBuffer[] = []): void {
    threadMessages.posted++;
    thread.post(message, transfer);
  }

  /** Whether the caller should wait for drained() before the next update. */
  get backlogged(): boolean {
    return this.#inFlightBytes > hashBytesInFlightMax;
  }

  /** Resolves once the bytes in flight are back under the cap (or the thread failed). */
  drained(): Promise<void> {
    if (!this.backlogged || this.#error) return Promise.resolve();
    return new Promise((resolve) => this.#drainWaiters.push(resolve));
  }

  /** The digest of every byte given (the first algorithm's); the hash cannot be used after this. */
  async digest(): Promise<Buffer> {
    return (await this.digests())[0]!;
  }

  /** One digest per algorithm, in the order given. */
  digests(): Promise<Buffer[]> {
    if (this.#digest) return this.#digest;
    this.#digest = new Promise<Buffer[]>((resolve, reject) => {
      if (this.#error) return reject(this.#error);
      this.#resolveDigest = resolve;
      this.#rejectDigest = reject;
      if (!this.#flush(true)) this.#post({ op: 'digest', id: this.#id, algorithms: this.#algorithms });
    });
    return this.#digest;
  }

  /** Forgets a digest that will not be read (a failed upload), so the thread drops its state. */
  dispose(): void {
    if (this.#batch) giveBackBatch(this.#batch.buffer as ArrayBuffer);
    this.#batch = undefined;
    this.#batched = 0;
    if (!listeners.delete(this.#id)) return;
    if (thread.running) this.#post({ op: 'drop', id: this.#id });
    thread.refresh();
    this.#wakeDrainWaiters();
    // Asked for and not yet answered: the answer will not come now (its listener is gone), so say so.
    this.#rejectDigest?.(new Error('The digest was disposed before it was computed'));
  }

  #wakeDrainWaiters(): void {
    const waiters = this.#drainWaiters;
    this.#drainWaiters = [];
    for (const wake of waiters) wake();
  }
}

/** Bodies smaller than this are hashed in place: the trip to the thread costs more than their hashing. */
export const threadHashBytesMin = 256 * 1024;

/** What ThreadHash offers, for callers that pick between it and a digest on this thread. */
export type StreamingHash = Pick<ThreadHash, 'update' | 'backlogged' | 'drained' | 'digest' | 'digests' | 'dispose'>;

/** A digest of `expectedBytes` bytes (one per algorithm): on the hashing thread when that many are worth the trip. */
export function streamingHash(algorithms: HashAlgorithm | readonly HashAlgorithm[], expectedBytes: number): StreamingHash {
  if (expectedBytes >= threadHashBytesMin) return new ThreadHash(algorithms);
  const hashes = (typeof algorithms === 'string' ? [algorithms] : algorithms).map((algorithm) => createHash(algorithm));
  let done: Buffer[] | undefined;
  const digests = () => (done ??= hashes.map((hash) => hash.digest()));
  return {
    update: (bytes) => {
      for (const hash of hashes) hash.update(bytes);
    },
    backlogged: false,
    drained: () => Promise.resolve(),
    digest: () => Promise.resolve(digests()[0]!),
    digests: () => Promise.resolve(digests()),
    dispose: () => undefined,
  };
}
