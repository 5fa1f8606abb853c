# Puts an object with non-ASCII user metadata through boto3, set the way ceph s3-tests'
# test_object_set_get_unicode_metadata sets it, and prints what a GET gives back as JSON.
import json
import sys

import boto3
from botocore.config import Config

endpoint, access_key, secret_key, bucket, value = sys.argv[1:6]
client = boto3.client(
    's3', endpoint_url=endpoint, aws_access_key_id=access_key, aws_secret_access_key=secret_key,
    region_name='us-east-1', config=Config(s3={'addressing_style': 'path'}),
)


def set_unicode_metadata(**kwargs):
    kwargs['params']['headers']['x-amz-meta-meta1'] = value


client.meta.events.register('before-call.s3.PutObject', set_unicode_metadata)
client.put_object(Bucket=bucket, Key='unicode-boto3', Body=b'bar')
got = client.get_object(Bucket=bucket, Key='unicode-boto3')
print(json.dumps({'meta1': got['Metadata'].get('meta1')}))
