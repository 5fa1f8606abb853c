// An external key service: HashiCorp Vault's transit engine over HTTP(S). Master keys are Vault's named
// transit keys (made, rotated and retired in Vault: the admin routes that would change them answer
// UnsupportedOperationException); data keys come from datakey/plaintext and open with decrypt. The encryption
// context is bound twice: as Vault's "context" for derived keys, and always by an HMAC under the data key
// beside Vault's ciphertext, so a wrong context is refused for every key type.
import { createHmac, timingSafeEqual } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { Agent, request } from 'undici';
import { KmsError, sseS3KeyId, type DataKey, type EncryptionContext, type KeyManager, type KeyService, type KmsKeyInfo } from './types.js';
import { keyArnOf, keyIdOf } from './key-id.js';

export interface VaultConfig {
  /** http(s)://host:port of the Vault server. */
  address: string;
  /** The file holding the Vault token (a Vault agent's sink): re-read when Vault refuses the token. */
  tokenFile: string;
  /** Where the transit engine is mounted; default "transit". */
  mount?: string;
  /** PEM certificates Vault's certificate is checked against, instead of the system's. */
  caFile?: string;
}

const dataKeyBytes = 32;
/** A Vault answer longer than this is not one of the few small JSON answers asked for. */
const vaultAnswerBytesMax = 1024 * 1024;
/** Keys a listing shows (one Vault call); transit mounts with more are named by id instead. */
const vaultListKeysMax = 1000;
const vaultListReadsInFlightMax = 8;
export const vaultRequestTimeoutMs = 10_000;

interface VaultAnswer {
  status: number;
  body: { data?: Record<string, unknown>; errors?: unknown[] } | undefined;
}

export class VaultKeyService implements KeyService, KeyManager {
  private token: string | undefined;
  private readonly derived = new Map<string, boolean>();
  private readonly dispatcher: Agent;
  private readonly mount: string;

  private constructor(private readonly config: VaultConfig, private readonly region: string, ca: string | undefined) {
    if (!/^https?:\/\/[^/]+\/?$/.test(config.address)) throw new RangeError(`Cannot use Vault address ${JSON.stringify(config.address)}: expected http(s)://host:port`);
    this.mount = (config.mount ?? 'transit').replace(/^\/+|\/+$/g, '');
    if (!/^[\w./-]{1,128}$/.test(this.mount)) throw new RangeError(`Cannot use Vault mount ${JSON.stringify(config.mount)}: expected a path of letters, digits, _ . / -`);
    this.dispatcher = new Agent({ headersTimeout: vaultRequestTimeoutMs, bodyTimeout: vaultRequestTimeoutMs, ...(ca ? { connect: { ca } } : {}) });
  }

  /** A service reading its token from `config.tokenFile` now, so a missing file fails the start, not a request. */
  static async open(config: VaultConfig, options: { region: string }): Promise<VaultKeyService> {
    const ca = config.caFile ? await readFile(config.caFile, 'utf8') : undefined;
    const service = new VaultKeyService(config, options.region, ca);
    await service.readToken();
    return service;
  }

  async close(): Promise<void> {
    await this.dispatcher.close();
  }

  async generateDataKey(idOrArn: string, context: EncryptionContext): Promise<DataKey> {
    const keyId = keyIdOf(idOrArn);
    let answer = await this.dataKeyCall(keyId, context);
    // SSE-S3's key is the store's own: made in Vault the first time it is needed, if the token may.
    if (answer.status === 404 || (answer.status === 400 && /not found/i.test(errorText(answer)))) {
      if (keyId === sseS3KeyId) {
        await this.createSseS3Key();
        answer = await this.dataKeyCall(keyId, context);
      }
    }
    const data = this.dataOf(answer, keyId, 'generate a data key');
    const plaintext = Buffer.from(String(data.plaintext ?? ''), 'base64');
    const ciphertext = data.ciphertext;
    if (plaintext.length !== dataKeyBytes || typeof ciphertext !== 'string' || ciphertext.includes('.')) {
      throw new KmsError('KMSInternalException', `Cannot generate a data key under Vault key "${keyId}": Vault's answer is not a 256-bit data key`);
    }
    return { plaintext, wrapped: `${contextMac(plaintext, keyId, context)}.${ciphertext}`, keyArn: keyArnOf(this.region, keyId) };
  }

  async decryptDataKey(idOrArn: string, wrapped: string, context: EncryptionContext): Promise<Buffer> {
    const keyId = keyIdOf(idOrArn);
    const dot = wrapped.indexOf('.');
    if (dot < 0) throw new KmsError('InvalidCiphertextException', `Cannot unwrap a data key of Vault key "${keyId}": not one of its wrapped keys`);
    const mac = wrapped.slice(0, dot);
    const body: Record<string, string> = { ciphertext: wrapped.slice(dot + 1) };
    if (await this.isDerived(keyId)) body.context = contextBytes(keyId, context).toString('base64');
    const answer = await this.call('POST', `decrypt/${keyId}`, body);
    if (answer.status === 400 && !/not found/i.test(errorText(answer))) {
      throw new KmsError('InvalidCiphertextException', `Cannot unwrap a data key of Vault key "${keyId}": Vault refused the ciphertext or its context`);
    }
    const plaintext = Buffer.from(String(this.dataOf(answer, keyId, 'unwrap a data key').plaintext ?? ''), 'base64');
    const expected = Buffer.from(contextMac(plaintext, keyId, context));
    if (plaintext.length !== dataKeyBytes || expected.length !== mac.length || !timingSafeEqual(expected, Buffer.from(mac))) {
      throw new KmsError('InvalidCiphertextException', `Cannot unwrap a data key of Vault key "${keyId}": the key or the encryption context differs`);
    }
    return plaintext;
  }

  async describeKey(idOrArn: string): Promise<KmsKeyInfo | undefined> {
    const keyId = keyIdOf(idOrArn);
    const answer = await this.call('GET', `keys/${keyId}`);
    if (answer.status === 404) return undefined;
    const data = this.dataOf(answer, keyId, 'read the key');
    this.derived.set(keyId, data.derived === true);
    return this.infoOf(keyId, data);
  }

  async list(): Promise<KmsKeyInfo[]> {
    const answer = await this.call('GET', 'keys?list=true');
    if (answer.status === 404) return []; // Vault's answer for a mount with no keys
    const names = this.dataOf(answer, '', 'list keys').keys;
    const ids = (Array.isArray(names) ? names : []).filter((n): n is string => typeof n === 'string' && /^[\w-]{1,64}$/.test(n)).slice(0, vaultListKeysMax);
    // A few reads at a time: a listing must not flood Vault with a thousand requests at once.
    const infos: KmsKeyInfo[] = [];
    for (let i = 0; i < ids.length; i += vaultListReadsInFlightMax) {
      const batch = await Promise.all(ids.slice(i, i + vaultListReadsInFlightMax).map((id) => this.describeKey(id)));
      for (const info of batch) if (info) infos.push(info);
    }
    return infos;
  }

  create(): Promise<KmsKeyInfo> {
    return Promise.reject(unsupported('create keys'));
  }

  rotate(): Promise<KmsKeyInfo> {
    return Promise.reject(unsupported('rotate keys'));
  }

  setEnabled(): Promise<KmsKeyInfo> {
    return Promise.reject(unsupported('disable or enable keys (remove the token\'s policy access to the key instead)'));
  }

  private dataKeyCall(keyId: string, context: EncryptionContext): Promise<VaultAnswer> {
    return this.isDerived(keyId).then((derived) => this.call('POST', `datakey/plaintext/${keyId}`, {
      bits: dataKeyBytes * 8,
      ...(derived ? { context: contextBytes(keyId, context).toString('base64') } : {}),
    }));
  }

  /** Whether Vault derives the key per context (then every call must pass it); unknown keys count as not. */
  private async isDerived(keyId: string): Promise<boolean> {
    const known = this.derived.get(keyId);
    if (known !== undefined) return known;
    await this.describeKey(keyId);
    return this.derived.get(keyId) ?? false;
  }

  private async createSseS3Key(): Promise<void> {
    const answer = await this.call('POST', `keys/${sseS3KeyId}`, { type: 'aes256-gcm96' });
    if (answer.status >= 300) throw this.refusal(answer, sseS3KeyId, 'create the SSE-S3 key (create it in Vault, or let the token create it)');
    this.derived.set(sseS3KeyId, false);
  }

  private dataOf(answer: VaultAnswer, keyId: string, action: string): Record<string, unknown> {
    if (answer.status >= 300 || !answer.body?.data) throw this.refusal(answer, keyId, action);
    return answer.body.data;
  }

  private refusal(answer: VaultAnswer, keyId: string, action: string): KmsError {
    const what = keyId ? ` of Vault key "${keyId}"` : '';
    const why = `Vault answered HTTP ${answer.status}${errorText(answer) ? `: ${errorText(answer)}` : ''}`;
    if (answer.status === 404 || /not found/i.test(errorText(answer))) return new KmsError('NotFoundException', `Cannot ${action}${what}: ${why}`);
    // Vault has no disabled state: a key the token may no longer use is how an operator turns one off.
    if (answer.status === 403) return new KmsError('DisabledException', `Cannot ${action}${what}: ${why}`);
    return new KmsError('KMSInternalException', `Cannot ${action}${what}: ${why}`);
  }

  private async call(method: 'GET' | 'POST', path: string, body?: unknown): Promise<VaultAnswer> {
    let answer = await this.send(method, path, body);
    // A Vault agent renews the token by rewriting its file: read it again once before giving up.
    if (answer.status === 403 && (await this.readToken())) answer = await this.send(method, path, body);
    return answer;
  }

  private async send(method: 'GET' | 'POST', path: string, body: unknown): Promise<VaultAnswer> {
    const url = `${this.config.address.replace(/\/$/, '')}/v1/${this.mount}/${path}`;
    try {
      const res = await request(url, {
        method,
        dispatcher: this.dispatcher,
        headers: { 'x-vault-token': this.token ?? '', ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      });
      const chunks: Buffer[] = [];
      let bytes = 0;
      for await (const chunk of res.body as AsyncIterable<Buffer>) {
        bytes += chunk.length;
        if (bytes > vaultAnswerBytesMax) throw new Error(`an answer over ${vaultAnswerBytesMax} bytes`);
        chunks.push(chunk);
      }
      const text = Buffer.concat(chunks).toString('utf8');
      let parsed: VaultAnswer['body'];
      try {
        parsed = text === '' ? undefined : (JSON.parse(text) as VaultAnswer['body']);
      } catch {
        parsed = undefined;
      }
      return { status: res.statusCode, body: parsed };
    } catch (err) {
      throw new KmsError('KMSInternalException', `Cannot reach Vault at ${this.config.address} (${method} ${this.mount}/${path.replace(/\?.*/, '')}): ${(err as Error).message}`);
    }
  }

  /** Reads the token file; true when the token changed. */
  private async readToken(): Promise<boolean> {
    let text: string;
    try {
      text = await readFile(this.config.tokenFile, 'utf8');
    } catch (err) {
      throw new KmsError('KMSInternalException', `Cannot read the Vault token file "${this.config.tokenFile}": ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
    }
    const token = text.trim();
    if (token === '') throw new KmsError('KMSInternalException', `Cannot use the Vault token file "${this.config.tokenFile}": it is empty`);
    const changed = token !== this.token;
    this.token = token;
    return changed;
  }

  private infoOf(keyId: string, data: Record<string, unknown>): KmsKeyInfo {
    const latest = typeof data.latest_version === 'number' ? data.latest_version : 1;
    const times = typeof data.keys === 'object' && data.keys !== null ? (data.keys as Record<string, unknown>) : {};
    const msOf = (version: number) => {
      const t = times[String(version)];
      return typeof t === 'number' ? t * 1000 : typeof t === 'string' ? Date.parse(t) : NaN;
    };
    const createdMs = msOf(1);
    const rotatedMs = latest > 1 ? msOf(latest) : NaN;
    return {
      keyId,
      arn: keyArnOf(this.region, keyId),
      enabled: true,
      createdMs: Number.isFinite(createdMs) ? createdMs : 0,
      versions: latest,
      ...(Number.isFinite(rotatedMs) ? { rotatedMs } : {}),
      description: `Vault transit key ${this.mount}/${keyId}${data.derived === true ? ' (derived)' : ''}`,
    };
  }
}

function unsupported(action: string): KmsError {
  return new KmsError('UnsupportedOperationException', `Cannot ${action} through Tessera: the keys are Vault's, manage them in Vault`);
}

/** Vault's error strings, shortened: they name what failed, never key material. */
function errorText(answer: VaultAnswer): string {
  const errors = answer.body?.errors;
  return Array.isArray(errors) ? errors.map(String).join('; ').slice(0, 300) : '';
}

/** The context as bytes, with the key id: keys in order, so the same pairs always give the same bytes. */
function contextBytes(keyId: string, context: EncryptionContext): Buffer {
  const pairs = Object.keys(context).sort().map((name) => [name, context[name]]);
  return Buffer.from(JSON.stringify([keyId, pairs]), 'utf8');
}

/** A MAC of the key id and context under the data key: checked on unwrap, it binds the context for every Vault key type. */
function contextMac(dataKey: Buffer, keyId: string, context: EncryptionContext): string {
  return createHmac('sha256', dataKey).update('tessera-kms-context\0').update(contextBytes(keyId, context)).digest('base64url');
}
