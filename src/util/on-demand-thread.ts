// A worker thread started on first use, keeping the process alive only while work is out, and started
// afresh after it fails. The hashing thread and the checksum thread run on it; what they send is theirs.
import { Worker, type TransferListItem } from 'node:worker_threads';

export interface OnDemandThreadOptions<Reply> {
  /** What the thread is, for its exit error: "hashing", "checksum". */
  name: string;
  /** CommonJS source of the thread, run with eval. */
  source: string;
  workerData?: unknown;
  onReply(reply: Reply): void;
  /** The thread failed or exited: whatever was sent to it will get no reply. */
  onFail(err: Error): void;
  /** Whether replies are awaited; only then does the thread keep the process alive. */
  busy(): boolean;
}

export class OnDemandThread<Request, Reply> {
  readonly #options: OnDemandThreadOptions<Reply>;
  #thread: Worker | undefined;

  constructor(options: OnDemandThreadOptions<Reply>) {
    this.#options = options;
  }

  /** Whether a thread is up now (post() would start one otherwise). */
  get running(): boolean {
    return this.#thread !== undefined;
  }

  post(message: Request, transfer: readonly TransferListItem[] = []): void {
    const thread = (this.#thread ??= this.#start());
    this.refresh();
    thread.postMessage(message, transfer);
  }

  /** Refs the thread while busy() and unrefs it when not; call whenever busy() may have changed. */
  refresh(): void {
    if (!this.#thread) return;
    if (this.#options.busy()) this.#thread.ref();
    else this.#thread.unref();
  }

  #start(): Worker {
    const { name, source, workerData } = this.#options;
    const started = new Worker(source, { eval: true, workerData });
    started.on('message', (reply: Reply) => this.#options.onReply(reply));
    const fail = (err: Error) => {
      if (this.#thread !== started) return; // 'error' and then 'exit' of one thread report once
      this.#thread = undefined;
      this.#options.onFail(err);
    };
    started.on('error', fail);
    started.on('exit', (code) => fail(new Error(`The ${name} thread exited with code ${code}`)));
    return started;
  }
}
