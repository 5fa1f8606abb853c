// The IAM key spaces of the MetaStore, beside those of objects/keys.ts (which reserves their letters):
// users, access keys and attached policies. Every string part is a checked IAM name or key id, which
// never holds a NUL, so a part is its UTF-8 bytes ended by 0x00 and key order is name order.
import { assert } from '../util/assert.js';

const enum Space {
  User = 0x55, // 'U' userName → IamUserRecord
  Key = 0x41, // 'A' accessKeyId → AccessKeyRecord, its secret sealed under the IAM key (secret-box.ts)
  Policy = 0x50, // 'P' userName,policyName → AttachedPolicyRecord: an identity policy attached to that user
  Setting = 0x73, // 's' name → value: objects/keys.ts's settings space, the same encoding (keys.setting)
}

function tuple(space: Space, ...parts: string[]): Buffer {
  for (const part of parts) assert(!part.includes('\0'), 'An IAM name holds no NUL');
  return Buffer.from(String.fromCharCode(space) + parts.map((p) => `${p}\0`).join(''), 'utf8');
}

function spaceRange(space: Space): { start: Buffer; end: Buffer } {
  return { start: Buffer.from([space]), end: Buffer.from([space + 1]) };
}

export const iamKeys = {
  user: (userName: string) => tuple(Space.User, userName),
  userRange: () => spaceRange(Space.User),
  accessKey: (accessKeyId: string) => tuple(Space.Key, accessKeyId),
  accessKeyRange: () => spaceRange(Space.Key),
  policy: (userName: string, policyName: string) => tuple(Space.Policy, userName, policyName),
  /** Every policy attached to `userName`, or with no name every attached policy of every user. */
  policyRange: (userName?: string) => {
    if (userName === undefined) return spaceRange(Space.Policy);
    const start = tuple(Space.Policy, userName);
    return { start, end: Buffer.concat([start, Buffer.from([0xff])]) };
  },
  /** The user name and policy name of a policy key. */
  parsePolicy: (key: Buffer): { userName: string; policyName: string } => {
    const [userName, policyName] = key.subarray(1).toString('utf8').split('\0');
    assert(userName !== undefined && policyName !== undefined, 'A policy key holds a user name and a policy name');
    return { userName, policyName };
  },
  /** The IAM generation: a decimal count of changes, bumped by each (users.ts). */
  generation: () => tuple(Space.Setting, 'iam-generation'),
  /** The fingerprint of the IAM key the stored secrets are sealed under (secret-box.ts). */
  keyFingerprint: () => tuple(Space.Setting, 'iam-key-fingerprint'),
};
