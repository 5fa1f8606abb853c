// The lowest I/O layer of one local drive: every fs call on the drive runs through run(), which bounds it
// by a timeout, caps the calls in flight, and fails fast while the drive is suspect. A hung drive (a dead
// disk, a FUSE mount that never answers) would otherwise hang requests and use up libuv's threadpool.
import { existsSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { assert } from '../util/assert.js';
import { StoreError } from '../util/errors.js';

export interface DriveIoOptions {
  /** A call that has not answered after this long fails ERR_TARGET_TIMEOUT and makes the drive suspect. */
  timeoutMs: number;
  /** fs calls issued at once; more wait in a queue, so a hung drive holds at most this many threads. */
  inFlightMax: number;
}

/**
 * Test-only fault injection, off unless TESSERA_TEST_FAULTS is set (JSON): `{"hang":[{"drive":ROOT,
 * "fifo":PATH}]}`. While PATH exists, every call on the drive at ROOT first opens PATH (a FIFO) for
 * reading, which blocks a threadpool thread until a writer opens it: what a FUSE call that never answers does.
 */
interface HangFault {
  drive: string;
  fifo: string;
}

function hangFaultOf(root: string): HangFault | undefined {
  const text = process.env.TESSERA_TEST_FAULTS;
  if (!text) return undefined;
  const parsed = JSON.parse(text) as { hang?: HangFault[] };
  return parsed.hang?.find((h) => h.drive === root);
}

interface Op {
  /** When the call fails ERR_TARGET_TIMEOUT: its start plus the timeout times its steps. */
  deadlineMs: number;
  timedOut: boolean;
  reject: (err: StoreError) => void;
}

interface Queued {
  run: () => void;
  /** Undefined for a cleanup, which waits for the drive however long it takes. */
  fail: ((err: StoreError) => void) | undefined;
}

export class DriveIo {
  private readonly ops = new Set<Op>();
  private readonly queue: Queued[] = [];
  private inFlight = 0;
  private suspectSinceMs = 0;
  private probing = false;
  private probeShared: Promise<unknown> | undefined;
  private watchdog: NodeJS.Timeout | undefined;
  private readonly hang: HangFault | undefined;

  constructor(
    private readonly root: string,
    private readonly options: DriveIoOptions,
  ) {
    assert(options.timeoutMs > 0 && options.inFlightMax > 0, 'Invalid drive I/O options');
    this.hang = hangFaultOf(root);
  }

  /** True after a call timed out, until a probe answers in time: callers skip the drive rather than wait on it. */
  get suspect(): boolean {
    return this.suspectSinceMs > 0;
  }

  /**
   * True when a call that cannot wait on the drive (a read served from the page cache alone) may run at once,
   * outside run(): never while the drive is suspect (such calls fail fast through run()), nor under a test
   * fault that hangs the drive's calls.
   */
  get answersNow(): boolean {
    return !this.suspect && this.hang === undefined;
  }

  /**
   * Runs one fs call. `late` receives the value of a call that answers after it timed out (to close a
   * handle it opened). A `call` that makes several fs calls in sequence (a shard's commit) says how many
   * in `steps`: it holds one slot throughout and gets the timeout once per step.
   */
  run<T>(call: () => Promise<T>, late?: (value: T) => void, steps = 1): Promise<T> {
    if (this.suspect) return Promise.reject(this.suspectError());
    if (this.inFlight < this.options.inFlightMax) return this.issue(call, late, steps);
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ run: () => this.issue(call, late, steps).then(resolve, reject), fail: reject });
    });
  }

  /**
   * Runs a cleanup call (close, unlink of a tmp file) even while the drive is suspect, queued behind the
   * cap. Never rejects, and resolves after at most a timeout whether or not the call has answered, so a
   * caller never waits on a hung drive to let go of something.
   */
  cleanup(call: () => Promise<unknown>): Promise<void> {
    return new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, this.options.timeoutMs);
      timer.unref();
      const done = () => {
        clearTimeout(timer);
        resolve();
      };
      const start = () => void this.issue(call).then(done, done);
      if (this.inFlight < this.options.inFlightMax) start();
      else this.queue.push({ run: start, fail: undefined });
      if (this.suspect) done();
    });
  }

  /**
   * A health probe: runs even while suspect, and past the cap. A caller while one is in flight shares its
   * answer (`call` must be the same kind of probe each time); one still stuck after its timeout fails
   * later probes at once, so probes never stack threads. Answering in time clears the suspicion.
   */
  probe<T>(call: () => Promise<T>): Promise<T> {
    if (this.probeShared) return this.probeShared as Promise<T>;
    if (this.probing) return Promise.reject(this.suspectError());
    this.probing = true;
    // Cleared when the call itself settles, not when it times out: a stuck probe holds its thread until then.
    const tracked = async () => {
      try {
        return await call();
      } finally {
        this.probing = false;
      }
    };
    const shared = this.issue(tracked).then((value) => {
      this.suspectSinceMs = 0;
      return value;
    });
    this.probeShared = shared;
    const done = () => {
      this.probeShared = undefined;
    };
    shared.then(done, done);
    return shared;
  }

  private issue<T>(call: () => Promise<T>, late?: (value: T) => void, steps = 1): Promise<T> {
    this.inFlight++;
    return new Promise<T>((resolve, reject) => {
      const op: Op = { deadlineMs: Date.now() + this.options.timeoutMs * steps, timedOut: false, reject };
      this.ops.add(op);
      this.startWatchdog();
      let pending: Promise<T>;
      try {
        pending = this.hang ? this.hung(call) : call();
      } catch (err) {
        pending = Promise.reject(err);
      }
      pending.then(
        (value) => {
          this.settle(op);
          if (!op.timedOut) resolve(value);
          else late?.(value);
        },
        (err: unknown) => {
          this.settle(op);
          if (!op.timedOut) reject(err);
        },
      );
    });
  }

  private settle(op: Op): void {
    this.ops.delete(op);
    this.inFlight--;
    while (this.inFlight < this.options.inFlightMax && this.queue.length > 0) this.queue.shift()!.run();
  }

  private async hung<T>(call: () => Promise<T>): Promise<T> {
    const { fifo } = this.hang!;
    if (existsSync(fifo)) await (await open(fifo, 'r')).close();
    return call();
  }

  /**
   * One timer per drive, not one per call: the GET path issues thousands of calls a second. It stops
   * itself at a tick that finds nothing in flight, so a busy drive never restarts it per call.
   */
  private startWatchdog(): void {
    if (this.watchdog) return;
    this.watchdog = setInterval(() => this.expire(), Math.max(10, Math.floor(this.options.timeoutMs / 4)));
    this.watchdog.unref();
  }

  private expire(): void {
    if (this.ops.size === 0) {
      clearInterval(this.watchdog);
      this.watchdog = undefined;
      return;
    }
    const nowMs = Date.now();
    let expired = false;
    for (const op of this.ops) {
      if (op.timedOut || op.deadlineMs > nowMs) continue;
      op.timedOut = true;
      expired = true;
      op.reject(new StoreError('ERR_TARGET_TIMEOUT', `Drive "${this.root}" did not answer within ${this.options.timeoutMs} ms`));
    }
    if (!expired) return;
    if (!this.suspect) this.suspectSinceMs = Date.now();
    // Calls waiting for a slot would wait behind the hung ones: fail them now, as for a missing drive.
    // Cleanups stay queued: they run once the drive answers again.
    const waiting = this.queue.splice(0);
    for (const q of waiting) {
      if (q.fail) q.fail(this.suspectError());
      else this.queue.push(q);
    }
  }

  private suspectError(): StoreError {
    return new StoreError('ERR_SHARD_MISSING', `Drive "${this.root}" is suspect: a call did not answer within ${this.options.timeoutMs} ms`);
  }
}
