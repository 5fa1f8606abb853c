// The admin HTTP API (JSON) under /_tessera/admin/ and Prometheus metrics under /_tessera/metrics, mounted
// beside the S3 endpoint on its port; the composition root lets only root-authenticated requests reach
// them (and, for metrics, requests with the metrics token). Bucket names cannot start with "_", so these paths never shadow a bucket.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Maintenance } from '../objects/maintenance.js';
import type { Lifecycle } from '../objects/lifecycle.js';
import type { BlockMaintenance, Redundancy } from '../blocks/types.js';
import type { WorkerStatus } from '../workers/runner.js';
import type { PromPage } from '../util/prometheus.js';
import { metricsContentType, metricsPath, metricsText, type DriveSnapshot } from './metrics.js';
import { handleLayoutRoute, type LayoutAdminDeps } from './layout-api.js';
import { sendJson } from './json-api.js';
import { readClusterStatus } from './cluster-status.js';
import { handleLimitsRoute } from './limits-api.js';
import { handlePublicAccessRoute } from './public-access-api.js';
import { handleIamRoute, type IamAdminDeps } from './iam-api.js';
import { handleKmsRoute, type KmsAdminDeps } from './kms-api.js';
import type { RateLimiter } from '../util/rate-limiter.js';
import { isConsoleRequest } from './console.js';
import { readUsage, usageBucketsMax } from '../objects/usage.js';

export { metricsPath };

export const adminPathPrefix = '/_tessera/admin/';

export interface AdminDeps extends LayoutAdminDeps {
  maintenance: Maintenance;
  /** The lifecycle pass (bucket rules, abandoned uploads): its progress, and a start on request. */
  lifecycle?: Pick<Lifecycle, 'progress' | 'start'>;
  blocks: BlockMaintenance;
  counters(): Record<string, number>;
  /** What a block gets when neither its bucket nor its storage class says otherwise. */
  defaultRedundancy: Redundancy;
  /** Drive figures for metrics, refreshed in the background (admin status reads the drives now). */
  driveSnapshot: DriveSnapshot;
  /** The storage classes and the redundancy each gets now (objects/storage-classes.ts). */
  storageClasses?: () => { name: string; redundancy: Redundancy; note?: string }[];
  /** This process's background workers: which leases it holds, what their last steps said. */
  workers?: () => WorkerStatus[];
  /** The endpoint's rate limits, changed at run time through `limits` routes. */
  limits?: RateLimiter;
  /** Users, access keys and their policies (`iam/...` routes). */
  iam?: IamAdminDeps;
  /** The key service's master keys (`kms/...` routes); unset: they answer 501. */
  kms?: KmsAdminDeps;
  /**
   * Set in a worker of `tessera server --workers N`: every worker's own figures (this one's included),
   * so a metrics scrape or a status answer, whichever worker takes it, covers the whole server.
   */
  processReports?: () => Promise<ProcessReport[]>;
  /** Called after a `limits` route changed the limits, before the answer: the other workers apply them too. */
  limitsChanged?: () => Promise<void>;
  /** Figures the endpoint keeps in this process (requests, connections, event loop), written into each scrape. */
  processMetrics?: (page: PromPage) => void;
}

/** One process's figures that only it knows: counters since its start, its leases, its drives' counts. */
export interface ProcessReport {
  /** The worker's number, 1..N; a replacement keeps the number of the worker it replaces. */
  worker: number;
  pid: number;
  counters: Record<string, number>;
  throttled: { kind: string; measure: string; count: number }[];
  metaRoundTrips: Record<string, number>;
  /** Corrupt shard blocks met per drive id by this process. */
  corruptFound: Record<string, number>;
  /** Blocks this process repaired from the damage queue. */
  healedFromQueue: number;
  workers: WorkerStatus[];
}

/**
 * Whether a request belongs to the admin module rather than to S3: cheap, for every request. The admin API
 * and the console take every method; of metrics only a GET is taken, other methods on that path stay S3's
 * to answer, as before the split.
 */
export function isAdminRequest(method: string | undefined, url: string): boolean {
  if (url.charCodeAt(1) !== 0x5f || !url.startsWith('/_tessera/')) return false; // "_": no bucket starts so
  if (url.startsWith(adminPathPrefix) || isConsoleRequest(url)) return true;
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
  if (await handleLimitsRoute(deps.limits, req, res, route, deps.limitsChanged)) return;
  if (await handlePublicAccessRoute(deps.meta, req, res, route)) return;
  if (await handleIamRoute(deps.iam, req, res, route, query)) return;
  if (await handleKmsRoute(deps.kms, req, res, route)) return;
  switch (route) {
    case 'GET status': {
      const drives = await deps.blocks.driveStatus();
      const base = {
        drives, defaultRedundancy: deps.defaultRedundancy, cluster: await readClusterStatus(deps, drives), maintenance: await deps.maintenance.stats(),
        ...(deps.lifecycle ? { lifecycle: await deps.lifecycle.progress() } : {}), ...(deps.storageClasses ? { storageClasses: deps.storageClasses() } : {}),
      };
      if (!deps.processReports) return sendJson(res, 200, { ...base, counters: deps.counters(), workers: deps.workers?.() ?? [] });
      // Counters summed over the worker processes; each background worker listed once per process, with its number.
      const reports = await deps.processReports();
      const counters: Record<string, number> = {};
      for (const r of reports) for (const [name, n] of Object.entries(r.counters)) counters[name] = (counters[name] ?? 0) + n;
      return sendJson(res, 200, { ...base, counters, workers: reports.flatMap((r) => r.workers.map((w) => ({ ...w, process: r.worker }))), processes: reports.map((r) => ({ worker: r.worker, pid: r.pid, counters: r.counters })) });
    }
    case 'GET usage':
      // The MetaStore's per-bucket counters (as on the metrics page): one scan, never a listing. A bucket
      // that never held a version has no counters and is absent; bucketsMax says where the scan stops.
      return sendJson(res, 200, { buckets: await readUsage(deps.meta), bucketsMax: usageBucketsMax });
    case 'GET heal':
      return sendJson(res, 200, (await deps.maintenance.stats()).heal);
    case 'POST heal':
      return sendJson(res, 202, await deps.maintenance.startHeal());
    case 'POST scrub':
      return sendJson(res, 202, await deps.maintenance.startScrub());
    case 'GET lifecycle':
      if (!deps.lifecycle) break;
      return sendJson(res, 200, await deps.lifecycle.progress());
    case 'POST lifecycle':
      if (!deps.lifecycle) break;
      return sendJson(res, 202, await deps.lifecycle.start());
  }
  return sendJson(res, 404, { error: `No admin operation "${route}"` });
}

/** Prometheus metrics for a request with the root key's signature or the metrics token. */
export async function handleMetrics(deps: AdminDeps, res: ServerResponse): Promise<void> {
  const text = await metricsText(deps);
  res.writeHead(200, { 'content-type': metricsContentType, 'content-length': String(text.length) });
  res.end(text);
}
