// The admin HTTP API (JSON), served by the S3 endpoint under /_tessera/admin/ to root-authenticated
// callers, and Prometheus metrics under /_tessera/metrics. Bucket names cannot start with "_", so these
// paths never shadow a bucket.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Maintenance } from '../objects/maintenance.js';
import type { BlockMaintenance } from '../blocks/types.js';

export const adminPathPrefix = '/_tessera/admin/';
export const metricsPath = '/_tessera/metrics';

export interface AdminDeps {
  maintenance: Maintenance;
  blocks: BlockMaintenance;
  counters(): Record<string, number>;
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
      return sendJson(res, 200, { drives: await deps.blocks.driveStatus(), maintenance: deps.maintenance.stats(), counters: deps.counters() });
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

/** Prometheus text exposition of the maintenance and request counters. */
export async function handleMetrics(deps: AdminDeps, res: ServerResponse): Promise<void> {
  const stats = deps.maintenance.stats();
  const lines: string[] = [];
  const metric = (name: string, help: string, type: 'gauge' | 'counter', samples: [labels: string, value: number][]) => {
    lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
    for (const [labels, value] of samples) lines.push(`${name}${labels} ${value}`);
  };
  const drives = await deps.blocks.driveStatus();
  metric('tessera_drive_up', 'Whether a drive is readable and holds its identity.', 'gauge', drives.map((d) => [`{drive="${d.id}"}`, d.state === 'ok' ? 1 : 0]));
  metric('tessera_drive_shard_files', 'Shard files on a drive.', 'gauge', drives.map((d) => [`{drive="${d.id}"}`, d.shardFiles]));
  metric('tessera_drive_bytes', 'Bytes of shard files on a drive.', 'gauge', drives.map((d) => [`{drive="${d.id}"}`, d.bytes]));
  metric('tessera_drive_corrupt_blocks_found', 'Corrupt shard blocks met on a drive since start.', 'counter', drives.map((d) => [`{drive="${d.id}"}`, d.corruptFound]));
  for (const pass of [stats.heal, stats.scrub]) {
    metric(`tessera_${pass.kind}_running`, `Whether a ${pass.kind} pass is running.`, 'gauge', [['', pass.running ? 1 : 0]]);
    metric(`tessera_${pass.kind}_blocks_checked`, `Blocks checked by the current or last ${pass.kind} pass.`, 'gauge', [['', pass.blocksChecked]]);
    metric(`tessera_${pass.kind}_blocks_total`, `Live blocks when the current or last ${pass.kind} pass started.`, 'gauge', [['', pass.blocksTotal]]);
    metric(`tessera_${pass.kind}_damaged_blocks`, `Damaged blocks found by the current or last ${pass.kind} pass.`, 'gauge', [['', pass.damagedFound]]);
  }
  metric('tessera_heal_shards_rebuilt', 'Shards rebuilt by the current or last heal pass.', 'gauge', [['', stats.heal.shardsRebuilt]]);
  metric('tessera_heal_queue_blocks', 'Damaged blocks waiting for repair.', 'gauge', [['', stats.queuedDamage]]);
  metric('tessera_heal_queue_healed_total', 'Blocks repaired from the damage queue since start.', 'counter', [['', stats.healedFromQueue]]);
  for (const [name, value] of Object.entries(deps.counters())) metric(`tessera_${name}`, name.replace(/_/g, ' '), 'counter', [['', value]]);
  const text = Buffer.from(`${lines.join('\n')}\n`);
  res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4', 'content-length': String(text.length) });
  res.end(text);
}
