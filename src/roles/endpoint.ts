// The HTTP endpoint of a server or gateway: one listener sending health checks to health.ts, /_tessera/...
// to the admin module and the rest to S3 (SigV4 shared), the optional metrics-only listener, and the
// graceful stop (drain.ts). Also the address helpers of every role.
import { writeStorePublicAccessBlock } from '../objects/bucket-access.js';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createTlsServer, Server as TlsServer } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { createS3HttpServer, RequestMetrics, rootOnlyListener, s3Listener } from '../s3/server.js';
import { EventLoopDelay } from '../util/event-loop-delay.js';
import { handleMetrics, isAdminRequest, metricsPath, serveAdmin, type AdminDeps } from '../admin/admin-api.js';
import { checkMetricsToken, metricsBearer } from '../admin/metrics.js';
import { consoleDir, consoleHandler, crossSiteRefusal, isConsoleRequest, refuseCrossSite } from '../admin/console.js';
import type { ObjectContext } from '../objects/context.js';
import type { Logger } from '../util/log.js';
import type { RootCredentials } from './stores.js';
import { healthRequestKind, liveReport, serveHealth, type HealthReport } from './health.js';
import { drainerOf } from './drain.js';
import type { RateLimiter } from '../util/rate-limiter.js';
import { readTlsFiles, reloadOnSighup, type TlsFiles, type TlsMaterial } from '../util/tls.js';
import type { S3Config } from '../s3/context.js';
import { TrustedProxies } from '../s3/client-address.js';

export interface EndpointOptions {
  /** host:port to listen on; port 0 picks a free one. */
  address: string;
  /** host:port of the separate metrics-only listener; unset: none. */
  metricsAddress?: string;
  /** The bearer token that reads metrics without a signature; unset: only the root key reads them. */
  metricsToken?: string;
  region: string;
  domains: string[];
  /** Whether SigV2 (header and presigned) is accepted; default true, as AWS still does in most regions. */
  sigv2?: boolean;
  /** Addresses or CIDR blocks of proxies whose X-Forwarded-For names the client (TrustedProxies.parse). */
  trustedProxies?: readonly string[];
  /** The store-wide Block Public Access settings all on (true, the default) or all off. */
  blockPublicAccess?: boolean;
  credentials: RootCredentials;
  objects: ObjectContext;
  /** The admin module's dependencies, given the endpoint's request counters. */
  admin: (counters: () => Record<string, number>) => AdminDeps;
  log: Logger;
  /** The unauthenticated ready check (health.ts); unset: the health paths are S3's like any other. */
  health?: () => Promise<HealthReport>;
  /** Rate limits of S3 requests (the admin API changes them through its own reference). */
  limits?: RateLimiter;
  /** Serve HTTPS with these files (the metrics-only listener too), reloaded on SIGHUP; unset: plain HTTP. */
  tls?: TlsFiles;
  /** The access keys signatures are checked against (the root key's and users'), and who each signs as. */
  keys: Pick<S3Config, 'secretFor' | 'identityFor'>;
}

export interface RunningEndpoint {
  url: string;
  metricsUrl?: string;
  admin: AdminDeps;
  /**
   * Stops accepting, answers ready with 503, and lets the requests in flight finish within `graceMs`;
   * then cuts the rest. Resolves once none is left.
   */
  drain(graceMs: number): Promise<void>;
  close(): Promise<void>;
}

export async function startEndpoint(options: EndpointOptions): Promise<RunningEndpoint> {
  const { credentials, log } = options;
  if (options.metricsToken !== undefined) checkMetricsToken(options.metricsToken);
  if (options.metricsAddress && options.metricsToken === undefined) {
    throw new RangeError(`Cannot serve metrics at "${options.metricsAddress}" without a metrics token: a scraper cannot sign requests (set --metrics-token)`);
  }
  const metrics = new RequestMetrics();
  const admin = options.admin(() => ({ ...metrics.counters }));
  const loopDelay = new EventLoopDelay();
  let openConnections = 0;
  admin.processMetrics = (page) => {
    metrics.write(page);
    page.metric('tessera_http_open_connections', 'Client connections open to the S3 endpoint.', 'gauge', [['', openConnections]]);
    const cache = options.objects.blocks.readCacheStats?.();
    if (cache) {
      page.metric('tessera_read_cache_hits_total', 'Stripe reads of GETs answered from the read cache (--read-cache).', 'counter', [['', cache.hits]]);
      page.metric('tessera_read_cache_misses_total', 'Stripe reads of GETs the read cache did not hold.', 'counter', [['', cache.misses]]);
      page.metric('tessera_read_cache_bytes', 'Bytes the read cache holds.', 'gauge', [['', cache.bytes]]);
    }
    loopDelay.write(page);
  };
  const s3Options = {
    objects: options.objects,
    log,
    rootAccessKeyId: credentials.accessKeyId,
    metrics,
    ...(options.limits ? { limits: options.limits } : {}),
    config: {
      region: options.region,
      baseDomains: options.domains,
      secretFor: (id: string) => options.keys.secretFor(id),
      identityFor: (id: string) => options.keys.identityFor(id),
      nowMs: () => Date.now(),
      sigv2: options.sigv2 ?? true,
      ...(options.trustedProxies?.length ? { trustedProxies: TrustedProxies.parse(options.trustedProxies) } : {}),
    },
  };
  // `--block-public-access off` stores the store-wide setting off (as `admin public-access-block set --all
  // off` would); on, the default, leaves what is stored (all on unless an operator changed it).
  if (options.blockPublicAccess === false) {
    await writeStorePublicAccessBlock(options.objects, { BlockPublicAcls: false, IgnorePublicAcls: false, BlockPublicPolicy: false, RestrictPublicBuckets: false });
  }
  const s3 = s3Listener(s3Options);
  const adminListener = rootOnlyListener(s3Options, (req, res, rawPath) => serveAdmin(admin, req, res, rawPath));
  const metricsListener = rootOnlyListener(s3Options, (_req, res) => handleMetrics(admin, res), metricsBearer(options.metricsToken), 'Metrics');
  const consoleFiles = consoleHandler({ dir: consoleDir, region: options.region });
  let stopping = false;
  const ready = options.health;
  const readyOrStopping = ready && ((): Promise<HealthReport> => (stopping ? Promise.resolve({ status: 'unavailable', reason: 'stopping' }) : ready()));
  // The one extra cost per S3 request is a character compare (isAdminRequest's and healthRequestKind's first checks).
  const route = (req: IncomingMessage, res: ServerResponse): void | Promise<void> => {
    const url = req.url ?? '/';
    const kind = readyOrStopping && healthRequestKind(req.method, url);
    if (kind) return serveHealth(kind === 'live' ? liveReport : readyOrStopping, req, res);
    if (!isAdminRequest(req.method, url)) return s3(req, res);
    if (url.startsWith(metricsPath)) return metricsListener(req, res);
    // The console and the admin API refuse what another site's page sends, signed or not (CSRF).
    const refusal = crossSiteRefusal(req);
    if (refusal) return refuseCrossSite(res, refusal);
    return isConsoleRequest(url) ? consoleFiles(req, res) : adminListener(req, res);
  };
  let tracked: (req: IncomingMessage, res: ServerResponse) => void = () => undefined;
  const tls = options.tls && readTlsFiles(options.tls);
  const server = createS3HttpServer((req, res) => tracked(req, res), tls);
  server.on('connection', (socket: Socket) => {
    openConnections++;
    socket.once('close', () => openConnections--);
  });
  const drainer = drainerOf(server);
  tracked = drainer.wrap(route);
  const bound = await listen(server, options.address);
  const metricsServer = options.metricsAddress ? metricsOnlyServer(metricsListener, tls) : undefined;
  const tlsFiles = options.tls;
  const stopReloading = tlsFiles ? [server, metricsServer].filter((s) => s instanceof TlsServer).map((s) => reloadOnSighup(s, tlsFiles, log)) : [];
  const metricsBound = metricsServer ? await listen(metricsServer, options.metricsAddress!).catch(async (err: unknown) => {
    await closeServer(server);
    throw err;
  }) : undefined;
  const scheme = tls ? 'https' : 'http';
  return {
    url: urlOf(bound, scheme),
    ...(metricsBound ? { metricsUrl: `${urlOf(metricsBound, scheme)}/metrics` } : {}),
    admin,
    async drain(graceMs) {
      stopping = true;
      const { cut } = await drainer.drain(graceMs);
      if (cut > 0) log.warn('Cut requests still in flight after the shutdown timeout', { cut, graceMs });
    },
    async close() {
      stopping = true;
      for (const stop of stopReloading) stop();
      loopDelay.stop();
      await Promise.all([closeServer(server), metricsServer && closeServer(metricsServer)]);
    },
  };
}

/**
 * The metrics-only listener (`--metrics-address`): GET /metrics (and /_tessera/metrics) with the bearer
 * token or the root key's signature, as on the S3 endpoint; anything else is 404.
 */
function metricsOnlyServer(metricsListener: (req: IncomingMessage, res: ServerResponse) => void | Promise<void>, tls: TlsMaterial | undefined): Server {
  const serve = (req: IncomingMessage, res: ServerResponse): void => {
    const path = (req.url ?? '/').split('?', 1)[0];
    if (req.method !== 'GET' || (path !== '/metrics' && path !== metricsPath)) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('Not found: metrics are at /metrics\n');
      return;
    }
    void metricsListener(req, res);
  };
  return tls ? createTlsServer(tls, serve) : createServer(serve);
}

export function parseAddress(address: string): { host: string; port: number } {
  const m = /^(\[[^\]]+\]|[^:]*):(\d+)$/.exec(address);
  if (!m) throw new RangeError(`Cannot parse address "${address}": expected HOST:PORT`);
  const port = Number(m[2]);
  if (port > 65535) throw new RangeError(`Cannot listen on port ${port}: out of range`);
  return { host: (m[1] || '127.0.0.1').replace(/^\[|\]$/g, ''), port };
}

async function listen(server: Server, address: string): Promise<AddressInfo> {
  const { host, port } = parseAddress(address);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  return server.address() as AddressInfo;
}

function closeServer(server: Server): Promise<void> {
  return new Promise<void>((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}

function urlOf(bound: AddressInfo, scheme: 'http' | 'https'): string {
  return `${scheme}://${bound.family === 'IPv6' ? `[${bound.address}]` : bound.address}:${bound.port}`;
}
