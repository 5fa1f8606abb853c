// Runs a URL child (floor-child.ts) in PROCESSES node:cluster workers sharing one port: the primary accepts
// and hands connections round-robin, as `tessera server --workers N` serves. Prints the URL as JSON on stdout
// once every worker listens; SIGTERM stops the workers, then the primary.
// Run: node --import tsx cluster-child.ts PROCESSES SCRIPT ARG...
import cluster from 'node:cluster';
import { freePort } from './nginx.js';

const [processesText, script, ...args] = process.argv.slice(2);
const processes = Number(processesText);
if (!Number.isInteger(processes) || processes < 1 || !script) throw new Error('Usage: cluster-child.ts PROCESSES SCRIPT ARG...');
const port = await freePort();
cluster.setupPrimary({ exec: script, args });
const workers = Array.from({ length: processes }, () => cluster.fork({ FLOOR_CHILD_PORT: String(port) }));
let listening = 0;
let stopping = false;
for (const worker of workers) {
  worker.once('listening', () => {
    if (++listening === processes) process.stdout.write(`${JSON.stringify({ url: `http://127.0.0.1:${port}` })}\n`);
  });
  worker.once('exit', (code) => {
    if (!stopping) process.exit(code || 1); // a worker that dies alone fails the rung
  });
}
process.on('SIGTERM', () => {
  stopping = true;
  let left = workers.filter((w) => !w.isDead()).length;
  if (left === 0) process.exit(0);
  for (const worker of workers) {
    if (worker.isDead()) continue;
    worker.once('exit', () => --left === 0 && process.exit(0));
    worker.kill('SIGTERM');
  }
});
