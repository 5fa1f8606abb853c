// The per-request work the request metrics and the access line add, in process and without HTTP:
// trackRequest(), RequestMetrics.record() and logAccess() with the real logger writing to stderr, 16
// requests per event-loop turn, as a server under load runs them. CPU µs per request for each mode.
// Run: node --import tsx bench/access-line-micro.ts none|metrics|log 2>&1 >/dev/null | cat >/dev/null
// stderr goes to a pipe read by cat, as to a log collector; the figure is appended to the file named by
// --out (default /tmp/access-line-micro.txt), since stdout is /dev/null there.
import { appendFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createLogger } from '../src/util/log.js';
import { accessLogOn, logAccess, trackRequest } from '../src/s3/access-log.js';
import { RequestMetrics } from '../src/s3/request-metrics.js';

const mode = process.argv[2] ?? 'log';
if (mode !== 'none' && mode !== 'metrics' && mode !== 'log') throw new RangeError(`Unknown mode "${mode}": expected none, metrics or log`);
const outIndex = process.argv.indexOf('--out');
const out = outIndex < 0 ? '/tmp/access-line-micro.txt' : process.argv[outIndex + 1]!;
const log = createLogger({ format: 'json', level: mode === 'log' ? 'info' : 'warn' });
const metrics = new RequestMetrics();
const socket = { bytesWritten: 0, remoteAddress: '127.0.0.1' };
const req = { url: '/bench/get-4096-1?X-Amz-Signature=abc', method: 'GET', socket, headers: { host: 'x' }, push() {} } as unknown as IncomingMessage;
const res = { headersSent: true, statusCode: 200 } as unknown as ServerResponse;
const requests = 200_000;
const start = process.cpuUsage();
for (let i = 0; i < requests; i++) {
  if (mode !== 'none') {
    const track = trackRequest(req);
    Object.assign(track.facts, { operation: 'GetObject', accessKeyId: 'BENCHACCESSKEY000001', bucket: 'bench', key: 'get-4096-1' });
    socket.bytesWritten += 4400;
    if (accessLogOn(log)) logAccess(log, track, `ABCDEF01${i}`, req, res, true);
    metrics.record(track.facts.operation, 200, 0.001, track.bytesIn, socket.bytesWritten - track.bytesWrittenBefore);
  }
  if (i % 16 === 15) await new Promise((r) => setImmediate(r));
}
await new Promise((r) => setTimeout(r, 300)); // the last writes
const used = process.cpuUsage(start);
appendFileSync(out, `${mode}: ${((used.user + used.system) / requests).toFixed(2)} CPU µs per request\n`);
