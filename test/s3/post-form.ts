// Browser POST forms for the integration tests: multipart/form-data bodies, and SigV4-signed policies
// made with their own HMAC chain, independent of the server's signing code.
import { createHmac } from 'node:crypto';
import type { TesseraProcess } from '../helpers/tessera.js';
import { send, type RawResponse } from './raw-http.js';

export const formBoundary = '----TesseraFormBoundaryQ2xvdWQ';

export type FormEntry = [name: string, value: string | Buffer, filename?: string];

export function formBody(entries: readonly FormEntry[]): Buffer {
  const pieces: Buffer[] = [];
  for (const [name, value, filename] of entries) {
    const disposition = `form-data; name="${name}"${filename === undefined ? '' : `; filename="${filename}"`}`;
    pieces.push(Buffer.from(`--${formBoundary}\r\nContent-Disposition: ${disposition}\r\n\r\n`), Buffer.from(value), Buffer.from('\r\n'));
  }
  pieces.push(Buffer.from(`--${formBoundary}--\r\n`));
  return Buffer.concat(pieces);
}

function amzDateOf(ms: number): string {
  return new Date(ms).toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');
}

export interface SignOptions {
  /** Milliseconds from now to the policy's expiration (default 10 minutes). */
  expiresMs?: number;
  secret?: string;
  accessKeyId?: string;
  /** The whole policy document to sign, instead of one built from the conditions. */
  document?: Record<string, unknown>;
}

/**
 * The signing fields and a signed policy for `conditions` (the signing fields' own conditions are added),
 * as a browser form would carry them.
 */
export function signedFields(srv: TesseraProcess, conditions: unknown[], options: SignOptions = {}): FormEntry[] {
  const now = Date.now();
  const amzDate = amzDateOf(now);
  const scopeDate = amzDate.slice(0, 8);
  const credential = `${options.accessKeyId ?? srv.accessKeyId}/${scopeDate}/${srv.region}/s3/aws4_request`;
  const signing: [string, string][] = [['x-amz-algorithm', 'AWS4-HMAC-SHA256'], ['x-amz-credential', credential], ['x-amz-date', amzDate]];
  const policy = Buffer.from(JSON.stringify(options.document ?? {
    expiration: new Date(now + (options.expiresMs ?? 600_000)).toISOString(),
    conditions: [...conditions, ...signing.map(([k, v]) => ({ [k]: v }))],
  })).toString('base64');
  const mac = (key: Buffer | string, data: string) => createHmac('sha256', key).update(data).digest();
  const key = mac(mac(mac(mac(`AWS4${options.secret ?? srv.secretAccessKey}`, scopeDate), srv.region), 's3'), 'aws4_request');
  return [...signing, ['policy', policy], ['x-amz-signature', mac(key, policy).toString('hex')]];
}

export function postForm(srv: TesseraProcess, bucket: string, body: Buffer, headers: Record<string, string> = {}): Promise<RawResponse> {
  return send(srv, {
    method: 'POST',
    path: `/${bucket}`,
    headers: { host: `127.0.0.1:${srv.port}`, 'content-type': `multipart/form-data; boundary=${formBoundary}`, 'content-length': String(body.length), ...headers },
    body,
  });
}

