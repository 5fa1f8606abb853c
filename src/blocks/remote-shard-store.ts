// The ShardStore of one drive on a remote node, over the node RPC (rpc-protocol.ts, remote-node.ts).
// A shard write is one streamed request; reads verify the node's CRC trailer, so a byte damaged on the
// wire fails ERR_SHARD_CORRUPT rather than reaching a client.
import { crc32 } from '@node-rs/crc32';
import type { ClientRequest, IncomingMessage } from 'node:http';
import { isStoreError, StoreError } from '../util/errors.js';
import type { BufferPool } from './buffer-pool.js';
import { abortError } from './streams.js';
import { CallGuard, errorOfResponse, readBody, readChunks, type RemoteNode } from './remote-node.js';
import { rpcHeaders, rpcPathPrefix, shardPath } from './rpc-protocol.js';
import type { ShardCallOptions, ShardName, ShardReadHandle, ShardStore, ShardWriteStream, StoredShard, TargetHealth, TargetName } from './shard-store.js';

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

  /** Notes a timeout of the drive on its node, then passes the error on. */
  async watch<T>(pending: Promise<T>): Promise<T> {
    try {
      return await pending;
    } catch (err) {
      if (isStoreError(err, 'ERR_TARGET_TIMEOUT')) this.driveSuspect = true;
      throw err;
    }
  }

  async createShard(shard: ShardName, options: ShardCallOptions & { blockBytes: number }): Promise<ShardWriteStream> {
    const action = `Cannot write shard "${shard.shardIndex}" of block "${shard.blockId}" to ${this.key}`;
    this.checkUsable(action, options.signal);
    const path = `${shardPath(this.drive, shard.blockId, shard.shardIndex)}?block-bytes=${options.blockBytes}`;
    return this.watch(RemoteShardWriter.start({ node: this.node, path, action, signal: options.signal, watch: (p) => this.watch(p) }));
  }

  async openShard(shard: ShardName, options: ShardCallOptions & { shardBytes: number }): Promise<ShardReadHandle> {
    const reader = new RemoteShardReader(this, shard, options.shardBytes);
    await reader.readRange(0, 0, options.signal); // the node checks the header and length
    return reader;
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

  /** Runs even while the node is suspect; an answer in time clears the suspicion. */
  async probe(options?: ShardCallOptions): Promise<TargetHealth> {
    const action = `Cannot probe ${this.key}`;
    if (options?.signal?.aborted) throw abortError(options.signal, action);
    const health = await this.node.json<TargetHealth>('GET', `${rpcPathPrefix}/${this.drive}/probe`, { action, signal: options?.signal });
    this.node.clearSuspect();
    if (health.state === 'ok') this.driveSuspect = false;
    return health;
  }

  private call<T>(method: string, path: string, action: string, options: ShardCallOptions | undefined): Promise<T> {
    this.checkUsable(action, options?.signal);
    return this.watch(this.node.json<T>(method, path, { action: `${action} on ${this.key}`, signal: options?.signal }));
  }
}

/**
 * One shard write as one chunked PUT. start() waits for the node's 100-continue (the tmp file exists);
 * each append resolves once its bytes have gone to the socket (so the caller may reuse the buffer), and
 * commit sends the CRC and length as trailers and waits for the node's fsync and rename.
 */
class RemoteShardWriter implements ShardWriteStream {
  private crc = 0;
  private bytes = 0;
  private ended = false;
  /** The node's answer, read once: an early one (an error mid-body) is seen by whichever step is running. */
  private readonly answer: Promise<{ status: number; body: Buffer }>;
  /** The answer arriving in the middle of the body is an error the node met (a full drive): it fails the running append. */
  private readonly early: Promise<never>;

  private constructor(
    private readonly req: ClientRequest,
    private readonly guard: CallGuard,
    private readonly action: string,
    private readonly watch: <T>(pending: Promise<T>) => Promise<T>,
  ) {
    this.answer = guard.wait(
      new Promise<IncomingMessage>((resolve) => req.once('response', resolve)).then(async (res) => ({ status: res.statusCode ?? 0, body: await readBody(res, 64 * 1024) })),
    );
    this.answer.catch(() => undefined);
    this.early = this.answer.then(({ body }) => {
      throw errorOfResponse(body, action);
    });
    this.early.catch(() => undefined);
  }

  static async start(options: { node: RemoteNode; path: string; action: string; signal: AbortSignal | undefined; watch: <T>(pending: Promise<T>) => Promise<T> }): Promise<RemoteShardWriter> {
    const { node, path, action, signal } = options;
    const req = node.open('PUT', path, true);
    req.setHeader('expect', '100-continue');
    req.setHeader('transfer-encoding', 'chunked');
    req.setHeader('trailer', `${rpcHeaders.shardCrc32}, ${rpcHeaders.shardBytes}, ${rpcHeaders.shardAbort}`);
    const guard = new CallGuard(node, req, { action, signal });
    const writer = new RemoteShardWriter(req, guard, action, options.watch);
    req.flushHeaders();
    const proceed = new Promise<void>((resolve) => req.once('continue', resolve));
    try {
      // A node that answers before 100-continue refused the write (a missing drive, a bad signature).
      await guard.wait(Promise.race([proceed, writer.early]));
      guard.disarm();
      return writer;
    } catch (err) {
      guard.abort(err as StoreError);
      throw err;
    }
  }

  async append(data: Buffer, options?: ShardCallOptions): Promise<void> {
    if (options?.signal?.aborted) return this.cut(options.signal);
    if (this.ended) throw new StoreError('ERR_SHARD_MISSING', `${this.action}: the write is over`);
    const onAbort = () => void this.cut(options!.signal!).catch(() => undefined);
    options?.signal?.addEventListener('abort', onAbort, { once: true });
    try {
      this.crc = crc32(data, this.crc);
      this.bytes += data.length;
      // The callback runs once the bytes are handed to the kernel: only then may the caller reuse `data`.
      const written = new Promise<void>((resolve, reject) => this.req.write(data, (err) => (err ? reject(err) : resolve())));
      this.guard.arm();
      await this.watch(this.guard.wait(Promise.race([written, this.early])));
      this.guard.disarm();
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
      this.req.addTrailers({ [rpcHeaders.shardCrc32]: this.crc.toString(16).padStart(8, '0'), [rpcHeaders.shardBytes]: String(this.bytes) });
      this.req.end();
      this.guard.arm();
      const { status, body } = await this.watch(this.answer);
      if (status !== 200) await this.watch(Promise.reject(errorOfResponse(body, this.action)));
    } finally {
      options?.signal?.removeEventListener('abort', onAbort);
      this.guard.done();
    }
  }

  /** Ends the body with an abort trailer and waits (bounded) for the node to drop the tmp file; never rejects. */
  async abort(): Promise<void> {
    if (this.ended) return;
    this.ended = true;
    if (this.req.destroyed) return; // cut already: the node drops the tmp file when it sees the cut body
    try {
      this.req.addTrailers({ [rpcHeaders.shardAbort]: '1' });
      this.req.end();
      this.guard.arm();
      await this.answer;
    } catch {
      // The connection is gone or the node is slow: it drops the tmp file when it sees the cut body.
      this.req.destroy();
    } finally {
      this.guard.done();
    }
  }

  /** The caller's signal: cut the body, which the node takes as an abort. */
  private cut(signal: AbortSignal): Promise<never> {
    this.ended = true;
    const err = new StoreError('ERR_ABORTED', `${this.action}: the request was cancelled`, { cause: signal.reason });
    this.guard.abort(err);
    return Promise.reject(err);
  }

}

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

  async readPooled(start: number, end: number, pool: BufferPool, options?: ShardCallOptions): Promise<{ pieces: Buffer[]; buffer: Buffer }> {
    const pieces = await this.readRange(start, end, options?.signal);
    const buffer = pool.take(end - start);
    let offset = 0;
    for (const piece of pieces) offset += piece.copy(buffer, offset);
    return { pieces: [buffer.subarray(0, offset)], buffer };
  }

  async close(): Promise<void> {}

  readRange(start: number, end: number, signal: AbortSignal | undefined): Promise<Buffer[]> {
    return this.store.watch(this.fetchRange(start, end, signal));
  }

  private async fetchRange(start: number, end: number, signal: AbortSignal | undefined): Promise<Buffer[]> {
    if (!(Number.isInteger(start) && Number.isInteger(end) && start >= 0 && start <= end && end <= this.shardBytes)) {
      throw new RangeError(`Cannot read shard bytes [${start}, ${end}) of ${this.shardBytes}`);
    }
    const { blockId, shardIndex } = this.shard;
    const action = `Cannot read shard "${shardIndex}" of block "${blockId}" from ${this.store.key}`;
    const node = this.store.node;
    this.store.checkUsable(action, signal);
    const path = `${shardPath(this.store.drive, blockId, shardIndex)}?shard-bytes=${this.shardBytes}&start=${start}&end=${end}`;
    const { res, guard } = await node.send('GET', path, { action, signal });
    try {
      if (res.statusCode !== 200) throw errorOfResponse(await guard.wait(readBody(res, 64 * 1024)), action);
      const body = await guard.wait(readChunks(res, end - start));
      const failed = res.trailers[rpcHeaders.rangeError];
      if (failed !== undefined) throw new StoreError(failed === 'ERR_SHARD_CORRUPT' ? 'ERR_SHARD_CORRUPT' : 'ERR_SHARD_MISSING', `${action}: the node met ${failed} mid-read`);
      const sentCrc = res.trailers[rpcHeaders.rangeCrc32];
      let crc = 0;
      let bytes = 0;
      for (const chunk of body) {
        crc = crc32(chunk, crc);
        bytes += chunk.length;
      }
      if (bytes !== end - start || sentCrc !== crc.toString(16).padStart(8, '0')) {
        throw new StoreError('ERR_SHARD_CORRUPT', `${action}: the bytes were damaged in transit (${bytes} bytes, CRC trailer "${sentCrc ?? ''}")`);
      }
      return body;
    } finally {
      guard.done();
    }
  }
}
