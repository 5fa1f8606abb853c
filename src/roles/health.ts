// The unauthenticated health checks load balancers and orchestrators poll: live (200 while the process
// serves) and ready (200 while the MetaStore answers and enough targets are up to write at the default
// redundancy, else 503). Answers say the state and a one-word reason, never counts, addresses or errors.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { MetaStore } from '../meta/types.js';
import type { LocalBlockStore } from '../blocks/index.js';
import { keys } from '../objects/keys.js';
import type { Logger } from '../util/log.js';

/** The ready check's first path, kept for load balancers configured with it (dev-cluster's HAProxy was). */
export const healthPath = '/_tessera/health';
export const livePath = `${healthPath}/live`;
export const readyPath = `${healthPath}/ready`;

/** A MetaStore read slower than this counts as no answer (HAProxy's check timeout is longer). */
export const healthMetaTimeoutMs = 2_000;

export interface HealthReport {
  status: 'ok' | 'unavailable';
  /** Why the process should take no traffic; absent when ok. */
  reason?: 'metadata' | 'storage' | 'no-layout' | 'stopping';
}

/** Why, in words for the log only: an anonymous caller gets the report without it. */
type CheckResult = HealthReport & { detail?: string };

/** Which check a request asks for: GET or HEAD of one of the paths, any query; undefined for any other request. */
export function healthRequestKind(method: string | undefined, url: string): 'live' | 'ready' | undefined {
  if ((method !== 'GET' && method !== 'HEAD') || url.charCodeAt(1) !== 0x5f) return undefined;
  const q = url.indexOf('?');
  const path = q < 0 ? url : url.slice(0, q);
  if (path === readyPath || path === healthPath) return 'ready';
  return path === livePath ? 'live' : undefined;
}

/**
 * The ready check over a role's stores. Calls that arrive while one runs share its answer, so a load
 * balancer polling often (or many of them) costs at most one read at a time. A change of state is logged
 * with its detail, which the answer leaves out.
 */
export function healthCheck(
  meta: MetaStore,
  blocks: Pick<LocalBlockStore, 'writeReadiness'>,
  options: { metaTimeoutMs?: number; log?: Logger } = {},
): () => Promise<HealthReport> {
  const metaTimeoutMs = options.metaTimeoutMs ?? healthMetaTimeoutMs;
  let running: Promise<HealthReport> | undefined;
  let last: string | undefined;
  const check = async (): Promise<CheckResult> => {
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), metaTimeoutMs)));
    const read = meta.get(keys.setting('health'), { fill: false }).then(
      () => 'ok' as const,
      () => 'failed' as const,
    );
    const answer = await Promise.race([read, timedOut]);
    clearTimeout(timer);
    if (answer !== 'ok') return { status: 'unavailable', reason: 'metadata', detail: answer === 'timeout' ? `The metadata store did not answer within ${metaTimeoutMs} ms` : 'The metadata store cannot be reached' };
    const { epoch, up, needed } = await blocks.writeReadiness().catch(() => ({ epoch: -1, up: 0, needed: 1 }));
    if (epoch === -1) return { status: 'unavailable', reason: 'storage', detail: 'The storage check failed' };
    if (epoch === 0) return { status: 'unavailable', reason: 'no-layout', detail: 'No cluster layout is stored yet' };
    if (up < needed) return { status: 'unavailable', reason: 'storage', detail: `${up} storage targets are up; a write needs ${needed}` };
    return { status: 'ok' };
  };
  const reported = async (): Promise<HealthReport> => {
    const { detail, ...report } = await check();
    const state = report.reason ?? report.status;
    if (state !== last) {
      if (report.status === 'ok') options.log?.info('Ready: taking traffic', { was: last ?? 'starting' });
      else options.log?.warn('Not ready: the ready check answers 503', { reason: report.reason, detail });
      last = state;
    }
    return report;
  };
  return () => {
    running ??= reported().finally(() => (running = undefined));
    return running;
  };
}

/** Answers a health check: 200 or 503, JSON, never cached. */
export async function serveHealth(check: () => Promise<HealthReport>, req: IncomingMessage, res: ServerResponse): Promise<void> {
  let report: HealthReport;
  try {
    report = await check();
  } catch {
    report = { status: 'unavailable', reason: 'storage' };
  }
  const body = Buffer.from(JSON.stringify(report));
  res.writeHead(report.status === 'ok' ? 200 : 503, { 'content-type': 'application/json', 'content-length': String(body.length), 'cache-control': 'no-store' });
  res.end(req.method === 'HEAD' ? undefined : body);
}

/** The live check: the process answers, so it lives. */
export const liveReport = (): Promise<HealthReport> => Promise.resolve({ status: 'ok' });
