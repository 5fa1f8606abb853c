// Turns a request body into verified payload bytes: x-amz-content-sha256, aws-chunked framing and
// signatures, and S3 flexible checksums. Every check fails by erroring the stream before it ends,
// so a consumer that commits only on a clean end never commits a bad body; the one exception is the
// signed payload's SHA-256 once its consumer took that check over (PayloadStream.deferPayloadCheck).
import type { IncomingHttpHeaders } from 'node:http';
import type { Readable } from 'node:stream';
import { assert } from '../../util/assert.js';
import { PassingSource, ReadableSource, type ChunkSource } from '../../util/chunk-source.js';
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
 * The decoded bytes: a ChunkSource, so ingest and the block writer take each one by a call, with no
 * stream or generator between the socket and the stripe buffer (issue 17); for-await works too.
 */
export type PayloadStream = ChunkSource & {
  checksum?: PayloadChecksum;
  /**
   * For a signed payload (x-amz-content-sha256 names the body's SHA-256): moves the check of that SHA-256 from
   * the body's end to the returned digest(), which checks it and gives the body's MD5, hashed beside it (one
   * pass over the bytes on the hashing thread for both). Call before reading the body; await digest() once
   * the body has ended, before anything of it counts, and dispose() the check in every case. Deferred so, the
   * MD5 of a body can wait on the hashing thread while the body is written, for other uploads' bytes to share
   * its SIMD lanes (issue 17).
   */
  deferPayloadCheck?: () => PayloadCheck;
};

/** A signed payload's deferred SHA-256 check (PayloadStream.deferPayloadCheck). */
export interface PayloadCheck {
  /** The body's MD5 once its SHA-256 matched the signed one; rejects with XAmzContentSHA256Mismatch if not. */
  digest(): Promise<Buffer>;
  dispose(): void;
}

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
  const stream: PayloadStream = new DecodedPayload(new ReadableSource(body), isStreaming(mode) ? chunkedDecoder(mode, auth) : undefined, verifier);
  if (plan) stream.checksum = { algorithm: plan.algorithm, valueBase64: () => verifier.checksumBase64 };
  if (mode.kind === 'signed') stream.deferPayloadCheck = () => verifier.defer();
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
 * The wire's chunks, decoded (aws-chunked framing) when there is a decoder, each counted and hashed as it
 * is taken; the end is given only after every check of the body passed. The wire is read without being
 * destroyed when decoding stops early: the HTTP layer must still send the S3 error response.
 */
class DecodedPayload extends PassingSource {
  /** Payload slices of the last wire chunk: decoded[taken, count) are not yet taken. */
  private readonly decoded: Buffer[] = [];
  private count = 0;
  private taken = 0;
  private finished = false;

  constructor(wire: ChunkSource, private readonly decoder: ChunkedDecoder | undefined, private readonly verifier: PayloadVerifier) {
    super(wire);
  }

  protected next(): Buffer | null | undefined {
    for (;;) {
      if (this.taken < this.count) return this.verified(this.decoded[this.taken++]!);
      if (this.finished) return null;
      const wire = this.inner.take();
      if (wire === undefined) return undefined;
      if (wire === null) {
        this.decoder?.end();
        this.waitFor(this.verifier.finish(this.decoder?.trailers).then(() => {
          this.finished = true;
          if (!this.verifier.deferred) this.verifier.dispose(); // else its check's owner disposes it
        }));
        return undefined;
      }
      if (!this.decoder) return this.verified(wire);
      this.taken = 0;
      this.count = this.decoder.push(wire, this.decoded);
    }
  }

  private verified(data: Buffer): Buffer {
    this.verifier.update(data);
    if (this.verifier.backlogged) this.waitFor(this.verifier.drained());
    return data;
  }

  protected override release(): void {
    this.decoded.length = 0;
    this.count = 0;
    this.verifier.dispose();
  }
}

/** Counts, hashes and checksums the decoded payload; its finish() throws on any mismatch. */
class PayloadVerifier {
  checksumBase64: string | undefined;
  /** The signed payload's SHA-256 is checked by the PayloadCheck defer() gave, not by finish(). */
  deferred = false;
  private bytes = 0;
  // Made on first use: a body never read (a request refused before its body) holds no digest on the thread.
  private sha256: StreamingHash | undefined;
  private readonly checksum: Checksum | undefined;

  constructor(private readonly mode: PayloadMode, private readonly plan: ChecksumPlan | undefined, private readonly lengthExpected: number | undefined) {
    this.checksum = plan ? createChecksum(plan.algorithm) : undefined;
  }

  private payloadHash(): StreamingHash | undefined {
    if (this.mode.kind !== 'signed') return undefined;
    // The SDKs sign the payload's SHA-256 over plain HTTP: a large body's is hashed on the hashing thread,
    // as its MD5 is, since on the event loop's thread it was 14% of an SDK's 1 MiB PUT. The MD5 (the ETag)
    // rides along, so the bytes are copied to the thread once for both.
    return (this.sha256 ??= streamingHash(['sha256', 'md5'], this.lengthExpected ?? 0));
  }

  /** Whether the hashing thread must catch up (drained()) before it takes more bytes. */
  get backlogged(): boolean {
    return this.sha256?.backlogged ?? false;
  }

  drained(): Promise<void> {
    return this.sha256?.drained() ?? Promise.resolve();
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
    this.payloadHash()?.update(data);
    this.checksum?.update(data);
  }

  async finish(trailers: ReadonlyMap<string, string> | undefined): Promise<void> {
    if (this.lengthExpected !== undefined && this.bytes !== this.lengthExpected) throw new S3Error('IncompleteBody');
    if (this.mode.kind === 'signed' && !this.deferred) await this.checkSigned(this.mode.sha256Hex);
    if (this.plan && this.checksum) this.finishChecksum(this.plan, this.checksum.digest(), trailers);
  }

  /** Takes the signed payload's check off finish(): see PayloadStream.deferPayloadCheck. */
  defer(): PayloadCheck {
    assert(this.mode.kind === 'signed' && this.bytes === 0, 'Only a signed payload not yet read can defer its check');
    const { sha256Hex } = this.mode;
    this.deferred = true;
    return { digest: () => this.checkSigned(sha256Hex), dispose: () => this.dispose() };
  }

  /** The payload's MD5, once its SHA-256 is the signed one. */
  private async checkSigned(sha256Hex: string): Promise<Buffer> {
    const [sha256, md5] = await this.payloadHash()!.digests();
    const computed = sha256!.toString('hex');
    if (computed !== sha256Hex) {
      throw new S3Error('XAmzContentSHA256Mismatch', undefined, { extra: { ClientComputedContentSHA256: sha256Hex, S3ComputedContentSHA256: computed } });
    }
    return md5!;
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
