#!/usr/bin/python3
"""Browser-style POST uploads against a running S3 endpoint: forms made by boto3's
generate_presigned_post, sent with python-requests and with curl -F.

Usage: boto3_post_upload.py ENDPOINT BUCKET WORKDIR
Credentials come from AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY in the environment.
Every check that fails raises, so the process exits nonzero. On success the last line on
stdout is one JSON object (the summary) that the node:test file parses.
"""
import hashlib
import json
import os
import subprocess
import sys
import xml.etree.ElementTree

import boto3
import requests
from botocore.config import Config

HTTP_TIMEOUT_S = 60


def check(condition, message):
    if not condition:
        raise AssertionError(message)


def error_code(response):
    return xml.etree.ElementTree.fromstring(response.content).findtext('Code')


def main():
    endpoint, bucket, work = sys.argv[1], sys.argv[2], sys.argv[3]
    region = 'us-east-1'
    s3 = boto3.client('s3', endpoint_url=endpoint, region_name=region, config=Config(signature_version='s3v4'))
    s3.create_bucket(Bucket=bucket)
    summary = {}

    # A form with the fields a web page would add, and conditions that allow them.
    post = s3.generate_presigned_post(
        bucket, 'uploads/${filename}',
        Fields={'success_action_status': '201', 'Content-Type': 'text/plain', 'x-amz-meta-origin': 'form'},
        Conditions=[{'success_action_status': '201'}, ['starts-with', '$Content-Type', 'text/'],
                    {'x-amz-meta-origin': 'form'}, ['content-length-range', 1, 1024]],
        ExpiresIn=300)
    r = requests.post(post['url'], data=post['fields'], files={'file': ('notes.txt', b'written by a browser')}, timeout=HTTP_TIMEOUT_S)
    check(r.status_code == 201, f'201 expected: {r.status_code} {r.text}')
    check(xml.etree.ElementTree.fromstring(r.content).findtext('Key') == 'uploads/notes.txt', r.text)
    got = s3.get_object(Bucket=bucket, Key='uploads/notes.txt')
    check(got['Body'].read() == b'written by a browser', 'body differs')
    check(got['ContentType'] == 'text/plain' and got['Metadata'] == {'origin': 'form'}, f'headers differ: {got["ContentType"]} {got["Metadata"]}')
    summary['created'] = r.status_code

    # success_action_redirect: a 303 to the page, with bucket, key and ETag in its query.
    page = 'https://example.com/uploaded'
    post = s3.generate_presigned_post(bucket, 'redirected', Fields={'success_action_redirect': page}, Conditions=[{'success_action_redirect': page}])
    r = requests.post(post['url'], data=post['fields'], files={'file': ('r.bin', b'r')}, allow_redirects=False, timeout=HTTP_TIMEOUT_S)
    etag = hashlib.md5(b'r').hexdigest()
    check(r.status_code == 303, f'303 expected: {r.status_code} {r.text}')
    check(r.headers['Location'] == f'{page}?bucket={bucket}&key=redirected&etag=%22{etag}%22', r.headers['Location'])
    summary['redirect'] = r.status_code

    # The policy's content-length-range holds: 10 bytes against a maximum of 5.
    post = s3.generate_presigned_post(bucket, 'limited', Conditions=[['content-length-range', 0, 5]])
    r = requests.post(post['url'], data=post['fields'], files={'file': ('l.bin', b'0123456789')}, timeout=HTTP_TIMEOUT_S)
    summary['tooLarge'] = [r.status_code, error_code(r)]

    # A field the policy does not name is refused.
    post = s3.generate_presigned_post(bucket, 'extra')
    r = requests.post(post['url'], data={**post['fields'], 'acl': 'public-read'}, files={'file': ('e.bin', b'e')}, timeout=HTTP_TIMEOUT_S)
    summary['extraField'] = [r.status_code, error_code(r)]

    # curl -F, as a shell script would send the same form.
    path = os.path.join(work, 'curl-upload.bin')
    with open(path, 'wb') as f:
        f.write(os.urandom(300_000))
    post = s3.generate_presigned_post(bucket, 'curl/${filename}')
    args = ['/usr/bin/curl', '-sS', '-o', os.path.join(work, 'curl-answer'), '-w', '%{http_code}']
    for name, value in post['fields'].items():
        args += ['--form-string', f'{name}={value}']
    args += ['-F', f'file=@{path}', post['url']]
    code = subprocess.run(args, check=True, capture_output=True, text=True, timeout=HTTP_TIMEOUT_S).stdout
    check(code == '204', f'curl: 204 expected, got {code}')
    with open(path, 'rb') as f:
        check(s3.get_object(Bucket=bucket, Key='curl/curl-upload.bin')['Body'].read() == f.read(), 'curl upload differs')
    summary['curl'] = int(code)

    # boto3's default signer makes a SigV2 form (AWSAccessKeyId, signature: HMAC-SHA1 of the policy).
    default = boto3.client('s3', endpoint_url=endpoint, region_name=region)
    post = default.generate_presigned_post(bucket, 'sigv2/${filename}', Conditions=[['content-length-range', 1, 1024]])
    check('AWSAccessKeyId' in post['fields'], f'boto3 now makes a {sorted(post["fields"])} form by default')
    r = requests.post(post['url'], data=post['fields'], files={'file': ('s.bin', b'sigv2 body')}, timeout=HTTP_TIMEOUT_S)
    check(r.status_code == 204, f'SigV2 form: 204 expected, got {r.status_code} {r.text[:300]}')
    check(s3.get_object(Bucket=bucket, Key='sigv2/s.bin')['Body'].read() == b'sigv2 body', 'SigV2 form upload differs')
    forged = dict(post['fields'], signature=post['fields']['signature'][::-1])
    r = requests.post(post['url'], data=forged, files={'file': ('t.bin', b'x')}, timeout=HTTP_TIMEOUT_S)
    summary['sigv2'] = [204, r.status_code, error_code(r)]

    summary['ok'] = True
    print(json.dumps(summary))


if __name__ == '__main__':
    main()
