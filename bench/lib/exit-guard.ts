// What a benchmark started must not outlive it: servers, daemons and their temporary directories. A bench
// stopped early (an exception, Ctrl-C, timeout's SIGTERM) skips the stop() calls in its finally blocks when a
// signal ends it, since Node emits no 'exit' for a signal nobody handles; these hooks run in either case.
import { rmSync } from 'node:fs';
import type { ChildProcess } from 'node:child_process';

const cleanups = new Set<() => void>();
let hooked = false;

function runAll(): void {
  for (const cleanup of [...cleanups]) {
    cleanups.delete(cleanup);
    try {
      cleanup();
    } catch {
      // the rest still run
    }
  }
}

function interrupted(signal: NodeJS.Signals): void {
  runAll();
  process.exit(signal === 'SIGINT' ? 130 : 143);
}

/** Runs `cleanup` (synchronous) should this process end before the returned function is called. */
export function onBenchExit(cleanup: () => void): () => void {
  if (!hooked) {
    hooked = true;
    process.once('exit', runAll);
    process.once('SIGINT', interrupted);
    process.once('SIGTERM', interrupted);
  }
  cleanups.add(cleanup);
  return () => {
    cleanups.delete(cleanup);
  };
}

/**
 * Signals `children` still running (SIGKILL unless told: nginx wants SIGTERM, so its master stops its
 * workers), then removes `dir`, should this process end first.
 */
export function killOnBenchExit(children: readonly ChildProcess[], dir?: string, signal: NodeJS.Signals = 'SIGKILL'): () => void {
  return onBenchExit(() => {
    for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    if (dir) rmSync(dir, { recursive: true, force: true });
  });
}

/** Removes a temporary directory should this process end first. */
export function removeOnBenchExit(dir: string): () => void {
  return onBenchExit(() => rmSync(dir, { recursive: true, force: true }));
}
