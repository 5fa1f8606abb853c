# A pytest plugin scripts/s3-tests.sh loads into ceph/s3-tests: aborts every multipart upload in
# progress before each test's setup and teardown. The suite's cleanup deletes buckets assuming AWS's
# behaviour (DeleteBucket succeeds with uploads in progress); Tessera refuses (BucketNotEmpty), and one
# leftover upload would then fail the setup of every later test.
import configparser
import os

import boto3
import pytest


def _client():
    cfg = configparser.RawConfigParser()
    cfg.read(os.environ['S3TEST_CONF'])
    endpoint = f"http://{cfg.get('DEFAULT', 'host')}:{cfg.get('DEFAULT', 'port')}"
    return boto3.client('s3', endpoint_url=endpoint, region_name='us-east-1',
                        aws_access_key_id=cfg.get('s3 main', 'access_key'),
                        aws_secret_access_key=cfg.get('s3 main', 'secret_key'))


def _abort_uploads():
    try:
        s3 = _client()
        for bucket in s3.list_buckets().get('Buckets', []):
            uploads = s3.list_multipart_uploads(Bucket=bucket['Name']).get('Uploads', [])
            for upload in uploads:
                s3.abort_multipart_upload(Bucket=bucket['Name'], Key=upload['Key'], UploadId=upload['UploadId'])
    except Exception as e:  # the suite's own cleanup reports what is really wrong
        print(f'abort_uploads: {e}')


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_setup(item):
    _abort_uploads()
    yield


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_teardown(item, nextitem):
    _abort_uploads()
    yield
