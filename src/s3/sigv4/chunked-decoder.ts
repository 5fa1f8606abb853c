// Incremental decoder of aws-chunked bodies: framing, chunk signatures, trailers.
// It is fed arbitrary slices of the wire and hands payload bytes out as they arrive, never holding more
// than one size or trailer line; a chunk's data is released before its signature is known good.
import { createHash, type Hash } from 'node:crypto';
import { KiB, MiB } from '../../constants.js';
import { S3Error } from '../errors.js';
import { emptySha256Hex, sha256Hex } from './canonical.js';
import { hmac, signatureMatches } from './signing-key.js';

const chunkLineBytesMax = 4 * KiB;
// AWS refuses a chunk under 8 KiB unless it is the last data chunk (or the final empty one), signed or not.
const chunkBytesMin = 8 * KiB;
const chunkBytesMax = 16 * MiB;
const trailerBytesMax = 16 * KiB;
const trailerLinesMax = 16;

/** What chunk signatures chain from; absent for STREAMING-UNSIGNED-PAYLOAD-TRAILER. */
export interface ChunkSigning {
  signingKey: Buffer;
  amzDate: string;
  scope: string; // YYYYMMDD/region/s3/aws4_request
  seedSignature: string;
}

export interface ChunkedDecoderOptions {
  signing?: ChunkSigning;
  trailers: boolean; // a trailer section follows the final chunk
}

type State = 'size' | 'data' | 'data-cr' | 'data-lf' | 'trailer' | 'final-cr' | 'final-lf' | 'done';

const CR = 0x0d;
const LF = 0x0a;

export class ChunkedDecoder {
  /** Trailing headers, lowercased names, once the body is done; x-amz-trailer-signature excluded. */
  readonly trailers = new Map<string, string>();
  private state: State = 'size';
  // The line being read: one slice when it sits in one wire chunk (nearly always), more only across chunks.
  private line: Buffer[] = [];
  private linePieces = 0;
  private lineBytes = 0;
  private trailerBytes = 0;
  private remaining = 0; // data bytes left in the current chunk
  private chunks = 0; // chunks begun, the final empty one included
  private previousSize = -1; // size of the chunk before the current one; -1 before the first
  private chunkHash: Hash | undefined;
  private chunkSignature = '';
  private previousSignature: string;
  private trailerSignature: string | undefined;

  constructor(private readonly options: ChunkedDecoderOptions) {
    this.previousSignature = options.signing?.seedSignature ?? '';
  }

  /**
   * Consumes one slice of the wire; stores its payload slices (views into `buf`) in `out` from index 0 and
   * returns how many (`out` is the caller's, reused from one call to the next so it allocates no array).
   */
  push(buf: Buffer, out: Buffer[]): number {
    let count = 0;
    let i = 0;
    while (i < buf.length) {
      switch (this.state) {
        case 'size':
        case 'trailer': {
          const lf = buf.indexOf(LF, i);
          const end = lf < 0 ? buf.length : lf + 1;
          this.appendLine(buf.subarray(i, end));
          i = end;
          if (lf >= 0) this.endLine();
          break;
        }
        case 'data': {
          const n = Math.min(this.remaining, buf.length - i);
          const data = buf.subarray(i, i + n);
          this.chunkHash?.update(data);
          this.remaining -= n;
          i += n;
          if (this.remaining === 0) this.state = 'data-cr';
          out[count++] = data;
          break;
        }
        case 'data-cr':
        case 'final-cr':
          if (buf[i++] !== CR) throw malformed('Chunk data is not followed by CRLF');
          this.state = this.state === 'data-cr' ? 'data-lf' : 'final-lf';
          break;
        case 'data-lf':
          if (buf[i++] !== LF) throw malformed('Chunk data is not followed by CRLF');
          this.verifyChunk();
          this.state = 'size';
          break;
        case 'final-lf':
          if (buf[i++] !== LF) throw malformed('The final chunk is not followed by CRLF');
          this.state = 'done';
          break;
        case 'done':
          throw malformed('The body continues after the final chunk');
      }
    }
    return count;
  }

  /** Call at end of input: throws unless the body ended exactly after its final chunk. */
  end(): void {
    // Tolerate a missing CRLF after a trailer-less final chunk, as AWS does for some older clients.
    if (this.state === 'done' || (this.state === 'final-cr' && !this.options.trailers)) return;
    throw new S3Error('IncompleteBody', 'The aws-chunked body ended before its final chunk');
  }

  private appendLine(slice: Buffer): void {
    this.lineBytes += slice.length;
    if (this.state === 'trailer') this.trailerBytes += slice.length;
    if (this.lineBytes > chunkLineBytesMax || this.trailerBytes > trailerBytesMax) {
      throw malformed(this.state === 'trailer' ? 'The trailer section is too long' : 'The chunk size line is too long');
    }
    this.line[this.linePieces++] = slice;
  }

  private endLine(): void {
    const raw = this.linePieces === 1 ? this.line[0]! : Buffer.concat(this.line.slice(0, this.linePieces), this.lineBytes);
    this.linePieces = 0;
    this.lineBytes = 0;
    if (raw.length < 2 || raw[raw.length - 2] !== CR) throw malformed('A chunk line does not end in CRLF');
    const text = raw.toString('latin1', 0, raw.length - 2);
    if (this.state === 'size') this.startChunk(text);
    else this.trailerLine(text);
  }

  private startChunk(line: string): void {
    const semicolon = line.indexOf(';');
    const sizeText = semicolon < 0 ? line : line.slice(0, semicolon);
    if (!/^[0-9a-fA-F]{1,16}$/.test(sizeText)) throw malformed(`Chunk size "${sizeText.slice(0, 32)}" is not hexadecimal`);
    const size = parseInt(sizeText, 16);
    if (size > chunkBytesMax) throw malformed(`Chunk size ${size} exceeds the limit of ${chunkBytesMax} bytes`);
    this.chunks++;
    // Known only now that another data chunk follows: the one before it was not the last.
    if (size > 0 && this.previousSize >= 0 && this.previousSize < chunkBytesMin) {
      throw new S3Error('InvalidChunkSizeError', undefined, { extra: { Chunk: String(this.chunks), BadChunkSize: String(this.previousSize) } });
    }
    this.previousSize = size;
    if (this.options.signing) {
      const m = /^chunk-signature=([0-9a-f]{64})$/.exec(semicolon < 0 ? '' : line.slice(semicolon + 1));
      if (!m) throw malformed('A chunk has no valid chunk-signature');
      this.chunkSignature = m[1]!;
      this.chunkHash = createHash('sha256');
    }
    this.remaining = size;
    if (size > 0) {
      this.state = 'data';
      return;
    }
    this.verifyChunk();
    this.state = this.options.trailers ? 'trailer' : 'final-cr';
  }

  /** Chunk string to sign, per "Transferring Payload in Multiple Chunks" in the S3 API reference. */
  private verifyChunk(): void {
    const signing = this.options.signing;
    if (!signing) return;
    const hash = this.chunkHash!.digest('hex');
    const toSign = `AWS4-HMAC-SHA256-PAYLOAD\n${signing.amzDate}\n${signing.scope}\n${this.previousSignature}\n${emptySha256Hex}\n${hash}`;
    this.checkSignature(signing, toSign, this.chunkSignature);
  }

  private trailerLine(line: string): void {
    if (line === '') {
      this.verifyTrailer();
      this.state = 'done';
      return;
    }
    if (this.trailerSignature !== undefined) throw malformed('A trailer follows x-amz-trailer-signature');
    const colon = line.indexOf(':');
    if (colon <= 0) throw malformed('A trailer line has no name');
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    if (name === 'x-amz-trailer-signature') {
      this.trailerSignature = value;
      return;
    }
    if (this.trailers.size >= trailerLinesMax) throw malformed('The body has too many trailers');
    this.trailers.set(name, value);
  }

  /** Trailer string to sign: the canonical trailers ("name:value\n", sorted), chained to the final chunk. */
  private verifyTrailer(): void {
    const signing = this.options.signing;
    if (!signing) return;
    if (this.trailerSignature === undefined) throw malformed('The trailer section has no x-amz-trailer-signature');
    const canonical = [...this.trailers].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([n, v]) => `${n}:${v}\n`).join('');
    const toSign = `AWS4-HMAC-SHA256-TRAILER\n${signing.amzDate}\n${signing.scope}\n${this.previousSignature}\n${sha256Hex(canonical)}`;
    this.checkSignature(signing, toSign, this.trailerSignature);
  }

  private checkSignature(signing: ChunkSigning, toSign: string, provided: string): void {
    if (!signatureMatches(hmac(signing.signingKey, toSign), provided)) {
      throw new S3Error('SignatureDoesNotMatch', undefined, { extra: { StringToSign: toSign, SignatureProvided: provided } });
    }
    this.previousSignature = provided;
  }
}

function malformed(message: string): S3Error {
  return new S3Error('InvalidRequest', message);
}
