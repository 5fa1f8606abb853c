// Users, their access keys and their attached identity policies, kept in the MetaStore (key spaces 'U',
// 'A', 'P' in iam/keys.ts). Every change also bumps the IAM generation record, under a check of its
// old value: changes are serialised (DeleteUser cannot race CreateAccessKey), and gateways notice them
// with one get per poll (key-cache.ts).
import { parsePolicy } from './policy.js';
import { PolicyError } from './policy-error.js';
import { randomBytes } from 'node:crypto';
import type { KvPair, MetaStore, ScanRange, Write } from '../meta/types.js';
import { iamKeys } from './keys.js';
import { accountId } from './types.js';
import { iamKeyFingerprint, openSecret, sealSecret, type SealedSecret } from './secret-box.js';

/** IAM's quotas, as AWS sets them by default. */
export const accessKeysPerUserMax = 2;
export const policiesPerUserMax = 10;
/** A managed policy's size limit in AWS: characters, whitespace not counted. */
export const policyCharsMax = 6144;
const commitAttemptsMax = 20;
const scanPageMax = 1000;

/** IAM's own error codes, as its API answers them; the admin API maps them to HTTP statuses. */
export type IamErrorCode = 'NoSuchEntity' | 'EntityAlreadyExists' | 'DeleteConflict' | 'LimitExceeded' | 'MalformedPolicyDocument' | 'ValidationError';

export class IamError extends Error {
  override name = 'IamError';
  constructor(readonly code: IamErrorCode, message: string) {
    super(message);
  }
}

export type AccessKeyStatus = 'Active' | 'Inactive';

export interface IamUserRecord {
  userName: string;
  /** IAM's unique id of the user (AIDA...), which a re-created user of the same name does not share. */
  userId: string;
  createdMs: number;
}

export interface AccessKeyRecord {
  accessKeyId: string;
  userName: string;
  status: AccessKeyStatus;
  createdMs: number;
  secret: SealedSecret;
}

export interface AttachedPolicyRecord {
  policyName: string;
  /** The policy document, as the JSON text it was attached as. */
  document: string;
  attachedMs: number;
}

/** What listing users and keys shows: never a secret. */
export interface UserView extends IamUserRecord {
  arn: string;
  accessKeyIds: string[];
  policyNames: string[];
}

export type AccessKeyView = Omit<AccessKeyRecord, 'secret'>;

/** Every user with its keys (secrets opened) and policies: what the key cache is built from. */
export interface IamSnapshot {
  generation: number;
  users: Map<string, { record: IamUserRecord; policies: AttachedPolicyRecord[] }>;
  keys: Map<string, { record: AccessKeyRecord; secretAccessKey: string }>;
  /** Keys whose secret did not open (a damaged record): left out, so they are refused, and reported. */
  unreadable: string[];
}

const generationKey = iamKeys.generation();
const fingerprintKey = iamKeys.keyFingerprint();

export function userArn(userName: string): string {
  return `arn:aws:iam::${accountId}:user/${userName}`;
}

/** IAM's rule for user names: 1-64 characters of letters, digits and + = , . @ _ - */
export function checkUserName(userName: unknown): string {
  if (typeof userName !== 'string' || !/^[\w+=,.@-]{1,64}$/.test(userName)) {
    throw new IamError('ValidationError', `Cannot use user name ${JSON.stringify(userName)}: expected 1 to 64 letters, digits or + = , . @ _ -`);
  }
  return userName;
}

/** IAM's rule for policy names: 1-128 characters of the same set. */
export function checkPolicyName(policyName: unknown): string {
  if (typeof policyName !== 'string' || !/^[\w+=,.@-]{1,128}$/.test(policyName)) {
    throw new IamError('ValidationError', `Cannot use policy name ${JSON.stringify(policyName)}: expected 1 to 128 letters, digits or + = , . @ _ -`);
  }
  return policyName;
}

/**
 * A light check of a policy document: JSON, an object with a Version and a Statement, within AWS's size.
 * then the policy evaluator's own validation. Returns the text as given.
 */
export function checkPolicyDocument(document: unknown): string {
  if (typeof document !== 'string') throw new IamError('MalformedPolicyDocument', 'Cannot attach a policy without its document as JSON text');
  const chars = document.replace(/\s/g, '').length;
  if (chars > policyCharsMax) throw new IamError('LimitExceeded', `Cannot attach a policy of ${chars} characters (whitespace aside): at most ${policyCharsMax}`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(document);
  } catch (err) {
    throw new IamError('MalformedPolicyDocument', `Cannot parse the policy document as JSON: ${(err as Error).message}`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new IamError('MalformedPolicyDocument', 'Cannot use the policy document: expected a JSON object');
  const { Version, Statement } = parsed as Record<string, unknown>;
  if (Version !== '2012-10-17' && Version !== '2008-10-17') throw new IamError('MalformedPolicyDocument', `Cannot use policy Version ${JSON.stringify(Version)}: expected "2012-10-17" (or "2008-10-17")`);
  if (typeof Statement !== 'object' || Statement === null || (Array.isArray(Statement) && Statement.length === 0)) {
    throw new IamError('MalformedPolicyDocument', 'Cannot use the policy document: expected a Statement (an object or a non-empty array)');
  }
  // The evaluator's own validation, so a policy it could not read is refused now rather than deny all later.
  try {
    parsePolicy(document, { kind: 'identity' });
  } catch (err) {
    if (err instanceof PolicyError) throw new IamError('MalformedPolicyDocument', err.message);
    throw err;
  }
  return document;
}

const base32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

/** An id as AWS shapes them: a 4-letter prefix and 16 base-32 characters (AKIA... for keys, AIDA... for users). */
function newId(prefix: string): string {
  const bytes = randomBytes(16);
  let id = prefix;
  for (const b of bytes) id += base32[b & 31];
  return id;
}

function newSecret(): string {
  return randomBytes(30).toString('base64').replace(/[+/=]/g, '').slice(0, 40).padEnd(40, 'x');
}

function encode(value: unknown): Buffer {
  return Buffer.from(JSON.stringify(value), 'utf8');
}

function decode<T>(value: Buffer): T {
  return JSON.parse(value.toString('utf8')) as T;
}

async function scanAll(meta: MetaStore, range: Omit<ScanRange, 'limit'>): Promise<KvPair[]> {
  const out: KvPair[] = [];
  let start = range.start;
  for (;;) {
    const page = await meta.scan({ start, end: range.end, limit: scanPageMax });
    out.push(...page);
    if (page.length < scanPageMax) return out;
    start = Buffer.concat([page[page.length - 1]!.key, Buffer.from([0])]);
  }
}

/** The IAM generation: bumped by every change of users, keys or policies; 0 before the first. */
export async function readIamGeneration(meta: MetaStore): Promise<number> {
  const value = await meta.get(generationKey);
  return value ? Number(value.toString('utf8')) : 0;
}

export class IamStore {
  private constructor(private readonly meta: MetaStore, private readonly iamKey: Buffer, private readonly nowMs: () => number) {}

  /**
   * The store over `meta`, secrets sealed under `iamKey`. The key's fingerprint is stored on first use;
   * a process started with another key is refused here, before it could fail every user's request.
   */
  static async open(meta: MetaStore, iamKey: Buffer, nowMs: () => number = Date.now): Promise<IamStore> {
    const fingerprint = Buffer.from(iamKeyFingerprint(iamKey), 'utf8');
    const stored = await meta.get(fingerprintKey);
    if (stored === null) {
      // A race with another process storing its own: the loser reads the winner's and compares.
      if (!(await meta.commit({ checks: [{ key: fingerprintKey, value: null }], writes: [{ key: fingerprintKey, value: fingerprint }] }))) return IamStore.open(meta, iamKey, nowMs);
    } else if (!stored.equals(fingerprint)) {
      throw new Error('Cannot start with this IAM key: the access keys in the MetaStore were sealed under another one (every gateway must share the same iam.key: --iam-key-file)');
    }
    return new IamStore(meta, iamKey, nowMs);
  }

  /**
   * Applies the writes `plan` makes from the current state, with the generation bumped, if no other IAM
   * change committed meanwhile; plans again otherwise. `plan` throws IamError to refuse.
   */
  private async change<T>(plan: () => Promise<{ writes: Write[]; result: T }>): Promise<T> {
    for (let attempt = 0; attempt < commitAttemptsMax; attempt++) {
      const current = await this.meta.get(generationKey);
      const { writes, result } = await plan();
      const next = (current ? Number(current.toString('utf8')) : 0) + 1;
      const committed = await this.meta.commit({ checks: [{ key: generationKey, value: current }], writes: [...writes, { key: generationKey, value: Buffer.from(String(next)) }] });
      if (committed) return result;
    }
    throw new Error(`Cannot change IAM records: ${commitAttemptsMax} attempts lost a race with other changes`);
  }

  private async user(userName: string): Promise<IamUserRecord> {
    const value = await this.meta.get(iamKeys.user(userName));
    if (!value) throw new IamError('NoSuchEntity', `The user with name ${userName} cannot be found.`);
    return decode<IamUserRecord>(value);
  }

  private async keysOf(userName: string): Promise<AccessKeyRecord[]> {
    return (await scanAll(this.meta, iamKeys.accessKeyRange())).map((p) => decode<AccessKeyRecord>(p.value)).filter((k) => k.userName === userName);
  }

  private async policiesOf(userName: string): Promise<AttachedPolicyRecord[]> {
    return (await scanAll(this.meta, iamKeys.policyRange(userName))).map((p) => decode<AttachedPolicyRecord>(p.value));
  }

  async createUser(name: unknown): Promise<UserView> {
    const userName = checkUserName(name);
    return this.change(async () => {
      if (await this.meta.get(iamKeys.user(userName))) throw new IamError('EntityAlreadyExists', `User with name ${userName} already exists.`);
      const record: IamUserRecord = { userName, userId: newId('AIDA'), createdMs: this.nowMs() };
      return { writes: [{ key: iamKeys.user(userName), value: encode(record) }], result: { ...record, arn: userArn(userName), accessKeyIds: [], policyNames: [] } };
    });
  }

  async listUsers(): Promise<UserView[]> {
    const [users, accessKeys, policies] = await Promise.all([
      scanAll(this.meta, iamKeys.userRange()),
      scanAll(this.meta, iamKeys.accessKeyRange()),
      scanAll(this.meta, iamKeys.policyRange()),
    ]);
    const views = new Map<string, UserView>();
    for (const { value } of users) {
      const record = decode<IamUserRecord>(value);
      views.set(record.userName, { ...record, arn: userArn(record.userName), accessKeyIds: [], policyNames: [] });
    }
    for (const { value } of accessKeys) {
      const record = decode<AccessKeyRecord>(value);
      views.get(record.userName)?.accessKeyIds.push(record.accessKeyId);
    }
    for (const { key } of policies) {
      const { userName, policyName } = iamKeys.parsePolicy(key);
      views.get(userName)?.policyNames.push(policyName);
    }
    return [...views.values()];
  }

  /** Refused with DeleteConflict while the user has access keys or attached policies, as IAM's DeleteUser is. */
  async deleteUser(name: unknown): Promise<void> {
    const userName = checkUserName(name);
    await this.change(async () => {
      await this.user(userName);
      const [accessKeys, policies] = await Promise.all([this.keysOf(userName), this.policiesOf(userName)]);
      if (accessKeys.length > 0 || policies.length > 0) {
        const held = [accessKeys.length > 0 ? `${accessKeys.length} access keys` : '', policies.length > 0 ? `${policies.length} attached policies` : ''].filter((s) => s !== '').join(' and ');
        throw new IamError('DeleteConflict', `Cannot delete entity, must delete access keys and detach policies first: user ${userName} has ${held}.`);
      }
      return { writes: [{ key: iamKeys.user(userName), value: null }], result: undefined };
    });
  }

  /** A new Active key of `userName`; the only time its secret is handed out. */
  async createAccessKey(name: unknown): Promise<{ accessKeyId: string; secretAccessKey: string; userName: string; status: AccessKeyStatus; createdMs: number }> {
    const userName = checkUserName(name);
    return this.change(async () => {
      await this.user(userName);
      if ((await this.keysOf(userName)).length >= accessKeysPerUserMax) throw new IamError('LimitExceeded', `Cannot exceed quota for AccessKeysPerUser: ${accessKeysPerUserMax}`);
      const accessKeyId = newId('AKIA');
      const secretAccessKey = newSecret();
      const record: AccessKeyRecord = { accessKeyId, userName, status: 'Active', createdMs: this.nowMs(), secret: sealSecret(this.iamKey, accessKeyId, secretAccessKey) };
      return {
        writes: [{ key: iamKeys.accessKey(accessKeyId), value: encode(record) }],
        result: { accessKeyId, secretAccessKey, userName, status: record.status, createdMs: record.createdMs },
      };
    });
  }

  /** Every access key, or those of `userName` (which must exist), without their secrets. */
  async listAccessKeys(userName?: unknown): Promise<AccessKeyView[]> {
    if (userName !== undefined) await this.user(checkUserName(userName));
    const all = (await scanAll(this.meta, iamKeys.accessKeyRange())).map((p) => decode<AccessKeyRecord>(p.value));
    return all.filter((k) => userName === undefined || k.userName === userName).map(({ secret: _secret, ...view }) => view);
  }

  async setAccessKeyStatus(accessKeyId: unknown, status: AccessKeyStatus): Promise<AccessKeyView> {
    const id = checkAccessKeyId(accessKeyId);
    return this.change(async () => {
      const record = await this.accessKey(id);
      const updated: AccessKeyRecord = { ...record, status };
      const { secret: _secret, ...view } = updated;
      return { writes: [{ key: iamKeys.accessKey(id), value: encode(updated) }], result: view };
    });
  }

  async deleteAccessKey(accessKeyId: unknown): Promise<void> {
    const id = checkAccessKeyId(accessKeyId);
    await this.change(async () => {
      await this.accessKey(id);
      return { writes: [{ key: iamKeys.accessKey(id), value: null }], result: undefined };
    });
  }

  private async accessKey(accessKeyId: string): Promise<AccessKeyRecord> {
    const value = await this.meta.get(iamKeys.accessKey(accessKeyId));
    if (!value) throw new IamError('NoSuchEntity', `The Access Key with id ${accessKeyId} cannot be found.`);
    return decode<AccessKeyRecord>(value);
  }

  /** Attaches (or replaces) the policy `policyName` of `userName`. */
  async attachPolicy(options: { userName: unknown; policyName: unknown; document: unknown }): Promise<AttachedPolicyRecord> {
    const userName = checkUserName(options.userName);
    const policyName = checkPolicyName(options.policyName);
    const document = checkPolicyDocument(options.document);
    return this.change(async () => {
      await this.user(userName);
      const attached = await this.policiesOf(userName);
      if (!attached.some((p) => p.policyName === policyName) && attached.length >= policiesPerUserMax) {
        throw new IamError('LimitExceeded', `Cannot exceed quota for PoliciesPerUser: ${policiesPerUserMax}`);
      }
      const record: AttachedPolicyRecord = { policyName, document, attachedMs: this.nowMs() };
      return { writes: [{ key: iamKeys.policy(userName, policyName), value: encode(record) }], result: record };
    });
  }

  async detachPolicy(options: { userName: unknown; policyName: unknown }): Promise<void> {
    const userName = checkUserName(options.userName);
    const policyName = checkPolicyName(options.policyName);
    await this.change(async () => {
      await this.user(userName);
      if (!(await this.meta.get(iamKeys.policy(userName, policyName)))) throw new IamError('NoSuchEntity', `Policy ${policyName} is not attached to user ${userName}.`);
      return { writes: [{ key: iamKeys.policy(userName, policyName), value: null }], result: undefined };
    });
  }

  async listPolicies(name: unknown): Promise<AttachedPolicyRecord[]> {
    const userName = checkUserName(name);
    await this.user(userName);
    return this.policiesOf(userName);
  }

  /**
   * Every user, key (secret opened) and policy, with the generation read before them: a change that lands
   * during the scans bumps it past what this snapshot claims, so the next poll loads again.
   */
  async snapshot(): Promise<IamSnapshot> {
    const generation = await readIamGeneration(this.meta);
    const [users, accessKeys, policies] = await Promise.all([
      scanAll(this.meta, iamKeys.userRange()),
      scanAll(this.meta, iamKeys.accessKeyRange()),
      scanAll(this.meta, iamKeys.policyRange()),
    ]);
    const snapshot: IamSnapshot = { generation, users: new Map(), keys: new Map(), unreadable: [] };
    for (const { value } of users) {
      const record = decode<IamUserRecord>(value);
      snapshot.users.set(record.userName, { record, policies: [] });
    }
    for (const { key, value } of policies) snapshot.users.get(iamKeys.parsePolicy(key).userName)?.policies.push(decode<AttachedPolicyRecord>(value));
    for (const { value } of accessKeys) {
      const record = decode<AccessKeyRecord>(value);
      try {
        snapshot.keys.set(record.accessKeyId, { record, secretAccessKey: openSecret(this.iamKey, record.accessKeyId, record.secret) });
      } catch {
        snapshot.unreadable.push(record.accessKeyId);
      }
    }
    return snapshot;
  }

  generation(): Promise<number> {
    return readIamGeneration(this.meta);
  }
}

function checkAccessKeyId(accessKeyId: unknown): string {
  if (typeof accessKeyId !== 'string' || !/^[\w]{16,128}$/.test(accessKeyId)) {
    throw new IamError('ValidationError', `Cannot use access key id ${JSON.stringify(accessKeyId)}: expected 16 to 128 letters or digits`);
  }
  return accessKeyId;
}
