// Hashing shared by the workers of `tessera server --workers N` (issue 17). Each process hashing its own
// uploads filled the MD5 lanes only from its own share of them: with two workers at 16 uploads, a
// process saw eight, and half its MD5 time ran 4 lanes wide or on the scalar path, 0.68 ms per 1 MiB PUT
// against 0.38 in one process (docs/benchmarks.md). So the primary runs a thread (hash-service-thread.ts)
// that hashes the digests of two workers together (roles/workers-primary.ts starts one for every two), on
// a Unix socket beside the database, DATA/meta/hash-N.sock.
// The other algorithms of a digest (a signed upload's SHA-256) go with its MD5: hashed by the worker's main
// thread instead, or by its own hashing thread reading the same bytes, they cost more than the shared lanes
// saved (docs/benchmarks.md, "One hashing service for all the workers"). In the service, a long upload's
// are hashed by a second thread when the first is busy (sideDigestBytes below).
//
// The bytes do not go through the socket. Each worker makes a slab of batch slots in shared memory (a file
// in /dev/shm, mapped by the lanes addon's mapShared in both processes and removed as soon as the service
// has mapped it), copies each batch into a slot as it did into its own batch buffer, and sends the
// slot's number; the service answers with the slot back, and with the digests after a final batch. A
// batch that finds no slot free goes as bytes in the frame (copied twice more).
//
// Where any of it cannot be had (one process, no addon, no /dev/shm, a path too long for a socket,
// TESSERA_HASH_SERVICE=off), or once the link has failed, digests are hashed on the process's own thread,
// as before.
import { accessSync, closeSync, constants, ftruncateSync, openSync, rmSync, statSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import type { Worker } from 'node:worker_threads';
import { frameWriter, readFrames } from './socket-frames.js';
import { batchBytes, laneStatsLength, md5BacklogBytes, md5DeferMs, md5SliceBytes } from './hash-lanes.js';
import { loadMd5Lanes, md5LanesAddonPath, md5LanesMax } from './md5-lanes.js';
import { startModuleThread } from './module-thread.js';

/** Where the workers' slabs are made: memory, not a disk. */
export const slabDir = '/dev/shm';

/**
 * A slab's name: the primary's pid, the worker's, and the worker's count of them, so the primary can remove
 * what a killed worker left.
 */
export const slabNamePattern = /^tessera-hash-(\d+)-\d+-\d+$/;

let slabsMade = 0;

/**
 * Slots in a worker's slab: 128 MiB of address space, of which only the slots ever in use at once take
 * memory. An upload holds at most 17 (its bytes in flight are capped at 4 MiB, hash-thread.ts), and MD5
 * bytes wait for company up to a 2 MiB backlog: with 128 slots, eight 64 MiB uploads at once in a worker
 * ran out of them and sent batches as bytes, at 12.5 PUT/s against 15 (docs/benchmarks.md, "One hashing
 * service for all the workers").
 */
export const slabSlots = 512;

/** The environment variable that gives a worker the service's socket. */
export const hashSocketEnv = 'TESSERA_HASH_SOCKET';

/** A frame to the service. */
export type ToService =
  | { op: 'slab'; name: string; slots: number; slotBytes: number }
  | { op: 'update'; id: number; algorithms: readonly string[]; length: number; slot?: number; bytes?: Uint8Array; final?: true; long?: true }
  | { op: 'digest'; id: number; algorithms: readonly string[] }
  | { op: 'drop'; id: number };

/** A frame from the service: an update's reply has `hashed` (and its `slot`), a final one's and a digest's `digests`. */
export interface FromService {
  id: number;
  hashed?: number;
  slot?: number;
  digests?: Uint8Array[];
}

/** The workerData of the service's thread. */
export interface HashServiceData {
  socketPath: string;
  md5Addon: string;
  md5Path: string;
  lanesMax: number;
  sliceBytes: number;
  deferMs: number;
  backlogBytes: number;
  /** The service thread's busy share from which new long digests' other algorithms go to its side thread. */
  sideFrom: number;
  laneStats: SharedArrayBuffer;
  /** One Float64: the bytes the side thread has hashed (with each of its algorithms counted once). */
  sideBytes: SharedArrayBuffer;
}

/**
 * A digest of this many bytes or more (an upload's Content-Length) may have its other algorithms hashed by the
 * service's side thread (hash-service-thread.ts), when the service thread is busy (hashSideFromDefault). Long
 * uploads stream without pause, so one thread hashing them all held them back (its bytes in flight capped,
 * an upload waits): 64 MiB PUTs ran 10-13 % faster with the side thread. Short ones gained nothing and cost
 * 0.15-0.2 ms more CPU per MiB (thread wake-ups, and MD5 lanes less full), so they stay with the MD5
 * (docs/benchmarks.md, "The hashing service's SHA-256 on a thread of its own").
 */
export const sideDigestBytes = 8 * 1024 * 1024;

/**
 * How busy the service thread must be (the share of the last 100 ms its event loop worked) for a long
 * digest's other algorithms to go to the side thread; below it, hashing them beside the MD5 costs less.
 * TESSERA_HASH_SIDE_FROM, read as the service starts, sets it for tests and A/Bs (0: always, above 1: never).
 */
export const hashSideFromDefault = 0.6;

/**
 * Starts a service thread on `socketPath`; or says why not, when the MD5 lanes or shared memory are not to
 * be had here (the workers then hash on their own threads).
 */
export async function startHashService(socketPath: string): Promise<{ thread: Worker; laneStats: SharedArrayBuffer; sideBytes: SharedArrayBuffer } | { reason: string }> {
  if (process.env.TESSERA_HASH_SERVICE === 'off') return { reason: 'TESSERA_HASH_SERVICE=off' };
  const md5 = loadMd5Lanes();
  if (!md5.path || !md5.binding) return { reason: md5.reason ?? 'no MD5 lanes' };
  if (typeof md5.binding.mapShared !== 'function') return { reason: 'the MD5 lanes addon predates mapShared: npm run build:native' };
  if (!canMakeSlab()) return { reason: `no ${slabDir} to share batches in` };
  const laneStats = new SharedArrayBuffer(Float64Array.BYTES_PER_ELEMENT * laneStatsLength);
  const sideBytes = new SharedArrayBuffer(Float64Array.BYTES_PER_ELEMENT);
  const data: HashServiceData = {
    socketPath,
    md5Addon: md5LanesAddonPath,
    md5Path: md5.path,
    lanesMax: md5LanesMax,
    sliceBytes: md5SliceBytes,
    deferMs: md5DeferMs,
    backlogBytes: md5BacklogBytes,
    sideFrom: Number(process.env.TESSERA_HASH_SIDE_FROM ?? hashSideFromDefault),
    laneStats,
    sideBytes,
  };
  return { thread: await startModuleThread(import.meta.url, 'hash-service-thread', data, true, 'hashing service'), laneStats, sideBytes };
}

/** Whether this process may make files in slabDir (a directory it can write to). */
function canMakeSlab(): boolean {
  try {
    accessSync(slabDir, constants.W_OK | constants.X_OK);
    return statSync(slabDir).isDirectory();
  } catch {
    return false;
  }
}

/** Removes the slabs of workers of the primary `primaryPid` that died before the service took them. */
export function removeSlabsOf(primaryPid: number, names: readonly string[]): void {
  for (const name of names) {
    const match = slabNamePattern.exec(name);
    if (match && Number(match[1]) === primaryPid) rmSync(join(slabDir, name), { force: true });
  }
}

/** What a ServiceLink tells the digests that use it. */
export interface ServiceEvents {
  reply(message: FromService): void;
  /** The link is gone: no reply to come; the slab is not used again. */
  failed(err: Error): void;
}

/** A worker's link to the service: the socket and the slab of batch slots. */
export class ServiceLink {
  readonly #socket: Socket;
  readonly #slab: Uint8Array;
  readonly #free: number[] = [];
  readonly #write: (message: ToService) => void;
  #failed = false;

  private constructor(socket: Socket, slab: Uint8Array, events: ServiceEvents) {
    this.#socket = socket;
    this.#write = frameWriter(socket);
    this.#slab = slab;
    for (let slot = slabSlots - 1; slot >= 0; slot--) this.#free.push(slot);
    readFrames(socket, (message) => {
      const reply = message as FromService;
      if (reply.slot !== undefined) this.#free.push(reply.slot);
      events.reply(reply);
    });
    socket.on('error', () => undefined); // 'close' follows
    socket.on('close', () => {
      this.#failed = true;
      events.failed(new Error("The link to the hashing service closed: the server's primary process is gone"));
    });
    socket.unref();
  }

  /**
   * Connects to the service at `socketPath` with a new slab; undefined when the slab cannot be made (the
   * caller hashes on its own thread). A connection that fails later reports through `events.failed`.
   */
  static open(socketPath: string, mapShared: (fd: number, bytes: number) => ArrayBuffer, events: ServiceEvents): ServiceLink | undefined {
    const name = `tessera-hash-${process.ppid}-${process.pid}-${++slabsMade}`;
    const path = join(slabDir, name);
    let fd: number;
    try {
      fd = openSync(path, 'wx+', 0o600); // never one someone else made, which stays as it is
    } catch {
      return undefined;
    }
    let slab: Uint8Array;
    try {
      ftruncateSync(fd, slabSlots * batchBytes);
      slab = new Uint8Array(mapShared(fd, slabSlots * batchBytes));
    } catch {
      rmSync(path, { force: true });
      return undefined;
    } finally {
      closeSync(fd);
    }
    const link = new ServiceLink(connect(socketPath), slab, events);
    link.send({ op: 'slab', name, slots: slabSlots, slotBytes: batchBytes }); // the service removes the file once mapped
    link.#socket.once('close', () => rmSync(path, { force: true }));
    return link;
  }

  get failed(): boolean {
    return this.#failed;
  }

  /** A free slot and its bytes, or undefined when all are in use. */
  takeSlot(): { slot: number; bytes: Uint8Array } | undefined {
    const slot = this.#free.pop();
    if (slot === undefined) return undefined;
    return { slot, bytes: this.#slab.subarray(slot * batchBytes, (slot + 1) * batchBytes) };
  }

  /** Slots free now, for tests. */
  get slotsFree(): number {
    return this.#free.length;
  }

  /** Gives back a slot that was taken and not sent. */
  giveBack(slot: number): void {
    this.#free.push(slot);
  }

  /** Sends a frame; the frames of one turn of the event loop go in one write. */
  send(message: ToService): void {
    if (!this.#failed) this.#write(message);
  }

  /** Keeps the process alive while digests wait for replies, and only then. */
  hold(held: boolean): void {
    if (held) this.#socket.ref();
    else this.#socket.unref();
  }
}
