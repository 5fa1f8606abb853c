// Users with access keys on a test server, made through the admin API (signed with the root key), for
// tests that sign as someone other than root.
import assert from 'node:assert/strict';
import type { TesseraProcess } from './tessera.js';
import { raw } from '../s3/raw-http.js';

export interface UserKey {
  userName: string;
  accessKeyId: string;
  secretAccessKey: string;
}

export const allowAllPolicy = JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 's3:*', Resource: '*' }] });

async function adminPost(server: TesseraProcess, path: string, body: unknown): Promise<unknown> {
  const res = await raw(server, { method: 'POST', path: `/_tessera/admin/iam/${path}`, body: JSON.stringify(body) });
  assert.ok(res.status === 200 || res.status === 201, `admin iam/${path} answered ${res.status}: ${res.text}`);
  return JSON.parse(res.text) as unknown;
}

/** Creates user `userName` with one access key and the policies given (name → JSON document). */
export async function createUserWithKey(server: TesseraProcess, userName: string, policies: Record<string, string> = {}): Promise<UserKey> {
  await adminPost(server, 'users/create', { userName });
  for (const [policyName, document] of Object.entries(policies)) await adminPost(server, 'policies/attach', { userName, policyName, document });
  const key = (await adminPost(server, 'keys/create', { userName })) as { accessKeyId: string; secretAccessKey: string };
  return { userName, accessKeyId: key.accessKeyId, secretAccessKey: key.secretAccessKey };
}

/** `server` as seen signing with `key`: raw-http's helpers and clients sign with the key's credentials. */
export function signingAs(server: TesseraProcess, key: { accessKeyId: string; secretAccessKey: string }): TesseraProcess {
  return { ...server, accessKeyId: key.accessKeyId, secretAccessKey: key.secretAccessKey };
}
