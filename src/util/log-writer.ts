// Where log lines go: stderr (fd 2), written off the event loop. process.stderr.write is a blocking
// write(2) for a pipe or a file on Linux, so a log reader that falls behind (journald, a container's log
// driver, a benchmark's parent) stalled every request; here lines queue, one fs.write at a time carries
// all that queued meanwhile, and beyond a bound lines that may be lost (debug, info) are dropped and counted.
import { write as fsWrite, writeSync } from 'node:fs';

/** Bytes queued at most before droppable lines are dropped: a stalled reader must not grow memory without end. */
export const logQueueBytesMax = 8 * 1024 * 1024;

const fd = 2;
let queue: string[] = [];
let queuedBytes = 0;
let writing = false;
let broken = false;
let dropped = 0;
let exitHooked = false;

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
    // Lines of the rest of this event-loop turn join the same write.
    setImmediate(writeQueued);
  }
}

function writeQueued(): void {
  if (queue.length === 0 || broken) {
    writing = false;
    return;
  }
  const data = Buffer.from(queue.join(''), 'utf8');
  queue = [];
  queuedBytes = 0;
  writeAll(data, 0);
}

function writeAll(data: Buffer, offset: number): void {
  fsWrite(fd, data, offset, data.length - offset, null, (err, written) => {
    if (err) {
      // EAGAIN: someone made the descriptor non-blocking; try again shortly. Anything else (EPIPE: the
      // reader is gone) ends logging: there is nowhere to say so.
      if ((err as NodeJS.ErrnoException).code === 'EAGAIN') {
        setTimeout(() => writeAll(data, offset), 10).unref();
        return;
      }
      broken = true;
      writing = false;
      return;
    }
    if (offset + written < data.length) return writeAll(data, offset + written);
    writeQueued();
  });
}

/** At exit: what is still queued, synchronously, after (or, if one is still on its way, beside) the last write. */
function flushSync(): void {
  if (broken || queue.length === 0) return;
  const text = queue.join('');
  queue = [];
  queuedBytes = 0;
  try {
    writeSync(fd, text);
  } catch {
    // stderr is gone: nothing to tell anyone
  }
}
