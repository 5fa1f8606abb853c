// A streaming reader of multipart/form-data bodies (RFC 7578), for browser POST uploads. Part headers
// and small field values are read whole under a byte budget; one part's content can be streamed
// without ever being held, so memory stays bounded whatever the size of the file.
import { S3Error } from './errors.js';

export interface FormPartHeaders {
  /** The field name, as sent. */
  name: string;
  filename?: string;
}

/** Bytes of form data (part headers and field values, not the file) still allowed. */
export interface FormBudget {
  bytesLeft: number;
}

const crlf = Buffer.from('\r\n');
const headersEnd = Buffer.from('\r\n\r\n');
const boundaryMaxChars = 70; // RFC 2046 §5.1.1

export function malformedPost(): S3Error {
  return new S3Error('MalformedPOSTRequest');
}

function overBudget(): S3Error {
  return new S3Error('MaxPostPreDataLengthExceededError');
}

/** The boundary of a multipart/form-data Content-Type, or undefined if the type is another. */
export function formBoundaryOf(contentType: string | undefined): string | undefined {
  if (contentType === undefined) return undefined;
  const [type, ...params] = contentType.split(';');
  if (type!.trim().toLowerCase() !== 'multipart/form-data') return undefined;
  for (const param of params) {
    const eq = param.indexOf('=');
    if (eq < 0 || param.slice(0, eq).trim().toLowerCase() !== 'boundary') continue;
    let value = param.slice(eq + 1).trim();
    if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) value = value.slice(1, -1);
    if (value === '' || value.length > boundaryMaxChars) throw malformedPost();
    return value;
  }
  throw malformedPost();
}

type State = 'preamble' | 'delimiter' | 'headers' | 'content' | 'end';

export class FormDataReader {
  /** Bytes read from the source and not yet consumed. */
  private buf: Buffer;
  private sourceDone = false;
  private state: State = 'preamble';
  private readonly delimiter: Buffer;

  constructor(private readonly source: AsyncIterator<Buffer>, boundary: string) {
    this.delimiter = Buffer.from(`\r\n--${boundary}`, 'latin1');
    // The first delimiter may open the body without the CRLF that precedes every other one.
    this.buf = Buffer.from(crlf);
  }

  /** Reads one more chunk into the buffer; false once the source has ended. */
  private async fill(): Promise<boolean> {
    if (this.sourceDone) return false;
    const next = await this.source.next();
    if (next.done) {
      this.sourceDone = true;
      return false;
    }
    const chunk = next.value;
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
    return true;
  }

  /**
   * The headers of the next part, or null after the closing delimiter. Whatever is left of the current
   * part's content is skipped. Header bytes count against `budget`.
   */
  async nextPart(budget: FormBudget): Promise<FormPartHeaders | null> {
    if (this.state === 'content') {
      for await (const piece of this.content()) void piece;
    }
    if (this.state === 'preamble') await this.skipPreamble();
    if (this.state === 'end') return null;
    if (!(await this.afterDelimiter())) return null;
    return this.readHeaders(budget);
  }

  private async skipPreamble(): Promise<void> {
    for (;;) {
      const at = this.buf.indexOf(this.delimiter);
      if (at >= 0) {
        this.buf = this.buf.subarray(at + this.delimiter.length);
        this.state = 'delimiter';
        return;
      }
      // A body with no delimiter at all is not form data; the preamble is not worth more than a few KiB.
      if (this.buf.length > 4096 || !(await this.fill())) throw malformedPost();
    }
  }

  /** After a delimiter: "--" closes the body, else optional padding and CRLF open a part. */
  private async afterDelimiter(): Promise<boolean> {
    while (this.buf.length < 2 && (await this.fill()));
    if (this.buf.length >= 2 && this.buf[0] === 0x2d && this.buf[1] === 0x2d) {
      this.state = 'end';
      return false;
    }
    for (;;) {
      const eol = this.buf.indexOf(crlf);
      if (eol >= 0) {
        if (!/^[ \t]*$/.test(this.buf.subarray(0, eol).toString('latin1'))) throw malformedPost();
        this.buf = this.buf.subarray(eol + 2);
        this.state = 'headers';
        return true;
      }
      if (this.buf.length > 256 || !(await this.fill())) throw malformedPost();
    }
  }

  private async readHeaders(budget: FormBudget): Promise<FormPartHeaders> {
    let block: string;
    for (;;) {
      // Headers end at an empty line; with no headers at all, the part starts with that empty line.
      const end = this.buf.subarray(0, 2).equals(crlf) ? -2 : this.buf.indexOf(headersEnd);
      if (end !== -1) {
        block = end === -2 ? '' : this.buf.subarray(0, end).toString('utf8');
        const used = end === -2 ? 2 : end + 4;
        budget.bytesLeft -= used;
        if (budget.bytesLeft < 0) throw overBudget();
        this.buf = this.buf.subarray(used);
        break;
      }
      if (this.buf.length > budget.bytesLeft) throw overBudget();
      if (!(await this.fill())) throw malformedPost();
    }
    this.state = 'content';
    return parsePartHeaders(block);
  }

  /** The current part's content, streamed; ends at the next delimiter. */
  async *content(): AsyncGenerator<Buffer> {
    if (this.state !== 'content') throw new RangeError(`No part content to read in state "${this.state}"`);
    const keep = this.delimiter.length - 1;
    for (;;) {
      const at = this.buf.indexOf(this.delimiter);
      if (at >= 0) {
        const last = this.buf.subarray(0, at);
        this.buf = this.buf.subarray(at + this.delimiter.length);
        this.state = 'delimiter';
        if (last.length > 0) yield last;
        return;
      }
      // Everything but a tail that may be the start of the delimiter is content.
      if (this.buf.length > keep) {
        const out = this.buf.subarray(0, this.buf.length - keep);
        this.buf = this.buf.subarray(this.buf.length - keep);
        yield out;
      }
      if (!(await this.fill())) throw malformedPost();
    }
  }

  /** The current part's content whole, counted against `budget`. */
  async readContent(budget: FormBudget): Promise<Buffer> {
    const pieces: Buffer[] = [];
    for await (const piece of this.content()) {
      budget.bytesLeft -= piece.length;
      if (budget.bytesLeft < 0) throw overBudget();
      pieces.push(piece);
    }
    return Buffer.concat(pieces);
  }
}

/** Content-Disposition: form-data; name="..."; filename="..." (other headers are not needed). */
function parsePartHeaders(block: string): FormPartHeaders {
  let disposition: string | undefined;
  for (const line of block === '' ? [] : block.split('\r\n')) {
    const colon = line.indexOf(':');
    if (colon <= 0) throw malformedPost();
    if (line.slice(0, colon).trim().toLowerCase() === 'content-disposition') disposition = line.slice(colon + 1);
  }
  if (disposition === undefined) throw malformedPost();
  const params = dispositionParams(disposition);
  if (params.type !== 'form-data') throw malformedPost();
  const name = params.values.get('name');
  if (name === undefined) throw malformedPost();
  const filename = params.values.get('filename');
  return filename === undefined ? { name } : { name, filename };
}

/** The type and parameters of a Content-Disposition value; quoted strings may hold ";" and escaped quotes. */
function dispositionParams(value: string): { type: string; values: Map<string, string> } {
  const values = new Map<string, string>();
  const semi = value.indexOf(';');
  const type = (semi < 0 ? value : value.slice(0, semi)).trim().toLowerCase();
  const paramPattern = /;\s*([^\s=;]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^;]*))/gy;
  paramPattern.lastIndex = semi < 0 ? value.length : semi;
  for (let m = paramPattern.exec(value); m; m = paramPattern.exec(value)) {
    const name = m[1]!.toLowerCase();
    // Browsers send a backslash as itself (a Windows path from an old browser is full of them) and a
    // quote as %22; curl escapes both. So only \" and \\ are read as escapes.
    const text = m[2] !== undefined ? m[2].replace(/\\(["\\])/g, '$1') : m[3]!.trim();
    if (!values.has(name)) values.set(name, text);
  }
  return { type, values };
}
