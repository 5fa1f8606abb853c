// The admin API's JSON plumbing, shared by its route modules: refusals with their status, JSON answers, and
// request bodies read only when their SHA-256 is the signed one.
import { createHash } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { isStoreError } from '../util/errors.js';

/** Bytes of a JSON request body: one layout change or policy document is far below. */
export const adminBodyBytesMax = 64 * 1024;

/** An answer other than 200, with its status: the admin API's refusals. */
export class AdminRefusal extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
  }
}

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = Buffer.from(JSON.stringify(body, null, 2));
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': String(text.length) });
  res.end(text);
}

function refusalOf(err: unknown): AdminRefusal | undefined {
  if (err instanceof AdminRefusal) return err;
  if (err instanceof RangeError || err instanceof SyntaxError) return new AdminRefusal(400, err.message);
  // A change the cluster's state makes unsafe (not a malformed request): 409, as for a wrong epoch.
  if (isStoreError(err, 'ERR_META_CONFLICT') || isStoreError(err, 'ERR_LAYOUT_UNSAFE')) return new AdminRefusal(409, err.message);
  return undefined;
}

/** Answers `err` as the refusal it is (its status and message as JSON) and returns true; anything else is thrown on. */
export function answerRefusal(res: ServerResponse, err: unknown): true {
  const refusal = refusalOf(err);
  if (!refusal) throw err;
  sendJson(res, refusal.status, { error: refusal.message });
  return true;
}

/**
 * The request body as JSON, at most adminBodyBytesMax bytes, and only if its SHA-256 is the one the
 * request's signature covers (x-amz-content-sha256): SigV4 signs that header, not the body itself.
 */
export async function readJsonBody(req: IncomingMessage, required = true): Promise<unknown> {
  const declared = Number(req.headers['content-length'] ?? '0');
  if (declared > adminBodyBytesMax) throw new AdminRefusal(413, `Cannot accept an admin request body of ${declared} bytes: at most ${adminBodyBytesMax}`);
  const chunks: Buffer[] = [];
  let bytes = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    bytes += chunk.length;
    if (bytes > adminBodyBytesMax) throw new AdminRefusal(413, `Cannot accept an admin request body over ${adminBodyBytesMax} bytes`);
    chunks.push(chunk);
  }
  const body = Buffer.concat(chunks);
  if (body.length === 0) {
    if (required) throw new AdminRefusal(400, 'Cannot read the request: expected a JSON body');
    return undefined;
  }
  const signed = req.headers['x-amz-content-sha256'];
  if (typeof signed !== 'string' || !/^[0-9a-f]{64}$/.test(signed)) {
    throw new AdminRefusal(400, 'Cannot accept an unsigned admin request body: sign it with its SHA-256 in x-amz-content-sha256');
  }
  if (createHash('sha256').update(body).digest('hex') !== signed) throw new AdminRefusal(400, 'Cannot accept the request body: its SHA-256 differs from the signed x-amz-content-sha256');
  return JSON.parse(body.toString('utf8')) as unknown;
}
