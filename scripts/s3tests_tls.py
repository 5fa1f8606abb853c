"""pytest plugin for ceph/s3-tests: verifies the server's certificate against a given CA bundle.

The suite's config takes ssl_verify as a boolean only, and passes it to boto3 as verify=; botocore then
checks against certifi's bundle and ignores AWS_CA_BUNDLE and REQUESTS_CA_BUNDLE. With this plugin and
S3TESTS_CA_BUNDLE=FILE, the configured verify value becomes FILE after the suite reads its config, so every
client the suite makes (boto3, and requests.post for the browser-form tests) checks the server against it.

Use: scripts/s3-tests.sh loads it when S3_TESTS_TLS=on (PYTHONPATH=$PWD/scripts ... -p s3tests_tls).
"""
import os

import s3tests.functional as functional

_configure = functional.configure


def _configure_with_ca_bundle():
    _configure()
    bundle = os.environ.get('S3TESTS_CA_BUNDLE')
    if bundle:
        if not functional.config.default_is_secure:
            raise RuntimeError('S3TESTS_CA_BUNDLE is set but the config says is_secure = False')
        functional.config.default_ssl_verify = bundle


def pytest_configure(config):
    # The suite's package fixture calls the module's configure() by name at run time.
    functional.configure = _configure_with_ca_bundle
