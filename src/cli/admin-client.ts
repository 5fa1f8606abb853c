// The admin API client of `tessera admin ...`: root credentials, signed calls (JSON bodies signed with
// their SHA-256), and the table printer the commands share.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { signRequest } from '../s3/sigv4/sign.js';

export interface AdminOptions {
  endpoint: string;
  data: string;
  region: string;
}

async function credentialsOf(opts: AdminOptions): Promise<{ accessKeyId: string; secretAccessKey: string }> {
  const accessKeyId = process.env.TESSERA_ROOT_ACCESS_KEY;
  const secretAccessKey = process.env.TESSERA_ROOT_SECRET_KEY;
  if (accessKeyId && secretAccessKey) return { accessKeyId, secretAccessKey };
  try {
    return JSON.parse(await readFile(join(opts.data, 'root-credentials.json'), 'utf8')) as { accessKeyId: string; secretAccessKey: string };
  } catch {
    throw new Error(`Cannot find root credentials: set TESSERA_ROOT_ACCESS_KEY and TESSERA_ROOT_SECRET_KEY, or point --data at the server's data directory`);
  }
}

/** A signed admin call; a JSON `body` is signed with its SHA-256. A refusal throws its JSON error message. */
export async function call<T>(opts: AdminOptions, method: 'GET' | 'POST' | 'PUT', path: string, body?: unknown): Promise<T> {
  const url = new URL(`/_tessera/admin/${path}`, opts.endpoint);
  const bytes = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
  const headers = signRequest({ method, url, region: opts.region, ...(bytes ? { body: bytes } : {}), ...(await credentialsOf(opts)) });
  const res = await fetch(url, { method, headers: { ...headers, ...(bytes ? { 'content-type': 'application/json' } : {}) }, ...(bytes ? { body: bytes } : {}) });
  const text = await res.text();
  if (!res.ok) {
    let message = text.slice(0, 300);
    try {
      const refusal = JSON.parse(text) as { error?: string; code?: string };
      message = refusal.code ? `${refusal.code}: ${refusal.error ?? ''}` : refusal.error ?? message;
    } catch {
      // not JSON (an S3 error document): shown as it came
    }
    throw new Error(`Admin call "${method} ${path}" failed with HTTP ${res.status}: ${message}`);
  }
  return JSON.parse(text) as T;
}

/** Rows as aligned columns, two spaces apart. */
export function table(head: string[], rows: string[][]): string {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  return [head, ...rows].map((row) => row.map((c, i) => (i === row.length - 1 ? c : c.padEnd(widths[i]!))).join('  ')).join('\n') + '\n';
}
