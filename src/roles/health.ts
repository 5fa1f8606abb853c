// The unauthenticated health check a load balancer polls (GET /_tessera/health): 200 while the MetaStore
// answers a read within a short bound and enough storage targets are up to write at the default
// redundancy, 503 with a JSON reason otherwise. It tells an anonymous caller only counts, never addresses.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { MetaStore } from '../meta/types.js';
import type { LocalBlockStore } from '../blocks/index.js';
import { keys } from '../objects/keys.js';

export const healthPath = '/_tessera/health';

/** A MetaStore read slower than this counts as no answer (HAProxy's check timeout is longer). */
export const healthMetaTimeoutMs = 2_000;

export interface HealthReport {
  status: 'ok' | 'unavailable';
  /** Why the process should take no traffic; absent when ok. */
  reason?: 'metadata' | 'storage' | 'no-layout';
  detail?: string;
}

/** Whether a request is the health check: the one path, GET or HEAD, any query. */
export function isHealthRequest(method: string | undefined, url: string): boolean {
  return (method === 'GET' || method === 'HEAD') && (url === healthPath || url.startsWith(`${healthPath}?`));
}

/**
 * The check over a role's stores. Calls that arrive while one runs share its answer, so a load balancer
 * polling often (or many of them) costs at most one read at a time.
 */
export function healthCheck(meta: MetaStore, blocks: Pick<LocalBlockStore, 'writeReadiness'>, metaTimeoutMs = healthMetaTimeoutMs): () => Promise<HealthReport> {
  let running: Promise<HealthReport> | undefined;
  const check = async (): Promise<HealthReport> => {
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), metaTimeoutMs)));
    const read = meta.get(keys.setting('health'), { fill: false }).then(
      () => 'ok' as const,
      () => 'failed' as const,
    );
    const answer = await Promise.race([read, timedOut]);
    clearTimeout(timer);
    if (answer !== 'ok') return { status: 'unavailable', reason: 'metadata', detail: answer === 'timeout' ? `The metadata store did not answer within ${metaTimeoutMs} ms` : 'The metadata store cannot be reached' };
    const { epoch, up, needed } = await blocks.writeReadiness();
    if (epoch === 0) return { status: 'unavailable', reason: 'no-layout', detail: 'No cluster layout is stored yet' };
    if (up < needed) return { status: 'unavailable', reason: 'storage', detail: `${up} storage targets are up; a write needs ${needed}` };
    return { status: 'ok' };
  };
  return () => {
    running ??= check().finally(() => (running = undefined));
    return running;
  };
}

/** Answers the health check: 200 or 503, JSON, never cached. */
export async function serveHealth(check: () => Promise<HealthReport>, req: IncomingMessage, res: ServerResponse): Promise<void> {
  let report: HealthReport;
  try {
    report = await check();
  } catch {
    report = { status: 'unavailable', reason: 'storage', detail: 'The storage check failed' };
  }
  const body = Buffer.from(JSON.stringify(report));
  res.writeHead(report.status === 'ok' ? 200 : 503, { 'content-type': 'application/json', 'content-length': String(body.length), 'cache-control': 'no-store' });
  res.end(req.method === 'HEAD' ? undefined : body);
}
