// Policy documents (bucket policies and identity policies) parsed and validated as AWS does, into the
// shape the evaluator reads: actions lower-cased, principals normalised to ARNs, conditions parsed once.
// A document AWS would refuse raises PolicyError with AWS's message.
import { accountId } from './types.js';
import { accountCanonicalId } from './acl.js';
import { isS3Action } from './actions.js';
import { parseConditions, type Condition } from './conditions.js';
import { PolicyError } from './policy-error.js';
import { arnParts, hasWildcard, matchWildcard } from './wildcard.js';

export type PolicyKind = 'bucket' | 'identity';

/** Who a Principal or NotPrincipal element names. */
export interface Principals {
  /** "*" or {"AWS": "*"}: everyone, anonymous included. */
  everyone: boolean;
  /** IAM ARNs; an account id is normalised to its root ARN. */
  arns: string[];
  /** Service and Federated principals, kept only so they can never match a request here. */
  others: string[];
}

export interface Statement {
  sid?: string;
  effect: 'Allow' | 'Deny';
  principal?: Principals;
  notPrincipal?: Principals;
  /** Lower-cased action patterns; exactly one of actions and notActions is set. */
  actions?: string[];
  notActions?: string[];
  resources?: string[];
  notResources?: string[];
  conditions: Condition[];
}

export interface Policy {
  version: '2012-10-17' | '2008-10-17';
  statements: Statement[];
  /** Whether a condition reads s3:ExistingObjectTag/<key>: the caller must then read the object's tags. */
  readsObjectTags?: boolean;
}

/** AWS's limit on a bucket policy's size. */
export const bucketPolicyBytesMax = 20 * 1024;

const statementFields = new Set(['Sid', 'Effect', 'Principal', 'NotPrincipal', 'Action', 'NotAction', 'Resource', 'NotResource', 'Condition']);

/**
 * Parses and validates a policy. A bucket policy must name principals and only resources of `bucket`;
 * an identity policy must not name principals.
 */
export function parsePolicy(text: string, options: { kind: PolicyKind; bucket?: string }): Policy {
  if (options.kind === 'bucket' && Buffer.byteLength(text) > bucketPolicyBytesMax) throw new PolicyError('Policy exceeds the maximum allowed document size.');
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    throw new PolicyError('Policies must be valid JSON and the first byte must be \'{\'');
  }
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) throw new PolicyError('Policies must be valid JSON and the first byte must be \'{\'');
  const fields = doc as Record<string, unknown>;
  for (const name of Object.keys(fields)) {
    if (name !== 'Version' && name !== 'Id' && name !== 'Statement') throw new PolicyError(`Unknown field ${name}`);
  }
  const version = fields.Version ?? '2008-10-17';
  if (version !== '2012-10-17' && version !== '2008-10-17') throw new PolicyError('The policy must contain a valid version string');
  if (fields.Id !== undefined && typeof fields.Id !== 'string') throw new PolicyError('Id must be a string');
  if (fields.Statement === undefined) throw new PolicyError('Missing required field Statement');
  const raw = Array.isArray(fields.Statement) ? fields.Statement : [fields.Statement];
  if (raw.length === 0) throw new PolicyError('Could not parse the policy: Statement is empty!');
  const statements = raw.map((s) => parseStatement(s, options));
  const sids = statements.flatMap((s) => (s.sid === undefined ? [] : [s.sid]));
  if (new Set(sids).size !== sids.length) throw new PolicyError('Statement IDs (SID) in a single policy must be unique');
  const readsObjectTags = statements.some((s) => s.conditions.some((c) => c.key.startsWith('s3:existingobjecttag/')));
  return { version, statements, ...(readsObjectTags ? { readsObjectTags } : {}) };
}

function parseStatement(raw: unknown, options: { kind: PolicyKind; bucket?: string }): Statement {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw new PolicyError('Invalid policy syntax.');
  const f = raw as Record<string, unknown>;
  for (const name of Object.keys(f)) if (!statementFields.has(name)) throw new PolicyError(`Unknown field ${name}`);
  if (f.Sid !== undefined && typeof f.Sid !== 'string') throw new PolicyError('Invalid policy syntax.');
  if (f.Effect === undefined) throw new PolicyError('Missing required field Effect');
  if (f.Effect !== 'Allow' && f.Effect !== 'Deny') throw new PolicyError(`Invalid effect: ${String(f.Effect)}`);
  const s: Statement = { effect: f.Effect, conditions: f.Condition === undefined ? [] : parseConditions(f.Condition) };
  if (typeof f.Sid === 'string') s.sid = f.Sid;
  if (options.kind === 'bucket') {
    if (f.Principal === undefined && f.NotPrincipal === undefined) throw new PolicyError('Missing required field Principal');
    if (f.Principal !== undefined && f.NotPrincipal !== undefined) throw new PolicyError('Invalid principal in policy');
    if (f.Principal !== undefined) s.principal = parsePrincipals(f.Principal);
    if (f.NotPrincipal !== undefined) s.notPrincipal = parsePrincipals(f.NotPrincipal);
  } else if (f.Principal !== undefined || f.NotPrincipal !== undefined) {
    throw new PolicyError('Policy document should not specify a principal.');
  }
  if ((f.Action === undefined) === (f.NotAction === undefined)) throw new PolicyError(f.Action === undefined ? 'Missing required field Action' : 'Statement can name Action or NotAction, not both');
  if (f.Action !== undefined) s.actions = parseActions(f.Action);
  else s.notActions = parseActions(f.NotAction);
  if ((f.Resource === undefined) === (f.NotResource === undefined)) throw new PolicyError(f.Resource === undefined ? 'Missing required field Resource' : 'Statement can name Resource or NotResource, not both');
  if (f.Resource !== undefined) s.resources = parseResources(f.Resource, options);
  else s.notResources = parseResources(f.NotResource, options);
  return s;
}

function stringList(raw: unknown, what: string): string[] {
  const list = Array.isArray(raw) ? raw : [raw];
  if (list.length === 0 || list.some((v) => typeof v !== 'string' || v === '')) throw new PolicyError(`Invalid ${what} in policy`);
  return list as string[];
}

function parseActions(raw: unknown): string[] {
  return stringList(raw, 'action').map((action) => {
    const lower = action.toLowerCase();
    if (lower === '*') return lower;
    const m = /^([a-z0-9-]+):([a-z0-9*?]+)$/.exec(lower);
    if (!m) throw new PolicyError('Policy has invalid action');
    if (m[1] === 's3' && !hasWildcard(m[2]!) && !isS3Action(lower)) throw new PolicyError('Policy has invalid action');
    return lower;
  });
}

function parseResources(raw: unknown, options: { kind: PolicyKind; bucket?: string }): string[] {
  const list = stringList(raw, 'resource');
  for (const resource of list) {
    if (options.kind === 'identity') {
      if (resource !== '*' && !arnParts(resource)?.[0]?.startsWith('arn')) throw new PolicyError(`Resource ${resource} must be in ARN format or "*".`);
      continue;
    }
    // A bucket policy may only speak of its own bucket and its objects (AWS: "Policy has invalid resource").
    if (!resource.startsWith('arn:aws:s3:::')) throw new PolicyError('Policy has invalid resource');
    const rest = resource.slice('arn:aws:s3:::'.length);
    const slash = rest.indexOf('/');
    const bucketPart = slash < 0 ? rest : rest.slice(0, slash);
    if (options.bucket === undefined || !matchWildcard(bucketPart, options.bucket)) throw new PolicyError('Policy has invalid resource');
  }
  return list;
}

function parsePrincipals(raw: unknown): Principals {
  const out: Principals = { everyone: false, arns: [], others: [] };
  if (raw === '*') {
    out.everyone = true;
    return out;
  }
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw new PolicyError('Invalid principal in policy');
  for (const [kind, value] of Object.entries(raw as Record<string, unknown>)) {
    const names = stringList(value, 'principal');
    if (kind === 'AWS') {
      for (const name of names) {
        if (name === '*') out.everyone = true;
        else out.arns.push(principalArn(name));
      }
    } else if (kind === 'CanonicalUser') {
      // A canonical user id names an account (AWS turns it into the account's ARN): here the one account's
      // id is its root ARN, and any other names no account, which AWS refuses.
      for (const name of names) {
        if (name !== accountCanonicalId) throw new PolicyError('Invalid principal in policy');
        out.arns.push(accountRootArn);
      }
    } else if (kind === 'Service' || kind === 'Federated') {
      out.others.push(...names.map((n) => `${kind}:${n}`));
    } else {
      throw new PolicyError('Invalid principal in policy');
    }
  }
  return out;
}

/** An AWS principal as an ARN: an account id becomes the account's root ARN. Wildcards are refused, as AWS does. */
function principalArn(name: string): string {
  if (/^\d{12}$/.test(name)) return `arn:aws:iam::${name}:root`;
  if (!/^arn:aws:(iam|sts)::\d{12}:[\w+=,.@/-]+$/.test(name)) throw new PolicyError('Invalid principal in policy');
  return name;
}

/** The ARN of this store's account root, which a bucket policy's account principal names. */
export const accountRootArn = `arn:aws:iam::${accountId}:root`;
