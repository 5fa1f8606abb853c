"""pytest plugin for ceph/s3-tests: the suite's buckets get ACLs enabled (ObjectOwnership=ObjectWriter).

The suite creates its buckets without an ownership setting and expects ACLs to work on them, as Ceph
does and as AWS did before April 2023. AWS and Tessera now make new buckets BucketOwnerEnforced (ACLs
off), so without this most ACL tests only measure that refusal. With it, every CreateBucket that names
no ObjectOwnership asks for ObjectWriter; run the server with --block-public-access off as well
(S3_TESTS_BLOCK_PUBLIC_ACCESS=off) for AWS's old defaults as a whole.

Use: PYTHONPATH=$PWD/scripts S3_TESTS_BLOCK_PUBLIC_ACCESS=off scripts/s3-tests.sh SUITE -p s3tests_acls_on -k acl
"""
import boto3


def _acls_on(params, **kwargs):
    params.setdefault('ObjectOwnership', 'ObjectWriter')


def pytest_configure(config):
    # The suite's clients come from boto3's default session; handlers registered on it reach every client
    # and resource made after this.
    boto3.setup_default_session()
    boto3.DEFAULT_SESSION.events.register('before-parameter-build.s3.CreateBucket', _acls_on)
