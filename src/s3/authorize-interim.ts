// Who may do what, until the policy evaluator (issue 13's iampolicy part) decides it: the root key
// anything, a user nothing (deny by default: no user gets through unchecked), anyone unsigned nothing but
// a browser form POST, whose signature its handler checks in the body. The one place that decides today.
import type { Identity } from '../iam/types.js';
import { S3Error } from './errors.js';

export interface InterimRequest {
  identity: Identity;
  /** A PostObject form not yet read: its signature, and so its identity, is in the body. */
  formPost?: boolean;
}

/** Throws AccessDenied unless `c` may go on to its handler. */
export function authorizeInterim(c: InterimRequest): void {
  if (c.identity.kind === 'root') return;
  if (c.identity.kind === 'anonymous' && c.formPost === true) return;
  throw new S3Error('AccessDenied');
}
