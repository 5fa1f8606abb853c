// The scheduling of streaming digests over the MD5 lanes, shared by the two places that run it: a process's
// own hashing thread (hash-thread.ts) and the hashing service every worker of `--workers N` sends its
// bytes to (hash-service.ts). It is source text, not a function, so that both can run it, whether this
// module is TypeScript under tsx or built JavaScript: each makes it a function of its `env` with
// `new Function('env', lanesCoreSource)`, which returns { receive, dropAll }.
//
// Every digest with MD5 bytes waiting gets a lane, and the lanes advance together one slice at a time.
// Between slices a thread takes what has arrived since (`env.poll()`, receiveMessageOnPort for a thread;
// the service instead yields to its event loop between rounds, `env.yields`, so frames read meanwhile
// join), so a batch that comes while others are being hashed joins them at once instead of queueing behind
// them. While other digests are under way, MD5 bytes wait for them, until some digest is asked for (its
// final batch, sent once its body is stored), holds a backlog, or deferMs pass: then every digest with
// bytes waiting shares the lanes. A lone digest's bytes never wait. Each digest's batches go in order, and
// its replies with them (`env.respond(message, digests)`). Other algorithms (SHA-256 on SHA-NI, SHA-1) stay
// on node:crypto, hashed as their batch arrives.
//
// A message is { op: 'update', id, algorithms, bytes, final? }, { op: 'digest', id, algorithms } or
// { op: 'drop', id }; the front may add fields of its own, which respond() gets back.

import { md5LanesMax } from './md5-lanes.js';

/** Bytes gathered before they go to be hashed in one message (a thread's batch, a service's slot). */
export const batchBytes = 256 * 1024;

/**
 * A lane's bytes per call: how long a batch that arrives waits before it joins the lanes (~0.15 ms for one
 * lane here), against the call's fixed cost (a few µs).
 */
export const md5SliceBytes = 64 * 1024;

/** How long MD5 bytes may wait for other digests to share the lanes with (0: never wait). */
export const md5DeferMs = Number(process.env.TESSERA_MD5_DEFER_MS ?? '20');

/** A digest with this many bytes waiting is hashed at once, company or not. */
export const md5BacklogBytes = 2 * 1024 * 1024;

/**
 * Float64s of a host's lane statistics (`env.stats`): per lane count 0..md5LanesMax the calls, then per lane
 * count the bytes they hashed, then how often bytes were left to wait, then the host thread's id.
 */
export const laneStatsLength = 2 * (md5LanesMax + 1) + 2;

/**
 * The body of `function (env)`. env: lanes (the addon, or undefined for node:crypto), lanesMax, sliceBytes,
 * stats (a Float64Array: calls and bytes per lane count, then the deferrals), deferMs, backlogBytes,
 * respond(message, digests?), poll() (the next message already sent, or undefined), yields, createHash.
 */
export const lanesCoreSource = `
const { lanes, lanesMax, sliceBytes, stats, deferMs, backlogBytes, respond, poll, yields, createHash } = env;
const states = new Map(); // id → { hashes, context, queue }, while the digest takes bytes
// Digests with MD5 bytes waiting for the lanes, in arrival order; a queue holds their update messages
// (with how far the lanes are into each) and digest requests, answered in order.
const waiting = new Set();
const start = (m) => ({
  hashes: m.algorithms.map((algorithm) => (lanes && algorithm === 'md5' ? undefined : createHash(algorithm))),
  context: lanes && m.algorithms.includes('md5') ? lanes.create() : undefined,
  queue: [],
  pending: 0, // MD5 bytes queued and not yet hashed
  due: 0, // final updates and digest requests queued
});
const digestsOf = (state) => state.hashes.map((hash) => (hash ? hash.digest() : lanes.digest(state.context)));
function answer(m, state) {
  respond(m, m.op === 'digest' || (m.final && !state.dropped) ? digestsOf(state) : undefined);
}
function enqueue(m, state) {
  if (state.queue.length === 0 && !(m.op === 'update' && state.context)) return answer(m, state);
  m.done = 0;
  state.queue.push(m);
  if (m.op === 'update') state.pending += m.bytes.length;
  if (m.final || m.op === 'digest') state.due++;
  waiting.add(state);
}
// Set while a deferral that ran out drains what waited, so a service's rounds, one per turn, keep going.
let forcing = false;
// Whether the lanes should run now: a digest is asked for, one has a backlog, every lane has a digest, or
// no other digest is under way to share them with. Otherwise the bytes wait (at most deferMs).
function urgent() {
  if (forcing || waiting.size >= lanesMax) return true;
  if (waiting.size === 1 && states.size <= 1) return true;
  for (const state of waiting) if (state.due > 0 || state.pending >= backlogBytes) return true;
  return false;
}
let timer;
function accept(m) {
  if (m.op === 'update') {
    let state = states.get(m.id);
    if (!state) states.set(m.id, (state = start(m)));
    for (const hash of state.hashes) hash?.update(m.bytes);
    if (m.final) states.delete(m.id);
    enqueue(m, state);
  } else if (m.op === 'digest') {
    const state = states.get(m.id) ?? start(m);
    states.delete(m.id);
    enqueue(m, state);
  } else if (m.op === 'drop') {
    const state = states.get(m.id);
    states.delete(m.id);
    if (!state) return;
    // Its batches go back unhashed: nobody reads this digest.
    state.dropped = true;
    waiting.delete(state);
    for (const queued of state.queue.splice(0)) answer(queued, state);
  }
}
function settle(m, state) {
  if (m.final || m.op === 'digest') state.due--;
  answer(m, state);
}
let inbox = [];
function receive(m) {
  if (inbox.push(m) === 1) setImmediate(work);
}
function work(force) {
  const arrived = inbox;
  inbox = [];
  for (const m of arrived) accept(m);
  if (force === true) forcing = true;
  for (;;) {
    for (let got; (got = poll()); ) accept(got);
    if (waiting.size === 0) {
      forcing = false;
      return;
    }
    if (deferMs > 0 && !urgent()) {
      stats[stats.length - 2] += 1;
      timer ??= setTimeout(() => {
        timer = undefined;
        work(true);
      }, deferMs);
      return;
    }
    const round = [];
    for (const state of waiting) {
      if (round.length === lanesMax) break;
      round.push(state);
    }
    const inputs = round.map((state) => {
      const m = state.queue[0];
      const end = Math.min(m.bytes.length, m.done + sliceBytes);
      const slice = m.bytes.subarray(m.done, end);
      m.done = end;
      state.pending -= slice.length;
      return slice;
    });
    lanes.update(round.map((state) => state.context), inputs, env.md5Path);
    stats[round.length] += 1;
    stats[lanesMax + 1 + round.length] += inputs.reduce((sum, input) => sum + input.length, 0);
    for (const state of round) {
      const queue = state.queue;
      if (queue[0].done === queue[0].bytes.length) settle(queue.shift(), state);
      while (queue.length > 0 && queue[0].op === 'digest') settle(queue.shift(), state);
      if (queue.length === 0) waiting.delete(state);
    }
    if (yields && waiting.size > 0) {
      setImmediate(work);
      return;
    }
  }
}
// Drops every digest under way whose id passes the test (a service's worker that went away).
function dropAll(test) {
  for (const id of [...states.keys()]) if (test(id)) accept({ op: 'drop', id });
}
return { receive, dropAll };
`;
