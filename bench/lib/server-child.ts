// The server process of a benchmark: tessera's own startServer() (from dist/ or, with fromSource, from
// src/), plus what no client can see from outside: event-loop delay and the process's CPU time per
// phase, reported to the parent over IPC. It adds no work to the request path.
import { writeFile } from 'node:fs/promises';
import { Session } from 'node:inspector/promises';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { commitBatches, countCommitBatches } from './commit-batches.js';
import type { ServerConfig, RunningServer } from '../../src/main.js';
import type { ChildConfig, ChildReply, ChildRequest, LoopStats } from './server.js';
import type { Logger } from '../../src/util/log.js';

countCommitBatches();
const commits = commitBatches;

// Debugging aid: with TESSERA_BENCH_TRACE_PROMISES=1, an unhandled rejection also prints where the
// rejected promise was created (v8 promise hooks; slow, never on in a measurement).
if (process.env.TESSERA_BENCH_TRACE_PROMISES === '1') {
  const { promiseHooks } = await import('node:v8');
  const origins = new WeakMap<Promise<unknown>, string>();
  Error.stackTraceLimit = 30;
  promiseHooks.onInit((promise) => origins.set(promise, new Error('promise created').stack ?? ''));
  process.on('unhandledRejection', (reason, promise) => {
    process.stderr.write(`UNHANDLED REJECTION: ${String(reason)}\ncreated at: ${origins.get(promise)}\n`);
    process.exit(1);
  });
}

const config = JSON.parse(process.env.TESSERA_BENCH_CONFIG ?? '{}') as ChildConfig;
const mainPath = config.fromSource ? '../../src/main.ts' : '../../dist/main.js';
const { startServer } = (await import(mainPath)) as { startServer(c: ServerConfig): Promise<RunningServer> };
const logPath = config.fromSource ? '../../src/util/log.ts' : '../../dist/util/log.js';
const { createLogger } = (await import(logPath)) as typeof import('../../src/util/log.js');
// The hashing thread's lane counts and thread id, where the checkout has them (older ones do not).
const hashThreadPath = config.fromSource ? '../../src/util/hash-thread.ts' : '../../dist/util/hash-thread.js';
const hashThread = (await import(hashThreadPath)) as Partial<Pick<typeof import('../../src/util/hash-thread.js'), 'md5LaneUse' | 'hashingThreadId'>>;
let markLanes = hashThread.md5LaneUse?.() ?? [];

// With switchableLog, a logger at info and one at warn, and one that forwards to either: the access log
// on and off within one server, since two servers read further apart on this machine than its cost.
const loggers = { info: createLogger({ level: 'info' }), warn: createLogger({ level: 'warn' }) };
let currentLog = loggers.info;
// Time spent in the logger's info() and in writes to stderr, per phase: the access log's own cost, read
// directly, since the whole-server difference drowns in this machine's noise.
let logNs = 0n;
if (config.switchableLog) {
  const write = process.stderr.write.bind(process.stderr) as (...args: unknown[]) => boolean;
  process.stderr.write = ((...args: unknown[]) => {
    const t0 = process.hrtime.bigint();
    const ok = write(...args);
    logNs += process.hrtime.bigint() - t0;
    return ok;
  }) as typeof process.stderr.write;
}
const switchableLog: Logger = {
  debug: (m, f) => currentLog.debug(m, f),
  info: (m, f) => {
    const t0 = process.hrtime.bigint();
    currentLog.info(m, f);
    logNs += process.hrtime.bigint() - t0;
  },
  warn: (m, f) => currentLog.warn(m, f),
  error: (m, f) => currentLog.error(m, f),
  enabled: (level) => currentLog.enabled!(level),
  infoPrepared: (m, f, j) => {
    const t0 = process.hrtime.bigint();
    currentLog.infoPrepared!(m, f, j);
    logNs += process.hrtime.bigint() - t0;
  },
};

const send = (reply: ChildReply) => process.send?.(reply);

// 1 ms sampling: a delay shows up at about its true size; the timer itself costs ~1,000 wakeups/s.
const eldResolutionMs = 1;
const eld = monitorEventLoopDelay({ resolution: eldResolutionMs });
eld.enable();
let markCpu = process.cpuUsage();
let markNs = process.hrtime.bigint();

const running = await startServer({
  address: '127.0.0.1:0',
  dataDir: config.dataDir,
  drives: config.drives,
  region: 'us-east-1',
  domains: ['localhost'],
  rootAccessKey: config.accessKeyId,
  rootSecretKey: config.secretAccessKey,
  gcDelayMs: config.gcDelayMs,
  gcIntervalMs: config.gcIntervalMs,
  ...(config.inlineBytesMax !== undefined ? { inlineBytesMax: config.inlineBytesMax } : {}),
  ...(config.rateLimits ? { rateLimits: config.rateLimits } : {}),
  ...(config.switchableLog ? { log: switchableLog } : {}),
});

// With profileDir, each phase (mark → read) is CPU-profiled on the main thread and written as
// <label>.cpuprofile, for Chrome DevTools or bench/profile.ts.
const profiler = config.profileDir ? new Session() : undefined;
let profileLabel: string | undefined;
if (profiler) {
  profiler.connect();
  await profiler.post('Profiler.enable');
  await profiler.post('Profiler.setSamplingInterval', { interval: 200 });
}

// With TESSERA_BENCH_HEAP_PROFILE_DIR, each labelled phase also gets a sampling allocation profile that
// keeps the objects GC already collected: where the garbage of a request comes from.
const heapProfileDir = process.env.TESSERA_BENCH_HEAP_PROFILE_DIR;
const heapProfiler = heapProfileDir ? new Session() : undefined;
let heapProfileLabel: string | undefined;
if (heapProfiler) {
  heapProfiler.connect();
  await heapProfiler.post('HeapProfiler.enable');
}

async function startHeapProfile(label: string | undefined): Promise<void> {
  if (!heapProfiler || !label) return;
  if (heapProfileLabel) await heapProfiler.post('HeapProfiler.stopSampling');
  heapProfileLabel = label;
  await heapProfiler.post('HeapProfiler.startSampling', { samplingInterval: 16384, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true } as never);
}

async function stopHeapProfile(): Promise<void> {
  if (!heapProfiler || !heapProfileLabel || !heapProfileDir) return;
  const { profile } = await heapProfiler.post('HeapProfiler.stopSampling');
  await writeFile(join(heapProfileDir, `${heapProfileLabel}.heapprofile`), JSON.stringify(profile));
  heapProfileLabel = undefined;
}

async function startProfile(label: string | undefined): Promise<void> {
  await startHeapProfile(label);
  if (!profiler || !label) return;
  if (profileLabel) await profiler.post('Profiler.stop');
  profileLabel = label;
  await profiler.post('Profiler.start');
}

async function stopProfile(): Promise<void> {
  await stopHeapProfile();
  if (!profiler || !profileLabel || !config.profileDir) return;
  const { profile } = await profiler.post('Profiler.stop');
  await writeFile(join(config.profileDir, `${profileLabel}.cpuprofile`), JSON.stringify(profile));
  profileLabel = undefined;
}

function hashingSinceMark(): LoopStats['hashing'] {
  const threadId = hashThread.hashingThreadId?.();
  const md5Lanes = (hashThread.md5LaneUse?.() ?? [])
    .map((use) => {
      const before = markLanes.find((m) => m.lanes === use.lanes);
      return { lanes: use.lanes, calls: use.calls - (before?.calls ?? 0), bytes: use.bytes - (before?.bytes ?? 0) };
    })
    .filter((use) => use.calls > 0);
  return { ...(threadId ? { threadId } : {}), md5Lanes };
}

process.on('message', async (message: ChildRequest) => {
  if (message.type === 'mark') {
    await startProfile(message.label);
    eld.reset();
    commits.batches = 0;
    commits.commits = 0;
    markCpu = process.cpuUsage();
    markNs = process.hrtime.bigint();
    logNs = 0n;
    markLanes = hashThread.md5LaneUse?.() ?? [];
    send({ type: 'marked', id: message.id });
  } else if (message.type === 'read') {
    await stopProfile();
    const cpu = process.cpuUsage(markCpu);
    const wallUs = Number(process.hrtime.bigint() - markNs) / 1000;
    // The histogram holds whole intervals between timer wakeups; the delay is what exceeds the interval.
    const delayMs = (ns: number) => Math.max(0, ns / 1e6 - eldResolutionMs);
    send({
      type: 'stats',
      id: message.id,
      eld: { p50Ms: delayMs(eld.percentile(50)), p99Ms: delayMs(eld.percentile(99)), maxMs: delayMs(eld.max), meanMs: delayMs(eld.mean) },
      cpuCores: (cpu.user + cpu.system) / wallUs,
      metaCommits: commits.commits,
      metaBatches: commits.batches,
      logMs: Number(logNs) / 1e6,
      hashing: hashingSinceMark(),
    });
  } else if (message.type === 'log-level') {
    currentLog = loggers[message.level];
    send({ type: 'marked', id: message.id });
  } else if (message.type === 'stop') {
    running.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  }
});
process.on('disconnect', () => process.exit(0));
send({ type: 'ready', url: running.url });
