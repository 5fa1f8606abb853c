// The rate limit part of the admin API (JSON): show the limits in force and what they refused, replace them
// all, set or clear one. Changes apply to this process at once and are not stored: each gateway keeps its
// own limits (docs/architecture.md "Rate limits"), and a restart goes back to --rate-limits.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { checkLimitName, defaultLimitName, limitKinds, normalizeIp, parseRateLimit, parseRateLimitConfig, type LimitKind, type RateLimitConfig } from '../util/rate-limits.js';
import type { RateLimiter } from '../util/rate-limiter.js';
import { AdminRefusal, answerRefusal, readJsonBody, sendJson } from './json-api.js';

/** What `GET limits` answers. */
export interface LimitsView {
  limits: RateLimitConfig;
  /** Always "process": the limits are enforced by each process on its own. */
  scope: 'process';
  throttled: ReturnType<RateLimiter['throttled']>;
}

function view(limiter: RateLimiter): LimitsView {
  return { limits: limiter.config(), scope: 'process', throttled: limiter.throttled() };
}

function kindOf(value: unknown): LimitKind {
  if (typeof value !== 'string' || !(limitKinds as readonly string[]).includes(value)) {
    throw new AdminRefusal(400, `Cannot use limit kind ${JSON.stringify(value)}: expected ${limitKinds.join(', ')}`);
  }
  return value as LimitKind;
}

function nameOf(kind: LimitKind, value: unknown): string {
  if (typeof value !== 'string') throw new AdminRefusal(400, `Cannot use ${JSON.stringify(value)} as a ${kind} name: expected a string ("${defaultLimitName}" for the default)`);
  checkLimitName(kind, value);
  return kind === 'ip' ? normalizeIp(value) : value;
}

function fields(body: unknown): Record<string, unknown> {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new AdminRefusal(400, 'Cannot read the request: expected a JSON object');
  return body as Record<string, unknown>;
}

/**
 * Answers `route` if it is a limits route; false when it is not. Without a limiter every limits route is 404.
 * `changed` runs after a change and before the answer (the other workers of `--workers N` apply it then).
 */
export async function handleLimitsRoute(limiter: RateLimiter | undefined, req: IncomingMessage, res: ServerResponse, route: string, changed: () => Promise<void> = async () => undefined): Promise<boolean> {
  if (!route.startsWith('GET limits') && !route.startsWith('PUT limits') && !route.startsWith('POST limits')) return false;
  if (!limiter) return false;
  try {
    switch (route) {
      case 'GET limits':
        sendJson(res, 200, view(limiter));
        return true;
      case 'PUT limits':
        limiter.replace(parseRateLimitConfig(await readJsonBody(req)));
        await changed();
        sendJson(res, 200, view(limiter));
        return true;
      case 'POST limits/set': {
        const body = fields(await readJsonBody(req));
        const kind = kindOf(body.kind);
        const name = nameOf(kind, body.name);
        limiter.set(kind, name, parseRateLimit(body.limit, `for ${kind} "${name}"`));
        await changed();
        sendJson(res, 200, view(limiter));
        return true;
      }
      case 'POST limits/clear': {
        const body = fields(await readJsonBody(req));
        if (body.all === true) {
          const { trustedProxies } = limiter.config();
          limiter.replace(trustedProxies ? { trustedProxies } : {});
        }
        else {
          const kind = kindOf(body.kind);
          const name = nameOf(kind, body.name);
          if (!limiter.clear(kind, name)) throw new AdminRefusal(404, `Cannot clear the ${kind} limit of "${name}": there is none`);
        }
        await changed();
        sendJson(res, 200, view(limiter));
        return true;
      }
      default:
        return false;
    }
  } catch (err) {
    return answerRefusal(res, err);
  }
}
