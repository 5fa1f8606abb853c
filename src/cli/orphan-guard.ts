// Run by dev-cluster beside its children, so that killing dev-cluster with kill -9 does not leave them
// running. It reads lines on stdin: "+PID SIGNAL" for a child that started (SIGNAL: what stops it
// gracefully), "-PID" for one that exited, "done" once dev-cluster stopped them itself. When stdin ends
// without "done", dev-cluster is gone: each listed child gets its signal, then SIGKILL after a grace.
import { createInterface } from 'node:readline';

const graceMs = 10_000;

const children = new Map<number, NodeJS.Signals>();
let done = false;

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function signal(pid: number, name: NodeJS.Signals): void {
  try {
    process.kill(pid, name);
  } catch {
    // Already gone.
  }
}

async function stopAll(): Promise<void> {
  for (const [pid, name] of children) signal(pid, name);
  const deadlineMs = Date.now() + graceMs;
  while (Date.now() < deadlineMs && [...children.keys()].some(alive)) await new Promise((r) => setTimeout(r, 100));
  for (const pid of children.keys()) if (alive(pid)) signal(pid, 'SIGKILL');
}

// Started in a process group of its own, so a Ctrl-C meant for dev-cluster does not reach it; ignored anyway.
process.on('SIGINT', () => undefined);
const lines = createInterface({ input: process.stdin });
lines.on('line', (line) => {
  const started = /^\+(\d+) (SIG[A-Z]+)$/.exec(line);
  if (started) children.set(Number(started[1]), started[2] as NodeJS.Signals);
  const exited = /^-(\d+)$/.exec(line);
  if (exited) children.delete(Number(exited[1]));
  if (line === 'done') done = true;
});
lines.on('close', () => {
  if (done) process.exit(0);
  void stopAll().then(() => process.exit(0));
});
