// Reads which flexible checksum a request carries (x-amz-checksum-*, x-amz-trailer,
// x-amz-sdk-checksum-algorithm) and validates checksum values, with AWS's error wording.
import type { IncomingHttpHeaders } from 'node:http';
import { checksumAlgorithms, checksumDigestBytes, checksumHeaderName, parseChecksumAlgorithm, type ChecksumAlgorithm } from '../../util/checksum.js';
import { S3Error } from '../errors.js';

export interface ChecksumPlan {
  algorithm: ChecksumAlgorithm;
  expected?: Buffer; // given up front in an x-amz-checksum-<alg> header
  fromTrailer: boolean; // the value comes in the aws-chunked trailer
}

/** Decodes a base64 checksum; it must be canonical base64 of exactly the algorithm's digest size. */
export function decodeChecksumValue(alg: ChecksumAlgorithm, text: string, where: 'header' | 'trailing header'): Buffer {
  const bytes = Buffer.from(text, 'base64');
  if (bytes.length !== checksumDigestBytes[alg] || bytes.toString('base64') !== text) {
    throw new S3Error('InvalidRequest', `Value for ${checksumHeaderName(alg)} ${where} is invalid.`);
  }
  return bytes;
}

function declaredTrailers(headers: IncomingHttpHeaders): string[] {
  const value = headers['x-amz-trailer'];
  if (value === undefined) return [];
  const text = Array.isArray(value) ? value.join(',') : value;
  return text.split(',').map((s) => s.trim().toLowerCase()).filter((s) => s !== '');
}

function trailerAlgorithm(name: string): ChecksumAlgorithm {
  const alg = name.startsWith('x-amz-checksum-') ? parseChecksumAlgorithm(name.slice('x-amz-checksum-'.length)) : undefined;
  if (!alg) throw new S3Error('InvalidRequest', `The trailer "${name.slice(0, 64)}" is not supported`);
  return alg;
}

/**
 * The checksum to compute over the payload, and where its expected value comes from; undefined if
 * the request names none. A request may name at most one algorithm.
 */
export function planChecksum(headers: IncomingHttpHeaders, trailerMode: boolean): ChecksumPlan | undefined {
  const inHeaders = checksumAlgorithms.filter((alg) => headers[checksumHeaderName(alg)] !== undefined);
  const trailers = declaredTrailers(headers);
  if (trailers.length > 0 && !trailerMode) {
    throw new S3Error('InvalidRequest', 'The x-amz-trailer header requires a STREAMING-*-TRAILER x-amz-content-sha256');
  }
  const inTrailer = trailers.map(trailerAlgorithm);
  if (inHeaders.length + inTrailer.length > 1) {
    throw new S3Error('InvalidRequest', 'Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed.');
  }
  const sdkAlgorithm = sdkChecksumAlgorithm(headers);
  const named = inHeaders[0] ?? inTrailer[0];
  if (named && sdkAlgorithm && named !== sdkAlgorithm) {
    throw new S3Error('InvalidRequest', 'Value for x-amz-sdk-checksum-algorithm header is invalid.');
  }
  if (inHeaders[0]) {
    const raw = headers[checksumHeaderName(inHeaders[0])];
    const text = Array.isArray(raw) ? raw.join(',') : raw ?? '';
    return { algorithm: inHeaders[0], expected: decodeChecksumValue(inHeaders[0], text.trim(), 'header'), fromTrailer: false };
  }
  if (inTrailer[0]) return { algorithm: inTrailer[0], fromTrailer: true };
  if (sdkAlgorithm) return { algorithm: sdkAlgorithm, fromTrailer: false };
  return undefined;
}

function sdkChecksumAlgorithm(headers: IncomingHttpHeaders): ChecksumAlgorithm | undefined {
  const value = headers['x-amz-sdk-checksum-algorithm'];
  if (value === undefined) return undefined;
  const alg = typeof value === 'string' ? parseChecksumAlgorithm(value) : undefined;
  if (!alg) throw new S3Error('InvalidRequest', 'Value for x-amz-sdk-checksum-algorithm header is invalid.');
  return alg;
}
