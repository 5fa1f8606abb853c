// Turns a request body into verified payload bytes: x-amz-content-sha256, aws-chunked framing and
// signatures, and S3 flexible checksums. Every check fails by erroring the stream before it ends,
// so a consumer that commits only on a clean end never commits a bad body.
import type { IncomingHttpHeaders } from 'node:http';
import type { Readable } from 'node:stream';
import { putObjectBytesMax } from '../../constants.js';
import { checksumHeaderName, createChecksum, type ChecksumAlgorithm, type Checksum } from '../../util/checksum.js';
import { streamingHash, type StreamingHash } from '../../util/hash-thread.js';
import { S3Error } from '../errors.js';
import { parsePayloadMode, type AuthContext, type PayloadMode } from './authenticate.js';
import { credentialScope } from './canonical.js';
import { ChunkedDecoder, type ChunkSigning } from './chunked-decoder.js';
import { decodeChecksumValue, planChecksum, type ChecksumPlan } from './checksum-headers.js';

export interface PayloadChecksum {
  algorithm: ChecksumAlgorithm;
  /** The checksum of the payload, base64; undefined until the stream has ended cleanly. */
  valueBase64(): string | undefined;
}

/**
 * The decoded bytes, read once with for-await. Not a Readable: its one consumer (ingest, or a small-body
 * read) iterates it anyway, and a Readable around the decoder cost a buffered read-ahead and an iterator's
 * promises and events per socket chunk (issue 17).
 */
export type PayloadStream = AsyncIterable<Buffer> & {
  checksum?: PayloadChecksum;
  /**
   * The payload's MD5 when the decoder computed it beside the signed payload's SHA-256 (one pass over the
   * bytes on the hashing thread for both); undefined until the stream has ended cleanly, and for other modes.
   */
  md5?: () => Buffer | undefined;
};

/** Who signed the request: chunk signatures chain from a SigV4 seed; a SigV2 request names only its mode. */
export type PayloadAuth = AuthContext | { signatureVersion: 2; payload: PayloadMode };

function isStreaming(mode: PayloadMode): boolean {
  return mode.kind.startsWith('streaming-');
}

function hasTrailer(mode: PayloadMode): boolean {
  return mode.kind === 'streaming-signed-trailer' || mode.kind === 'streaming-unsigned-trailer';
}

/**
 * For aws-chunked bodies, returns x-amz-decoded-content-length (required: AWS answers 411
 * MissingContentLength without it); undefined for other payload modes.
 */
export function verifyChunkedHeaders(headers: IncomingHttpHeaders, payload: PayloadMode): number | undefined {
  if (!isStreaming(payload)) return undefined;
  const text = headers['x-amz-decoded-content-length'];
  if (text === undefined) throw new S3Error('MissingContentLength');
  if (typeof text !== 'string' || !/^\d{1,16}$/.test(text)) {
    throw new S3Error('InvalidArgument', 'Invalid x-amz-decoded-content-length', { extra: { ArgumentName: 'x-amz-decoded-content-length' } });
  }
  const length = Number(text);
  if (length > putObjectBytesMax) throw new S3Error('EntityTooLarge', undefined, { extra: { ProposedSize: text, MaxSizeAllowed: String(putObjectBytesMax) } });
  return length;
}

/** Payload mode of an anonymous request: what its x-amz-content-sha256 claims, if anything. */
function anonymousPayloadMode(headers: IncomingHttpHeaders): PayloadMode {
  const value = headers['x-amz-content-sha256'];
  const mode = typeof value === 'string' ? parsePayloadMode(value) : { kind: 'unsigned' as const };
  if (mode.kind === 'streaming-signed' || mode.kind === 'streaming-signed-trailer') {
    throw new S3Error('InvalidRequest', 'A signed streaming payload requires a signed request');
  }
  return mode;
}

/**
 * Returns the payload of `body` as a byte stream. Header problems throw S3Error at once; body
 * problems error the returned stream before its end. Read `.checksum` after a clean end.
 * The caller owns `body`: it is never destroyed here, so an error response can still be sent.
 */
export function decodePayload(body: Readable, auth: PayloadAuth | null, headers: IncomingHttpHeaders): PayloadStream {
  const mode = auth ? auth.payload : anonymousPayloadMode(headers);
  const decodedLength = verifyChunkedHeaders(headers, mode);
  const plan = planChecksum(headers, hasTrailer(mode));
  const verifier = new PayloadVerifier(mode, plan, expectedLength(headers, mode, decodedLength));
  const source = isStreaming(mode) ? decodeChunked(body, chunkedDecoder(mode, auth), verifier) : passThrough(body, verifier);
  const stream: PayloadStream = { [Symbol.asyncIterator]: () => source };
  if (plan) stream.checksum = { algorithm: plan.algorithm, valueBase64: () => verifier.checksumBase64 };
  if (mode.kind === 'signed') stream.md5 = () => verifier.md5;
  return stream;
}

function expectedLength(headers: IncomingHttpHeaders, mode: PayloadMode, decodedLength: number | undefined): number | undefined {
  if (isStreaming(mode)) return decodedLength;
  // Node's HTTP parser enforces Content-Length on sockets; this also covers bodies from elsewhere.
  const text = headers['content-length'];
  return typeof text === 'string' && /^\d{1,16}$/.test(text) && headers['transfer-encoding'] === undefined ? Number(text) : undefined;
}

function chunkedDecoder(mode: PayloadMode, auth: PayloadAuth | null): ChunkedDecoder {
  const signed = mode.kind === 'streaming-signed' || mode.kind === 'streaming-signed-trailer';
  let signing: ChunkSigning | undefined;
  if (signed && auth?.signatureVersion === 4) {
    signing = { signingKey: auth.signingKey, amzDate: auth.amzDate, scope: credentialScope(auth.scopeDate, auth.region), seedSignature: auth.seedSignature };
  }
  return new ChunkedDecoder({ signing, trailers: hasTrailer(mode) });
}

/**
 * Reads the body without destroying it when decoding stops early: destroying an IncomingMessage
 * destroys its socket, and the HTTP layer must still send the S3 error response.
 */
function pieces(body: Readable): AsyncIterable<unknown> {
  return { [Symbol.asyncIterator]: () => body.iterator({ destroyOnReturn: false }) };
}

async function* passThrough(body: Readable, verifier: PayloadVerifier): AsyncGenerator<Buffer> {
  try {
    for await (const piece of pieces(body)) {
      const buf = toBuffer(piece);
      verifier.update(buf);
      await verifier.drained();
      yield buf;
    }
    await verifier.finish(undefined);
  } finally {
    verifier.dispose();
  }
}

async function* decodeChunked(body: Readable, decoder: ChunkedDecoder, verifier: PayloadVerifier): AsyncGenerator<Buffer> {
  try {
    for await (const piece of pieces(body)) {
      for (const data of decoder.push(toBuffer(piece))) {
        verifier.update(data);
        yield data;
      }
    }
    decoder.end();
    await verifier.finish(decoder.trailers);
  } finally {
    verifier.dispose();
  }
}

function toBuffer(piece: unknown): Buffer {
  if (Buffer.isBuffer(piece)) return piece;
  if (typeof piece === 'string') return Buffer.from(piece, 'utf8');
  throw new TypeError('Request body yielded a value that is neither a Buffer nor a string');
}

/** Counts, hashes and checksums the decoded payload; its finish() throws on any mismatch. */
class PayloadVerifier {
  checksumBase64: string | undefined;
  /** The payload's MD5, once finish() has verified a signed payload. */
  md5: Buffer | undefined;
  private bytes = 0;
  private readonly sha256: StreamingHash | undefined;
  private readonly checksum: Checksum | undefined;

  constructor(private readonly mode: PayloadMode, private readonly plan: ChecksumPlan | undefined, private readonly lengthExpected: number | undefined) {
    // The SDKs sign the payload's SHA-256 over plain HTTP: a large body's is hashed on the hashing thread,
    // as its MD5 is, since on the event loop's thread it was 14% of an SDK's 1 MiB PUT. The MD5 (the ETag)
    // rides along, so the bytes are copied to the thread once for both.
    this.sha256 = mode.kind === 'signed' ? streamingHash(['sha256', 'md5'], lengthExpected ?? 0) : undefined;
    this.checksum = plan ? createChecksum(plan.algorithm) : undefined;
  }

  /** Resolves once the hashing thread has caught up enough to take more bytes. */
  async drained(): Promise<void> {
    if (this.sha256?.backlogged) await this.sha256.drained();
  }

  /** Lets go of the hash of a body that will not be finished. */
  dispose(): void {
    this.sha256?.dispose();
  }

  update(data: Buffer): void {
    this.bytes += data.length;
    if (this.lengthExpected !== undefined && this.bytes > this.lengthExpected) {
      throw new S3Error('IncompleteBody', `The body is longer than the declared ${this.lengthExpected} bytes`);
    }
    // A body without a declared length (chunked transfer encoding) is held to the limit as it arrives.
    if (this.bytes > putObjectBytesMax) {
      throw new S3Error('EntityTooLarge', undefined, { extra: { ProposedSize: String(this.bytes), MaxSizeAllowed: String(putObjectBytesMax) } });
    }
    this.sha256?.update(data);
    this.checksum?.update(data);
  }

  async finish(trailers: ReadonlyMap<string, string> | undefined): Promise<void> {
    if (this.lengthExpected !== undefined && this.bytes !== this.lengthExpected) throw new S3Error('IncompleteBody');
    if (this.mode.kind === 'signed') {
      const [sha256, md5] = await this.sha256!.digests();
      const computed = sha256!.toString('hex');
      if (computed !== this.mode.sha256Hex) {
        throw new S3Error('XAmzContentSHA256Mismatch', undefined, { extra: { ClientComputedContentSHA256: this.mode.sha256Hex, S3ComputedContentSHA256: computed } });
      }
      this.md5 = md5;
    }
    if (this.plan && this.checksum) this.finishChecksum(this.plan, this.checksum.digest(), trailers);
  }

  private finishChecksum(plan: ChecksumPlan, digest: Buffer, trailers: ReadonlyMap<string, string> | undefined): void {
    let expected = plan.expected;
    if (plan.fromTrailer) {
      const name = checksumHeaderName(plan.algorithm);
      const text = trailers?.get(name);
      if (text === undefined) throw new S3Error('InvalidRequest', `The body has no ${name} trailer, which x-amz-trailer declares`);
      expected = decodeChecksumValue(plan.algorithm, text, 'trailing header');
    }
    if (expected && !expected.equals(digest)) {
      throw new S3Error('BadDigest', `The ${plan.algorithm} you specified did not match the calculated checksum.`);
    }
    this.checksumBase64 = digest.toString('base64');
  }
}
