// Moving object bytes in and out: small bodies go inline into the metadata, larger ones stream into the
// block store; reads stream a byte range back across inline data or a list of blocks.
import { Readable } from 'node:stream';
import type { BlockRef, LeasedBytes, Redundancy } from '../blocks/types.js';
import type { ObjectContext } from './context.js';
import { ObjectError } from './errors.js';
import type { ObjectData } from './records.js';
import { streamingHash, threadHashBytesMin, type StreamingHash } from '../util/hash-thread.js';
import { assert } from '../util/assert.js';
import { openChunkRuns, sealChunks, sealedRangeOf, type ChunkKey, type OpenedRun } from './chunk-cipher.js';
import { BufferPool } from '../blocks/buffer-pool.js';
import { chunkSourceOf, IterableSource, PassingSource, readAll, readUpTo, type ChunkSource } from '../util/chunk-source.js';

export interface StoredData {
  inline?: Buffer;
  block?: BlockRef;
  size: number;
  md5: Buffer;
}

export interface IngestOptions {
  /** Declared length of the body (Content-Length, or x-amz-decoded-content-length); undefined when the
   * client streamed it with chunked transfer encoding and no length. */
  size: number | undefined;
  /** Store in the block store even when small (multipart parts, whose blocks become the object's). */
  forceBlock?: boolean;
  redundancy?: Redundancy;
  signal?: AbortSignal;
  /**
   * The body's MD5 as the caller's decoder computes it, asked for once the body has ended and stored: the
   * body is then not hashed a second time here. Its digest() may reject (a signed payload whose SHA-256 did
   * not match): nothing is committed then. Disposed here whatever happens.
   */
  bodyMd5?: BodyMd5;
  /** Seal the body (after its MD5 and size are counted, before the inline/block decision): encrypted objects. */
  seal?: ChunkKey;
}

/** The MD5 of a body as its decoder computes it (IngestOptions.bodyMd5). */
export interface BodyMd5 {
  digest(): Promise<Buffer>;
  dispose(): void;
}

/** Stands in for the MD5 of a body whose decoder computes it (IngestOptions.bodyMd5). */
function givenMd5(bodyMd5: BodyMd5): StreamingHash {
  const digest = () => bodyMd5.digest();
  return { update: () => undefined, backlogged: false, drained: () => Promise.resolve(), digest, digests: async () => [await digest()], dispose: () => bodyMd5.dispose() };
}

/**
 * The body's chunks, counted against its declared length and fed to its MD5 as they are taken: a layer of
 * calls, not a generator, between the payload decoder and the block writer (issue 17).
 */
class CountedBody extends PassingSource {
  size = 0;

  constructor(inner: ChunkSource, private readonly md5: StreamingHash, private readonly declared: number | undefined) {
    super(inner);
  }

  protected next(): Buffer | null | undefined {
    const chunk = this.inner.take();
    if (chunk === null) {
      if (this.declared !== undefined && this.size !== this.declared) throw new ObjectError('IncompleteBody');
      return null;
    }
    if (chunk === undefined) return undefined;
    this.size += chunk.length;
    if (this.declared !== undefined && this.size > this.declared) throw new ObjectError('InvalidRequest', 'The body is longer than its declared length');
    this.md5.update(chunk);
    if (this.md5.backlogged) this.waitFor(this.md5.drained());
    return chunk;
  }
}

/** Chunks already taken from `inner` (`head`), then the rest of it. */
class HeadThenRest extends PassingSource {
  private taken = 0;

  constructor(private readonly head: Buffer[], inner: ChunkSource) {
    super(inner);
  }

  protected next(): Buffer | null | undefined {
    if (this.taken < this.head.length) return this.head[this.taken++]!;
    return this.inner.take();
  }
}

/**
 * For a body of unknown length: reads it until it proves longer than `inlineBytesMax`. Returns the whole
 * body when it is not, else a source of the same bytes, those read first included.
 */
async function inlineOrStream(source: ChunkSource, inlineBytesMax: number): Promise<{ inline: Buffer } | { stream: ChunkSource }> {
  const head = await readUpTo(source, inlineBytesMax);
  if (head.ended) return { inline: Buffer.concat(head.chunks, head.bytes) };
  return { stream: new HeadThenRest(head.chunks, source) };
}

/** Stores a body; resolves once it is durable. Nothing is committed to metadata here. */
export async function ingest(ctx: ObjectContext, body: AsyncIterable<Buffer>, options: IngestOptions): Promise<StoredData> {
  // A large body's MD5 (the ETag) is hashed on a worker thread, beside the block writes, instead of on
  // the event loop's thread.
  const md5 = options.bodyMd5 ? givenMd5(options.bodyMd5) : streamingHash('md5', options.size ?? threadHashBytesMin);
  const counted = new CountedBody(chunkSourceOf(body), md5, options.size);
  try {
    let source: ChunkSource = counted;
    if (options.seal) source = new IterableSource(sealChunks(source, options.seal));
    if (options.size === undefined && !options.forceBlock) {
      const head = await inlineOrStream(source, ctx.inlineBytesMax);
      if ('inline' in head) return { inline: head.inline, size: counted.size, md5: await md5.digest() };
      source = head.stream;
    }
    if (options.size !== undefined && options.size <= ctx.inlineBytesMax && !options.forceBlock) {
      const inline = await readAll(source);
      return { inline, size: counted.size, md5: await md5.digest() };
    }
    const id = ctx.blocks.newId();
    ctx.blocksInFlight?.add(id);
    // The source itself: the block writer takes its chunks by calls, with no stream layer between.
    const block = await ctx.blocks.write(source, {
      id,
      ...(options.redundancy ? { redundancy: options.redundancy } : {}),
      ...(options.signal ? { signal: options.signal } : {}),
    }).finally(() => ctx.blocksInFlight?.delete(id));
    const digest = await md5.digest().catch(async (err: unknown) => {
      await ctx.blocks.delete(block).catch(() => undefined); // the orphan sweep retries
      throw err;
    });
    return { block, size: counted.size, md5: digest };
  } catch (err) {
    // Whatever failed, the request is read no further here (a sealed body's layers between do not pass a
    // cancel down), so the HTTP layer can drain or cut off the rest.
    counted.cancel(err);
    throw err;
  } finally {
    md5.dispose();
  }
}

/** Frees a stored body that will not be committed (a failed precondition, a bad digest). */
export async function discard(ctx: ObjectContext, stored: StoredData): Promise<void> {
  if (stored.block) await ctx.blocks.delete(stored.block).catch(() => undefined); // the orphan sweep retries
}

export function objectDataOf(stored: StoredData): ObjectData {
  return stored.block ? { blocks: [stored.block] } : { inline: (stored.inline ?? Buffer.alloc(0)).toString('base64') };
}

interface Piece {
  length: number;
  read(start: number, end: number, signal?: AbortSignal): Iterable<Buffer> | AsyncIterable<Buffer>;
}

/** The pieces an object's bytes are split into: the inline buffer, or one entry per block. */
function piecesOf(ctx: ObjectContext, data: ObjectData): Piece[] {
  if (data.inline !== undefined) {
    const buf = inlineBytesOf(data, data.inline);
    return [{ length: buf.length, read: (s, e) => [buf.subarray(s, e)] }];
  }
  return (data.blocks ?? []).map((ref) => ({
    length: ref.size,
    read: (s, e, signal) => ctx.blocks.read(ref, { start: s, end: e, ...(signal ? { signal } : {}) }),
  }));
}

/** Bytes [start, end) of an object kept inline in its metadata; undefined when it lives in blocks. */
export function inlineRange(data: ObjectData, start: number, end: number): Buffer | undefined {
  return data.inline === undefined ? undefined : inlineBytesOf(data, data.inline).subarray(start, end);
}

// An inline body decoded once per record: records read through decodeSharedRecord are shared by every
// GET of the object, so its bytes can be too (they are only ever written to sockets).
const inlineBytes = new WeakMap<ObjectData, Buffer>();

function inlineBytesOf(data: ObjectData, inline: string): Buffer {
  let bytes = inlineBytes.get(data);
  if (bytes === undefined) {
    bytes = Buffer.from(inline, 'base64');
    inlineBytes.set(data, bytes);
  }
  return bytes;
}

/**
 * Where logical bytes [start, end) fall in consecutive pieces of the given lengths: each piece they
 * touch, with the part of it (relative to the piece) they cover, in order.
 */
function* slicesOf<T>(pieces: readonly T[], lengthOf: (piece: T) => number, start: number, end: number): Generator<{ piece: T; start: number; end: number }> {
  let offset = 0;
  for (const piece of pieces) {
    const length = lengthOf(piece);
    const pieceStart = Math.max(start, offset);
    const pieceEnd = Math.min(end, offset + length);
    if (pieceStart < pieceEnd) yield { piece, start: pieceStart - offset, end: pieceEnd - offset };
    offset += length;
    if (offset >= end) break;
  }
}

/** Streams bytes [start, end) of an object. */
export function readData(ctx: ObjectContext, data: ObjectData, start: number, end: number, signal?: AbortSignal): Readable {
  const pieces = piecesOf(ctx, data);
  async function* generate(): AsyncGenerator<Buffer> {
    for (const slice of slicesOf(pieces, (p) => p.length, start, end)) {
      for await (const chunk of slice.piece.read(slice.start, slice.end, signal)) yield chunk;
    }
  }
  return Readable.from(generate(), { objectMode: false });
}

/**
 * Bytes [start, end) of an object kept in blocks, as leases the caller releases once it no longer
 * references their pieces (see LeasedBytes): GET's way to reuse read buffers instead of allocating.
 */
export async function* readDataLeased(ctx: ObjectContext, data: ObjectData, start: number, end: number, signal?: AbortSignal): AsyncGenerator<LeasedBytes> {
  for (const slice of slicesOf(data.blocks ?? [], (ref) => ref.size, start, end)) {
    yield* ctx.blocks.readLeased(slice.piece, { start: slice.start, end: slice.end, ...(signal ? { signal } : {}) });
  }
}

/** An encrypted object's bytes, with what opens them: its data, plaintext size, chunk size and data key. */
export interface SealedData {
  data: ObjectData;
  /** The plaintext size (VersionRecord.size). */
  size: number;
  chunkBytes: number;
  dataKey: Buffer;
}

/** One run of sealed chunks: a single PUT's body (part 0), or one part of a multipart object. */
interface SealedRun {
  plainBytes: number;
  partNumber: number;
  stored(start: number, end: number, signal?: AbortSignal): AsyncIterable<LeasedBytes>;
}

function sealedRunsOf(ctx: ObjectContext, sealed: SealedData): SealedRun[] {
  const { data } = sealed;
  if (data.inline !== undefined) {
    const buf = inlineBytesOf(data, data.inline);
    return [{ plainBytes: sealed.size, partNumber: 0, stored: (s, e) => oneLease(buf.subarray(s, e)) }];
  }
  const blocks = data.blocks ?? [];
  // Leases, not their pieces: openChunkRuns holds a stripe's last pieces until the chunk straddling into the
  // next stripe is opened from both, and releases each lease itself.
  const stored = (ref: BlockRef) => (s: number, e: number, signal?: AbortSignal) => ctx.blocks.readLeased(ref, { start: s, end: e, ...(signal ? { signal } : {}) });
  if (!data.parts) {
    assert(blocks.length <= 1, 'An object written by one PUT has at most one block');
    return blocks.map((ref) => ({ plainBytes: sealed.size, partNumber: 0, stored: stored(ref) }));
  }
  const parts = data.parts;
  assert(parts.length === blocks.length, 'An encrypted multipart object has one block per part');
  return blocks.map((ref, i) => ({ plainBytes: parts[i]!.size, partNumber: parts[i]!.partNumber ?? i + 1, stored: stored(ref) }));
}

/** An inline object's bytes: part of its shared record, so nothing to give back. */
async function* oneLease(buf: Buffer): AsyncGenerator<LeasedBytes> {
  yield { pieces: [buf], release: () => undefined };
}

/**
 * Plaintext [start, end) of an encrypted object: only the stored bytes of the chunks the range touches
 * are read, each chunk opened and checked before any of it goes out.
 */
export async function* readSealed(ctx: ObjectContext, sealed: SealedData, start: number, end: number, signal?: AbortSignal): AsyncGenerator<Buffer> {
  for await (const run of openedRuns(ctx, sealed, start, end, signal, (bytes) => Buffer.allocUnsafe(bytes))) yield run.plain;
}

async function* openedRuns(ctx: ObjectContext, sealed: SealedData, start: number, end: number, signal: AbortSignal | undefined, take: (bytes: number) => Buffer): AsyncGenerator<OpenedRun> {
  for (const slice of slicesOf(sealedRunsOf(ctx, sealed), (run) => run.plainBytes, start, end)) {
    const { piece: run } = slice;
    const { storedStart, storedEnd } = sealedRangeOf(run.plainBytes, sealed.chunkBytes, slice.start, slice.end);
    const key = { dataKey: sealed.dataKey, partNumber: run.partNumber, chunkBytes: sealed.chunkBytes };
    yield* openChunkRuns(run.stored(storedStart, storedEnd, signal), key, run.plainBytes, slice.start, slice.end, { take });
  }
}

/** readData for any object: through readSealed when `sealed` is given (the object is encrypted). */
export function readObject(ctx: ObjectContext, data: ObjectData, sealed: SealedData | undefined, start: number, end: number, signal?: AbortSignal): Readable {
  if (!sealed) return readData(ctx, data, start, end, signal);
  return Readable.from(readSealed(ctx, sealed, start, end, signal), { objectMode: false });
}

/**
 * Output buffers of leased encrypted reads: a GET's opened runs (up to a stripe's worth, 1 MiB of plaintext)
 * go back once the socket has sent them, instead of a fresh allocation per run that V8 answers with GCs.
 */
const openedPool = new BufferPool({ classBytes: 256 * 1024, classesMax: 8, idleBytesMax: 16 * 1024 * 1024 });

/** readDataLeased for an encrypted object: each opened run as a lease whose release returns its buffer. */
export async function* readSealedLeased(ctx: ObjectContext, sealed: SealedData, start: number, end: number, signal?: AbortSignal): AsyncGenerator<LeasedBytes> {
  // A small object's run is allocated as before: a pool class would be far larger than it.
  const take = (bytes: number) => (bytes >= 64 * 1024 ? openedPool.take(bytes) : Buffer.allocUnsafe(bytes));
  for await (const run of openedRuns(ctx, sealed, start, end, signal, take)) {
    yield { pieces: [run.plain], release: () => openedPool.give(run.out) };
  }
}
