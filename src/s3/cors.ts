// CORS rules (PutBucketCors) as S3 takes and gives them, and which rule answers a browser: the
// CORSConfiguration document's validation, its XML, and the rule matching for preflights and for
// actual requests that carry an Origin. A rule applies when the origin, the method and every requested
// header match it; the first such rule in the configuration wins, as in AWS.
import type { CorsRule } from '../objects/records.js';
import { S3Error } from './errors.js';
import { el, xmlList, xmlText, type XmlNode } from './xml.js';

/** AWS's limits: 100 rules, and the methods a rule may allow. */
export const corsRulesMax = 100;
const corsMethods = new Set(['GET', 'PUT', 'POST', 'DELETE', 'HEAD']);
const corsRuleIdLengthMax = 255;

function texts(node: Record<string, unknown>, name: string): string[] {
  const value = node[name];
  if (value === undefined) return [];
  const list = Array.isArray(value) ? value : [value];
  return list.map((item) => {
    if (typeof item === 'string') return item.trim();
    if (item === '' || item === null) return '';
    throw new S3Error('MalformedXML');
  });
}

function oneWildcardAtMost(values: string[], element: string): void {
  for (const value of values) {
    if (value.split('*').length > 2) throw new S3Error('InvalidRequest', `${element} "${value}" can not have more than one wildcard.`);
  }
}

function corsRuleOf(node: Record<string, unknown>): CorsRule {
  const allowedMethods = texts(node, 'AllowedMethod');
  const allowedOrigins = texts(node, 'AllowedOrigin');
  if (allowedMethods.length === 0 || allowedOrigins.length === 0) throw new S3Error('MalformedXML');
  for (const method of allowedMethods) {
    if (!corsMethods.has(method)) throw new S3Error('InvalidRequest', `Found unsupported HTTP method in CORS config. Unsupported method is ${method}`);
  }
  const allowedHeaders = texts(node, 'AllowedHeader');
  oneWildcardAtMost(allowedOrigins, 'AllowedOrigin');
  oneWildcardAtMost(allowedHeaders, 'AllowedHeader');
  const id = xmlText(node, 'ID');
  if (id !== undefined && id.length > corsRuleIdLengthMax) throw new S3Error('InvalidArgument', `The ID of a CORS rule must be at most ${corsRuleIdLengthMax} characters long`, { extra: { ArgumentName: 'ID' } });
  const maxAge = xmlText(node, 'MaxAgeSeconds');
  if (maxAge !== undefined && !/^\d{1,9}$/.test(maxAge.trim())) throw new S3Error('MalformedXML');
  return {
    ...(id !== undefined ? { id } : {}),
    allowedMethods,
    allowedOrigins,
    allowedHeaders,
    exposeHeaders: texts(node, 'ExposeHeader'),
    ...(maxAge !== undefined ? { maxAgeSeconds: Number(maxAge.trim()) } : {}),
  };
}

/** The rules of a CORSConfiguration document's root content, validated as AWS validates them. */
export function corsRulesOf(doc: Record<string, unknown>): CorsRule[] {
  const rules = xmlList(doc, 'CORSRule');
  if (rules.length === 0) throw new S3Error('MalformedXML');
  if (rules.length > corsRulesMax) throw new S3Error('InvalidRequest', `The number of CORS rules should not exceed allowed limit of ${corsRulesMax} rules.`);
  return rules.map(corsRuleOf);
}

export function corsRulesXml(rules: readonly CorsRule[]): XmlNode {
  return rules.map((r) => el('CORSRule', [
    r.id !== undefined ? el('ID', r.id) : undefined,
    r.allowedHeaders.map((h) => el('AllowedHeader', h)),
    r.allowedMethods.map((m) => el('AllowedMethod', m)),
    r.allowedOrigins.map((o) => el('AllowedOrigin', o)),
    r.exposeHeaders.map((h) => el('ExposeHeader', h)),
    r.maxAgeSeconds !== undefined ? el('MaxAgeSeconds', r.maxAgeSeconds) : undefined,
  ]));
}

/** `value` against a pattern holding at most one "*", which stands for any run of characters. */
export function wildcardMatches(pattern: string, value: string): boolean {
  const star = pattern.indexOf('*');
  if (star < 0) return pattern === value;
  const prefix = pattern.slice(0, star);
  const suffix = pattern.slice(star + 1);
  return value.length >= prefix.length + suffix.length && value.startsWith(prefix) && value.endsWith(suffix);
}

/** What a browser asks of a rule: its origin, the method, and (preflight only) the headers it will send. */
export interface CorsAsk {
  origin: string;
  method: string;
  /** Access-Control-Request-Headers, lowercased; empty for an actual request. */
  headers: string[];
}

export function matchingCorsRule(rules: readonly CorsRule[], ask: CorsAsk): CorsRule | undefined {
  return rules.find((rule) =>
    rule.allowedOrigins.some((o) => wildcardMatches(o, ask.origin))
    && rule.allowedMethods.includes(ask.method)
    && ask.headers.every((h) => rule.allowedHeaders.some((a) => wildcardMatches(a.toLowerCase(), h))));
}

/** The list in an Access-Control-Request-Headers value, lowercased, empties dropped. */
export function requestedHeadersOf(value: string | undefined): string[] {
  return (value ?? '').split(',').map((h) => h.trim().toLowerCase()).filter((h) => h !== '');
}

/**
 * The Access-Control-* headers a matched rule answers with. A rule allowing every origin ("*") answers
 * "*" and no credentials; any other echoes the origin and allows credentials, as AWS does. Vary tells
 * caches the answer depends on these request headers.
 */
export function corsResponseHeaders(rule: CorsRule, ask: CorsAsk, preflight: boolean): Record<string, string> {
  const anyOrigin = rule.allowedOrigins.includes('*');
  const out: Record<string, string> = {
    'access-control-allow-origin': anyOrigin ? '*' : ask.origin,
    'access-control-allow-methods': rule.allowedMethods.join(', '),
    vary: 'Origin, Access-Control-Request-Headers, Access-Control-Request-Method',
  };
  if (!anyOrigin) out['access-control-allow-credentials'] = 'true';
  if (preflight && ask.headers.length > 0) out['access-control-allow-headers'] = ask.headers.join(', ');
  if (rule.exposeHeaders.length > 0) out['access-control-expose-headers'] = rule.exposeHeaders.join(', ');
  if (rule.maxAgeSeconds !== undefined) out['access-control-max-age'] = String(rule.maxAgeSeconds);
  return out;
}
