# boto3 with its default configuration under a per-key rate limit (issue 14): every request must
# complete, the SlowDown answers being retried by botocore on its own. Prints a JSON summary last.
import json
import os
import sys

import boto3

s3 = boto3.client('s3', endpoint_url=os.environ['TESSERA_ENDPOINT'], region_name='us-east-1')
bucket = sys.argv[1]
retries = 0
for i in range(int(sys.argv[2])):
    put = s3.put_object(Bucket=bucket, Key=f'boto3-{i}', Body=f'body {i}'.encode())
    got = s3.get_object(Bucket=bucket, Key=f'boto3-{i}')
    assert got['Body'].read() == f'body {i}'.encode()
    retries += put['ResponseMetadata']['RetryAttempts'] + got['ResponseMetadata']['RetryAttempts']
print(json.dumps({'ok': True, 'retries': retries}))
