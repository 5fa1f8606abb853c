// GetBucketVersioning and PutBucketVersioning: unversioned → Enabled ⇄ Suspended. MFA delete is refused.
import { getBucket, setBucketVersioning } from '../../objects/buckets.js';
import { readSmallBody, requireBucket, sendEmpty, sendXml, type RequestContext } from '../context.js';
import { S3Error } from '../errors.js';
import { el, parseXml, xmlText } from '../xml.js';

export async function handleGetBucketVersioning(c: RequestContext): Promise<void> {
  const bucket = await getBucket(c.objects, requireBucket(c));
  sendXml(c, 'VersioningConfiguration', bucket.versioning === 'Unversioned' ? [] : [el('Status', bucket.versioning)]);
}

export async function handlePutBucketVersioning(c: RequestContext): Promise<void> {
  const bucket = requireBucket(c);
  const config = parseXml(await readSmallBody(c), 'VersioningConfiguration');
  const status = xmlText(config, 'Status');
  const mfa = xmlText(config, 'MfaDelete');
  if (mfa === 'Enabled' || c.req.headers['x-amz-mfa'] !== undefined) {
    throw new S3Error('NotImplemented', 'MFA delete is not supported');
  }
  if (mfa !== undefined && mfa !== 'Disabled') throw new S3Error('IllegalVersioningConfigurationException');
  if (status !== 'Enabled' && status !== 'Suspended') {
    if (status === undefined) {
      await getBucket(c.objects, bucket); // a configuration without Status changes nothing
      return sendEmpty(c, 200);
    }
    throw new S3Error('IllegalVersioningConfigurationException');
  }
  await setBucketVersioning(c.objects, bucket, status);
  sendEmpty(c, 200);
}
