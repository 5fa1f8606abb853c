#!/usr/bin/python3
"""boto3 signing with SigV2 (Config(signature_version='s3')) against a running S3 endpoint.

Usage: boto3_sigv2_scenario.py PORT BUCKET
Credentials come from AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY in the environment.
Requests go virtual-hosted style to BUCKET.localhost:PORT, as botocore addresses AWS: with path style,
botocore's SigV2 signer signs a sub-resource twice ("/b/k?uploads?uploads", boto/botocore#2962), which
AWS refuses as SignatureDoesNotMatch, and so does Tessera. Presigned URLs are made path style (no
sub-resource in them), so plain HTTP clients can fetch them from 127.0.0.1.
Every check that fails raises, so the process exits nonzero. On success the last line on
stdout is one JSON object (the summary, with presigned URLs to fetch) that the node:test file parses.
"""
import hashlib
import json
import os
import socket
import sys

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

MIB = 1024 * 1024


def check(condition, message):
    if not condition:
        raise AssertionError(message)


# *.localhost does not resolve here; the names of virtual-hosted buckets are sent to 127.0.0.1.
_getaddrinfo = socket.getaddrinfo


def _loopback_getaddrinfo(host, *args, **kwargs):
    if isinstance(host, str) and host.endswith('.localhost'):
        host = '127.0.0.1'
    return _getaddrinfo(host, *args, **kwargs)


socket.getaddrinfo = _loopback_getaddrinfo


def client(endpoint, style='virtual', **overrides):
    return boto3.client(
        's3', endpoint_url=endpoint, region_name='us-east-1',
        config=Config(signature_version='s3', s3={'addressing_style': style}, retries={'max_attempts': 1}),
        **overrides,
    )


def error_of(call):
    try:
        call()
    except ClientError as e:
        return e.response['ResponseMetadata']['HTTPStatusCode'], e.response['Error'].get('Code'), e.response['Error']
    raise AssertionError('expected the call to fail')


def main():
    port, bucket = sys.argv[1], sys.argv[2]
    s3 = client(f'http://localhost:{port}')
    path_style = client(f'http://127.0.0.1:{port}', style='path')
    summary = {}
    # Every request below goes out signed "AWS AKID:signature"; the event shows it.
    authorizations = []
    s3.meta.events.register('before-send.s3', lambda request, **_: authorizations.append(request.headers.get('Authorization', b'')))

    s3.create_bucket(Bucket=bucket)
    body = b'hello sigv2 \xe2\x9c\x93'
    s3.put_object(Bucket=bucket, Key='dir/a b+c.txt', Body=body, ContentType='text/plain',
                  Metadata={'colour': 'blue'}, ACL='private')
    got = s3.get_object(Bucket=bucket, Key='dir/a b+c.txt')
    check(got['Body'].read() == body, 'GET bytes differ')
    check(got['ContentType'] == 'text/plain', 'content type lost')
    check(got['Metadata'] == {'colour': 'blue'}, f"metadata {got['Metadata']}")

    ranged = s3.get_object(Bucket=bucket, Key='dir/a b+c.txt', Range='bytes=2-5')
    check(ranged['ResponseMetadata']['HTTPStatusCode'] == 206, 'range GET is not 206')
    check(ranged['Body'].read() == body[2:6], 'range GET bytes differ')

    s3.copy_object(Bucket=bucket, Key='copy.txt', CopySource={'Bucket': bucket, 'Key': 'dir/a b+c.txt'})
    check(s3.get_object(Bucket=bucket, Key='copy.txt')['Body'].read() == body, 'copy bytes differ')

    # Multipart, part by part: ?uploads, ?partNumber&uploadId and ?uploadId are signed sub-resources.
    part1, part2 = os.urandom(5 * MIB), os.urandom(12345)
    upload = s3.create_multipart_upload(Bucket=bucket, Key='multi.bin')
    upload_id = upload['UploadId']
    etags = [s3.upload_part(Bucket=bucket, Key='multi.bin', UploadId=upload_id, PartNumber=n, Body=data)['ETag']
             for n, data in ((1, part1), (2, part2))]
    parts = s3.list_parts(Bucket=bucket, Key='multi.bin', UploadId=upload_id)['Parts']
    check([p['PartNumber'] for p in parts] == [1, 2], f'parts {parts}')
    s3.complete_multipart_upload(Bucket=bucket, Key='multi.bin', UploadId=upload_id, MultipartUpload={
        'Parts': [{'PartNumber': n, 'ETag': e} for n, e in zip((1, 2), etags)]})
    whole = s3.get_object(Bucket=bucket, Key='multi.bin')['Body'].read()
    check(hashlib.sha256(whole).digest() == hashlib.sha256(part1 + part2).digest(), 'multipart bytes differ')
    check(s3.get_object(Bucket=bucket, Key='multi.bin', PartNumber=2)['Body'].read() == part2, 'GET ?partNumber=2 differs')

    s3.put_object_tagging(Bucket=bucket, Key='copy.txt', Tagging={'TagSet': [{'Key': 'k', 'Value': 'v'}]})
    check(s3.get_object_tagging(Bucket=bucket, Key='copy.txt')['TagSet'] == [{'Key': 'k', 'Value': 'v'}], 'tags differ')
    listed = s3.list_objects_v2(Bucket=bucket, Prefix='dir/')
    check([o['Key'] for o in listed['Contents']] == ['dir/a b+c.txt'], f'listing {listed}')
    check(s3.get_bucket_location(Bucket=bucket).get('LocationConstraint') in (None, ''), 'location')

    # A wrong secret: 403 SignatureDoesNotMatch carrying the StringToSign AWS returns.
    wrong = client(f'http://localhost:{port}', aws_access_key_id=os.environ['AWS_ACCESS_KEY_ID'],
                   aws_secret_access_key='not-the-secret-key-0000000000000000000000')
    status, code, error = error_of(lambda: wrong.put_object(Bucket=bucket, Key='x', Body=b'x'))
    check((status, code) == (403, 'SignatureDoesNotMatch'), f'wrong secret gave {status} {code}')
    check(error.get('StringToSign', '').startswith('PUT\n'), f'no StringToSign in {error}')

    # Presigned URLs for the test to fetch with curl and fetch(); one already expired.
    summary['virtualGetUrl'] = s3.generate_presigned_url('get_object', Params={'Bucket': bucket, 'Key': 'dir/a b+c.txt'}, ExpiresIn=300)
    summary['getUrl'] = path_style.generate_presigned_url('get_object', Params={'Bucket': bucket, 'Key': 'dir/a b+c.txt'}, ExpiresIn=300)
    summary['rangeBody'] = body[2:6].decode('latin1')
    summary['putUrl'] = path_style.generate_presigned_url('put_object', Params={'Bucket': bucket, 'Key': 'presigned-put.txt', 'ContentType': 'text/csv'}, ExpiresIn=300)
    summary['expiredUrl'] = path_style.generate_presigned_url('get_object', Params={'Bucket': bucket, 'Key': 'dir/a b+c.txt'}, ExpiresIn=-60)
    summary['overrideUrl'] = path_style.generate_presigned_url('get_object', Params={
        'Bucket': bucket, 'Key': 'dir/a b+c.txt', 'ResponseContentDisposition': 'attachment; filename="x y.txt"'}, ExpiresIn=300)

    s3.delete_objects(Bucket=bucket, Delete={'Objects': [{'Key': 'copy.txt'}, {'Key': 'multi.bin'}]})
    check(all(a.startswith(b'AWS ') if isinstance(a, bytes) else a.startswith('AWS ') for a in authorizations) and len(authorizations) > 10,
          f'not every request was SigV2: {authorizations[:3]}')
    summary['requests'] = len(authorizations)
    summary['ok'] = True
    print(json.dumps(summary))


if __name__ == '__main__':
    main()
