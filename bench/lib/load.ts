// Closed-loop HTTP load: `concurrency` workers, each with its own keep-alive connection, send requests
// back to back for a fixed time. Two drivers with one result shape: wrk (C, little client CPU, so more
// of the 2 cores is left to the server) and a Node driver (node:http) used when wrk is absent.
import { Agent, request } from 'node:http';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { killOnBenchExit, removeOnBenchExit } from './exit-guard.js';

export interface LoadOptions {
  method: 'GET' | 'PUT' | 'HEAD';
  /** Requests go to these URLs in turn (same origin); spreading keys avoids write conflicts on one key. */
  urls: string[];
  /** Extra request headers per URL (same index), e.g. a header SigV4 signature; never Host or Content-Length. */
  headers?: Record<string, string>[];
  /** PUT body, sent as is with Content-Length. */
  body?: Buffer;
  /** File with the same bytes as `body`, for wrk. */
  bodyFile?: string;
  concurrency: number;
  durationMs: number;
  /** GET: the response length every request must have. */
  expectBytes?: number;
}

export interface LoadResult {
  ops: number;
  seconds: number;
  p50Ms: number;
  p99Ms: number;
  errors: number;
  firstError?: string;
  driver: 'wrk' | 'node';
}

export type Driver = 'wrk' | 'node';

let wrkPresent: boolean | undefined;

export function wrkAvailable(): boolean {
  wrkPresent ??= spawnSync('wrk', ['--version']).error === undefined;
  return wrkPresent;
}

export function runLoad(driver: Driver, options: LoadOptions): Promise<LoadResult> {
  return driver === 'wrk' ? runWrk(options) : runNode(options);
}

function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

// ---- Node driver ------------------------------------------------------------------------------------

/** How long a request may go without a byte either way before it fails (wrk's --timeout below is the same). */
const requestIdleTimeoutMs = 60_000;

/** One request; resolves with the status and the response's byte count (the body is discarded). */
export function send(
  agent: Agent,
  method: string,
  url: string,
  body?: Buffer | Readable,
  size?: number,
  extraHeaders: Record<string, string> = {},
): Promise<{ status: number; bytes: number }> {
  return new Promise((resolve, reject) => {
    const length = Buffer.isBuffer(body) ? body.length : size;
    const headers = { ...extraHeaders, ...(length !== undefined ? { 'content-length': String(length) } : {}) };
    const req = request(url, { method, agent, headers }, (res) => {
      let bytes = 0;
      res.on('data', (chunk: Buffer) => (bytes += chunk.length));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, bytes }));
      res.on('error', reject);
    });
    req.on('error', reject);
    // A server that stops answering (a peer whose disk filled) fails its requests, as wrk's --timeout does, instead of hanging the bench.
    req.setTimeout(requestIdleTimeoutMs, () => req.destroy(new Error(`No answer within ${requestIdleTimeoutMs / 1000} s`)));
    if (body === undefined || Buffer.isBuffer(body)) req.end(body);
    else body.pipe(req); // only the RSS bench streams; an error there fails the request anyway
  });
}

async function runNode(options: LoadOptions): Promise<LoadResult> {
  const agent = new Agent({ keepAlive: true, maxSockets: options.concurrency });
  const latencies: number[] = [];
  let next = 0;
  let errors = 0;
  let firstError: string | undefined;
  const startMs = performance.now();
  const deadlineMs = startMs + options.durationMs;
  const worker = async () => {
    while (performance.now() < deadlineMs) {
      const index = next++ % options.urls.length;
      const t0 = performance.now();
      try {
        const { status, bytes } = await send(agent, options.method, options.urls[index]!, options.body, undefined, options.headers?.[index]);
        const ok = status === 200 && (options.expectBytes === undefined || bytes === options.expectBytes);
        if (!ok) throw new Error(`${options.method} answered ${status} with ${bytes} bytes`);
        latencies.push(performance.now() - t0);
      } catch (err) {
        errors++;
        firstError ??= err instanceof Error ? err.message : String(err);
      }
    }
  };
  await Promise.all(Array.from({ length: options.concurrency }, worker));
  const seconds = (performance.now() - startMs) / 1000;
  agent.destroy();
  const sorted = Float64Array.from(latencies).sort();
  return { ops: latencies.length, seconds, p50Ms: percentile(sorted, 50), p99Ms: percentile(sorted, 99), errors, ...(firstError ? { firstError } : {}), driver: 'node' };
}

// ---- wrk driver -------------------------------------------------------------------------------------

/** The most body bytes wrk keeps formatted requests of (one per URL); beyond it, it formats each request. */
const wrkRequestsKeptBytesMax = 512 * 1024 * 1024;

function luaString(text: string): string {
  return `"${text.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

function wrkScript(options: LoadOptions, origin: string): string {
  const paths = options.urls.map((u) => luaString(u.slice(origin.length)));
  // wrk.format adds Host (the URL's host:port, which a signature over "host" must have used) and Content-Length.
  const headers = options.headers?.map((h) => `{ ${Object.entries(h).map(([k, v]) => `[${luaString(k)}] = ${luaString(v)}`).join(', ')} }`);
  // Each request is formatted once and kept, when all of them fit in wrkRequestsKeptBytesMax: formatting a
  // 1 MiB PUT per request (a new 1 MiB Lua string each time) cost wrk 1.27 ms of CPU per PUT, against 0.36
  // kept, on the two cores it shares with the server it loads.
  const bodyBytes = options.body?.length ?? (options.bodyFile ? statSync(options.bodyFile).size : 0);
  const keep = bodyBytes * options.urls.length <= wrkRequestsKeptBytesMax;
  return `
local paths = { ${paths.join(',\n')} }
local headers = ${headers ? `{ ${headers.join(',\n')} }` : 'nil'}
local n = #paths
local i = 0
local body = nil
${options.bodyFile ? `do local f = assert(io.open(${luaString(options.bodyFile)}, "rb")); body = f:read("*a"); f:close() end` : ''}
local keep = ${keep ? 'true' : 'false'}
local formatted = {}
request = function()
  i = i + 1
  local k = (i % n) + 1
  local r = formatted[k]
  if r == nil then
    r = wrk.format(${luaString(options.method)}, paths[k], headers and headers[k] or nil, body)
    if keep then formatted[k] = r end
  end
  return r
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("WRK_RESULT %d %d %d %d %d %d\\n", summary.requests, summary.duration,
    latency:percentile(50), latency:percentile(99), e.status, e.connect + e.read + e.write + e.timeout))
end
`;
}

async function runWrk(options: LoadOptions): Promise<LoadResult> {
  if (options.method === 'PUT' && !options.bodyFile) throw new RangeError('A wrk PUT needs bodyFile');
  const origin = new URL(options.urls[0]!).origin;
  const dir = await mkdtemp(join(tmpdir(), 'tessera-wrk-'));
  const unhook = removeOnBenchExit(dir);
  try {
    const script = join(dir, 'load.lua');
    await writeFile(script, wrkScript(options, origin));
    // One wrk thread: it keeps up with nginx on this machine and leaves the other core to the server.
    const seconds = Math.max(1, Math.round(options.durationMs / 1000));
    const args = ['-t1', `-c${options.concurrency}`, `-d${seconds}s`, '--timeout', `${requestIdleTimeoutMs / 1000}s`, '-s', script, `${origin}/`];
    const out = await new Promise<string>((resolve, reject) => {
      const child = spawn('wrk', args, { stdio: ['ignore', 'pipe', 'pipe'] });
      const unhookChild = killOnBenchExit([child]);
      child.once('exit', unhookChild);
      let text = '';
      child.stdout.on('data', (d: Buffer) => (text += d.toString()));
      child.stderr.on('data', (d: Buffer) => (text += d.toString()));
      child.on('error', reject);
      child.on('exit', (code) => (code === 0 ? resolve(text) : reject(new Error(`wrk exited with ${code}: ${text}`))));
    });
    const m = /WRK_RESULT (\d+) (\d+) (\d+) (\d+) (\d+) (\d+)/.exec(out);
    if (!m) throw new Error(`Cannot parse wrk output: ${out}`);
    const [requests, durationUs, p50Us, p99Us, statusErrors, ioErrors] = m.slice(1).map(Number) as [number, number, number, number, number, number];
    const errors = statusErrors + ioErrors;
    return {
      ops: requests - statusErrors,
      seconds: durationUs / 1e6,
      p50Ms: p50Us / 1000,
      p99Ms: p99Us / 1000,
      errors,
      ...(errors > 0 ? { firstError: `wrk: ${statusErrors} non-2xx answers, ${ioErrors} socket errors` } : {}),
      driver: 'wrk',
    };
  } finally {
    unhook();
    await rm(dir, { recursive: true, force: true });
  }
}
