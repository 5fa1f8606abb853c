// The IAM part of the admin API (JSON): users, their access keys and attached identity policies. Refusals
// carry IAM's error code beside the message (DeleteConflict, NoSuchEntity, ...). A change is in force on
// this process when its answer goes out; other gateways see it within their poll (iam/key-cache.ts).
import type { IncomingMessage, ServerResponse } from 'node:http';
import { IamError, type IamErrorCode, type IamStore } from '../iam/users.js';
import { AdminRefusal, answerRefusal, readJsonBody, sendJson } from './json-api.js';

export interface IamAdminDeps {
  store: IamStore;
  /** Reloads this process's key cache after a change, so the change is in force before the answer. */
  changed(): Promise<void>;
}

const statusOf: Record<IamErrorCode, number> = {
  NoSuchEntity: 404,
  EntityAlreadyExists: 409,
  DeleteConflict: 409,
  LimitExceeded: 409,
  MalformedPolicyDocument: 400,
  ValidationError: 400,
};

function fields(body: unknown): Record<string, unknown> {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new AdminRefusal(400, 'Cannot read the request: expected a JSON object');
  return body as Record<string, unknown>;
}

/** Answers `route` if it is an IAM route ("METHOD iam/..."); false when it is not. */
export async function handleIamRoute(deps: IamAdminDeps | undefined, req: IncomingMessage, res: ServerResponse, route: string, query: URLSearchParams): Promise<boolean> {
  if (!deps || !/^(GET|POST) iam\//.test(route)) return false;
  const { store } = deps;
  const body = async () => fields(await readJsonBody(req));
  const changed = async <T>(status: number, result: T) => {
    await deps.changed();
    sendJson(res, status, result);
  };
  try {
    switch (route) {
      case 'GET iam/users':
        sendJson(res, 200, { users: await store.listUsers() });
        return true;
      case 'POST iam/users/create':
        await changed(201, await store.createUser((await body()).userName));
        return true;
      case 'POST iam/users/delete':
        await store.deleteUser((await body()).userName);
        await changed(200, {});
        return true;
      case 'GET iam/keys': {
        const user = query.get('user');
        sendJson(res, 200, { accessKeys: await store.listAccessKeys(user ?? undefined) });
        return true;
      }
      case 'POST iam/keys/create':
        await changed(201, await store.createAccessKey((await body()).userName));
        return true;
      case 'POST iam/keys/update': {
        const { accessKeyId, status } = await body();
        if (status !== 'Active' && status !== 'Inactive') throw new IamError('ValidationError', `Cannot set access key status ${JSON.stringify(status)}: expected "Active" or "Inactive"`);
        await changed(200, await store.setAccessKeyStatus(accessKeyId, status));
        return true;
      }
      case 'POST iam/keys/delete':
        await store.deleteAccessKey((await body()).accessKeyId);
        await changed(200, {});
        return true;
      case 'GET iam/policies':
        sendJson(res, 200, { policies: await store.listPolicies(query.get('user') ?? undefined) });
        return true;
      case 'POST iam/policies/attach': {
        const { userName, policyName, document } = await body();
        await changed(200, await store.attachPolicy({ userName, policyName, document }));
        return true;
      }
      case 'POST iam/policies/detach': {
        const { userName, policyName } = await body();
        await store.detachPolicy({ userName, policyName });
        await changed(200, {});
        return true;
      }
      default:
        return false;
    }
  } catch (err) {
    if (err instanceof IamError) {
      sendJson(res, statusOf[err.code], { error: err.message, code: err.code });
      return true;
    }
    return answerRefusal(res, err);
  }
}
