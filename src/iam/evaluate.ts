// The policy evaluator: one pure function deciding whether an identity may perform an action on a
// resource, from its identity policies, the bucket policy, the ACL's answer and Block Public Access, as
// AWS documents the evaluation within one account: an explicit Deny anywhere wins, then any Allow (identity
// policy, bucket policy naming the principal, or ACL grant) allows, else the request is denied by default.
import type { Identity, PublicAccessBlock } from './types.js';
import { conditionHolds, type Condition, type ConditionValues } from './conditions.js';
import { accountRootArn, type Policy, type Principals, type Statement } from './policy.js';
import { matchArn, matchWildcard } from './wildcard.js';
import { isPublicPolicy } from './public.js';

export interface AccessRequest {
  identity: Identity;
  /** "s3:GetObject": matched case-insensitively. */
  action: string;
  /** "arn:aws:s3:::bucket/key", "arn:aws:s3:::bucket", or "arn:aws:s3:::*" for ListAllMyBuckets. */
  resource: string;
  /** The request's condition key values (lower-cased keys). */
  values: ConditionValues;
}

export interface AccessInputs {
  /** The user's identity policies, parsed (empty for root and anonymous). */
  identityPolicies: readonly Policy[];
  bucketPolicy?: Policy | undefined;
  /** Whether bucketPolicy is public (isPublicPolicy), when the caller has it at hand. */
  bucketPolicyPublic?: boolean;
  /** Block Public Access in force: the store's settings or'ed with the bucket's. */
  publicAccessBlock: PublicAccessBlock;
  /** Whether an ACL grants the permission the action needs (public grants left out under IgnorePublicAcls). */
  aclAllows?: boolean;
}

/** 'deny': an explicit Deny matched; 'implicit': nothing allowed it. */
export type Decision = 'allow' | 'deny' | 'implicit';

/** What the account root may do whatever its bucket policy says, so an owner cannot lock itself out (PutBucketPolicy docs). */
const rootAlwaysActions = new Set(['s3:getbucketpolicy', 's3:putbucketpolicy', 's3:deletebucketpolicy']);

export function evaluate(request: AccessRequest, inputs: AccessInputs): Decision {
  const action = request.action.toLowerCase();
  const identity = request.identity;
  let allowed = false;
  if (identity.kind === 'user') {
    for (const policy of inputs.identityPolicies) {
      const found = scan(policy, request, action, undefined);
      if (found === 'deny') return 'deny';
      if (found === 'allow') allowed = true;
    }
  }
  if (inputs.bucketPolicy) {
    const found = scan(inputs.bucketPolicy, request, action, identity);
    if (found === 'deny' && !(identity.kind === 'root' && rootAlwaysActions.has(action))) return 'deny';
    if (found === 'allow' && !restricted(identity, inputs)) allowed = true;
  }
  if (identity.kind === 'root') return 'allow';
  if (allowed || inputs.aclAllows === true) return 'allow';
  return 'implicit';
}

/**
 * RestrictPublicBuckets: a public bucket policy grants only to principals of the account, so anonymous
 * requests get nothing from it (its Deny statements still apply).
 */
function restricted(identity: Identity, inputs: AccessInputs): boolean {
  if (identity.kind !== 'anonymous' || !inputs.publicAccessBlock.RestrictPublicBuckets || !inputs.bucketPolicy) return false;
  return inputs.bucketPolicyPublic ?? isPublicPolicy(inputs.bucketPolicy);
}

const verbatim = (text: string): string => text;

/** The strongest effect among the statements of one policy that apply: a Deny ends the scan. */
function scan(policy: Policy, request: AccessRequest, action: string, principal: Identity | undefined): 'allow' | 'deny' | undefined {
  let found: 'allow' | undefined;
  const resolve = policy.version === '2012-10-17' ? (text: string) => substitute(text, request.values) : verbatim;
  for (const s of policy.statements) {
    if (found === 'allow' && s.effect === 'Allow') continue;
    if (principal && !principalApplies(s, principal)) continue;
    if (!actionApplies(s, action)) continue;
    if (!resourceApplies(s, request.resource, resolve)) continue;
    if (!conditionsHold(s.conditions, request.values, resolve)) continue;
    if (s.effect === 'Deny') return 'deny';
    found = 'allow';
  }
  return found;
}

function actionApplies(s: Statement, action: string): boolean {
  if (s.actions) return s.actions.some((p) => matchWildcard(p, action));
  return !s.notActions!.some((p) => matchWildcard(p, action));
}

function resourceApplies(s: Statement, resource: string, resolve: (text: string) => string | undefined): boolean {
  const matches = (pattern: string): boolean => {
    const resolved = resolve(pattern);
    return resolved !== undefined && matchArn(resolved, resource);
  };
  if (s.resources) return s.resources.some(matches);
  return !s.notResources!.some(matches);
}

function conditionsHold(conditions: readonly Condition[], values: ConditionValues, resolve: (text: string) => string | undefined): boolean {
  for (const c of conditions) if (!conditionHolds(c, values, resolve)) return false;
  return true;
}

/**
 * Whether a bucket policy statement speaks of this identity. An account principal (its root ARN) is the
 * account itself: it applies to the root, and to the account's users only in a Deny; in an Allow it
 * delegates to the account, whose users then need an identity policy (AWS's same-account evaluation).
 */
function principalApplies(s: Statement, identity: Identity): boolean {
  if (s.principal) return principalNames(s.principal, identity, s.effect);
  return !principalNames(s.notPrincipal!, identity, 'Deny');
}

function principalNames(p: Principals, identity: Identity, effect: 'Allow' | 'Deny'): boolean {
  if (p.everyone) return true;
  if (identity.kind === 'anonymous') return false;
  if (p.arns.includes(identity.arn)) return true;
  if (identity.kind === 'root') return p.arns.includes(accountRootArn);
  return effect === 'Deny' && p.arns.includes(accountRootArn);
}

/**
 * A policy value with its ${key} variables replaced by the request's values (policy version 2012-10-17).
 * undefined when a variable has no value, or one whose value holds a wildcard character, which would
 * widen the pattern: that policy value then matches nothing.
 */
function substitute(text: string, values: ConditionValues): string | undefined {
  if (!text.includes('${')) return text;
  let failed = false;
  const out = text.replace(/\$\{([^}]*)\}/g, (_, name: string) => {
    if (name === '$') return '$';
    const value = values(name.trim().toLowerCase())?.[0];
    if (value === undefined || value.includes('*') || value.includes('?')) failed = true;
    return value ?? '';
  });
  return failed ? undefined : out;
}
