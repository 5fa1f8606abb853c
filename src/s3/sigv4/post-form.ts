// Who signed a browser POST upload: the form's own signature over its policy ("Authenticating Requests:
// Browser-Based Uploads Using POST (AWS Signature Version 4)", and "HTML forms (AWS signature version 2)").
// The string to sign is the base64 policy as sent; the key is the SigV4 signing key of the credential's
// scope, or for a SigV2 form the secret itself (HMAC-SHA1). Secrets never reach a message.
import { createHmac } from 'node:crypto';
import { signatureMatchesV2 } from '../sigv2/authenticate.js';
import { S3Error } from '../errors.js';
import type { FormFields } from '../post-policy.js';
import { lookupSecret, parseAmzDate, parseCredential, unsupportedMechanism, type AuthConfig } from './authenticate.js';
import { sigv4Algorithm } from './canonical.js';
import { hmac, signatureMatches, signingKey } from './signing-key.js';

export interface FormAuth {
  accessKeyId: string;
  /** The version the form was signed with: it decides which signature fields need no policy condition. */
  signatureVersion: 2 | 4;
}

/** AWS's answer to a form that lacks a field the upload needs. */
export function missingField(name: string): S3Error {
  return new S3Error('InvalidArgument', `Bucket POST must contain a field named '${name}'.  If it is specified, please check the order of the fields.`, {
    extra: { ArgumentName: name, ArgumentValue: '' },
  });
}

const sigv4Fields = ['x-amz-algorithm', 'x-amz-credential', 'x-amz-date', 'x-amz-signature'] as const;
const sigv2Fields = ['awsaccesskeyid', 'signature'] as const;

/**
 * The signer of the form, or null for an unsigned (anonymous) form. Throws the S3 error for a form
 * whose signature is incomplete, malformed or wrong. The signature version is told by its fields.
 */
export function authenticateForm(fields: FormFields, config: AuthConfig & { sigv2: boolean }): FormAuth | null {
  if (sigv4Fields.some((name) => fields.has(name))) return authenticateSigV4(fields, config);
  // SigV2 forms (what boto3's generate_presigned_post makes by default) follow the server's SigV2 setting:
  // refused as SigV2 headers are when it is off.
  if (sigv2Fields.some((name) => fields.has(name))) {
    if (!config.sigv2) throw new S3Error('InvalidRequest', unsupportedMechanism);
    return authenticateSigV2(fields, config);
  }
  // A policy without a signature authenticates nobody; AWS asks for the signature.
  if (fields.has('policy')) throw missingField('x-amz-signature');
  return null;
}

function authenticateSigV4(fields: FormFields, config: AuthConfig): FormAuth {
  const value = (name: string): string => {
    const field = fields.get(name);
    if (field === undefined) throw missingField(name);
    return field.value;
  };
  const algorithm = value('x-amz-algorithm');
  if (algorithm !== sigv4Algorithm) throw new S3Error('InvalidRequest', unsupportedMechanism);
  const credential = parseCredential('header', value('x-amz-credential'), config.region);
  const amzDate = value('x-amz-date');
  if (parseAmzDate(amzDate) === undefined) {
    throw new S3Error('InvalidArgument', 'X-Amz-Date must be in the ISO8601 Long Format "yyyyMMdd\'T\'HHmmss\'Z\'"', { extra: { ArgumentName: 'x-amz-date', ArgumentValue: amzDate } });
  }
  if (amzDate.slice(0, 8) !== credential.scopeDate) {
    throw new S3Error('AuthorizationHeaderMalformed', 'The authorization header is malformed; Invalid credential date. Date is not the same as X-Amz-Date.');
  }
  const provided = value('x-amz-signature');
  const policy = value('policy');
  const secret = lookupSecret(config, credential.accessKeyId);
  // No clock-skew check: the policy's expiration bounds how long the form is good for.
  const expected = hmac(signingKey(secret, credential.scopeDate, config.region), policy);
  if (!signatureMatches(expected, provided)) {
    throw new S3Error('SignatureDoesNotMatch', undefined, {
      extra: { AWSAccessKeyId: credential.accessKeyId, StringToSign: policy, SignatureProvided: provided },
    });
  }
  return { accessKeyId: credential.accessKeyId, signatureVersion: 4 };
}

/** A SigV2 form: `signature` is the base64 HMAC-SHA1 of the base64 policy under the key's secret. */
function authenticateSigV2(fields: FormFields, config: AuthConfig): FormAuth {
  const value = (name: string): string => {
    const field = fields.get(name);
    if (field === undefined) throw missingField(name === 'awsaccesskeyid' ? 'AWSAccessKeyId' : name);
    return field.value;
  };
  const accessKeyId = value('awsaccesskeyid');
  const provided = value('signature');
  const policy = value('policy');
  const secret = lookupSecret(config, accessKeyId);
  const expected = createHmac('sha1', secret).update(policy, 'utf8').digest();
  if (!signatureMatchesV2(expected, provided)) {
    throw new S3Error('SignatureDoesNotMatch', undefined, { extra: { AWSAccessKeyId: accessKeyId, StringToSign: policy, SignatureProvided: provided } });
  }
  return { accessKeyId, signatureVersion: 2 };
}
