// The admin HTTP API (JSON) under /_tessera/admin/ and Prometheus metrics under /_tessera/metrics, mounted
// beside the S3 endpoint on its port; the composition root lets only root-authenticated requests reach
// them (and, for metrics, requests with the metrics token). Bucket names cannot start with "_", so these paths never shadow a bucket.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Maintenance } from '../objects/maintenance.js';
import type { BlockMaintenance, Redundancy } from '../blocks/types.js';
import type { WorkerStatus } from '../workers/runner.js';
import type { PromPage } from '../util/prometheus.js';
import { metricsContentType, metricsPath, metricsText, type DriveSnapshot } from './metrics.js';
import { handleLayoutRoute, sendJson, type LayoutAdminDeps } from './layout-api.js';
import { readClusterStatus } from './cluster-status.js';
import { handleLimitsRoute } from './limits-api.js';
import type { RateLimiter } from '../util/rate-limiter.js';

export { metricsPath };

export const adminPathPrefix = '/_tessera/admin/';

export interface AdminDeps extends LayoutAdminDeps {
  maintenance: Maintenance;
  blocks: BlockMaintenance;
  counters(): Record<string, number>;
  /** What a block gets when neither its bucket nor its storage class says otherwise. */
  defaultRedundancy: Redundancy;
  /** Drive figures for metrics, refreshed in the background (admin status reads the drives now). */
  driveSnapshot: DriveSnapshot;
  /** This process's background workers: which leases it holds, what their last steps said. */
  workers?: () => WorkerStatus[];
  /** The endpoint's rate limits, changed at run time through `limits` routes. */
  limits?: RateLimiter;
  /** Figures the endpoint keeps in this process (requests, connections, event loop), written into each scrape. */
  processMetrics?: (page: PromPage) => void;
}

/**
 * Whether a request belongs to the admin module rather than to S3: cheap, for every request. Only a GET
 * of metrics is taken; other methods on that path stay S3's to answer, as before the split.
 */
export function isAdminRequest(method: string | undefined, url: string): boolean {
  if (url.charCodeAt(1) !== 0x5f || !url.startsWith('/_tessera/')) return false; // "_": no bucket starts so
  if (url.startsWith(adminPathPrefix)) return true;
  return method === 'GET' && (url === metricsPath || url.startsWith(`${metricsPath}?`));
}

/** Answers a root-authenticated request that isAdminRequest() claimed, metrics aside (the endpoint routes them to handleMetrics). */
export function serveAdmin(deps: AdminDeps, req: IncomingMessage, res: ServerResponse, rawPath: string): Promise<void> {
  return handleAdmin(deps, req, res, rawPath);
}

/** Answers an authenticated request under /_tessera/admin/. */
export async function handleAdmin(deps: AdminDeps, req: IncomingMessage, res: ServerResponse, path: string): Promise<void> {
  const route = `${req.method} ${path.slice(adminPathPrefix.length)}`;
  const query = new URLSearchParams((req.url ?? '').split('?')[1] ?? '');
  if (await handleLayoutRoute(deps, req, res, route, query)) return;
  if (await handleLimitsRoute(deps.limits, req, res, route)) return;
  switch (route) {
    case 'GET status': {
      const drives = await deps.blocks.driveStatus();
      return sendJson(res, 200, { drives, defaultRedundancy: deps.defaultRedundancy, cluster: await readClusterStatus(deps, drives), maintenance: await deps.maintenance.stats(), counters: deps.counters(), workers: deps.workers?.() ?? [] });
    }
    case 'GET heal':
      return sendJson(res, 200, (await deps.maintenance.stats()).heal);
    case 'POST heal':
      return sendJson(res, 202, await deps.maintenance.startHeal());
    case 'POST scrub':
      return sendJson(res, 202, await deps.maintenance.startScrub());
    default:
      return sendJson(res, 404, { error: `No admin operation "${route}"` });
  }
}

/** Prometheus metrics for a request with the root key's signature or the metrics token. */
export async function handleMetrics(deps: AdminDeps, res: ServerResponse): Promise<void> {
  const text = await metricsText(deps);
  res.writeHead(200, { 'content-type': metricsContentType, 'content-length': String(text.length) });
  res.end(text);
}
