// Where log lines go: stderr (fd 2), written off the event loop. process.stderr.write is a blocking
// write(2) for a pipe or a file on Linux, so a log reader that falls behind (journald, a container's log
// driver, a benchmark's parent) stalled every request; here lines queue, one fs.write at a time carries
// all that queued meanwhile (writes start at most every logWriteGapMs), and beyond a bound lines that may
// be lost (debug, info) are dropped and counted.
import { write as fsWrite, writeSync } from 'node:fs';

/** Bytes queued at most before droppable lines are dropped: a stalled reader must not grow memory without end. */
export const logQueueBytesMax = 8 * 1024 * 1024;

/**
 * The least time between the starts of two writes; lines meanwhile wait and join the next. Each write is a
 * system call on the main thread and wakes the reader: one per few access lines was 4-5% of a small GET's
 * main-thread time under load (bench/small-get-floor.ts --profile), one per 20 ms is a few per second.
 * Lines still queued at exit are written then (flushSync).
 */
export const logWriteGapMs = 20;

const fd = 2;
let queue: string[] = [];
let queuedBytes = 0;
/** A write is under way, or scheduled: lines queued now go out with it or right after it. */
let writing = false;
let lastWriteMs = -Infinity;
let broken = false;
let dropped = 0;
let exitHooked = false;
/** A write waiting to retry after EAGAIN: what is left of it, for the exit flush. */
let retrying: { data: Buffer; offset: number } | undefined;
/** How long the exit flush waits at most for a non-blocking stderr to take its lines. */
const exitFlushMs = 2_000;

/**
 * Set when several processes write one stderr (`--workers N`): a write to a pipe is atomic only up to
 * PIPE_BUF (4096 bytes on Linux), so queued lines go out in writes of whole lines within it, and no line
 * is cut by another process's. A single longer line is still one write.
 */
let writeBytesMax = Infinity;
const pipeAtomicBytes = 4096;

export function shareStderr(): void {
  writeBytesMax = pipeAtomicBytes;
}

/** Where the next write from `offset` ends: the whole rest, or the last line end within `max` bytes. */
export function pieceEnd(data: Buffer, offset: number, max = writeBytesMax): number {
  if (data.length - offset <= max) return data.length;
  const cut = data.lastIndexOf(0x0a, offset + max - 1);
  if (cut >= offset) return cut + 1;
  const next = data.indexOf(0x0a, offset);
  return next < 0 ? data.length : next + 1;
}

/** Lines dropped since start because the queue was full (the metric tessera_log_lines_dropped_total). */
export function droppedLogLines(): number {
  return dropped;
}

/**
 * Queues a line for stderr. `droppable` lines (debug, info) are dropped while the queue is full; warnings
 * and errors never are. What is queued at exit is written synchronously, so a crash's last lines remain.
 */
export function writeLine(line: string, droppable: boolean): void {
  if (broken) return;
  if (droppable && queuedBytes >= logQueueBytesMax) {
    dropped++;
    return;
  }
  queue.push(line);
  queuedBytes += line.length;
  if (!exitHooked) {
    exitHooked = true;
    process.on('exit', flushSync);
  }
  if (!writing) {
    writing = true;
    scheduleWrite();
  }
}

/** The next write, after the rest of this event-loop turn and no sooner than the gap allows. */
function scheduleWrite(): void {
  const waitMs = lastWriteMs + logWriteGapMs - performance.now();
  // Unref'd: a process with nothing else to do exits, and its exit hook writes the lines.
  if (waitMs > 0) setTimeout(writeQueued, waitMs).unref();
  else setImmediate(writeQueued);
}

function writeQueued(): void {
  if (queue.length === 0 || broken) {
    writing = false;
    return;
  }
  lastWriteMs = performance.now();
  const data = Buffer.from(queue.join(''), 'utf8');
  queue = [];
  queuedBytes = 0;
  writeAll(data, 0);
}

function writeAll(data: Buffer, offset: number): void {
  fsWrite(fd, data, offset, pieceEnd(data, offset) - offset, null, (err, written) => {
    if (err) {
      // EAGAIN: someone made the descriptor non-blocking; try again shortly. Anything else (EPIPE: the
      // reader is gone) ends logging: there is nowhere to say so.
      if ((err as NodeJS.ErrnoException).code === 'EAGAIN') {
        retrying = { data, offset };
        setTimeout(() => {
          retrying = undefined;
          writeAll(data, offset);
        }, 10).unref();
        return;
      }
      broken = true;
      writing = false;
      return;
    }
    if (offset + written < data.length) return writeAll(data, offset + written);
    if (queue.length === 0) writing = false;
    else scheduleWrite();
  });
}

/**
 * At exit: what is still queued (and the rest of a write waiting to retry), synchronously. A stderr made
 * non-blocking (a socket Node set so) answers EAGAIN while its reader lags: retried for up to 2 s.
 */
function flushSync(): void {
  if (broken) return;
  const parts = retrying ? [retrying.data.subarray(retrying.offset), Buffer.from(queue.join(''), 'utf8')] : [Buffer.from(queue.join(''), 'utf8')];
  retrying = undefined;
  queue = [];
  queuedBytes = 0;
  const data = Buffer.concat(parts);
  const deadlineMs = Date.now() + exitFlushMs;
  const pause = new Int32Array(new SharedArrayBuffer(4));
  let offset = 0;
  while (offset < data.length) {
    try {
      offset += writeSync(fd, data, offset, data.length - offset);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EAGAIN' || Date.now() >= deadlineMs) return; // stderr is gone or stuck
      Atomics.wait(pause, 0, 0, 5);
    }
  }
}
