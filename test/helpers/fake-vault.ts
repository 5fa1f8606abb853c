// A test double of HashiCorp Vault's transit engine: the few routes VaultKeyService calls (keys, keys?list,
// datakey/plaintext, decrypt, and rotate for tests), with Vault's answer shapes and error style, on a
// loopback port. Our own code, far from Vault: ciphertexts are AES-GCM under per-version random keys, a
// derived key binds the context as associated data, and tokens are a fixed set the test can change.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';

interface FakeKey {
  derived: boolean;
  versions: { material: Buffer; createdS: number }[];
}

export interface FakeVault {
  url: string;
  mount: string;
  /** Tokens accepted now; a test changes the set to model a revoked or renewed token. */
  tokens: Set<string>;
  /** Keys a token may not use (403), as a policy that no longer grants them. */
  denied: Set<string>;
  keys: Map<string, FakeKey>;
  /** Requests seen, "METHOD path", for assertions. */
  requests: string[];
  createKey(name: string, options?: { derived?: boolean }): void;
  rotateKey(name: string): void;
  close(): Promise<void>;
}

function send(res: ServerResponse, status: number, body?: unknown): void {
  const text = body === undefined ? '' : JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

async function bodyOf(req: IncomingMessage): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  for await (const chunk of req as AsyncIterable<Buffer>) chunks.push(chunk);
  const text = Buffer.concat(chunks).toString('utf8');
  return text === '' ? {} : (JSON.parse(text) as Record<string, unknown>);
}

/** `tls`: serve HTTPS with this PEM certificate and key (from `tessera tls init`). */
export async function startFakeVault(options: { token: string; mount?: string; tls?: { cert: Buffer; key: Buffer } }): Promise<FakeVault> {
  const mount = options.mount ?? 'transit';
  const keys = new Map<string, FakeKey>();
  const vault: Omit<FakeVault, 'url' | 'close'> = {
    mount,
    tokens: new Set([options.token]),
    denied: new Set(),
    keys,
    requests: [],
    createKey: (name, o = {}) => void keys.set(name, { derived: o.derived ?? false, versions: [{ material: randomBytes(32), createdS: Math.floor(Date.now() / 1000) }] }),
    rotateKey: (name) => void keys.get(name)!.versions.push({ material: randomBytes(32), createdS: Math.floor(Date.now() / 1000) }),
  };
  const seal = (key: FakeKey, plaintext: Buffer, context: Buffer | undefined): string => {
    const version = key.versions.length;
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', key.versions[version - 1]!.material, iv);
    if (context) cipher.setAAD(context);
    const sealed = Buffer.concat([cipher.update(plaintext), cipher.final()]);
    return `vault:v${version}:${Buffer.concat([iv, cipher.getAuthTag(), sealed]).toString('base64')}`;
  };
  const open = (key: FakeKey, ciphertext: string, context: Buffer | undefined): Buffer | undefined => {
    const m = /^vault:v(\d+):(.+)$/.exec(ciphertext);
    const material = m ? key.versions[Number(m[1]) - 1]?.material : undefined;
    if (!m || !material) return undefined;
    const bytes = Buffer.from(m[2]!, 'base64');
    try {
      const decipher = createDecipheriv('aes-256-gcm', material, bytes.subarray(0, 12));
      if (context) decipher.setAAD(context);
      decipher.setAuthTag(bytes.subarray(12, 28));
      return Buffer.concat([decipher.update(bytes.subarray(28)), decipher.final()]);
    } catch {
      return undefined;
    }
  };
  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', 'http://vault');
    vault.requests.push(`${req.method} ${url.pathname}${url.search}`);
    if (!vault.tokens.has(String(req.headers['x-vault-token'] ?? ''))) return send(res, 403, { errors: ['permission denied'] });
    const prefix = `/v1/${mount}/`;
    if (!url.pathname.startsWith(prefix)) return send(res, 404, { errors: [] });
    const path = url.pathname.slice(prefix.length);
    const body = req.method === 'POST' ? await bodyOf(req) : {};
    if (req.method === 'GET' && path === 'keys' && url.searchParams.get('list') === 'true') {
      return keys.size === 0 ? send(res, 404, { errors: [] }) : send(res, 200, { data: { keys: [...keys.keys()].sort() } });
    }
    const m = /^(keys|datakey\/plaintext|decrypt)\/([^/]+)(\/rotate)?$/.exec(path);
    if (!m) return send(res, 404, { errors: [] });
    const name = m[2]!;
    if (vault.denied.has(name)) return send(res, 403, { errors: ['permission denied'] });
    const key = keys.get(name);
    if (m[1] === 'keys' && req.method === 'POST' && !m[3]) {
      if (!key) vault.createKey(name, { derived: body.derived === true });
      return send(res, 204);
    }
    if (!key) return m[1] === 'keys' ? send(res, 404, { errors: [] }) : send(res, 400, { errors: ['encryption key not found'] });
    if (m[1] === 'keys' && m[3]) {
      vault.rotateKey(name);
      return send(res, 204);
    }
    if (m[1] === 'keys') {
      const times = Object.fromEntries(key.versions.map((v, i) => [String(i + 1), v.createdS]));
      return send(res, 200, { data: { name, type: 'aes256-gcm96', derived: key.derived, latest_version: key.versions.length, keys: times } });
    }
    const context = typeof body.context === 'string' ? Buffer.from(body.context, 'base64') : undefined;
    if (key.derived && !context) return send(res, 400, { errors: ['missing \'context\' for key derivation; the key was created using a derived key, which means additional, per-request information must be included in order to perform operations with the key'] });
    if (m[1] === 'datakey/plaintext') {
      const plaintext = randomBytes(Number(body.bits ?? 256) / 8);
      return send(res, 200, { data: { plaintext: plaintext.toString('base64'), ciphertext: seal(key, plaintext, key.derived ? context : undefined), key_version: key.versions.length } });
    }
    const plaintext = open(key, String(body.ciphertext ?? ''), key.derived ? context : undefined);
    if (!plaintext) return send(res, 400, { errors: ['cipher: message authentication failed'] });
    return send(res, 200, { data: { plaintext: plaintext.toString('base64') } });
  };
  const listener = (req: IncomingMessage, res: ServerResponse) => {
    handle(req, res).catch((err: unknown) => send(res, 500, { errors: [String(err)] }));
  };
  const server: Server = options.tls ? createHttpsServer(options.tls, listener) : createServer(listener);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    ...vault,
    url: `${options.tls ? 'https' : 'http'}://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}
