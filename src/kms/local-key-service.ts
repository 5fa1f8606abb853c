// The built-in key service: master keys in the MetaStore (key space 'K'), each version's key material
// sealed under the KMS root key, which is kept outside the database (a file, or an environment variable),
// so a copy of the database alone opens nothing. Data keys are wrapped with AES-256-GCM under a master key
// version, bound to the key id and the encryption context.
// Records and their opened material are cached in memory: every change bumps a generation counter in the
// same commit, and a process forgets its cache when it sees the counter move (at once for its own changes,
// within kmsPollIntervalMs for other processes': the staleness bound of a disable made elsewhere).
import { createCipheriv, createDecipheriv, randomBytes, randomUUID } from 'node:crypto';
import { counterValue, type MetaStore } from '../meta/types.js';
import { accountId } from '../iam/types.js';
import { KmsError, sseS3KeyId, type DataKey, type EncryptionContext, type KeyManager, type KeyService, type KmsKeyInfo } from './types.js';
import { RootKeyring, type SealedMaterial } from './root-key.js';
import { Poller } from '../util/poller.js';
import type { Logger } from '../util/log.js';

export { kmsRootKeyBytes } from './root-key.js';
const dataKeyBytes = 32;
const ivBytes = 12;
const tagBytes = 16;
const versionBytes = 4;
const commitAttemptsMax = 20;

/** How often a process on a shared MetaStore looks for key changes made by others (disable, rotate). */
export const kmsPollIntervalMs = 1000;

/** A key as this process last read it, with the material of the versions it has opened since. */
interface CachedKey {
  record: KmsKeyRecord;
  materials: (Buffer | undefined)[];
}

export interface KmsKeyRecord {
  keyId: string;
  createdMs: number;
  enabled: boolean;
  description?: string;
  /** Version n's material is versions[n - 1]; the last is current, the older ones still unwrap. */
  versions: SealedMaterial[];
  rotatedMs?: number;
}

const keySpace = 0x4b; // 'K' keyId → KmsKeyRecord (objects/keys.ts keeps the letter free)
/** Master keys a store may hold: a listing reads them all in one scan. */
export const kmsKeysMax = 10_000;

function recordKey(keyId: string): Buffer {
  return Buffer.from(String.fromCharCode(keySpace) + keyId + '\0', 'utf8');
}

/** A counter bumped by every change of a key, in the change's commit; sorts before every key record. */
const generationKey = Buffer.from([keySpace, 0]);

/** What a rewrap did: how many versions it re-sealed, and how many no root key given to it opens. */
export interface RewrapResult {
  keys: number;
  versionsResealed: number;
  /** Versions sealed under a root key this process was not given: 0 once the old root key may go. */
  versionsUnopenable: number;
  /** The current root key's id (a digest of it: it reveals nothing of the key). */
  rootKeyId: string;
}

/** KMS's rule for key ids here: what AWS's UUIDs and the conformance suite's "testkey-1" both fit. */
export function checkKeyId(keyId: string): string {
  if (!/^[\w-]{1,64}$/.test(keyId)) throw new KmsError('ValidationException', `Cannot use KMS key id ${JSON.stringify(keyId)}: expected 1 to 64 letters, digits, - or _`);
  return keyId;
}

export class LocalKeyService implements KeyService, KeyManager {
  private readonly keyring: RootKeyring;
  private readonly cache = new Map<string, CachedKey>();
  /** Bumped whenever the cache is emptied: a read that began before must not fill it. */
  private cacheEpoch = 0;
  /** The generation counter as last seen; undefined before the first look. */
  private generation: number | undefined;
  private readonly poller: Poller<void>;

  /** `rootKey`: the root key alone, or a keyring of the current one and previous ones being retired. */
  constructor(
    private readonly meta: MetaStore,
    rootKey: Buffer | RootKeyring,
    private readonly options: { region: string; nowMs?: () => number; log?: Logger },
  ) {
    this.keyring = rootKey instanceof RootKeyring ? rootKey : new RootKeyring(rootKey);
    this.poller = new Poller(() => this.look(), 'Cannot read the KMS key generation', options.log);
  }

  /** Forgets cached keys if the generation moved; a caller that just committed a change sees it once this resolves. */
  refresh(): Promise<void> {
    return this.poller.refresh();
  }

  /** Looks for changes made by other processes every `intervalMs` until stop(). */
  start(intervalMs = kmsPollIntervalMs): void {
    this.poller.start(intervalMs);
  }

  stop(): void {
    this.poller.stop();
  }

  private async look(): Promise<void> {
    const generation = counterValue(await this.meta.get(generationKey, { fill: false }));
    if (generation !== this.generation) this.forget();
    this.generation = generation;
  }

  private forget(): void {
    this.cache.clear();
    this.cacheEpoch++;
  }

  arnOf(keyId: string): string {
    return `arn:aws:kms:${this.options.region}:${accountId}:key/${keyId}`;
  }

  /** The bare key id of an id or a key ARN (of any region and account: a copy of a store keeps working). */
  keyIdOf(idOrArn: string): string {
    const arn = /^arn:aws:kms:[^:]*:[^:]*:key\/(.+)$/.exec(idOrArn);
    return checkKeyId(arn ? arn[1]! : idOrArn);
  }

  async create(options: { keyId?: string; description?: string } = {}): Promise<KmsKeyInfo> {
    const keyId = checkKeyId(options.keyId ?? randomUUID());
    const record: KmsKeyRecord = {
      keyId,
      createdMs: this.now(),
      enabled: true,
      ...(options.description !== undefined ? { description: options.description } : {}),
      versions: [this.seal(keyId, 1, randomBytes(dataKeyBytes))],
    };
    const key = recordKey(keyId);
    const created = await this.meta.commit({ checks: [{ key, value: null }], writes: [{ key, value: Buffer.from(JSON.stringify(record)) }], adds: [{ key: generationKey, delta: 1 }] });
    if (!created) throw new KmsError('AlreadyExistsException', `Cannot create KMS key "${keyId}": it exists`);
    this.forget();
    return this.infoOf(record);
  }

  async list(): Promise<KmsKeyInfo[]> {
    const pairs = await this.scanRecords();
    return pairs.map((pair) => this.infoOf(JSON.parse(pair.value.toString('utf8')) as KmsKeyRecord));
  }

  async describeKey(idOrArn: string): Promise<KmsKeyInfo | undefined> {
    const record = await this.read(this.keyIdOf(idOrArn));
    return record ? this.infoOf(record.value) : undefined;
  }

  async generateDataKey(idOrArn: string, context: EncryptionContext): Promise<DataKey> {
    const cached = await this.usable(this.keyIdOf(idOrArn));
    const record = cached.record;
    const version = record.versions.length;
    const material = this.materialOf(cached, version)!;
    const plaintext = randomBytes(dataKeyBytes);
    const iv = randomBytes(ivBytes);
    const cipher = createCipheriv('aes-256-gcm', material, iv, { authTagLength: tagBytes });
    cipher.setAAD(wrapAad(record.keyId, context));
    const sealed = Buffer.concat([cipher.update(plaintext), cipher.final()]);
    const head = Buffer.alloc(versionBytes);
    head.writeUInt32BE(version);
    const wrapped = Buffer.concat([head, iv, cipher.getAuthTag(), sealed]).toString('base64');
    return { plaintext, wrapped, keyArn: this.arnOf(record.keyId) };
  }

  async decryptDataKey(idOrArn: string, wrapped: string, context: EncryptionContext): Promise<Buffer> {
    const cached = await this.usable(this.keyIdOf(idOrArn));
    const record = cached.record;
    const bytes = Buffer.from(wrapped, 'base64');
    const version = bytes.length === versionBytes + ivBytes + tagBytes + dataKeyBytes ? bytes.readUInt32BE(0) : 0;
    const material = this.materialOf(cached, version);
    if (!material) throw new KmsError('InvalidCiphertextException', `Cannot unwrap a data key of KMS key "${record.keyId}": not one of its wrapped keys`);
    const decipher = createDecipheriv('aes-256-gcm', material, bytes.subarray(versionBytes, versionBytes + ivBytes), { authTagLength: tagBytes });
    decipher.setAAD(wrapAad(record.keyId, context));
    decipher.setAuthTag(bytes.subarray(versionBytes + ivBytes, versionBytes + ivBytes + tagBytes));
    try {
      return Buffer.concat([decipher.update(bytes.subarray(versionBytes + ivBytes + tagBytes)), decipher.final()]);
    } catch {
      throw new KmsError('InvalidCiphertextException', `Cannot unwrap a data key of KMS key "${record.keyId}": the key or the encryption context differs`);
    }
  }

  /** Turns a key on or off; off, its data keys neither wrap nor unwrap, so its objects cannot be read. */
  async setEnabled(idOrArn: string, enabled: boolean): Promise<KmsKeyInfo> {
    return this.update(this.keyIdOf(idOrArn), (record) => ({ ...record, enabled }));
  }

  /** A new current version of the key's material; data keys wrapped under the older ones still open. */
  async rotate(idOrArn: string): Promise<KmsKeyInfo> {
    return this.update(this.keyIdOf(idOrArn), (record) => ({
      ...record,
      versions: [...record.versions, this.seal(record.keyId, record.versions.length + 1, randomBytes(dataKeyBytes))],
      rotatedMs: this.now(),
    }));
  }

  /**
   * Re-seals every master key version not under the current root key with it. Each key's record is replaced
   * in one commit checked against the record read, so a crash leaves every key either wholly as it was or
   * wholly re-sealed, and a second run finishes the work; until it reports no version left under another
   * root key, every process needs the previous root key too.
   */
  async rewrap(): Promise<RewrapResult> {
    const result: RewrapResult = { keys: 0, versionsResealed: 0, versionsUnopenable: 0, rootKeyId: this.keyring.currentId };
    for (const pair of await this.scanRecords()) {
      result.keys++;
      const keyId = (JSON.parse(pair.value.toString('utf8')) as KmsKeyRecord).keyId;
      const done = await this.rewrapKey(keyId);
      result.versionsResealed += done.resealed;
      result.versionsUnopenable += done.unopenable;
    }
    this.forget();
    return result;
  }

  private async rewrapKey(keyId: string): Promise<{ resealed: number; unopenable: number }> {
    for (let attempt = 0; attempt < commitAttemptsMax; attempt++) {
      const found = await this.read(keyId);
      if (!found) return { resealed: 0, unopenable: 0 };
      let resealed = 0;
      let unopenable = 0;
      const versions = found.value.versions.map((sealed, i) => {
        if (this.keyring.isCurrent(sealed)) return sealed;
        if (!this.keyring.canOpen(sealed)) {
          unopenable++;
          return sealed;
        }
        resealed++;
        return this.seal(keyId, i + 1, this.open(keyId, i + 1, sealed));
      });
      if (resealed === 0) return { resealed, unopenable };
      const key = recordKey(keyId);
      const next: KmsKeyRecord = { ...found.value, versions };
      if (await this.meta.commit({ checks: [{ key, value: found.raw }], writes: [{ key, value: Buffer.from(JSON.stringify(next)) }], adds: [{ key: generationKey, delta: 1 }] })) return { resealed, unopenable };
    }
    throw new KmsError('KMSInternalException', `Cannot rewrap KMS key "${keyId}": ${commitAttemptsMax} concurrent changes won`);
  }

  private scanRecords(): Promise<{ key: Buffer; value: Buffer }[]> {
    // Key ids are [\w-]: every record key sorts between "K" + "\x01" and "L" (the generation is "K" + "\0").
    return this.meta.scan({ start: Buffer.from([keySpace, 1]), end: Buffer.from([keySpace + 1]), limit: kmsKeysMax });
  }

  private async update(keyId: string, change: (record: KmsKeyRecord) => KmsKeyRecord): Promise<KmsKeyInfo> {
    for (let attempt = 0; attempt < commitAttemptsMax; attempt++) {
      const found = await this.read(keyId);
      if (!found) throw new KmsError('NotFoundException', `Cannot find KMS key "${keyId}"`);
      const next = change(found.value);
      const key = recordKey(keyId);
      const txn = { checks: [{ key, value: found.raw }], writes: [{ key, value: Buffer.from(JSON.stringify(next)) }], adds: [{ key: generationKey, delta: 1 }] };
      if (await this.meta.commit(txn)) {
        this.forget();
        return this.infoOf(next);
      }
    }
    throw new KmsError('KMSInternalException', `Cannot change KMS key "${keyId}": ${commitAttemptsMax} concurrent changes won`);
  }

  /** The key, cached or read (and cached), if it exists and is enabled. */
  private async usable(keyId: string): Promise<CachedKey> {
    const hit = this.cache.get(keyId);
    if (hit) {
      if (!hit.record.enabled) throw new KmsError('DisabledException', `KMS key "${keyId}" is disabled`);
      return hit;
    }
    const epoch = this.cacheEpoch;
    let found = await this.read(keyId);
    // SSE-S3's key is the store's own, made the first time it is needed.
    if (!found && keyId === sseS3KeyId) {
      await this.create({ keyId, description: 'SSE-S3 (AES256): made by Tessera' }).catch((err: unknown) => {
        if (!(err instanceof KmsError && err.code === 'AlreadyExistsException')) throw err;
      });
      found = await this.read(keyId);
    }
    if (!found) throw new KmsError('NotFoundException', `Cannot find KMS key "${keyId}"`);
    const entry: CachedKey = { record: found.value, materials: [] };
    // Cached only when no change was seen while it was read; absent keys are not cached (a create forgets anyway).
    if (epoch === this.cacheEpoch && this.cache.size < kmsKeysMax) this.cache.set(keyId, entry);
    if (!found.value.enabled) throw new KmsError('DisabledException', `KMS key "${keyId}" is disabled`);
    return entry;
  }

  /** Version `version`'s material, opened once per cached record; undefined when the key has no such version. */
  private materialOf(cached: CachedKey, version: number): Buffer | undefined {
    const sealed = cached.record.versions[version - 1];
    if (!sealed) return undefined;
    return (cached.materials[version - 1] ??= this.open(cached.record.keyId, version, sealed));
  }

  private async read(keyId: string): Promise<{ value: KmsKeyRecord; raw: Buffer } | undefined> {
    const raw = await this.meta.get(recordKey(keyId));
    return raw ? { value: JSON.parse(raw.toString('utf8')) as KmsKeyRecord, raw } : undefined;
  }

  private seal(keyId: string, version: number, material: Buffer): SealedMaterial {
    return this.keyring.seal(sealAad(keyId, version), material);
  }

  private open(keyId: string, version: number, sealed: SealedMaterial): Buffer {
    return this.keyring.open(sealAad(keyId, version), sealed, `KMS key "${keyId}" version ${version}`);
  }

  private infoOf(record: KmsKeyRecord): KmsKeyInfo {
    return {
      keyId: record.keyId,
      arn: this.arnOf(record.keyId),
      enabled: record.enabled,
      createdMs: record.createdMs,
      versions: record.versions.length,
      ...(record.rotatedMs !== undefined ? { rotatedMs: record.rotatedMs } : {}),
      ...(record.description !== undefined ? { description: record.description } : {}),
    };
  }

  private now(): number {
    return (this.options.nowMs ?? Date.now)();
  }
}

/** What a version's sealed material is bound to: its key id and version number. */
function sealAad(keyId: string, version: number): Buffer {
  return Buffer.from(`${keyId}\0${version}`, 'utf8');
}

/** The additional data a wrapped data key is bound to: its master key and its context, in key order. */
function wrapAad(keyId: string, context: EncryptionContext): Buffer {
  const pairs = Object.keys(context).sort().map((name) => [name, context[name]]);
  return Buffer.from(JSON.stringify([keyId, pairs]), 'utf8');
}
