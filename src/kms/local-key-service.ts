// The built-in key service: master keys in the MetaStore (key space 'K'), each version's key material
// sealed under the KMS root key, which is kept outside the database (a file, or an environment variable),
// so a copy of the database alone opens nothing. Data keys are wrapped with AES-256-GCM under a master key
// version, bound to the key id and the encryption context.
import { createCipheriv, createDecipheriv, randomBytes, randomUUID } from 'node:crypto';
import type { MetaStore } from '../meta/types.js';
import { accountId } from '../iam/types.js';
import { KmsError, sseS3KeyId, type DataKey, type EncryptionContext, type KeyManager, type KeyService, type KmsKeyInfo } from './types.js';
import { assert } from '../util/assert.js';

export const kmsRootKeyBytes = 32;
const dataKeyBytes = 32;
const ivBytes = 12;
const tagBytes = 16;
const versionBytes = 4;
const commitAttemptsMax = 20;

/** A master key version's material, sealed under the root key (base64 fields, so the record stays JSON). */
interface SealedMaterial {
  iv: string;
  tag: string;
  data: string;
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

/** KMS's rule for key ids here: what AWS's UUIDs and the conformance suite's "testkey-1" both fit. */
export function checkKeyId(keyId: string): string {
  if (!/^[\w-]{1,64}$/.test(keyId)) throw new KmsError('ValidationException', `Cannot use KMS key id ${JSON.stringify(keyId)}: expected 1 to 64 letters, digits, - or _`);
  return keyId;
}

export class LocalKeyService implements KeyService, KeyManager {
  constructor(
    private readonly meta: MetaStore,
    private readonly rootKey: Buffer,
    private readonly options: { region: string; nowMs?: () => number },
  ) {
    assert(rootKey.length === kmsRootKeyBytes, 'The KMS root key is 32 bytes');
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
    const created = await this.meta.commit({ checks: [{ key, value: null }], writes: [{ key, value: Buffer.from(JSON.stringify(record)) }] });
    if (!created) throw new KmsError('AlreadyExistsException', `Cannot create KMS key "${keyId}": it exists`);
    return this.infoOf(record);
  }

  async list(): Promise<KmsKeyInfo[]> {
    // Key ids are [\w-]: every record key sorts between "K" + "\x01" and "L".
    const pairs = await this.meta.scan({ start: Buffer.from([keySpace, 1]), end: Buffer.from([keySpace + 1]), limit: kmsKeysMax });
    return pairs.map((pair) => this.infoOf(JSON.parse(pair.value.toString('utf8')) as KmsKeyRecord));
  }

  async describeKey(idOrArn: string): Promise<KmsKeyInfo | undefined> {
    const record = await this.read(this.keyIdOf(idOrArn));
    return record ? this.infoOf(record.value) : undefined;
  }

  async generateDataKey(idOrArn: string, context: EncryptionContext): Promise<DataKey> {
    const record = await this.usable(this.keyIdOf(idOrArn));
    const version = record.versions.length;
    const material = this.open(record.keyId, version, record.versions[version - 1]!);
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
    const record = await this.usable(this.keyIdOf(idOrArn));
    const bytes = Buffer.from(wrapped, 'base64');
    const version = bytes.length === versionBytes + ivBytes + tagBytes + dataKeyBytes ? bytes.readUInt32BE(0) : 0;
    const sealedMaterial = record.versions[version - 1];
    if (!sealedMaterial) throw new KmsError('InvalidCiphertextException', `Cannot unwrap a data key of KMS key "${record.keyId}": not one of its wrapped keys`);
    const material = this.open(record.keyId, version, sealedMaterial);
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

  private async update(keyId: string, change: (record: KmsKeyRecord) => KmsKeyRecord): Promise<KmsKeyInfo> {
    for (let attempt = 0; attempt < commitAttemptsMax; attempt++) {
      const found = await this.read(keyId);
      if (!found) throw new KmsError('NotFoundException', `Cannot find KMS key "${keyId}"`);
      const next = change(found.value);
      const key = recordKey(keyId);
      if (await this.meta.commit({ checks: [{ key, value: found.raw }], writes: [{ key, value: Buffer.from(JSON.stringify(next)) }] })) return this.infoOf(next);
    }
    throw new KmsError('KMSInternalException', `Cannot change KMS key "${keyId}": ${commitAttemptsMax} concurrent changes won`);
  }

  private async usable(keyId: string): Promise<KmsKeyRecord> {
    let found = await this.read(keyId);
    // SSE-S3's key is the store's own, made the first time it is needed.
    if (!found && keyId === sseS3KeyId) {
      await this.create({ keyId, description: 'SSE-S3 (AES256): made by Tessera' }).catch((err: unknown) => {
        if (!(err instanceof KmsError && err.code === 'AlreadyExistsException')) throw err;
      });
      found = await this.read(keyId);
    }
    if (!found) throw new KmsError('NotFoundException', `Cannot find KMS key "${keyId}"`);
    if (!found.value.enabled) throw new KmsError('DisabledException', `KMS key "${keyId}" is disabled`);
    return found.value;
  }

  private async read(keyId: string): Promise<{ value: KmsKeyRecord; raw: Buffer } | undefined> {
    const raw = await this.meta.get(recordKey(keyId));
    return raw ? { value: JSON.parse(raw.toString('utf8')) as KmsKeyRecord, raw } : undefined;
  }

  private seal(keyId: string, version: number, material: Buffer): SealedMaterial {
    const iv = randomBytes(ivBytes);
    const cipher = createCipheriv('aes-256-gcm', this.rootKey, iv, { authTagLength: tagBytes });
    cipher.setAAD(Buffer.from(`${keyId}\0${version}`, 'utf8'));
    const data = Buffer.concat([cipher.update(material), cipher.final()]);
    return { iv: iv.toString('base64'), tag: cipher.getAuthTag().toString('base64'), data: data.toString('base64') };
  }

  private open(keyId: string, version: number, sealed: SealedMaterial): Buffer {
    const decipher = createDecipheriv('aes-256-gcm', this.rootKey, Buffer.from(sealed.iv, 'base64'), { authTagLength: tagBytes });
    decipher.setAAD(Buffer.from(`${keyId}\0${version}`, 'utf8'));
    decipher.setAuthTag(Buffer.from(sealed.tag, 'base64'));
    try {
      return Buffer.concat([decipher.update(Buffer.from(sealed.data, 'base64')), decipher.final()]);
    } catch {
      throw new KmsError('KMSInternalException', `Cannot open KMS key "${keyId}" version ${version}: the KMS root key is not the one it was sealed under`);
    }
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

/** The additional data a wrapped data key is bound to: its master key and its context, in key order. */
function wrapAad(keyId: string, context: EncryptionContext): Buffer {
  const pairs = Object.keys(context).sort().map((name) => [name, context[name]]);
  return Buffer.from(JSON.stringify([keyId, pairs]), 'utf8');
}
