// The error a policy document that AWS would refuse raises, with AWS's message; src/s3 answers it as 400
// MalformedPolicy (PutBucketPolicy) and the admin API as a bad request.
export class PolicyError extends TypeError {
  override name = 'PolicyError';
}
