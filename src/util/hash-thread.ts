// Streaming digests computed on a worker thread. S3 needs the MD5 of every uploaded byte for the ETag;
// on the event loop's thread it was a third of a 1 MiB PUT's CPU (bench/http.ts profile, about 3 ms per
// MiB here), so with it there the loop thread, not the disk or the second core, bounded PUT throughput.
// Bytes are copied into 256 KiB batches, which are transferred to the thread and back (no structured
// clone, no allocation per chunk): one message each way per batch instead of one per socket chunk, whose
// copies and thread wake-ups cost a 1 MiB PUT more than the copy into the batch does. A full batch goes
// when the next byte arrives or the digest is asked for, so the last one carries the digest request and
// its reply the digests: a 1 MiB body is 4 messages each way, not 5.
// A digest's bytes in flight are capped, so a slow hash slows its upload instead of growing a queue.
// A worker of `tessera server --workers N` sends its batches instead to a hashing thread of the primary's
// that serves other workers too (hash-service.ts): the batches are slots of a slab of shared memory, and the
// messages frames on a Unix socket.
import { createHash } from 'node:crypto';
import { assert } from './assert.js';
import { batchBytes, laneStatsLength, lanesCoreSource, md5BacklogBytes, md5DeferMs, md5SliceBytes } from './hash-lanes.js';
import { loadMd5Lanes, md5LanesAddonPath, md5LanesMax } from './md5-lanes.js';
import { OnDemandThread } from './on-demand-thread.js';
import { hashSocketEnv, ServiceLink, sideDigestBytes } from './hash-service.js';

export type HashAlgorithm = 'md5' | 'sha1' | 'sha256';

/** Bytes one digest may have sent to the thread and not yet had hashed. */
const hashBytesInFlightMax = 4 * 1024 * 1024;

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
// The scheduling over the MD5 lanes is hash-lanes.ts's, shared with the hashing service.
const threadSource = `
const { parentPort, receiveMessageOnPort, workerData } = require('node:worker_threads');
const { createHash } = require('node:crypto');
const { md5Addon, md5Path, lanesMax, sliceBytes, laneStats, deferMs, backlogBytes, core } = workerData;
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
const { receive } = new Function('env', core)({
  lanes, lanesMax, sliceBytes, stats, deferMs, backlogBytes, md5Path, createHash,
  poll: () => receiveMessageOnPort(parentPort)?.message,
  yields: false,
  // An update's batch goes back with its reply.
  respond: (m, digests) => {
    if (m.op === 'digest') return parentPort.postMessage({ id: m.id, digests });
    const reply = { id: m.id, hashed: m.bytes.length, batch: m.bytes.buffer };
    if (digests) reply.digests = digests;
    parentPort.postMessage(reply, [m.bytes.buffer]);
  },
});
parentPort.on('message', receive);
`;

/** What hashes MD5 on the thread: the lanes addon and its path, or node:crypto (and why). */
const md5Lanes = loadMd5Lanes();
const laneStats = new SharedArrayBuffer(Float64Array.BYTES_PER_ELEMENT * laneStatsLength);

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
export function md5Summary(): { md5: string; reason?: string; hashing?: string } {
  if (!md5Lanes.path) return { md5: 'node:crypto', ...(md5Lanes.reason ? { reason: md5Lanes.reason } : {}) };
  // With the primary's hashing service, this process's uploads share its lanes with the other workers'.
  return { md5: `lanes (${md5Lanes.path})`, ...(process.env[hashSocketEnv] && md5Lanes.binding?.mapShared ? { hashing: 'the primary\'s service, shared with other workers' } : {}) };
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

/** The digests hashed on this process's thread, and those hashed by the workers' hashing service. */
const listeners = new Map<number, Listener>();
const serviceListeners = new Map<number, Listener>();
let nextId = 1;

/** Messages posted to the thread or sent to the service since the process started, for tests and benchmarks. */
export const threadMessages = { posted: 0 };

function deliver(to: Map<number, Listener>, m: { id: number; hashed?: number; digests?: Uint8Array[] }): void {
  const listener = to.get(m.id);
  if (!listener) return;
  if (m.hashed !== undefined) listener.onHashed(m.hashed);
  if (m.digests) listener.onDigest(m.digests.map((d) => Buffer.from(d.buffer, d.byteOffset, d.byteLength)));
}

function failAll(of: Map<number, Listener>, err: Error): void {
  for (const listener of of.values()) listener.onError(err);
  of.clear();
}

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
    core: lanesCoreSource,
  },
  busy: () => listeners.size > 0,
  onReply: (m) => {
    if (m.batch) giveBackBatch(m.batch);
    deliver(listeners, m);
  },
  onFail: (err) => failAll(listeners, err),
});

/**
 * The link to the workers' hashing service (hash-service.ts), made on first use when the primary gave its
 * socket and the lanes addon maps shared memory here. Once it fails, or could not be made, this process's
 * digests go to its own thread.
 */
let service: ServiceLink | undefined;
let serviceTried = false;
function serviceLink(): ServiceLink | undefined {
  if (service) return service.failed ? undefined : service;
  if (serviceTried) return undefined;
  serviceTried = true;
  const socketPath = process.env[hashSocketEnv];
  const binding = md5Lanes.binding;
  if (!socketPath || !md5Lanes.path || !binding?.mapShared) return undefined;
  service = ServiceLink.open(socketPath, (fd, bytes) => binding.mapShared!(fd, bytes), {
    reply: (m) => deliver(serviceListeners, m),
    failed: (err) => failAll(serviceListeners, err),
  });
  return service;
}

/** Whether this process's digests are hashed by the workers' hashing service now, for tests. */
export function hashedByService(): boolean {
  return serviceLink() !== undefined;
}

/** The service's slots this process has free (undefined without a link), for tests. */
export function serviceSlotsFree(): number | undefined {
  return service?.slotsFree;
}

/**
 * A streaming digest whose hashing happens off the event loop's thread: the workers' hashing service's,
 * or this process's own. Given several algorithms, every byte is copied and sent once and hashed by each:
 * a signed PUT's SHA-256 and its ETag's MD5 share one stream of batches instead of two (issue 17).
 */
export class ThreadHash {
  readonly #id = nextId++;
  readonly #algorithms: readonly HashAlgorithm[];
  readonly #service = serviceLink();
  /** Expected to be long enough that the service may hash its other algorithms on a second thread. */
  readonly #long: boolean;
  /** Bytes not yet sent: batch[0, batched). */
  #batch: Uint8Array | undefined;
  /** The service's slot #batch is, when it is one (else a buffer of this process's). */
  #slot: number | undefined;
  #batched = 0;
  #inFlightBytes = 0;
  #drainWaiters: (() => void)[] = [];
  #digest: Promise<Buffer[]> | undefined;
  #resolveDigest: ((digests: Buffer[]) => void) | undefined;
  #rejectDigest: ((err: Error) => void) | undefined;
  #error: Error | undefined;

  /** `expectedBytes`: the body's length, when known. */
  constructor(algorithms: HashAlgorithm | readonly HashAlgorithm[], expectedBytes = 0) {
    this.#algorithms = typeof algorithms === 'string' ? [algorithms] : algorithms;
    this.#long = expectedBytes >= sideDigestBytes;
    assert(this.#algorithms.length > 0, 'A digest needs at least one algorithm');
    this.#listeners.set(this.#id, {
      onHashed: (bytes) => {
        this.#inFlightBytes -= bytes;
        if (this.#inFlightBytes <= hashBytesInFlightMax) this.#wakeDrainWaiters();
      },
      onDigest: (digests) => {
        this.#listeners.delete(this.#id);
        this.#refresh();
        this.#resolveDigest?.(digests);
      },
      onError: (err) => {
        this.#error = err;
        this.#wakeDrainWaiters();
        this.#rejectDigest?.(err);
      },
    });
    this.#refresh();
  }

  get #listeners(): Map<number, Listener> {
    return this.#service ? serviceListeners : listeners;
  }

  /** Holds the process alive while replies are awaited, and only then. */
  #refresh(): void {
    if (this.#service) this.#service.hold(serviceListeners.size > 0);
    else thread.refresh();
  }

  /** Adds bytes; the caller may reuse `bytes` at once (they are copied). */
  update(bytes: Uint8Array): void {
    assert(this.#digest === undefined, 'Cannot update a digest after digest()');
    if (this.#error) return; // digest() reports it
    for (let offset = 0; offset < bytes.length;) {
      // A full batch waits for the next byte (here) or for digests(), so the last one can carry the request.
      if (this.#batch && this.#batched === this.#batch.length) this.#flush(false);
      const batch = (this.#batch ??= this.#takeBatch());
      const taken = Math.min(bytes.length - offset, batch.length - this.#batched);
      batch.set(bytes.subarray(offset, offset + taken), this.#batched);
      this.#batched += taken;
      offset += taken;
    }
  }

  /** A slot of the service's when one is free, else a batch buffer of this process's. */
  #takeBatch(): Uint8Array {
    const taken = this.#service?.takeSlot();
    this.#slot = taken?.slot;
    return taken?.bytes ?? takeBatch();
  }

  /** Sends the gathered bytes, handing their buffer over; `final` asks for the digests with them. */
  #flush(final: boolean): boolean {
    const batch = this.#batch;
    if (!batch || this.#batched === 0) return false;
    const bytes = batch.subarray(0, this.#batched);
    const slot = this.#slot;
    this.#batch = undefined;
    this.#slot = undefined;
    this.#batched = 0;
    this.#inFlightBytes += bytes.length;
    const id = this.#id;
    const algorithms = this.#algorithms;
    if (this.#service) {
      threadMessages.posted++;
      // A buffer of this process's goes as bytes in the frame (copied into it), and is free again at once.
      this.#service.send({
        op: 'update',
        id,
        algorithms,
        length: bytes.length,
        ...(slot !== undefined ? { slot } : { bytes }),
        ...(final ? { final: true as const } : {}),
        ...(this.#long ? { long: true as const } : {}),
      });
      if (slot === undefined) giveBackBatch(batch.buffer as ArrayBuffer);
    } else {
      this.#post({ op: 'update', id, algorithms, bytes, ...(final ? { final: true as const } : {}) }, [bytes.buffer as ArrayBuffer]);
    }
    return true;
  }

  #post(message: ToThread, transfer: ArrayBuffer[] = []): void {
    threadMessages.posted++;
    if (!this.#service) return thread.post(message, transfer);
    assert(message.op !== 'update', 'Updates go to the service from #flush');
    this.#service.send(message);
  }

  /** Whether the caller should wait for drained() before the next update. */
  get backlogged(): boolean {
    return this.#inFlightBytes > hashBytesInFlightMax;
  }

  /** Resolves once the bytes in flight are back under the cap (or the hashing failed). */
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

  /** Forgets a digest that will not be read (a failed upload), so the thread or service drops its state. */
  dispose(): void {
    if (this.#batch) {
      if (this.#slot !== undefined) this.#service!.giveBack(this.#slot);
      else giveBackBatch(this.#batch.buffer as ArrayBuffer);
    }
    this.#batch = undefined;
    this.#slot = undefined;
    this.#batched = 0;
    if (!this.#listeners.delete(this.#id)) return;
    if (this.#service ? !this.#service.failed : thread.running) this.#post({ op: 'drop', id: this.#id });
    this.#refresh();
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
  if (expectedBytes >= threadHashBytesMin) return new ThreadHash(algorithms, expectedBytes);
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
