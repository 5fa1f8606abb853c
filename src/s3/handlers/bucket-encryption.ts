// PutBucketEncryption, GetBucketEncryption and DeleteBucketEncryption: the default encryption of objects
// written to the bucket without encryption headers (objects/sse.ts defaultEncryptionOf applies it).
import { getBucket, setBucketEncryption } from '../../objects/buckets.js';
import type { BucketEncryption } from '../../objects/records.js';
import { requireBucket, sendEmpty, sendXml, type RequestContext } from '../context.js';
import { S3Error } from '../errors.js';
import { readVerifiedBody } from '../object-lock.js';
import { el, parseXml, xmlList, xmlText } from '../xml.js';

function ruleOf(doc: Record<string, unknown>): BucketEncryption {
  const rules = xmlList(doc, 'Rule');
  if (rules.length !== 1) throw new S3Error('MalformedXML');
  const rule = rules[0]!;
  const defaults = xmlList(rule, 'ApplyServerSideEncryptionByDefault');
  if (defaults.length !== 1) throw new S3Error('MalformedXML');
  const algorithm = xmlText(defaults[0]!, 'SSEAlgorithm');
  const kmsKeyId = xmlText(defaults[0]!, 'KMSMasterKeyID');
  const bucketKey = xmlText(rule, 'BucketKeyEnabled');
  if (algorithm === undefined) throw new S3Error('MalformedXML');
  if (algorithm !== 'AES256' && algorithm !== 'aws:kms') {
    throw new S3Error('InvalidArgument', 'The server side encryption algorithm is not valid', { extra: { ArgumentName: 'SSEAlgorithm', ArgumentValue: algorithm } });
  }
  if (kmsKeyId !== undefined && algorithm !== 'aws:kms') {
    throw new S3Error('InvalidArgument', 'a KMSMasterKeyID is not applicable if the default sse algorithm is not aws:kms', { extra: { ArgumentName: 'ApplyServerSideEncryptionByDefault' } });
  }
  if (bucketKey !== undefined && bucketKey !== 'true' && bucketKey !== 'false') throw new S3Error('MalformedXML');
  return {
    algorithm,
    ...(kmsKeyId !== undefined && kmsKeyId.trim() !== '' ? { kmsKeyId: kmsKeyId.trim() } : {}),
    ...(bucketKey === 'true' ? { bucketKeyEnabled: true } : {}),
  };
}

export async function handlePutBucketEncryption(c: RequestContext): Promise<void> {
  const bucket = requireBucket(c);
  const body = await readVerifiedBody(c);
  await getBucket(c.objects, bucket);
  await setBucketEncryption(c.objects, bucket, ruleOf(parseXml(body, 'ServerSideEncryptionConfiguration')));
  sendEmpty(c, 200);
}

/**
 * The bucket's rule; without one, the store's default when --default-encryption makes SSE-S3 the default
 * for every new object (as AWS answers for buckets since it encrypts every object), else 404.
 */
export async function handleGetBucketEncryption(c: RequestContext): Promise<void> {
  const record = await getBucket(c.objects, requireBucket(c));
  const rule: BucketEncryption | undefined = record.encryption ?? (c.objects.defaultEncryption === 'AES256' ? { algorithm: 'AES256' } : undefined);
  if (!rule) throw new S3Error('ServerSideEncryptionConfigurationNotFoundError', undefined, { extra: { BucketName: record.name } });
  sendXml(c, 'ServerSideEncryptionConfiguration', [
    el('Rule', [
      el('ApplyServerSideEncryptionByDefault', [el('SSEAlgorithm', rule.algorithm), rule.kmsKeyId !== undefined ? el('KMSMasterKeyID', rule.kmsKeyId) : undefined]),
      el('BucketKeyEnabled', rule.bucketKeyEnabled === true),
    ]),
  ]);
}

export async function handleDeleteBucketEncryption(c: RequestContext): Promise<void> {
  await setBucketEncryption(c.objects, requireBucket(c), undefined);
  sendEmpty(c, 204);
}
