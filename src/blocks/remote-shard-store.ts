// The ShardStore of one drive on a remote node, over the node RPC (rpc-protocol.ts, remote-node.ts).
// A shard write is one streamed request of frames; reads verify the node's CRC trailer, so a byte
// damaged on the wire fails ERR_SHARD_CORRUPT rather than reaching a client.
import { crc32 } from '@node-rs/crc32';
import { assert } from '../util/assert.js';
import { isStoreError, StoreError } from '../util/errors.js';
import type { BufferPool } from './buffer-pool.js';
import { abortError } from './streams.js';
import { bodyOf, errorBytesMax, errorOfResponse, type RemoteNode } from './remote-node.js';
import type { Answer, RpcExchange } from './rpc-exchange.js';
import { abortFrame, dataFrame, dataFrameHeader, endFrame, rpcHeaders, rpcPathPrefix, shardPath } from './rpc-protocol.js';
import type { RangeStream } from './remote-range-stream.js';
import type { ShardCallOptions, ShardName, ShardRangeReader, ShardReadHandle, ShardStore, ShardWriteStream, StoredShard, TargetHealth, TargetName } from './shard-store.js';

export class RemoteShardStore implements ShardStore {
  readonly target: TargetName;
  readonly key: string;

  constructor(
    readonly node: RemoteNode,
    readonly drive: string,
  ) {
    if (!/^[0-9a-f]{16}$/.test(drive)) throw new RangeError(`Cannot use drive id "${drive}"`);
    this.target = { node: node.nodeId, drive };
    this.key = `${node.nodeId}/${drive}`;
  }

  /** The node's drive timed out (the node said ERR_TARGET_TIMEOUT): skipped like a suspect local drive until a probe answers. */
  private driveSuspect = false;

  get suspect(): boolean {
    return this.node.suspect || this.driveSuspect;
  }

  /** Fails at once while the node or its drive is suspect, as DriveIo does for a local drive. */
  checkUsable(action: string, signal: AbortSignal | undefined): void {
    this.node.checkUsable(action, signal);
    if (this.driveSuspect) throw new StoreError('ERR_SHARD_MISSING', `${action}: drive ${this.key} is suspect: a call timed out on its node`);
  }

  /**
   * Notes a timeout of the drive on its node, then passes the error on. A timeout of the client's own
   * bound has made the whole node suspect already (before the call failed), and the node's background
   * probe clears that; only a timeout the node reported is the drive's.
   */
  async watch<T>(pending: Promise<T>): Promise<T> {
    try {
      return await pending;
    } catch (err) {
      if (isStoreError(err, 'ERR_TARGET_TIMEOUT') && !this.node.suspect) this.driveSuspect = true;
      throw err;
    }
  }

  async createShard(shard: ShardName, options: ShardCallOptions & { blockBytes: number; fresh?: boolean }): Promise<ShardWriteStream> {
    const action = `Cannot write shard "${shard.shardIndex}" of block "${shard.blockId}" to ${this.key}`;
    this.checkUsable(action, options.signal);
    // fresh=1: a new block's shard, so the node looks for no older copy to replace (ShardStore.createShard).
    const path = `${shardPath(this.drive, shard.blockId, shard.shardIndex)}?block-bytes=${options.blockBytes}${options.fresh ? '&fresh=1' : ''}`;
    return new RemoteShardWriter({ node: this.node, path, action, watch: (p) => this.watch(p) });
  }

  /**
   * Costs no round trip: the node checks the shard's header and length on every range read, so the
   * first read fails as the open would have (ERR_SHARD_MISSING, ERR_SHARD_CORRUPT).
   */
  async openShard(shard: ShardName, options: ShardCallOptions & { shardBytes: number }): Promise<ShardReadHandle> {
    if (!(Number.isSafeInteger(options.shardBytes) && options.shardBytes >= 0)) throw new RangeError(`Cannot open a shard of ${options.shardBytes} bytes`);
    this.checkUsable(`Cannot read shard "${shard.shardIndex}" of block "${shard.blockId}" from ${this.key}`, options.signal);
    return new RemoteShardReader(this, shard, options.shardBytes);
  }

  async statShard(shard: ShardName, options?: ShardCallOptions): Promise<StoredShard | undefined> {
    const path = `${shardPath(this.drive, shard.blockId, shard.shardIndex)}/stat`;
    const answer = await this.call<{ shard: StoredShard | null }>('GET', path, `Cannot look up shard "${shard.shardIndex}" of block "${shard.blockId}"`, options);
    return answer.shard ?? undefined;
  }

  async deleteShard(shard: ShardName, options?: ShardCallOptions): Promise<void> {
    await this.call('DELETE', shardPath(this.drive, shard.blockId, shard.shardIndex), `Cannot delete shard "${shard.shardIndex}" of block "${shard.blockId}"`, options);
  }

  async deleteBlock(blockId: string, options?: ShardCallOptions): Promise<number> {
    const answer = await this.call<{ deleted: number }>('DELETE', `${rpcPathPrefix}/${this.drive}/blocks/${blockId}`, `Cannot delete block "${blockId}"`, options);
    return answer.deleted;
  }

  async listPrefixes(first: string | undefined, options?: ShardCallOptions): Promise<string[]> {
    const path = `${rpcPathPrefix}/${this.drive}/prefixes${first === undefined ? '' : `/${first}`}`;
    return (await this.call<{ prefixes: string[] }>('GET', path, `Cannot list drive "${this.key}"`, options)).prefixes;
  }

  async listShards(first: string, second: string, options?: ShardCallOptions): Promise<StoredShard[]> {
    const path = `${rpcPathPrefix}/${this.drive}/prefixes/${first}/${second}`;
    return (await this.call<{ shards: StoredShard[] }>('GET', path, `Cannot list drive "${this.key}"`, options)).shards;
  }

  /**
   * Runs even while the node is suspect (but not beside another probe of it then, unless `recheck`); an
   * answer in time clears the suspicion.
   */
  async probe(options?: ShardCallOptions & { recheck?: boolean }): Promise<TargetHealth> {
    const health = await this.node.probe<TargetHealth>(`${rpcPathPrefix}/${this.drive}/probe`, { action: `Cannot probe ${this.key}`, signal: options?.signal, recheck: options?.recheck === true });
    if (health.state === 'ok') this.driveSuspect = false;
    return health;
  }

  private call<T>(method: 'GET' | 'DELETE', path: string, action: string, options: ShardCallOptions | undefined): Promise<T> {
    this.checkUsable(action, options?.signal);
    return this.watch(this.node.json<T>(method, path, { action: `${action} on ${this.key}`, signal: options?.signal }));
  }
}

/**
 * Appends at least this large go to the socket without a copy. undici waits for 'drain' after a write
 * that fills the socket's buffer (its high-water mark is 16 KiB), so once it asks for the next frame such
 * a chunk has been handed to the kernel and the caller may reuse it. Smaller ones are copied (cheap), which
 * frees the caller at once. Copying large ones is not cheap: a fresh 1 MiB buffer per append halved the
 * write throughput under load (GC of external memory).
 */
const borrowBytesMin = 64 * 1024;

interface Queued {
  frame: Buffer;
  /** A borrowed frame: settles once undici has written it (asked for the next one), or the body stopped. */
  written?: { resolve: () => void; reject: (err: Error) => void };
}

/**
 * The body of a shard write as undici pulls it: frames handed over one at a time. At most one copied
 * frame waits beyond the one undici is writing, and a borrowed frame holds its append until written, so
 * a node that stops reading stalls the writer (whose step then times out) rather than growing a queue.
 */
class FrameFeed implements AsyncIterableIterator<Buffer> {
  private readonly queued: Queued[] = [];
  private ended = false;
  private error: Error | undefined;
  private taker: { resolve: (r: IteratorResult<Buffer>) => void; reject: (err: Error) => void } | undefined;
  private handed: Queued | undefined;
  private readonly roomWaiters: { resolve: () => void; reject: (err: Error) => void }[] = [];

  /**
   * Queues `frame`. An owned frame resolves once at most one frame waits for undici; a borrowed one once
   * undici has written it. Rejects once the body is stopped.
   */
  push(frame: Buffer, borrowed = false): Promise<void> {
    if (this.error) return Promise.reject(this.error);
    assert(!this.ended, 'A frame pushed after the closing frame');
    const item: Queued = { frame };
    const done = borrowed
      ? new Promise<void>((resolve, reject) => (item.written = { resolve, reject }))
      : this.queued.length === 0
        ? Promise.resolve()
        : new Promise<void>((resolve, reject) => this.roomWaiters.push({ resolve, reject }));
    this.queued.push(item);
    this.hand();
    return done;
  }

  /** Queues the closing frame; the body ends after it. */
  end(frame: Buffer): void {
    this.push(frame).catch(() => undefined); // the writer waits on the answer, not on room
    this.ended = true;
    this.hand();
  }

  /** Stops the body: undici's pending pull fails, so it stops writing, and waiting appends fail. */
  close(err: Error): void {
    if (this.error) return;
    this.error = err;
    for (const item of [this.handed, ...this.queued.splice(0)]) item?.written?.reject(err);
    this.handed = undefined;
    for (const waiter of this.roomWaiters.splice(0)) waiter.reject(err);
    this.taker?.reject(err);
    this.taker = undefined;
  }

  next(): Promise<IteratorResult<Buffer>> {
    if (this.error) return Promise.reject(this.error);
    // undici asks for the next frame only once the last one is written (or in the kernel's hands).
    this.handed?.written?.resolve();
    this.handed = undefined;
    return new Promise((resolve, reject) => {
      this.taker = { resolve, reject };
      this.hand();
    });
  }

  async return(): Promise<IteratorResult<Buffer>> {
    this.close(new Error('The request body was dropped'));
    return { done: true, value: undefined };
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<Buffer> {
    return this;
  }

  private hand(): void {
    if (!this.taker) return;
    const item = this.queued.shift();
    if (item === undefined && !this.ended) return;
    const taker = this.taker;
    this.taker = undefined;
    this.handed = item;
    if (item === undefined) taker.resolve({ done: true, value: undefined });
    else taker.resolve({ done: false, value: item.frame });
    if (this.queued.length <= 1) for (const waiter of this.roomWaiters.splice(0)) waiter.resolve();
  }
}

/**
 * One shard write as one PUT whose body is frames (rpc-protocol.ts). The request goes out with the first
 * frame, so creating the shard costs no round trip: a missing drive or a refused signature comes back as
 * the node's early answer, which fails the running append or the commit. An append of 64 KiB or more is
 * sent from the caller's buffer and resolves once undici has written it; a smaller one is copied into a
 * frame and resolves at once unless two frames wait. Commit sends the end frame (CRC and length) and
 * waits for the node's fsync and rename.
 */
class RemoteShardWriter implements ShardWriteStream {
  private crc = 0;
  private bytes = 0;
  private ended = false;
  private readonly feed = new FrameFeed();
  private readonly node: RemoteNode;
  private readonly exchange: RpcExchange;
  private readonly action: string;
  private readonly watch: <T>(pending: Promise<T>) => Promise<T>;
  /** Rejects when the node answers before the body ended (an error it met, such as a full drive), or the call fails. */
  private readonly early: Promise<never>;

  constructor(options: { node: RemoteNode; path: string; action: string; watch: <T>(pending: Promise<T>) => Promise<T> }) {
    ({ node: this.node, action: this.action, watch: this.watch } = options);
    this.exchange = this.node.exchange('PUT', options.path, { action: this.action, bytesMax: errorBytesMax }, this.feed);
    this.exchange.answer.then(
      () => this.feed.close(new Error('The node answered')),
      (err: Error) => this.feed.close(err),
    );
    this.early = this.exchange.answer.then((answer) => {
      throw errorOf(answer, this.action, 'the node answered before the shard was sent');
    });
    this.early.catch(() => undefined);
  }

  async append(data: Buffer, options?: ShardCallOptions): Promise<void> {
    if (options?.signal?.aborted) return this.cut(options.signal);
    if (this.ended) throw new StoreError('ERR_SHARD_MISSING', `${this.action}: the write is over`);
    if (data.length === 0) return;
    const onAbort = () => void this.cut(options!.signal!).catch(() => undefined);
    options?.signal?.addEventListener('abort', onAbort, { once: true });
    try {
      this.crc = crc32(data, this.crc);
      this.bytes += data.length;
      this.exchange.arm(this.node.idleTimeoutMs, 'did not take more shard bytes');
      // The body stops only when the exchange settles, whose error (the node's answer, a timeout) is the one to report.
      const pushed = this.pushData(data).catch(async (err: unknown) => {
        throw isStoreError(err) ? err : await this.early.catch((settled: unknown) => settled);
      });
      await this.watch(Promise.race([this.early, pushed]));
      this.exchange.disarm();
    } finally {
      options?.signal?.removeEventListener('abort', onAbort);
    }
  }

  async commit(options?: ShardCallOptions): Promise<void> {
    if (options?.signal?.aborted) return this.cut(options.signal);
    if (this.ended) throw new StoreError('ERR_SHARD_MISSING', `${this.action}: the write is over`);
    this.ended = true;
    const onAbort = () => void this.cut(options!.signal!).catch(() => undefined);
    options?.signal?.addEventListener('abort', onAbort, { once: true });
    try {
      // The node fsyncs the file and its directory (each bounded there by its drive timeout) before it answers.
      this.exchange.arm(2 * this.node.callTimeoutMs, 'did not commit the shard');
      this.feed.end(endFrame(this.crc, this.bytes));
      const answer = await this.watch(this.exchange.answer);
      if (answer.status !== 200) throw errorOf(answer, this.action, 'the node refused the shard');
    } finally {
      options?.signal?.removeEventListener('abort', onAbort);
    }
  }

  /** Ends the body with an abort frame and waits (bounded) for the node to drop the tmp file; never rejects. */
  async abort(): Promise<void> {
    if (this.ended) return;
    this.ended = true;
    if (this.exchange.failed) return; // cut already: the node drops the tmp file when it sees the cut body
    try {
      this.exchange.arm(this.node.callTimeoutMs, 'did not drop the shard');
      this.feed.end(abortFrame());
      await this.exchange.answer;
    } catch {
      // The connection is gone or the node is slow: it drops the tmp file when it sees the cut body.
    }
  }

  private pushData(data: Buffer): Promise<void> {
    if (data.length < borrowBytesMin) return this.feed.push(dataFrame(data));
    this.feed.push(dataFrameHeader(data.length)).catch(() => undefined); // its fate is the data's
    return this.feed.push(data, true);
  }

  /** The caller's signal: cut the body, which the node takes as an abort. */
  private cut(signal: AbortSignal): Promise<never> {
    this.ended = true;
    const err = abortError(signal, this.action);
    this.exchange.fail(err);
    return Promise.reject(this.exchange.failed ?? err);
  }
}

/** The StoreError of an answer that is not the success the step waited for. */
function errorOf(answer: Answer, action: string, unexpected: string): StoreError {
  if (answer.status === 200) return new StoreError('ERR_SHARD_MISSING', `${action}: ${unexpected}`);
  return errorOfResponse(bodyOf(answer), action);
}

const notPooled = Buffer.alloc(0);

/** Range reads of one remote shard; each read is one GET whose CRC trailer is checked. */
class RemoteShardReader implements ShardReadHandle {
  constructor(
    private readonly store: RemoteShardStore,
    private readonly shard: ShardName,
    private readonly shardBytes: number,
  ) {}

  readPieces(start: number, end: number, options?: ShardCallOptions): Promise<Buffer[]> {
    return this.readRange(start, end, options?.signal);
  }

  /**
   * The received chunks as they are: they are buffers of their own already, so copying them into one of
   * the pool's would only add a copy per byte. The `buffer` returned is not the pool's (give() ignores it).
   */
  async readPooled(start: number, end: number, _pool: BufferPool, options?: ShardCallOptions): Promise<{ pieces: Buffer[]; buffer: Buffer }> {
    return { pieces: await this.readRange(start, end, options?.signal), buffer: notPooled };
  }

  /**
   * One framed GET for the whole range, opened at the first read and consumed piece by piece. A read the
   * stream cannot serve (out of order, or the stream broke: an error answer, a cut body, a frame failing
   * its CRC, a stall past the idle bound, which makes the node suspect) is a plain range read, which
   * reports any error exactly as before.
   */
  readInOrder(start: number, end: number): ShardRangeReader {
    let stream: RangeStream | undefined;
    let closed = false;
    return {
      read: async (from, to, options) => {
        if (!stream && !closed && from === start && to < end && !this.store.suspect && !options?.signal?.aborted) {
          const path = `${this.pathOf()}?shard-bytes=${this.shardBytes}&start=${start}&end=${end}&framed=1`;
          stream = this.store.node.streamRange(path, start, end);
        }
        const pieces = stream?.serves(from, to) ? await stream.take(from, to) : undefined;
        return pieces ?? this.readRange(from, to, options?.signal);
      },
      close: () => {
        closed = true;
        stream?.close();
      },
    };
  }

  async close(): Promise<void> {}

  private pathOf(): string {
    return shardPath(this.store.drive, this.shard.blockId, this.shard.shardIndex);
  }

  readRange(start: number, end: number, signal: AbortSignal | undefined): Promise<Buffer[]> {
    return this.store.watch(this.fetchRange(start, end, signal));
  }

  private async fetchRange(start: number, end: number, signal: AbortSignal | undefined): Promise<Buffer[]> {
    if (!(Number.isInteger(start) && Number.isInteger(end) && start >= 0 && start <= end && end <= this.shardBytes)) {
      throw new RangeError(`Cannot read shard bytes [${start}, ${end}) of ${this.shardBytes}`);
    }
    const { blockId, shardIndex } = this.shard;
    const action = `Cannot read shard "${shardIndex}" of block "${blockId}" from ${this.store.key}`;
    this.store.checkUsable(action, signal);
    const path = `${shardPath(this.store.drive, blockId, shardIndex)}?shard-bytes=${this.shardBytes}&start=${start}&end=${end}`;
    const answer = await this.store.node.call('GET', path, { action, signal, bytesMax: Math.max(end - start, errorBytesMax) });
    if (answer.status !== 200) throw errorOf(answer, action, '');
    const failed = answer.trailers[rpcHeaders.rangeError];
    if (failed !== undefined) throw new StoreError(failed === 'ERR_SHARD_CORRUPT' ? 'ERR_SHARD_CORRUPT' : 'ERR_SHARD_MISSING', `${action}: the node met ${String(failed)} mid-read`);
    const sentCrc = answer.trailers[rpcHeaders.rangeCrc32];
    let crc = 0;
    for (const chunk of answer.chunks) crc = crc32(chunk, crc);
    if (answer.bytes !== end - start || sentCrc !== crc.toString(16).padStart(8, '0')) {
      throw new StoreError('ERR_SHARD_CORRUPT', `${action}: the bytes were damaged in transit (${answer.bytes} bytes, CRC trailer "${String(sentCrc ?? '')}")`);
    }
    return answer.chunks;
  }
}
