// The hashing service's thread (hash-service.ts): serves the workers' digests on a Unix socket, all of
// them sharing the MD5 lanes (hash-lanes.ts). A worker's first frame names its slab, which is mapped here
// and then removed from /dev/shm; its updates name slots of it (or carry their bytes). Each connection's
// digest ids are its own, so they are offset by the connection's base here.
//
// A digest's other algorithms (a signed upload's SHA-256, SHA-1) are hashed beside it by a second thread,
// the side thread below, which maps the same slabs: on this thread with the MD5 lanes, one thread did all of
// the workers' hashing and bounded 64 MiB PUTs while a fifth of the two cores stood idle
// (docs/benchmarks.md, "The hashing service's SHA-256 on a thread of its own"). An update is answered, and
// its slot given back, once both threads are done with it.
import { chmodSync, closeSync, constants, openSync, rmSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import { createServer, type Socket } from 'node:net';
import { join } from 'node:path';
import { parentPort, Worker, workerData } from 'node:worker_threads';
import { performance } from 'node:perf_hooks';
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
  number: number;
  base: number;
  socket: Socket;
  slab?: Uint8Array;
  slotBytes: number;
  write: (reply: FromService) => void;
  /** The digests under way whose other algorithms the side thread hashes (true) or this one (false), by id. */
  routes: Map<number, boolean>;
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
  /** The worker expects the digest to be long (hash-service.ts, sideDigestBytes). */
  long?: true;
  /** Set when the side thread hashes some of its algorithms: the reply waits for both. */
  join?: Join;
}

/** An update or digest request split between the lanes (its MD5) and the side thread (the rest). */
interface Join {
  message: Message;
  /** The original algorithms, which the reply's digests follow in order. */
  algorithms: readonly string[];
  /** Answers still to come: 2, then 1, then the reply goes. */
  left: number;
  md5?: Uint8Array;
  others?: Uint8Array[];
  /** Either side answered without digests where some were due (a dropped digest): the reply has none. */
  short?: boolean;
}

function send(conn: Connection, reply: FromService): void {
  if (!conn.socket.destroyed) conn.write(reply);
}

function reply(m: Message, digests: Uint8Array[] | undefined): void {
  const out: FromService = { id: m.cid };
  if (m.op === 'update') {
    out.hashed = m.bytes!.length;
    if (m.slot !== undefined) out.slot = m.slot;
  }
  if (digests) out.digests = digests;
  send(m.conn, out);
}

/** Whether a message's reply carries digests. */
const digestsDue = (m: Message) => m.op === 'digest' || m.final === true;

/**
 * One side's answer to a split message: the lanes' (its MD5) or the side thread's (the others). The reply
 * goes with the second.
 */
function settleJoin(join: Join, from: 'md5' | 'others', digests: Uint8Array[] | undefined): void {
  if (digests) {
    if (from === 'md5') join.md5 = digests[0];
    else join.others = digests;
  } else if (digestsDue(join.message)) {
    join.short = true;
  }
  if (--join.left > 0) return;
  if (!digestsDue(join.message) || join.short) return reply(join.message, undefined);
  let other = 0;
  reply(
    join.message,
    join.algorithms.map((algorithm) => (algorithm === 'md5' ? join.md5! : join.others![other++]!)),
  );
}

function respond(m: Message, digests: Uint8Array[] | undefined): void {
  const join = m.join;
  if (!join) return reply(m, digests);
  settleJoin(join, 'md5', digests);
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

// ---- the side thread: the algorithms other than MD5 -------------------------------------------------

/** What the side thread is sent, in arrays, one per turn of this thread's loop. */
type ToSide =
  | { op: 'slab'; conn: number; fd: number; bytes: number }
  | { op: 'close'; conn: number; ids: [number, number] }
  | { op: 'update'; seq: number; id: number; algorithms: readonly string[]; conn: number; offset: number; length: number; bytes?: Uint8Array; final?: true }
  | { op: 'digest'; seq: number; id: number; algorithms: readonly string[] }
  | { op: 'drop'; id: number };
/** Its answers, in order: an update's or digest request's, with the digests when they were due. */
type FromSide = { seq: number; digests?: Uint8Array[]; failed?: true };

// Plain CommonJS, so it runs whether this module is TypeScript under tsx or built JavaScript.
const sideSource = `
const { parentPort, workerData } = require('node:worker_threads');
const { createHash } = require('node:crypto');
const { closeSync } = require('node:fs');
const { mapShared } = require(workerData.md5Addon);
const hashedBytes = new Float64Array(workerData.sideBytes);
const slabs = new Map(); // connection number → its slab
const states = new Map(); // digest id → its hashes
/** Answers are sent once this many bytes have been hashed since the last, or the jobs run out. */
const answerBytes = 1024 * 1024;
parentPort.on('message', (jobs) => {
  let answers = [];
  let hashed = 0;
  for (const job of jobs) {
    if (job.op === 'slab') {
      try {
        slabs.set(job.conn, new Uint8Array(mapShared(job.fd, job.bytes)));
      } catch {
        // its updates fail below, and the service drops the connection
      } finally {
        closeSync(job.fd);
      }
    } else if (job.op === 'close') {
      slabs.delete(job.conn);
      for (const id of [...states.keys()]) if (id >= job.ids[0] && id < job.ids[1]) states.delete(id);
    } else if (job.op === 'drop') {
      states.delete(job.id);
    } else {
      let state = states.get(job.id);
      if (!state) states.set(job.id, (state = job.algorithms.map((algorithm) => createHash(algorithm))));
      if (job.op === 'update') {
        const slab = slabs.get(job.conn);
        const bytes = job.bytes ?? slab?.subarray(job.offset, job.offset + job.length);
        if (!bytes) {
          states.delete(job.id);
          answers.push({ seq: job.seq, failed: true });
          continue;
        }
        for (const hash of state) hash.update(bytes);
        hashed += bytes.length;
        hashedBytes[0] += bytes.length;
      }
      if (job.op === 'digest' || job.final) {
        states.delete(job.id);
        answers.push({ seq: job.seq, digests: state.map((hash) => hash.digest()) });
      } else {
        answers.push({ seq: job.seq });
      }
      if (hashed >= answerBytes) {
        parentPort.postMessage(answers);
        answers = [];
        hashed = 0;
      }
    }
  }
  if (answers.length > 0) parentPort.postMessage(answers);
});
`;

const side = new Worker(sideSource, { eval: true, workerData: { md5Addon: data.md5Addon, sideBytes: data.sideBytes } });
// Without it no split digest can be answered: the service goes, and the workers hash on their own threads.
side.on('error', (err) => {
  throw err;
});
side.on('exit', () => {
  throw new Error('The hashing service\'s side thread exited');
});
side.unref();

/** Split digests awaiting the side thread, by sequence number. */
const awaiting = new Map<number, Join>();
let nextSeq = 1;
let sideJobs: ToSide[] = [];

function toSide(job: ToSide): void {
  if (sideJobs.push(job) === 1) {
    queueMicrotask(() => {
      const jobs = sideJobs;
      sideJobs = [];
      side.postMessage(jobs);
    });
  }
}

side.on('message', (answers: FromSide[]) => {
  for (const answer of answers) {
    const join = awaiting.get(answer.seq);
    if (!join) continue;
    awaiting.delete(answer.seq);
    if (answer.failed) {
      join.message.conn.socket.destroy(new Error('The side thread could not read this slab'));
      continue;
    }
    settleJoin(join, 'others', answer.digests);
  }
});

/** The share of the last period this thread's event loop was busy: hashing, mostly. */
let busy = 0;
let busyBefore = performance.eventLoopUtilization();
setInterval(() => {
  const now = performance.eventLoopUtilization();
  busy = performance.eventLoopUtilization(now, busyBefore).utilization;
  busyBefore = now;
}, 100).unref();

/**
 * Hands a message to the lanes, and its algorithms other than MD5 to the side thread when that is where its
 * digest's are hashed: decided as the digest starts, for a long one when this thread is busy (hash-service.ts,
 * sideDigestBytes).
 */
function dispatch(m: Message): void {
  const routes = m.conn.routes;
  if (m.op === 'drop') {
    if (routes.get(m.id)) toSide({ op: 'drop', id: m.id });
    routes.delete(m.id);
    return core.receive(m);
  }
  const algorithms = m.algorithms!;
  const others = algorithms.filter((algorithm) => algorithm !== 'md5');
  let onSide = others.length > 0 && routes.get(m.id);
  if (onSide === undefined) {
    onSide = m.long === true && busy >= data.sideFrom;
    routes.set(m.id, onSide);
  }
  if (m.op === 'digest' || m.final) routes.delete(m.id);
  if (!onSide) return core.receive(m);
  const join: Join = { message: m, algorithms, left: algorithms.length > others.length ? 2 : 1 };
  const seq = nextSeq++;
  awaiting.set(seq, join);
  if (m.op === 'update') {
    const inSlab = m.slot !== undefined;
    toSide({
      op: 'update',
      seq,
      id: m.id,
      algorithms: others,
      conn: m.conn.number,
      offset: inSlab ? m.slot! * m.conn.slotBytes : 0,
      length: m.bytes!.length,
      ...(inSlab ? {} : { bytes: m.bytes }),
      ...(m.final ? { final: true as const } : {}),
    });
  } else {
    toSide({ op: 'digest', seq, id: m.id, algorithms: others });
  }
  if (join.left === 2) core.receive({ ...m, algorithms: ['md5'], join });
}

const isCount = (n: unknown, max: number): n is number => Number.isInteger(n) && (n as number) >= 0 && (n as number) < max;

/** Takes one frame from a worker; throws on one no worker of ours sends (the connection is then dropped). */
function take(conn: Connection, frame: ToService): void {
  if (frame.op === 'slab') {
    if (conn.slab || !slabNamePattern.test(frame.name) || !isCount(frame.slots, 4097) || !isCount(frame.slotBytes, 16 * 1024 * 1024 + 1)) {
      throw new Error('Not a slab this service maps');
    }
    const path = join(slabDir, frame.name);
    const bytes = frame.slots * frame.slotBytes;
    try {
      const fd = openSync(path, constants.O_RDWR | constants.O_NOFOLLOW);
      try {
        conn.slab = new Uint8Array(lanes.mapShared!(fd, bytes));
      } catch (err) {
        closeSync(fd);
        throw err;
      }
      toSide({ op: 'slab', conn: conn.number, fd, bytes }); // the side thread maps it too, and closes fd
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
    if (frame.long === true) m.long = true;
  } else if (frame.op !== 'digest' && frame.op !== 'drop') {
    throw new Error('Not a hashing request');
  }
  dispatch(m);
}

/** The numbers of the connections open; a closed one's is taken again, so bases stay below 2^53. */
const numbersInUse = new Set<number>();
const server = createServer((socket) => {
  let number = 1;
  while (numbersInUse.has(number)) number++;
  numbersInUse.add(number);
  const conn: Connection = { number, base: number * idSpan, socket, slotBytes: 0, write: frameWriter(socket), routes: new Map() };
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
    toSide({ op: 'close', conn: number, ids: [conn.base, conn.base + idSpan] });
    numbersInUse.delete(number);
  });
});
rmSync(data.socketPath, { force: true });
server.listen(data.socketPath, () => {
  chmodSync(data.socketPath, 0o600); // its owner's processes only, like the commit socket
  parentPort!.postMessage('listening');
});
