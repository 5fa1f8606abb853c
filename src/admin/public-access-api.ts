// The store-wide Block Public Access setting in the admin API (JSON): `GET public-access-block` shows the
// four settings, `PUT public-access-block` changes those given. Stored in the MetaStore, so every gateway
// applies it (within the access cache's lifetime); on by default, as AWS does for accounts.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { MetaStore } from '../meta/types.js';
import type { PublicAccessBlock } from '../iam/types.js';
import { readStorePublicAccessBlock, writeStorePublicAccessBlock } from '../objects/bucket-access.js';
import { accessCacheOf } from '../objects/access-cache.js';
import { AdminRefusal, answerRefusal, readJsonBody, sendJson } from './json-api.js';

const settings = ['BlockPublicAcls', 'IgnorePublicAcls', 'BlockPublicPolicy', 'RestrictPublicBuckets'] as const;

function changed(current: PublicAccessBlock, body: unknown): PublicAccessBlock {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new AdminRefusal(400, 'Cannot read the request: expected a JSON object');
  const next = { ...current };
  for (const [name, value] of Object.entries(body as Record<string, unknown>)) {
    if (!(settings as readonly string[]).includes(name)) throw new AdminRefusal(400, `Cannot set "${name}": expected one of ${settings.join(', ')}`);
    if (typeof value !== 'boolean') throw new AdminRefusal(400, `Cannot set "${name}" to ${JSON.stringify(value)}: expected true or false`);
    next[name as keyof PublicAccessBlock] = value;
  }
  return next;
}

/** Answers `route` if it is a public-access-block route; false when it is not. */
export async function handlePublicAccessRoute(meta: MetaStore, req: IncomingMessage, res: ServerResponse, route: string): Promise<boolean> {
  if (route !== 'GET public-access-block' && route !== 'PUT public-access-block') return false;
  try {
    const current = await readStorePublicAccessBlock({ meta });
    if (route === 'GET public-access-block') {
      sendJson(res, 200, current);
      return true;
    }
    const next = changed(current, await readJsonBody(req));
    await writeStorePublicAccessBlock({ meta }, next);
    accessCacheOf(meta).invalidateStore();
    sendJson(res, 200, next);
    return true;
  } catch (err) {
    return answerRefusal(res, err);
  }
}
