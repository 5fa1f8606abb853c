// Reading and writing one shard file in the checksummed format of shard-format.ts. The writer makes a
// file durable (tmp → fsync → rename → fsync dir); the reader verifies every block it returns, in the
// same threadpool call as the read when the native addon is there (native-shard-read.ts).
import fs from 'node:fs';
import { open, unlink, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
// The same CRC-32 (IEEE) as zlib's, about 8x faster: the per-block check is most of a GET's CPU otherwise.
import { crc32 } from '@node-rs/crc32';
import { assert } from '../util/assert.js';
import { isStoreError, StoreError } from '../util/errors.js';
import type { DriveIo } from './drive-io.js';
import type { BufferPool } from './buffer-pool.js';
import type { ShardReadHandle, ShardWriteStream } from './shard-store.js';
import { verifyOffThread, verifyThreadBytesMin } from './verify-thread.js';
import { cachedShardReads, nativeShardRead, type ShardReadBinding } from './native-shard-read.js';
import { directWriteAlignBytes, directWrites, nativeFileSync, type FileSyncBinding } from './native-file-sync.js';
import { cachedReadBytesMax, cachedReadTurnBytesMax } from '../constants.js';
import {
  blockChecksumBytes,
  blockFileOffset,
  decodeShardHeader,
  encodeShardHeader,
  shardFileBytes,
  shardHeaderBytes,
} from './shard-format.js';

/** Bytes read from the page cache on the event loop in this turn of it (readCachedNow), reset at its check phase. */
let cachedReadBytesThisTurn = 0;

/** Counts `bytes` against this turn's budget of reads on the event loop; false when they do not fit. */
function takeTurnBudget(bytes: number): boolean {
  if (cachedReadBytesThisTurn + bytes > cachedReadTurnBytesMax) return false;
  if (cachedReadBytesThisTurn === 0) setImmediate(() => (cachedReadBytesThisTurn = 0));
  cachedReadBytesThisTurn += bytes;
  return true;
}

/**
 * Addon calls given a bare descriptor, counted until they return, timed out or not. The FileHandle does not
 * know the fd is in use (its own calls hold its close back until they finish), so whoever closes it waits
 * for idle() first: an fd closed under a call could be reused by another open, and the call would read or
 * write another file's bytes.
 */
export class FdCalls {
  private count = 0;
  private idlePromise: Promise<void> | undefined;
  private resolveIdle: (() => void) | undefined;

  track<T>(call: Promise<T>): Promise<T> {
    this.count++;
    const done = () => {
      if (--this.count > 0) return;
      this.resolveIdle?.();
      this.idlePromise = this.resolveIdle = undefined;
    };
    call.then(done, done);
    return call;
  }

  /** Resolves once no tracked call is in flight. */
  idle(): Promise<void> {
    if (this.count === 0) return Promise.resolve();
    return (this.idlePromise ??= new Promise<void>((resolve) => (this.resolveIdle = resolve)));
  }
}

/** Streams one shard into a temporary file; `commit()` makes it durable under its final name. */
export class ShardWriter implements ShardWriteStream {
  /** The sync that also drops the written pages, or undefined for fs's; tests swap it to reach either path. */
  static fileSync: FileSyncBinding | undefined = nativeFileSync;
  /** The direct writes new shard files use; undefined writes them through the page cache (tests switch it). */
  static directWrites: FileSyncBinding | undefined = directWrites;
  private position = shardHeaderBytes; // the header is written last, once the length is known
  /**
   * Set while the file is written with direct I/O: every write then starts at the 4 KiB boundary at or
   * before `position`, re-sending `carry` (the bytes since that boundary, the header's zeros at first), and is
   * padded to 4 KiB with zeros, which the next write overwrites and the commit truncates.
   */
  private direct: FileSyncBinding | undefined;
  private carry: Buffer = Buffer.alloc(shardHeaderBytes);
  /** The file's first 4 KiB as written (header zeros included), for the commit to write again with the header. */
  private firstPage: Buffer | undefined;
  private wroteDirect = false;
  /** Direct writes not yet returned: the descriptor closes only after them. */
  private readonly writing = new FdCalls();
  private shardBytes = 0;
  /**
   * An incomplete checksum block carried between appends; allocated on first need, since whole stripes
   * are whole checksum blocks and most writes never need it (each one was 64 KiB of garbage per shard).
   */
  private pendingBuffer: Buffer | undefined;
  private pendingBytes = 0;
  private closed = false;
  /** An append said it was the last: later appends are a bug. */
  private finished = false;
  /** The header went out with the data (a shard written in one append). */
  private headerWritten = false;

  private constructor(
    private readonly io: DriveIo,
    private readonly handle: FileHandle,
    private readonly tmpPath: string,
    private readonly finalPath: string,
    private readonly header: { blockId: string; shardIndex: number; blockBytes: number },
  ) {
    const writes = ShardWriter.directWrites;
    if (writes?.setDirect(handle.fd, true)) this.direct = writes;
  }

  private get pending(): Buffer {
    return (this.pendingBuffer ??= Buffer.allocUnsafe(this.header.blockBytes));
  }

  static async create(
    io: DriveIo,
    options: { tmpPath: string; finalPath: string; blockId: string; shardIndex: number; blockBytes: number },
  ): Promise<ShardWriter> {
    const { tmpPath } = options;
    // 'wx': a tmp name collision is a bug (random suffix), never a silent overwrite.
    const handle = await io.run(
      () => open(tmpPath, 'wx'),
      (lateHandle) => {
        void io.cleanup(() => lateHandle.close()).then(() => io.cleanup(() => unlink(tmpPath)));
      },
    );
    return new ShardWriter(io, handle, tmpPath, options.finalPath, options);
  }

  /**
   * Appends shard bytes. The caller must not change `data` until the promise settles. With `last` (no
   * append follows), a partial checksum block is written now rather than at commit, and a shard written
   * in this one append gets its header in the same writev: one call fewer per shard file (issue 17).
   */
  async append(data: Buffer, options?: { last?: boolean }): Promise<void> {
    assert(!this.closed && !this.finished, 'Shard writer used after close or after its last append');
    const blockBytes = this.header.blockBytes;
    const pieces: Buffer[] = [];
    let offset = 0;
    if (this.pendingBytes > 0) {
      const taken = Math.min(blockBytes - this.pendingBytes, data.length);
      data.copy(this.pending, this.pendingBytes, 0, taken);
      this.pendingBytes += taken;
      offset = taken;
      if (this.pendingBytes === blockBytes) {
        pieces.push(Buffer.from(this.pending), checksumOf(this.pending));
        this.pendingBytes = 0;
      }
    }
    while (data.length - offset >= blockBytes) {
      const block = data.subarray(offset, offset + blockBytes);
      pieces.push(block, checksumOf(block));
      offset += blockBytes;
    }
    this.shardBytes += data.length;
    if (options?.last) {
      if (offset < data.length) {
        const tail = data.subarray(offset);
        pieces.push(tail, checksumOf(tail));
      }
      this.finished = true;
      if (this.position === shardHeaderBytes && this.pendingBytes === 0) {
        pieces.unshift(this.encodeHeader());
        this.position = 0;
        this.carry = Buffer.alloc(0);
        this.headerWritten = true;
      }
    } else if (offset < data.length) {
      data.copy(this.pending, 0, offset);
      this.pendingBytes = data.length - offset;
    }
    await this.writeAll(pieces);
  }

  /**
   * Flushes, fsyncs, renames into place and fsyncs the directory, in Garage's order. The steps after the
   * last write run as one drive call: each step through DriveIo was a promise chain and a timeout slot
   * of its own, a third of a PUT's JS garbage (issue 17).
   */
  async commit(): Promise<void> {
    assert(!this.closed, 'Shard writer committed twice');
    if (this.pendingBytes > 0) {
      const tail = this.pending.subarray(0, this.pendingBytes);
      await this.writeAll([tail, checksumOf(tail)]);
      this.pendingBytes = 0;
    }
    assert(this.position === shardFileBytes(this.shardBytes, this.header.blockBytes), 'Shard file length drifted');
    const header = this.headerWritten ? undefined : this.encodeHeader();
    const truncate = this.wroteDirect || (header !== undefined && this.direct !== undefined);
    await this.io.run(() => this.commitSteps(header), undefined, 5 + (header ? 1 : 0) + (truncate ? 1 : 0));
  }

  /** The commit's fs calls in order; stops before the next one once abort() has run (the call timed out). */
  private async commitSteps(header: Buffer | undefined): Promise<void> {
    const { handle } = this;
    const stopped = () => this.closed;
    let padded = this.wroteDirect;
    if (header && this.direct) {
      // The first 4 KiB again, now with the header (a direct write is whole 4 KiB pages; an empty shard has only the header).
      const rest = this.firstPage ? [this.firstPage.subarray(shardHeaderBytes)] : [];
      await this.writing.track(this.direct.writeDirect(handle.fd, [header, ...rest], 0));
      padded = true;
    } else if (header) {
      await handle.write(header, 0, header.length, 0);
    }
    if (stopped()) throw abortedCommit();
    if (padded) await handle.truncate(this.position); // the last direct write's padding
    if (stopped()) throw abortedCommit();
    // Synced, then its pages dropped from the page cache where the addon is there: a shard is rarely read
    // right after it is written, and a growing cache cost more per MiB than the rest of the write (issue 17).
    // The addon gets the bare fd, so an abort() after a timeout may close it under the call; if the number
    // is reused meanwhile, another file gets an fsync and a drop advice, neither of which changes its bytes.
    const sync = ShardWriter.fileSync;
    await (sync ? sync.syncDropping(handle.fd, false, 0, 0) : handle.sync());
    if (stopped()) throw abortedCommit();
    this.closed = true;
    await handle.close();
    await renameDurably(this.tmpPath, this.finalPath);
  }

  /** Drops the temporary file; safe to call after any failure, and more than once. */
  async abort(): Promise<void> {
    const { io, handle, tmpPath } = this;
    if (!this.closed) {
      this.closed = true;
      await io.cleanup(async () => {
        await this.writing.idle();
        await handle.close();
      });
    }
    await io.cleanup(() => unlink(tmpPath));
  }

  private encodeHeader(): Buffer {
    return encodeShardHeader({ ...this.header, shardBytes: this.shardBytes });
  }

  private async writeAll(pieces: Buffer[]): Promise<void> {
    if (this.direct && (await this.writeDirect(pieces))) return;
    let rest = pieces;
    while (rest.length > 0) {
      const pieces = rest;
      const { bytesWritten } = await this.io.run(() => this.handle.writev(pieces, this.position));
      this.position += bytesWritten;
      rest = dropBytes(rest, bytesWritten); // regular files rarely write short, but POSIX allows it
    }
  }

  /**
   * Writes `pieces` at `position` with direct I/O, from the 4 KiB boundary before it (the carry first):
   * true once written, false when the file system refused it (EINVAL), after which the file is written
   * through the page cache (the caller writes `pieces` so; the commit still truncates any padding).
   */
  private async writeDirect(pieces: Buffer[]): Promise<boolean> {
    const write = this.direct!;
    const base = this.position - this.carry.length;
    assert(base % directWriteAlignBytes === 0, 'Direct shard write off its 4 KiB boundary');
    const all = this.carry.length > 0 ? [this.carry, ...pieces] : pieces;
    let bytes = 0;
    for (const piece of all) bytes += piece.length;
    try {
      await this.io.run(() => this.writing.track(write.writeDirect(this.handle.fd, all, base)));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EINVAL') throw err;
      this.direct = undefined;
      write.setDirect(this.handle.fd, false);
      return false;
    }
    this.wroteDirect = true;
    const end = base + bytes;
    this.carry = copyRange(all, alignDown(end, directWriteAlignBytes) - base, bytes);
    if (base === 0 && !this.headerWritten) this.firstPage = copyRange(all, 0, Math.min(directWriteAlignBytes, bytes));
    this.position = end;
    return true;
  }
}

/** A copy of bytes [from, to) of `pieces` taken as one run. */
function copyRange(pieces: Buffer[], from: number, to: number): Buffer {
  const out = Buffer.allocUnsafe(to - from);
  let at = 0;
  let start = 0;
  for (const piece of pieces) {
    const end = start + piece.length;
    if (end > from && start < to) {
      const a = Math.max(from, start) - start;
      const b = Math.min(to, end) - start;
      at += piece.copy(out, at, a, b);
    }
    start = end;
    if (start >= to) break;
  }
  return out;
}

function alignDown(value: number, align: number): number {
  return value - (value % align);
}

/** What a reader expects of a shard's header. */
export interface ShardExpect {
  blockId: string;
  shardIndex: number;
  shardBytes: number;
}

/**
 * The bytes a reader reads: a shard file of its own (base 0, released by closing it) or a record of a pack
 * file at `base`, whose descriptor is shared and only released (pack-store.ts counts its users).
 */
export interface ShardSource {
  handle: FileHandle;
  base: number;
  release(): Promise<void>;
}

/** Positional, verifying reads of one shard file; the reader checks the header against what the caller expects. */
export class ShardReader implements ShardReadHandle {
  /** The fused read and check, or undefined for fs and a separate check; tests swap it to reach either path. */
  static nativeRead: ShardReadBinding | undefined = nativeShardRead;
  /** Whether a native read first tries the page cache on the event loop (TESSERA_CACHED_READ=off: not); tests set it. */
  static cachedReads = cachedShardReads;
  /** Native reads in flight (the addon gets the bare descriptor): close() waits for them. */
  private readonly nativeReads = new FdCalls();
  private closed = false;

  private constructor(
    private readonly io: DriveIo,
    private readonly source: ShardSource,
    private readonly path: string,
    readonly header: { blockBytes: number; shardBytes: number },
  ) {}

  private get handle(): FileHandle {
    return this.source.handle;
  }

  static async open(io: DriveIo, path: string, expect: ShardExpect): Promise<ShardReader> {
    const handle = await io
      .run(
        () => openForRead(path),
        (lateHandle) => void io.cleanup(() => lateHandle.close()),
      )
      .catch((err: unknown) => {
        throw ioError(err, `Cannot open shard "${path}"`);
      });
    const source: ShardSource = { handle, base: 0, release: () => handle.close() };
    return ShardReader.openSource(io, source, path, expect, async () => (await io.run(() => handle.stat())).size);
  }

  /**
   * A reader over one record of a pack file (pack-store.ts): the same bytes a shard file holds, from
   * `source.base` on, `recordBytes` long by the pack index. Closing it releases `source`, never closes it.
   */
  static openRecord(io: DriveIo, source: ShardSource, where: string, expect: ShardExpect, recordBytes: number): Promise<ShardReader> {
    return ShardReader.openSource(io, source, where, expect, async () => recordBytes);
  }

  private static async openSource(io: DriveIo, source: ShardSource, path: string, expect: ShardExpect, length: () => Promise<number>): Promise<ShardReader> {
    try {
      const head = Buffer.alloc(shardHeaderBytes);
      await io.run(() => source.handle.read(head, 0, shardHeaderBytes, source.base));
      const header = decodeShardHeader(head, path);
      const corrupt = (why: string) => new StoreError('ERR_SHARD_CORRUPT', `Cannot trust shard "${path}": ${why}`);
      if (header.blockId !== expect.blockId) throw corrupt(`it belongs to block "${header.blockId}"`);
      if (header.shardIndex !== expect.shardIndex) throw corrupt(`it holds shard "${header.shardIndex}"`);
      if (header.shardBytes !== expect.shardBytes) throw corrupt(`it holds ${header.shardBytes} bytes, not ${expect.shardBytes}`);
      const size = await length();
      if (size !== shardFileBytes(header.shardBytes, header.blockBytes)) throw corrupt(`file length ${size} is wrong`);
      return new ShardReader(io, source, path, header);
    } catch (err) {
      await io.cleanup(() => source.release());
      throw err instanceof StoreError ? err : ioError(err, `Cannot read shard "${path}"`);
    }
  }

  /** Reads shard bytes [start, end) as one buffer, verifying every checksum block touched. */
  async read(start: number, end: number): Promise<Buffer> {
    const pieces = await this.readPieces(start, end);
    return pieces.length === 1 ? pieces[0]! : Buffer.concat(pieces);
  }

  /**
   * Reads shard bytes [start, end), verifying every checksum block touched, as views into one read
   * buffer: no copy to strip the checksums, which halved the full GCs of large GETs (bench/http.ts).
   */
  async readPieces(start: number, end: number): Promise<Buffer[]> {
    return (await this.readInto(start, end, (bytes) => Buffer.allocUnsafe(bytes))).pieces;
  }

  /**
   * readPieces() into a buffer from `pool`. The caller owns the returned `buffer` and gives it back to
   * the pool only once nothing references `pieces` any more; on failure it has already gone back.
   */
  async readPooled(start: number, end: number, pool: BufferPool): Promise<{ pieces: Buffer[]; buffer: Buffer }> {
    let taken: Buffer | undefined;
    try {
      return await this.readInto(start, end, (bytes) => (taken = pool.take(bytes)));
    } catch (err) {
      // A settled read leaves no reference to the buffer. A timed-out one has not settled: the threadpool
      // may still write into it, so it is left to the GC rather than lent to another read.
      if (taken && !isStoreError(err, 'ERR_TARGET_TIMEOUT')) pool.give(taken);
      throw err;
    }
  }

  private async readInto(start: number, end: number, alloc: (bytes: number) => Buffer): Promise<{ pieces: Buffer[]; buffer: Buffer }> {
    const { blockBytes, shardBytes } = this.header;
    assert(start >= 0 && start <= end && end <= shardBytes, 'Shard read out of range');
    if (start === end) return { pieces: [], buffer: Buffer.alloc(0) };
    const firstBlock = Math.floor(start / blockBytes);
    const lastBlock = Math.floor((end - 1) / blockBytes);
    const fileStart = blockFileOffset(firstBlock, blockBytes);
    const fileEnd = Math.min(blockFileOffset(lastBlock + 1, blockBytes), shardFileBytes(shardBytes, blockBytes));
    const buffer = alloc(fileEnd - fileStart);
    const raw = buffer.length === fileEnd - fileStart ? buffer : buffer.subarray(0, fileEnd - fileStart);
    const binding = ShardReader.nativeRead;
    if (binding) await this.readVerified(binding, raw, fileStart, firstBlock);
    else await this.readThenVerify(raw, fileStart, firstBlock, lastBlock);
    return { pieces: this.slice(raw, firstBlock, start, end), buffer };
  }

  /**
   * The read and the check in one call on the threadpool (native/shard_read.c): each block's CRC is computed
   * while its bytes are still in the cache the copy from the page cache left them in, with no second trip to
   * the checksum thread. Same outcomes as readThenVerify(). Bytes all in the page cache are read and checked
   * at once instead (readCachedNow), without the threadpool's two thread hops.
   */
  private async readVerified(binding: ShardReadBinding, raw: Buffer, fileStart: number, firstBlock: number): Promise<void> {
    const result =
      this.readCachedNow(binding, raw, fileStart) ??
      (await this.io.run(() => this.readNative(binding, raw, fileStart)).catch((err: unknown) => {
        throw ioError(err, `Cannot read shard "${this.path}"`);
      }));
    if (result < 0) throw this.mismatch(firstBlock - 1 - result);
    if (result !== raw.length) throw this.truncated();
  }

  /**
   * The native read from the page cache alone, on this thread: its result, or null when it may not be tried
   * (a long read, a closed reader, a suspect drive) or the cache did not hold every byte. It never waits for
   * the disk, so it needs neither DriveIo's timeout nor its cap; the descriptor is open, since nothing can
   * close it while this runs.
   */
  private readCachedNow(binding: ShardReadBinding, raw: Buffer, fileStart: number): number | null {
    if (!binding.readCached || !ShardReader.cachedReads || raw.length > cachedReadBytesMax || this.closed || !this.io.answersNow) return null;
    if (!takeTurnBudget(raw.length)) return null;
    return binding.readCached(this.handle.fd, raw, this.source.base + fileStart, raw.length, this.header.blockBytes);
  }

  private readNative(binding: ShardReadBinding, raw: Buffer, fileStart: number): Promise<number> {
    if (this.closed) return Promise.reject(new StoreError('ERR_SHARD_MISSING', `Cannot read shard "${this.path}": its reader is closed`));
    // readVerified throws before it is in flight.
    return this.nativeReads.track(binding.readVerified(this.handle.fd, raw, this.source.base + fileStart, raw.length, this.header.blockBytes));
  }

  /** The read by fs on the threadpool, then the check: on the checksum thread for large pooled reads. */
  private async readThenVerify(raw: Buffer, fileStart: number, firstBlock: number, lastBlock: number): Promise<void> {
    const { bytesRead } = await this.io.run(() => this.handle.read(raw, 0, raw.length, this.source.base + fileStart)).catch((err: unknown) => {
      throw ioError(err, `Cannot read shard "${this.path}"`);
    });
    if (bytesRead !== raw.length) throw this.truncated();
    if (raw.buffer instanceof SharedArrayBuffer && raw.length >= verifyThreadBytesMin) await this.verifyOffThread(raw, firstBlock, lastBlock);
    else this.verify(raw, firstBlock);
  }

  /** verify() on the checksum thread; in place if that thread fails. */
  private async verifyOffThread(raw: Buffer, firstBlock: number, lastBlock: number): Promise<void> {
    const { blockBytes, shardBytes } = this.header;
    const lastBlockBytes = Math.min(blockBytes, shardBytes - lastBlock * blockBytes);
    const bad = await verifyOffThread({ bytes: raw, count: lastBlock - firstBlock + 1, blockBytes, lastBlockBytes }).catch(() => undefined);
    if (bad === undefined) this.verify(raw, firstBlock);
    else if (bad >= 0) throw this.mismatch(firstBlock + bad);
  }

  /** Closes the file (or releases the pack's shared one) once no native read uses its descriptor any more (see nativeReads). */
  async close(): Promise<void> {
    if (this.closed) return;
    const { source } = this;
    this.closed = true;
    await this.io.cleanup(async () => {
      await this.nativeReads.idle();
      await source.release();
    });
  }

  /** Checks the CRC32 of every checksum block in `raw`, which starts at block `firstBlock`. */
  private verify(raw: Buffer, firstBlock: number): void {
    const bad = firstBadBlock(raw, firstBlock, this.header);
    if (bad !== undefined) throw this.mismatch(bad);
  }

  private truncated(): StoreError {
    return new StoreError('ERR_SHARD_CORRUPT', `Shard "${this.path}" was truncated`);
  }

  private mismatch(block: number): StoreError {
    return new StoreError('ERR_SHARD_CORRUPT', `Checksum mismatch in block ${block} of shard "${this.path}"`);
  }

  /** The data of verified `raw` (from block `firstBlock`) within shard bytes [start, end), as views. */
  private slice(raw: Buffer, firstBlock: number, start: number, end: number): Buffer[] {
    const { blockBytes, shardBytes } = this.header;
    const out: Buffer[] = [];
    let written = 0;
    let rawOffset = 0;
    for (let block = firstBlock; rawOffset < raw.length; block++) {
      const dataBytes = Math.min(blockBytes, shardBytes - block * blockBytes);
      const data = raw.subarray(rawOffset, rawOffset + dataBytes);
      const from = Math.max(start - block * blockBytes, 0);
      const to = Math.min(end - block * blockBytes, dataBytes);
      out.push(data.subarray(from, to));
      written += to - from;
      rawOffset += dataBytes + blockChecksumBytes;
    }
    assert(written === end - start, 'Shard read returned the wrong length');
    return out;
  }
}

/**
 * The first checksum block in `raw` (blocks with their CRC32s, from block `firstBlock` of a shard of this
 * size) whose CRC32 does not match, or undefined when every one does.
 */
export function firstBadBlock(raw: Buffer, firstBlock: number, { blockBytes, shardBytes }: { blockBytes: number; shardBytes: number }): number | undefined {
  let rawOffset = 0;
  for (let block = firstBlock; rawOffset < raw.length; block++) {
    const dataBytes = Math.min(blockBytes, shardBytes - block * blockBytes);
    if (crc32(raw.subarray(rawOffset, rawOffset + dataBytes)) !== raw.readUInt32LE(rawOffset + dataBytes)) return block;
    rawOffset += dataBytes + blockChecksumBytes;
  }
  return undefined;
}

function abortedCommit(): StoreError {
  return new StoreError('ERR_ABORTED', 'Shard commit stopped: the write was aborted');
}

function checksumOf(block: Buffer): Buffer {
  const out = Buffer.allocUnsafe(blockChecksumBytes);
  out.writeUInt32LE(crc32(block), 0);
  return out;
}

/**
 * What a shard written in one append puts on disk, in order: the header, then each checksum block and its
 * CRC32. A shard file holds exactly these bytes, and so does a pack record (pack-store.ts).
 */
export function shardRecordPieces(header: { blockId: string; shardIndex: number; blockBytes: number }, data: Buffer): Buffer[] {
  const pieces: Buffer[] = [encodeShardHeader({ ...header, shardBytes: data.length })];
  for (let offset = 0; offset < data.length; offset += header.blockBytes) {
    const block = data.subarray(offset, Math.min(offset + header.blockBytes, data.length));
    pieces.push(block, checksumOf(block));
  }
  return pieces;
}

export function dropBytes(pieces: Buffer[], count: number): Buffer[] {
  let left = count;
  const rest: Buffer[] = [];
  for (const piece of pieces) {
    if (left >= piece.length) left -= piece.length;
    else {
      rest.push(piece.subarray(left));
      left = 0;
    }
  }
  return rest;
}

/**
 * rename, then fsync of the directory (open, fsync, close): in callbacks under one promise, since as four
 * fs/promises calls each made a promise, a FileHandle and an async frame per shard file (issue 17).
 */
function renameDurably(from: string, to: string): Promise<void> {
  return new Promise((resolve, reject) => {
    fs.rename(from, to, (renameErr) => {
      if (renameErr) return reject(renameErr);
      fs.open(dirname(to), 'r', (openErr, fd) => {
        if (openErr) return reject(openErr);
        fs.fsync(fd, (syncErr) => {
          fs.close(fd, (closeErr) => {
            const err = syncErr ?? closeErr;
            if (err) reject(err);
            else resolve();
          });
        });
      });
    });
  });
}

/**
 * Opens a shard or pack file for reading without access-time updates (O_NOATIME). A read of a pack being
 * appended to would otherwise write its inode's atime (relatime updates it whenever it is older than the
 * mtime), a journal transaction that may wait on the disk, inside a page-cache read on the event loop too
 * (readCachedNow). Where the flag is refused (EPERM: a file this process does not own), a plain open.
 */
export async function openForRead(path: string): Promise<FileHandle> {
  try {
    return await open(path, fs.constants.O_RDONLY | fs.constants.O_NOATIME);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') throw err;
    return open(path, 'r');
  }
}

/** fsync of a directory makes a rename or a new entry in it durable. Without `io`, unbounded (drive identity, at open). */
export async function fsyncDir(path: string, io?: DriveIo): Promise<void> {
  const run = <T>(call: () => Promise<T>) => (io ? io.run(call) : call());
  const handle = await run(() => open(path, 'r'));
  try {
    await run(() => handle.sync());
  } finally {
    await (io ? io.cleanup(() => handle.close()) : handle.close());
  }
}

/**
 * Maps an fs error to the store's vocabulary. Absent (ENOENT) and unreadable (EIO, EACCES) shards are
 * alike to a reader: both count as missing and are rebuilt from the others.
 */
export function ioError(err: unknown, message: string): StoreError {
  if (isStoreError(err)) return err; // a timeout or a suspect drive says so already
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  return new StoreError('ERR_SHARD_MISSING', `${message}: ${code ?? String(err)}`, { cause: err });
}
