// PutBucketCors, GetBucketCors and DeleteBucketCors; the preflight OPTIONS a browser sends before a
// cross-origin request (unauthenticated, as in AWS); and the CORS headers of actual requests with an
// Origin, errors included. The rules and their matching are in ../cors.ts.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { getBucket, setBucketCors } from '../../objects/buckets.js';
import type { ObjectContext } from '../../objects/context.js';
import { header, requireBucket, sendEmpty, sendXml, type RequestContext } from '../context.js';
import { S3Error } from '../errors.js';
import { parseXml } from '../xml.js';
import { corsResponseHeaders, corsRulesOf, corsRulesXml, matchingCorsRule, requestedHeadersOf } from '../cors.js';
import { readVerifiedBody } from '../object-lock.js';

export async function handlePutBucketCors(c: RequestContext): Promise<void> {
  const bucket = requireBucket(c);
  const body = await readVerifiedBody(c);
  await getBucket(c.objects, bucket);
  await setBucketCors(c.objects, bucket, corsRulesOf(parseXml(body, 'CORSConfiguration')));
  sendEmpty(c, 200);
}

export async function handleGetBucketCors(c: RequestContext): Promise<void> {
  const record = await getBucket(c.objects, requireBucket(c));
  if (!record.cors) throw new S3Error('NoSuchCORSConfiguration', undefined, { extra: { BucketName: record.name } });
  sendXml(c, 'CORSConfiguration', corsRulesXml(record.cors));
}

export async function handleDeleteBucketCors(c: RequestContext): Promise<void> {
  await setBucketCors(c.objects, requireBucket(c), undefined);
  sendEmpty(c, 204);
}

/** What a preflight needs: it runs before (and without) authentication. */
export interface PreflightContext {
  req: IncomingMessage;
  res: ServerResponse;
  requestId: string;
  objects: ObjectContext;
  bucket: string;
  key: string | undefined;
}

/**
 * A preflight OPTIONS: 200 with the Access-Control-* headers of the first rule allowing its origin,
 * method and headers; 400 without an Origin or a valid Access-Control-Request-Method; 403 when the bucket
 * has no CORS rules or none allows the request. AWS's wording for each.
 */
export async function handleCorsPreflight(c: PreflightContext): Promise<void> {
  const origin = header(c, 'origin');
  if (origin === undefined) throw new S3Error('BadRequest', 'Insufficient information. Origin request header needed.');
  const method = header(c, 'access-control-request-method');
  if (method === undefined || !/^(GET|PUT|POST|DELETE|HEAD)$/.test(method)) {
    throw new S3Error('BadRequest', `Invalid Access-Control-Request-Method: ${method ?? 'null'}`);
  }
  const record = await getBucket(c.objects, c.bucket);
  if (!record.cors) throw new S3Error('AccessForbidden', 'CORSResponse: CORS is not enabled for this bucket.', { extra: corsForbiddenExtra(c, method) });
  const ask = { origin, method, headers: requestedHeadersOf(header(c, 'access-control-request-headers')) };
  const rule = matchingCorsRule(record.cors, ask);
  if (!rule) throw new S3Error('AccessForbidden', undefined, { extra: corsForbiddenExtra(c, method) });
  sendEmpty(c, 200, corsResponseHeaders(rule, ask, true));
}

function corsForbiddenExtra(c: PreflightContext, method: string): Record<string, string> {
  return { Method: method, ResourceType: c.key === undefined ? 'BUCKET' : 'OBJECT' };
}

/**
 * For an actual request carrying Origin: sets the matching rule's headers on the response before any
 * handler answers, so they go out with its answer, error answers included. The method matched is
 * Access-Control-Request-Method when the client sent one, else the request's. A bucket that does not
 * exist or has no rules adds nothing; the request goes on to get its own answer.
 */
export async function setCorsHeaders(objects: ObjectContext, req: IncomingMessage, res: ServerResponse, bucket: string): Promise<void> {
  const origin = req.headers.origin;
  if (origin === undefined) return;
  let rules;
  try {
    rules = (await getBucket(objects, bucket)).cors;
  } catch {
    return;
  }
  if (!rules) return;
  const requested = req.headers['access-control-request-method'];
  const ask = { origin, method: typeof requested === 'string' ? requested : (req.method ?? 'GET'), headers: [] };
  const rule = matchingCorsRule(rules, ask);
  if (!rule) return;
  for (const [name, value] of Object.entries(corsResponseHeaders(rule, ask, false))) res.setHeader(name, value);
}
