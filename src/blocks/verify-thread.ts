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

/** `count` blocks of shard data in `bytes`, each followed by its CRC32 (little-endian). */
export interface ChecksumBlocks {
  /** A view into a SharedArrayBuffer. */
  bytes: Buffer;
  count: number;
  /** Data bytes of every block but the last. */
  blockBytes: number;
  /** Data bytes of the last block. */
  lastBlockBytes: number;
}

// Plain CommonJS, so the same code runs whether this module is TypeScript under tsx or built JavaScript.
// The CRC module's path comes from the parent: an eval'd worker resolves modules from the working
// directory, which need not be this project's.
const threadSource = `
const { parentPort, workerData } = require('node:worker_threads');
const { crc32 } = require(workerData.crcModule);
parentPort.on('message', (m) => {
  const bytes = Buffer.from(m.buffer, m.byteOffset, m.byteLength);
  let offset = 0;
  let bad = -1;
  for (let block = 0; block < m.count; block++) {
    const data = block === m.count - 1 ? m.lastBlockBytes : m.blockBytes;
    if (crc32(bytes.subarray(offset, offset + data)) !== bytes.readUInt32LE(offset + data)) {
      bad = block;
      break;
    }
    offset += data + ${blockChecksumBytes};
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
  byteOffset: number;
  byteLength: number;
  count: number;
  blockBytes: number;
  lastBlockBytes: number;
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
  const { bytes, count, blockBytes, lastBlockBytes } = blocks;
  if (!(bytes.buffer instanceof SharedArrayBuffer)) throw new TypeError('Cannot verify off the thread: the bytes are not in shared memory');
  if (bytes.length !== (count - 1) * blockBytes + lastBlockBytes + count * blockChecksumBytes) {
    throw new RangeError(`Cannot verify ${count} checksum blocks in ${bytes.length} bytes`);
  }
  if (!thread.running && Date.now() < retryAfterMs) return Promise.reject(new Error('The checksum thread failed recently'));
  const id = nextId++;
  const verified = new Promise<number>((resolve, reject) => pending.set(id, { resolve, reject }));
  thread.post({ id, buffer: bytes.buffer, byteOffset: bytes.byteOffset, byteLength: bytes.byteLength, count, blockBytes, lastBlockBytes });
  return verified;
}
