// The key service part of the admin API (JSON): master keys made, listed, shown, rotated, disabled and
// enabled (`kms/keys...`), and the root key rewrap. Answers carry key ids, ARNs, states and version counts,
// never key material. Refusals carry KMS's error code beside the message, as the IAM routes carry IAM's.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { KmsError, type KeyManager, type KmsErrorCode } from '../kms/types.js';
import { AdminRefusal, answerRefusal, readJsonBody, sendJson } from './json-api.js';

export interface KmsAdminDeps {
  keys: KeyManager;
  /**
   * Called after a change, before its answer: this process's key cache forgets the key, so the change is
   * in force here when the answer goes out; other processes see it within their poll, which the composition
   * root may wait out for a disable (so an answered disable is in force everywhere).
   */
  changed(action: KmsAdminAction): Promise<void>;
  /** Re-seals every master key version under the current root key (kms/rewrap.ts); unset: not offered. */
  rewrap?: () => Promise<unknown>;
}

export type KmsAdminAction = 'create' | 'rotate' | 'disable' | 'enable' | 'rewrap';

const statusOf: Record<KmsErrorCode, number> = {
  NotFoundException: 404,
  AlreadyExistsException: 409,
  DisabledException: 409,
  ValidationException: 400,
  InvalidCiphertextException: 400,
  KMSInternalException: 500,
  UnsupportedOperationException: 501,
};

function createOptions(body: unknown): { keyId?: string; description?: string } {
  if (body === undefined) return {};
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new AdminRefusal(400, 'Cannot read the request: expected a JSON object');
  const { keyId, description, ...rest } = body as Record<string, unknown>;
  const unknown = Object.keys(rest)[0];
  if (unknown !== undefined) throw new AdminRefusal(400, `Cannot create a KMS key with field "${unknown}": expected keyId or description`);
  if (keyId !== undefined && typeof keyId !== 'string') throw new AdminRefusal(400, `Cannot use KMS key id ${JSON.stringify(keyId)}: expected a string`);
  if (description !== undefined && (typeof description !== 'string' || description.length > kmsDescriptionCharsMax)) {
    throw new AdminRefusal(400, `Cannot use a KMS key description that is not a string of at most ${kmsDescriptionCharsMax} characters`);
  }
  return { ...(keyId !== undefined ? { keyId } : {}), ...(description !== undefined ? { description } : {}) };
}

/** AWS KMS's limit on a key's description. */
export const kmsDescriptionCharsMax = 8192;

/** Answers `route` if it is a KMS route ("METHOD kms/..."); false when it is not. */
export async function handleKmsRoute(deps: KmsAdminDeps | undefined, req: IncomingMessage, res: ServerResponse, route: string): Promise<boolean> {
  if (!/^(GET|POST) kms\//.test(route)) return false;
  try {
    if (!deps) throw new KmsError('UnsupportedOperationException', 'Cannot manage KMS keys: this process has no key service');
    const { keys } = deps;
    if (route === 'GET kms/keys') {
      sendJson(res, 200, { keys: await keys.list() });
      return true;
    }
    if (route === 'POST kms/keys') {
      const info = await keys.create(createOptions(await readJsonBody(req, false)));
      await deps.changed('create');
      sendJson(res, 200, info);
      return true;
    }
    if (route === 'POST kms/rewrap') {
      if (!deps.rewrap) throw new KmsError('UnsupportedOperationException', 'Cannot rewrap master keys: this key service has no root key of its own');
      const result = await deps.rewrap();
      await deps.changed('rewrap');
      sendJson(res, 200, result);
      return true;
    }
    const match = /^(GET|POST) kms\/keys\/([^/]+)(?:\/(rotate|disable|enable))?$/.exec(route);
    if (!match || (match[1] === 'GET') !== (match[3] === undefined)) return false;
    const keyId = decodeURIComponent(match[2]!);
    if (match[1] === 'GET') {
      const info = await keys.describeKey(keyId);
      if (!info) throw new KmsError('NotFoundException', `Cannot find KMS key ${JSON.stringify(keyId)}`);
      sendJson(res, 200, info);
      return true;
    }
    const action = match[3] as 'rotate' | 'disable' | 'enable';
    const info = action === 'rotate' ? await keys.rotate(keyId) : await keys.setEnabled(keyId, action === 'enable');
    await deps.changed(action);
    sendJson(res, 200, info);
    return true;
  } catch (err) {
    if (err instanceof KmsError) {
      sendJson(res, statusOf[err.code], { error: err.message, code: err.code });
      return true;
    }
    if (err instanceof URIError) return answerRefusal(res, new AdminRefusal(400, 'Cannot read the KMS key id: its percent-encoding is malformed'));
    return answerRefusal(res, err);
  }
}
