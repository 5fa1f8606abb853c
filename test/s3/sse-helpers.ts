// What the SSE tests of test/s3 share: reading a GET's body, and checking an SDK refusal's status and code.
import assert from 'node:assert/strict';
import type { S3ServiceException } from '@aws-sdk/client-s3';

export async function bytesOf(output: { Body?: { transformToByteArray(): Promise<Uint8Array> } }): Promise<Buffer> {
  return Buffer.from(await output.Body!.transformToByteArray());
}

/** `promise` rejects with HTTP `status` and, unless empty, the error code `code`. */
export async function rejects(promise: Promise<unknown>, status: number, code: string): Promise<void> {
  await assert.rejects(promise, (err: S3ServiceException) => {
    assert.equal(err.$metadata.httpStatusCode, status, `${err.name}: ${err.message}`);
    if (code) assert.equal(err.name, code);
    return true;
  });
}
