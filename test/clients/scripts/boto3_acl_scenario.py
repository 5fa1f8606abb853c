#!/usr/bin/python3
"""boto3 ACLs and Object Ownership against a running S3 endpoint whose store-wide Block Public Access is off.

Usage: boto3_acl_scenario.py ENDPOINT PREFIX
Credentials come from AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY in the environment.
Every check that fails raises, so the process exits nonzero. On success the last line on stdout is
one JSON object (the summary) that the node:test file parses.
"""
import json
import sys

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

ALL_USERS = 'http://acs.amazonaws.com/groups/global/AllUsers'
AUTHENTICATED_USERS = 'http://acs.amazonaws.com/groups/global/AuthenticatedUsers'


def check(condition, message):
    if not condition:
        raise AssertionError(message)


def error_of(call):
    try:
        call()
    except ClientError as e:
        return [e.response['ResponseMetadata']['HTTPStatusCode'], e.response['Error'].get('Code')]
    raise AssertionError('expected the call to fail')


def grants_of(response):
    out = []
    for g in response['Grants']:
        grantee = g['Grantee']
        out.append(f"{grantee['Type']}:{grantee.get('ID') or grantee.get('URI')}:{g['Permission']}")
    return sorted(out)


def main():
    endpoint, prefix = sys.argv[1], sys.argv[2]
    s3 = boto3.client('s3', endpoint_url=endpoint, region_name='us-east-1',
                      config=Config(s3={'addressing_style': 'path'}, retries={'max_attempts': 1}))
    summary = {}
    owner = s3.list_buckets()['Owner']
    owner_id = owner['ID']
    summary['ownerId'] = owner_id

    # A bucket created without settings: BucketOwnerEnforced, ACLs off.
    enforced = f'{prefix}-enforced'
    s3.create_bucket(Bucket=enforced)
    rules = s3.get_bucket_ownership_controls(Bucket=enforced)['OwnershipControls']['Rules']
    summary['defaultOwnership'] = rules[0]['ObjectOwnership']
    summary['enforcedPublicPut'] = error_of(lambda: s3.put_object(Bucket=enforced, Key='k', Body=b'x', ACL='public-read'))
    s3.put_object(Bucket=enforced, Key='k', Body=b'x', ACL='bucket-owner-full-control')
    summary['enforcedObjectAcl'] = grants_of(s3.get_object_acl(Bucket=enforced, Key='k'))

    # A bucket with ACLs on.
    bucket = f'{prefix}-writer'
    s3.create_bucket(Bucket=bucket, ObjectOwnership='ObjectWriter', ACL='public-read')
    acl = s3.get_bucket_acl(Bucket=bucket)
    check(acl['Owner']['ID'] == owner_id, f"bucket ACL owner {acl['Owner']}")
    summary['bucketAcl'] = grants_of(acl)
    s3.put_object(Bucket=bucket, Key='granted', Body=b'x', GrantRead=f'uri="{AUTHENTICATED_USERS}"', GrantFullControl=f'id="{owner_id}"')
    summary['grantedObjectAcl'] = grants_of(s3.get_object_acl(Bucket=bucket, Key='granted'))
    s3.put_object_acl(Bucket=bucket, Key='granted', AccessControlPolicy={
        'Owner': {'ID': owner_id},
        'Grants': [
            {'Grantee': {'Type': 'CanonicalUser', 'ID': owner_id}, 'Permission': 'FULL_CONTROL'},
            {'Grantee': {'Type': 'Group', 'URI': ALL_USERS}, 'Permission': 'READ'},
        ],
    })
    summary['replacedObjectAcl'] = grants_of(s3.get_object_acl(Bucket=bucket, Key='granted'))
    s3.copy_object(Bucket=bucket, Key='copy', CopySource={'Bucket': bucket, 'Key': 'granted'}, ACL='authenticated-read')
    summary['copyAcl'] = grants_of(s3.get_object_acl(Bucket=bucket, Key='copy'))
    upload = s3.create_multipart_upload(Bucket=bucket, Key='mp', ACL='public-read')
    part = s3.upload_part(Bucket=bucket, Key='mp', UploadId=upload['UploadId'], PartNumber=1, Body=b'part')
    s3.complete_multipart_upload(Bucket=bucket, Key='mp', UploadId=upload['UploadId'],
                                 MultipartUpload={'Parts': [{'PartNumber': 1, 'ETag': part['ETag']}]})
    summary['multipartAcl'] = grants_of(s3.get_object_acl(Bucket=bucket, Key='mp'))
    summary['badGrant'] = error_of(lambda: s3.put_bucket_acl(Bucket=bucket, GrantRead='id="' + '0' * 64 + '"'))

    # Ownership controls: put, get, delete.
    s3.put_bucket_acl(Bucket=bucket, ACL='private')
    s3.put_bucket_ownership_controls(Bucket=bucket, OwnershipControls={'Rules': [{'ObjectOwnership': 'BucketOwnerEnforced'}]})
    summary['afterEnforce'] = grants_of(s3.get_object_acl(Bucket=bucket, Key='granted'))
    s3.delete_bucket_ownership_controls(Bucket=bucket)
    summary['afterDelete'] = error_of(lambda: s3.get_bucket_ownership_controls(Bucket=bucket))

    summary['ok'] = True
    print(json.dumps(summary))


main()
