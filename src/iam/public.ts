// Whether a bucket policy is public, as AWS defines it for Block Public Access and GetBucketPolicyStatus:
// an Allow to everyone (or through NotPrincipal) that no condition pins to fixed values of the keys AWS
// lists (aws:SourceIp CIDRs, aws:SourceArn, aws:SourceVpc(e), aws:SourceOwner, aws:SourceAccount,
// aws:PrincipalAccount, aws:PrincipalOrgID, aws:userid, the KMS key id).
import type { Condition } from './conditions.js';
import type { Policy, Statement } from './policy.js';
import { hasWildcard } from './wildcard.js';

const fixingKeys = new Set([
  'aws:sourcearn', 'aws:sourcevpc', 'aws:sourcevpce', 'aws:sourceowner', 'aws:sourceaccount', 'aws:principalaccount',
  'aws:principalorgid', 'aws:principalarn', 'aws:userid', 's3:x-amz-server-side-encryption-aws-kms-key-id', 's3:dataaccesspointarn',
]);

const fixingOperators = new Set(['StringEquals', 'StringEqualsIgnoreCase', 'ArnEquals', 'ArnLike', 'StringLike']);

/**
 * IPv4 blocks wider than /8 and IPv6 blocks wider than /32 are taken as public: AWS names "a set of
 * CIDRs" as fixing without a bound, and 0.0.0.0/0 (or /1) clearly opens the bucket to everyone.
 */
function fixes(c: Condition): boolean {
  if (c.set !== undefined || c.ifExists) return false;
  if (c.key === 'aws:sourceip') {
    return c.base === 'IpAddress' && c.cidrs!.every((cidr) => cidr.prefixBits >= (cidr.bytes.length === 4 ? 8 : 32));
  }
  if (!fixingKeys.has(c.key) || !fixingOperators.has(c.base)) return false;
  // aws:userid of the form "AROLEID:*" names any session of a role: not fixed.
  return c.values.every((v) => !hasWildcard(v));
}

function statementIsPublic(s: Statement): boolean {
  if (s.effect !== 'Allow') return false;
  const everyone = s.notPrincipal !== undefined || s.principal!.everyone;
  if (!everyone) return false;
  return !s.conditions.some(fixes);
}

export function isPublicPolicy(policy: Policy): boolean {
  return policy.statements.some(statementIsPublic);
}
