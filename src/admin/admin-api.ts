// The admin HTTP API (JSON), served by the S3 endpoint under /_tessera/admin/, and Prometheus metrics
// under /_tessera/metrics, both to root-authenticated callers only. Bucket names cannot start with "_", so
// these paths never shadow a bucket.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Maintenance } from '../objects/maintenance.js';
import type { BlockMaintenance, Redundancy } from '../blocks/types.js';
import { metricsContentType, metricsText, type DriveSnapshot } from './metrics.js';

export { metricsPath } from './metrics.js';

export const adminPathPrefix = '/_tessera/admin/';

export interface AdminDeps {
  maintenance: Maintenance;
  blocks: BlockMaintenance;
  counters(): Record<string, number>;
  /** What a block gets when neither its bucket nor its storage class says otherwise. */
  defaultRedundancy: Redundancy;
  /** Drive figures for metrics, refreshed in the background (admin status reads the drives now). */
  driveSnapshot: DriveSnapshot;
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = Buffer.from(JSON.stringify(body, null, 2));
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': String(text.length) });
  res.end(text);
}

/** Answers an authenticated request under /_tessera/admin/. */
export async function handleAdmin(deps: AdminDeps, req: IncomingMessage, res: ServerResponse, path: string): Promise<void> {
  const route = `${req.method} ${path.slice(adminPathPrefix.length)}`;
  switch (route) {
    case 'GET status':
      return sendJson(res, 200, { drives: await deps.blocks.driveStatus(), defaultRedundancy: deps.defaultRedundancy, maintenance: deps.maintenance.stats(), counters: deps.counters() });
    case 'GET heal':
      return sendJson(res, 200, deps.maintenance.stats().heal);
    case 'POST heal':
      return sendJson(res, 202, await deps.maintenance.startHeal());
    case 'POST scrub':
      return sendJson(res, 202, await deps.maintenance.startScrub());
    default:
      return sendJson(res, 404, { error: `No admin operation "${route}"` });
  }
}

/** Prometheus metrics for a root-authenticated request to the S3 endpoint. */
export async function handleMetrics(deps: AdminDeps, res: ServerResponse): Promise<void> {
  const text = await metricsText(deps);
  res.writeHead(200, { 'content-type': metricsContentType, 'content-length': String(text.length) });
  res.end(text);
}
