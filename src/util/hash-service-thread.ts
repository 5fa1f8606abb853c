// The hashing service's thread (hash-service.ts): serves the workers' digests on a Unix socket, all of
// them sharing the MD5 lanes (hash-lanes.ts). A worker's first frame names its slab, which is mapped here
// and then removed from /dev/shm; its updates name slots of it (or carry their bytes). Each connection's
// digest ids are its own, so they are offset by the connection's base here.
import { chmodSync, closeSync, constants, openSync, rmSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import { createServer, type Socket } from 'node:net';
import { join } from 'node:path';
import { parentPort, workerData } from 'node:worker_threads';
import { frameWriter, readFrames } from './socket-frames.js';
import { lanesCoreSource } from './hash-lanes.js';
import { slabDir, slabNamePattern, type FromService, type HashServiceData, type ToService } from './hash-service.js';
import type { Md5LanesBinding } from './md5-lanes.js';

const data = workerData as HashServiceData;
const lanes = createRequire(import.meta.url)(data.md5Addon) as Md5LanesBinding;
const stats = new Float64Array(data.laneStats);

/** Digest ids of one connection: below this, so a connection's base plus its id stays an exact number. */
const idSpan = 2 ** 40;
const algorithmsKnown = new Set(['md5', 'sha1', 'sha256']);

interface Connection {
  base: number;
  socket: Socket;
  slab?: Uint8Array;
  slotBytes: number;
  write: (reply: FromService) => void;
}

/** What the core keeps of a message: the frame's, with the connection's id, the slot's bytes and where to answer. */
interface Message {
  op: 'update' | 'digest' | 'drop';
  id: number;
  cid: number;
  conn: Connection;
  algorithms?: readonly string[];
  bytes?: Uint8Array;
  slot?: number;
  final?: true;
}

function send(conn: Connection, reply: FromService): void {
  if (!conn.socket.destroyed) conn.write(reply);
}

function respond(m: Message, digests: Uint8Array[] | undefined): void {
  const reply: FromService = { id: m.cid };
  if (m.op === 'update') {
    reply.hashed = m.bytes!.length;
    if (m.slot !== undefined) reply.slot = m.slot;
  }
  if (digests) reply.digests = digests;
  send(m.conn, reply);
}

const core = new Function('env', lanesCoreSource)({
  lanes,
  lanesMax: data.lanesMax,
  sliceBytes: data.sliceBytes,
  stats,
  deferMs: data.deferMs,
  backlogBytes: data.backlogBytes,
  md5Path: data.md5Path,
  createHash,
  respond,
  poll: () => undefined,
  yields: true,
}) as { receive(m: Message): void; dropAll(test: (id: number) => boolean): void };

const isCount = (n: unknown, max: number): n is number => Number.isInteger(n) && (n as number) >= 0 && (n as number) < max;

/** Takes one frame from a worker; throws on one no worker of ours sends (the connection is then dropped). */
function take(conn: Connection, frame: ToService): void {
  if (frame.op === 'slab') {
    if (conn.slab || !slabNamePattern.test(frame.name) || !isCount(frame.slots, 4097) || !isCount(frame.slotBytes, 16 * 1024 * 1024 + 1)) {
      throw new Error('Not a slab this service maps');
    }
    const path = join(slabDir, frame.name);
    try {
      const fd = openSync(path, constants.O_RDWR | constants.O_NOFOLLOW);
      try {
        conn.slab = new Uint8Array(lanes.mapShared!(fd, frame.slots * frame.slotBytes));
      } finally {
        closeSync(fd);
      }
    } finally {
      rmSync(path, { force: true }); // mapped or not, nobody else is to open it
    }
    conn.slotBytes = frame.slotBytes;
    return;
  }
  if (!isCount(frame.id, idSpan)) throw new Error('Not a digest id');
  const m: Message = { op: frame.op, id: conn.base + frame.id, cid: frame.id, conn };
  if (frame.op !== 'drop') {
    if (!Array.isArray(frame.algorithms) || frame.algorithms.length === 0 || !frame.algorithms.every((a) => algorithmsKnown.has(a))) throw new Error('Not a digest');
    m.algorithms = frame.algorithms;
  }
  if (frame.op === 'update') {
    if (frame.slot !== undefined) {
      if (!conn.slab || !isCount(frame.slot, conn.slab.length / conn.slotBytes) || !isCount(frame.length, conn.slotBytes + 1)) throw new Error('Not a slot of this slab');
      m.slot = frame.slot;
      m.bytes = conn.slab.subarray(frame.slot * conn.slotBytes, frame.slot * conn.slotBytes + frame.length);
    } else if (frame.bytes instanceof Uint8Array) {
      m.bytes = frame.bytes;
    } else {
      throw new Error('An update without bytes');
    }
    if (frame.final) m.final = true;
  } else if (frame.op !== 'digest' && frame.op !== 'drop') {
    throw new Error('Not a hashing request');
  }
  core.receive(m);
}

/** The numbers of the connections open; a closed one's is taken again, so bases stay below 2^53. */
const numbersInUse = new Set<number>();
const server = createServer((socket) => {
  let number = 1;
  while (numbersInUse.has(number)) number++;
  numbersInUse.add(number);
  const conn: Connection = { base: number * idSpan, socket, slotBytes: 0, write: frameWriter(socket) };
  readFrames(socket, (frame) => {
    try {
      take(conn, frame as ToService);
    } catch (err) {
      socket.destroy(err as Error);
    }
  });
  socket.on('error', () => undefined); // 'close' follows
  // Its digests' queued batches are answered into the closed socket, which drops them.
  socket.on('close', () => {
    core.dropAll((id) => id >= conn.base && id < conn.base + idSpan);
    numbersInUse.delete(number);
  });
});
rmSync(data.socketPath, { force: true });
server.listen(data.socketPath, () => {
  chmodSync(data.socketPath, 0o600); // its owner's processes only, like the commit socket
  parentPort!.postMessage('listening');
});
