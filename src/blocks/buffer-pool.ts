// A bounded pool of shard read buffers, so that large GETs reuse memory instead of allocating a fresh
// ArrayBuffer per stripe, which V8 counts as external memory and answers with full Mark-Compact GCs.
// It only hands buffers out and takes them back; when a buffer may be reused is the borrower's business.
import { assert } from '../util/assert.js';

export interface BufferPoolOptions {
  /** Buffers are sized in whole multiples of this, so reads of nearby lengths share buffers. */
  classBytes: number;
  /** Buffers above this many classes are neither pooled nor kept: rare (scrub, odd ranges). */
  classesMax: number;
  /** Idle bytes kept for reuse; a buffer given back beyond this is left to the GC. */
  idleBytesMax: number;
  /**
   * Pooled buffers live in a SharedArrayBuffer, so a worker thread can read them in place (the checksum
   * thread of large reads). Those above classesMax do not.
   */
  shared?: boolean;
}

export class BufferPool {
  private readonly idle = new Map<number, Buffer[]>();
  /** Buffers this pool made: only these may come back (never one of Node's shared slabs). */
  private readonly owned = new WeakSet<Buffer>();
  private readonly resting = new WeakSet<Buffer>();
  private idleBytes = 0;
  /** Buffers handed out that were new allocations, for tests and benchmarks. */
  allocated = 0;
  reused = 0;

  constructor(private readonly options: BufferPoolOptions) {
    assert(options.classBytes > 0 && options.classesMax > 0 && options.idleBytesMax >= 0, 'Invalid buffer pool options');
  }

  /**
   * A buffer of at least `bytes` (a whole number of classes), uninitialised. The caller gives it back
   * with give() once nothing reads or writes it any more, or drops it and lets the GC take it.
   */
  take(bytes: number): Buffer {
    const classes = Math.max(1, Math.ceil(bytes / this.options.classBytes));
    if (classes > this.options.classesMax) return Buffer.allocUnsafeSlow(bytes);
    const reused = this.idle.get(classes)?.pop();
    if (reused) {
      this.idleBytes -= reused.length;
      this.resting.delete(reused);
      this.reused++;
      return reused;
    }
    const bytesPooled = classes * this.options.classBytes;
    const fresh = this.options.shared ? Buffer.from(new SharedArrayBuffer(bytesPooled)) : Buffer.allocUnsafeSlow(bytesPooled);
    this.owned.add(fresh);
    this.allocated++;
    return fresh;
  }

  /** Takes back a buffer from take(); anything else, or anything beyond the idle bound, is ignored. */
  give(buffer: Buffer): void {
    if (!this.owned.has(buffer)) return;
    // Pooled twice, one buffer would be lent to two readers at once: the bytes of one would corrupt the other.
    assert(!this.resting.has(buffer), 'Buffer given back to the pool twice');
    if (this.idleBytes + buffer.length > this.options.idleBytesMax) return;
    const classes = buffer.length / this.options.classBytes;
    let list = this.idle.get(classes);
    if (!list) {
      list = [];
      this.idle.set(classes, list);
    }
    list.push(buffer);
    this.resting.add(buffer);
    this.idleBytes += buffer.length;
  }

  /** Bytes waiting for reuse. */
  get idleBytesNow(): number {
    return this.idleBytes;
  }
}
