"""pytest plugin for ceph/s3-tests: re-signs the suite's SigV2 browser POST forms with SigV4.

The suite's POST object tests build SigV2 forms (AWSAccessKeyId, signature = base64 HMAC-SHA1 of the
policy). Tessera serves SigV4 forms only, so without this every such test measures only the SigV2
refusal. With it, each form is sent as the SigV4 form of the same intent: the same policy plus the
conditions SigV4 requires (x-amz-algorithm, x-amz-credential, x-amz-date), signed with the right
secret if the test's SigV2 signature was right and with a wrong one if it was not; a missing signature
stays missing and the test's access key id is kept (a reversed one stays unknown).

Use: PYTHONPATH=$PWD/scripts scripts/s3-tests.sh SUITE -p s3tests_post_sigv4 -k post_object
"""
import base64
import datetime
import hashlib
import hmac
import json
from collections import OrderedDict

import requests

REGION = 'us-east-1'
_post = requests.post


def _text(value):
    return value.decode() if isinstance(value, bytes) else value


def _mac(key, data):
    return hmac.new(key, data.encode(), hashlib.sha256).digest()


def _sigv4_form(payload):
    from s3tests.functional import get_main_aws_secret_key  # configured once the suite has started

    names = {name.lower(): name for name in payload}
    if 'awsaccesskeyid' not in names or 'policy' not in names:
        return payload
    secret = get_main_aws_secret_key()
    policy = _text(payload[names['policy']])
    signature = payload.get(names.get('signature', ''))
    right = base64.b64encode(hmac.new(secret.encode(), policy.encode(), hashlib.sha1).digest()).decode()
    signing_secret = secret if signature is None or _text(signature) == right else secret[::-1]
    now = datetime.datetime.now(datetime.timezone.utc)
    amz_date = now.strftime('%Y%m%dT%H%M%SZ')
    credential = f'{_text(payload[names["awsaccesskeyid"]])}/{amz_date[:8]}/{REGION}/s3/aws4_request'
    signing = OrderedDict([('x-amz-algorithm', 'AWS4-HMAC-SHA256'), ('x-amz-credential', credential), ('x-amz-date', amz_date)])
    try:
        document = json.loads(base64.b64decode(policy))
    except ValueError:
        document = None
    if isinstance(document, dict) and isinstance(document.get('conditions'), list):
        document['conditions'] += [{k: v} for k, v in signing.items()]
        policy = base64.b64encode(json.dumps(document).encode()).decode()
    key = _mac(_mac(_mac(_mac(('AWS4' + signing_secret).encode(), amz_date[:8]), REGION), 's3'), 'aws4_request')
    form = OrderedDict()
    for name, value in payload.items():
        lower = name.lower()
        if lower == 'awsaccesskeyid':
            form.update(signing)
        elif lower == 'signature':
            form['x-amz-signature'] = hmac.new(key, policy.encode(), hashlib.sha256).hexdigest()
        elif lower == 'policy':
            form[name] = policy
        else:
            form[name] = value
    return form


def _post_sigv4(url, *args, **kwargs):
    if isinstance(kwargs.get('files'), dict):
        kwargs['files'] = _sigv4_form(kwargs['files'])
    return _post(url, *args, **kwargs)


def pytest_configure(config):
    requests.post = _post_sigv4
