#!/usr/bin/python3
"""boto3 scenario against a running S3 endpoint (Tessera in the tests).

Usage: boto3_scenario.py ENDPOINT BUCKET WORKDIR
Credentials come from AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY in the environment.
Every check that fails raises, so the process exits nonzero. On success the last line on
stdout is one JSON object (the summary) that the node:test file parses.
"""
import concurrent.futures
import hashlib
import json
import os
import sys
import time
import urllib.error
import urllib.request
import xml.etree.ElementTree

import boto3
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
from botocore.exceptions import ClientError

MIB = 1024 * 1024
BIG_SIZE_BYTES = 40 * MIB + 12345  # not a multiple of the chunk size: the last part is short
CHUNK_SIZE_BYTES = 8 * MIB
SMALL_KEYS_COUNT = 1100
PRESIGN_EXPIRES_S = 300
HTTP_TIMEOUT_S = 60


def check(condition, message):
    if not condition:
        raise AssertionError(message)


def sha256_file(path):
    digest = hashlib.sha256()
    with open(path, 'rb') as f:
        for block in iter(lambda: f.read(MIB), b''):
            digest.update(block)
    return digest.hexdigest()


def write_random_file(path, size_bytes):
    with open(path, 'wb') as f:
        left = size_bytes
        while left > 0:
            n = min(left, 4 * MIB)
            f.write(os.urandom(n))
            left -= n


def multipart_etag(path, part_size_bytes):
    """The ETag S3 gives an object uploaded in parts of part_size_bytes: md5 of md5s, then -N."""
    md5s = []
    with open(path, 'rb') as f:
        for part in iter(lambda: f.read(part_size_bytes), b''):
            md5s.append(hashlib.md5(part).digest())
    return '"%s-%d"' % (hashlib.md5(b''.join(md5s)).hexdigest(), len(md5s))


def sha256_url(url):
    digest = hashlib.sha256()
    with urllib.request.urlopen(url, timeout=HTTP_TIMEOUT_S) as response:
        check(response.status == 200, f'GET {url} status {response.status}')
        for block in iter(lambda: response.read(MIB), b''):
            digest.update(block)
    return digest.hexdigest()


def http_get(url):
    """Status and body of a GET, for error responses too."""
    try:
        with urllib.request.urlopen(url, timeout=HTTP_TIMEOUT_S) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def http_status(url):
    return http_get(url)[0]


def error_code(body):
    """The <Code> of an S3 XML error body, or None."""
    try:
        root = xml.etree.ElementTree.fromstring(body)
    except xml.etree.ElementTree.ParseError:
        return None
    return root.findtext('Code')


def main():
    endpoint, bucket, workdir = sys.argv[1], sys.argv[2], sys.argv[3]
    summary = {}
    started = time.monotonic()
    s3 = boto3.client(
        's3',
        endpoint_url=endpoint,
        region_name='us-east-1',
        config=Config(retries={'max_attempts': 1}, max_pool_connections=16),
    )

    s3.create_bucket(Bucket=bucket)

    # upload_file with a multipart TransferConfig, download_file, compare bytes.
    source = os.path.join(workdir, 'big.bin')
    target = os.path.join(workdir, 'big.down')
    write_random_file(source, BIG_SIZE_BYTES)
    transfer = TransferConfig(
        multipart_threshold=CHUNK_SIZE_BYTES,
        multipart_chunksize=CHUNK_SIZE_BYTES,
        max_concurrency=4,
    )
    s3.upload_file(source, bucket, 'big/object.bin', Config=transfer)
    head = s3.head_object(Bucket=bucket, Key='big/object.bin')
    check(head['ContentLength'] == BIG_SIZE_BYTES, f'head_object size {head["ContentLength"]} != {BIG_SIZE_BYTES}')
    expected_etag = multipart_etag(source, CHUNK_SIZE_BYTES)
    check(head['ETag'] == expected_etag, f'multipart ETag {head["ETag"]}, want {expected_etag}')
    s3.download_file(bucket, 'big/object.bin', target, Config=transfer)
    source_sha256 = sha256_file(source)
    check(sha256_file(target) == source_sha256, 'download_file bytes differ from upload_file bytes')
    summary['bigSha256'] = source_sha256
    summary['bigETag'] = head['ETag']

    # head_object on a small object: metadata and content type round-trip.
    s3.put_object(Bucket=bucket, Key='meta/x.txt', Body=b'hello boto3', ContentType='text/plain; charset=utf-8',
                  Metadata={'colour': 'blue'})
    small_head = s3.head_object(Bucket=bucket, Key='meta/x.txt')
    check(small_head['ContentLength'] == 11, f'small head size {small_head["ContentLength"]}')
    check(small_head['ContentType'] == 'text/plain; charset=utf-8', f'content type {small_head["ContentType"]!r}')
    check(small_head['Metadata'] == {'colour': 'blue'}, f'metadata {small_head["Metadata"]!r}')
    check(small_head['ETag'] == '"' + hashlib.md5(b'hello boto3').hexdigest() + '"', f'ETag {small_head["ETag"]}')
    try:
        s3.head_object(Bucket=bucket, Key='meta/missing')
        check(False, 'head_object of a missing key succeeded')
    except ClientError as e:
        code = e.response['Error']['Code']
        check(code == '404', f'head_object missing key gave {code!r}, want 404')

    # Presigned GET fetched with plain urllib (no SDK on the wire). botocore presigns S3 URLs
    # with SigV2 query auth by default in regions that still accept it, us-east-1 included,
    # so a SigV4 client is asked for explicitly here; the default is tried separately below.
    s3v4 = boto3.client(
        's3',
        endpoint_url=endpoint,
        region_name='us-east-1',
        config=Config(signature_version='s3v4', retries={'max_attempts': 1}),
    )
    url = s3v4.generate_presigned_url('get_object', Params={'Bucket': bucket, 'Key': 'big/object.bin'},
                                      ExpiresIn=PRESIGN_EXPIRES_S)
    check('X-Amz-Signature=' in url, f'expected a SigV4 presigned URL, got {url}')
    check(sha256_url(url) == source_sha256, 'presigned GET bytes differ')
    # The signature covers the path: the same query string on another key must be refused.
    tampered_status = http_status(url.replace('big/object.bin', 'meta/x.txt'))
    check(tampered_status == 403, f'presigned URL moved to another key gave {tampered_status}, want 403')
    summary['presignedSigV4'] = True

    # The default presigned URL, as a user who configures nothing gets it: botocore signs it with
    # SigV2 query auth (AWSAccessKeyId, Signature, Expires), which Tessera accepts unless started
    # with --sigv2 off. Recorded here, and the test file decides what is acceptable, so the rest of
    # the scenario still runs.
    default_url = s3.generate_presigned_url('get_object', Params={'Bucket': bucket, 'Key': 'meta/x.txt'},
                                            ExpiresIn=PRESIGN_EXPIRES_S)
    status, body = http_get(default_url)
    summary['presignedDefault'] = {
        'signature': 'sigv4' if 'X-Amz-Signature=' in default_url else 'sigv2',
        'status': status,
        'errorCode': error_code(body) if status >= 300 else None,
        'bodyMatches': status == 200 and body == b'hello boto3',
    }

    # 1,100 small keys in a thread pool, then a paginated list_objects_v2.
    keys = [f'many/{i:05d}' for i in range(SMALL_KEYS_COUNT)]
    with concurrent.futures.ThreadPoolExecutor(max_workers=16) as pool:
        list(pool.map(lambda k: s3.put_object(Bucket=bucket, Key=k, Body=k.encode()), keys))
    listed = []
    pages = 0
    for page in s3.get_paginator('list_objects_v2').paginate(Bucket=bucket, Prefix='many/'):
        pages += 1
        listed.extend(o['Key'] for o in page.get('Contents', []))
    check(listed == keys, f'paginated listing has {len(listed)} keys (want {len(keys)}) or the wrong order')
    check(pages == 2, f'listing took {pages} pages, want 2 at the default 1,000 keys per page')
    summary['listedKeys'] = len(listed)
    summary['listPages'] = pages

    # delete_objects: 1,000 per request (the S3 maximum), then the rest.
    deleted = 0
    for i in range(0, len(keys), 1000):
        batch = keys[i:i + 1000]
        result = s3.delete_objects(Bucket=bucket, Delete={'Objects': [{'Key': k} for k in batch], 'Quiet': False})
        check(not result.get('Errors'), f'delete_objects errors: {result.get("Errors")}')
        deleted += len(result.get('Deleted', []))
    check(deleted == SMALL_KEYS_COUNT, f'delete_objects reported {deleted} deleted')
    left = s3.list_objects_v2(Bucket=bucket, Prefix='many/')
    check(left['KeyCount'] == 0, f'{left["KeyCount"]} keys left after delete_objects')
    summary['deletedKeys'] = deleted

    # Quiet mode returns no Deleted entries.
    result = s3.delete_objects(Bucket=bucket, Delete={'Objects': [{'Key': 'meta/x.txt'}, {'Key': 'big/object.bin'}],
                                                      'Quiet': True})
    check(not result.get('Deleted') and not result.get('Errors'), f'quiet delete_objects returned {result}')
    check(s3.list_objects_v2(Bucket=bucket)['KeyCount'] == 0, 'bucket not empty at the end')
    s3.delete_bucket(Bucket=bucket)

    summary['ok'] = True
    summary['seconds'] = round(time.monotonic() - started, 2)
    print(json.dumps(summary), flush=True)


if __name__ == '__main__':
    main()
