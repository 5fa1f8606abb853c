// Checksum verification of large shard reads on a worker thread. The CRC32 of every 64 KiB block was
// about a fifth of the event loop's thread on 1 MiB GETs, and that thread is what bounds them
// (bench/http.ts profile). Read buffers from the read pool live in shared memory, so the thread checks
// the bytes where they are: only a small message crosses, never the data.
// It must not hold a buffer after answering: the caller lends it to the socket next.
import { createRequire } from 'node:module';
import { OnDemandThread } from '../util/on-demand-thread.js';
import { blockChecksumBytes } from './shard-format.js';

/** Reads shorter than this are verified in place: the trip to the thread costs more than their CRC. */
export const verifyThreadBytesMin = 256 * 1024;

/**
 * `count` blocks of shard data back to back in `data`, and their CRC32s (little-endian, in block order)
 * in `sums`: the layout a gathering read leaves (ShardReader), so the data goes to the socket as one piece.
 */
export interface ChecksumBlocks {
  /** A view into a SharedArrayBuffer. */
  data: Buffer;
  /** A view into the same SharedArrayBuffer, `count` × 4 bytes. */
  sums: Buffer;
  count: number;
  /** Data bytes of every block but the last; the last holds the rest of `data`. */
  blockBytes: number;
}

// Plain CommonJS, so the same code runs whether this module is TypeScript under tsx or built JavaScript.
// The CRC module's path comes from the parent: an eval'd worker resolves modules from the working
// directory, which need not be this project's.
const threadSource = `
const { parentPort, workerData } = require('node:worker_threads');
const { crc32 } = require(workerData.crcModule);
parentPort.on('message', (m) => {
  const data = Buffer.from(m.buffer, m.dataOffset, m.dataBytes);
  const sums = Buffer.from(m.buffer, m.sumsOffset, m.count * ${blockChecksumBytes});
  let bad = -1;
  for (let block = 0; block < m.count; block++) {
    const from = block * m.blockBytes;
    const to = block === m.count - 1 ? m.dataBytes : from + m.blockBytes;
    if (crc32(data.subarray(from, to)) !== sums.readUInt32LE(block * ${blockChecksumBytes})) {
      bad = block;
      break;
    }
  }
  parentPort.postMessage({ id: m.id, bad });
});
`;

interface Pending {
  resolve(badBlock: number): void;
  reject(err: Error): void;
}

const pending = new Map<number, Pending>();
let nextId = 1;
/** After the thread fails, reads verify in place until then, rather than start a thread per read. */
let retryAfterMs = 0;
const retryDelayMs = 10_000;

interface Request {
  id: number;
  buffer: SharedArrayBuffer;
  dataOffset: number;
  dataBytes: number;
  sumsOffset: number;
  count: number;
  blockBytes: number;
}

const thread = new OnDemandThread<Request, { id: number; bad: number }>({
  name: 'checksum',
  source: threadSource,
  workerData: { crcModule: createRequire(import.meta.url).resolve('@node-rs/crc32') },
  busy: () => pending.size > 0,
  onReply: (m) => {
    const waiter = pending.get(m.id);
    pending.delete(m.id);
    thread.refresh();
    waiter?.resolve(m.bad);
  },
  onFail: (err) => {
    retryAfterMs = Date.now() + retryDelayMs;
    for (const waiter of pending.values()) waiter.reject(err);
    pending.clear();
  },
});

/**
 * Checks every block's CRC32 on the thread. Resolves with the index of the first block whose checksum
 * does not match, or -1; rejects only if the thread failed (the caller may then verify in place).
 */
export function verifyOffThread(blocks: ChecksumBlocks): Promise<number> {
  const { data, sums, count, blockBytes } = blocks;
  if (!(data.buffer instanceof SharedArrayBuffer) || sums.buffer !== data.buffer) {
    throw new TypeError('Cannot verify off the thread: the data and its checksums are not in one shared memory');
  }
  if (count < 1 || data.length <= (count - 1) * blockBytes || data.length > count * blockBytes || sums.length !== count * blockChecksumBytes) {
    throw new RangeError(`Cannot verify ${count} checksum blocks of ${blockBytes} bytes in ${data.length} data and ${sums.length} checksum bytes`);
  }
  if (!thread.running && Date.now() < retryAfterMs) return Promise.reject(new Error('The checksum thread failed recently'));
  const id = nextId++;
  const verified = new Promise<number>((resolve, reject) => pending.set(id, { resolve, reject }));
  thread.post({ id, buffer: data.buffer, dataOffset: data.byteOffset, dataBytes: data.length, sumsOffset: sums.byteOffset, count, blockBytes });
  return verified;
}
