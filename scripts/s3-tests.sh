#!/usr/bin/env bash
# Runs the public S3 conformance suite ceph/s3-tests against a fresh Tessera server and writes a
# JUnit XML report and a per-test summary. Not part of `npm test`: the suite lives outside the repo.
#
# Usage: scripts/s3-tests.sh [S3_TESTS_DIR] [extra pytest args...]
#   S3_TESTS_DIR  a checkout of https://github.com/ceph/s3-tests (or set the S3_TESTS_DIR variable)
#   PYTHON        interpreter with boto3, pytest, munch, isodate, httplib2, lxml, gevent, pytz,
#                 python-dateutil (default /usr/bin/python3); pytest-timeout is used when present
#   OUT_DIR       where s3tests.conf, junit.xml, summary.txt, pytest.log and server.log go
#                 (default: a new temp directory, printed at the end)
#   S3_TESTS_MARK pytest -m expression (default below: leaves out tests AWS itself fails and
#                 features that need outside services or long waits)
#   S3_TESTS_FILES test files or node ids relative to S3_TESTS_DIR (default: test_s3.py and
#                 test_headers.py); `scripts/s3-tests-report.py DIR --select` prints the foundation groups'
#   S3_TESTS_BLOCK_PUBLIC_ACCESS  on (default, AWS's default for new accounts) or off (AWS's old default,
#                 which the suite's ACL and policy tests assume): the server's --block-public-access
#   S3_TESTS_TLS  on: the server serves HTTPS with a certificate from `tessera tls init` (OUT_DIR/tls), and
#                 the suite verifies it against that CA (is_secure, ssl_verify, and the s3tests_tls plugin,
#                 since the suite's boto3 clients ignore AWS_CA_BUNDLE); off (default): plain HTTP. SSE-C
#                 needs on: the server refuses customer keys over plain HTTP, as AWS does
#   S3_TESTS_KMS_KEYS  the built-in key service's keys made before the run, the first two given to the
#                 suite as kms_keyid and kms_keyid2 (default "testkey-1 testkey-2", the suite's own names)
# Run `npm run build` first: the server started is dist/ via bin/tessera.js.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
suite_dir="${1:-${S3_TESTS_DIR:-}}"
[[ $# -gt 0 ]] && shift
if [[ -z "$suite_dir" || ! -f "$suite_dir/s3tests/functional/test_s3.py" ]]; then
  echo "Give the path of a ceph/s3-tests checkout as the first argument or in S3_TESTS_DIR" >&2
  exit 2
fi
suite_dir="$(cd "$suite_dir" && pwd)"
python="${PYTHON:-/usr/bin/python3}"
out_dir="${OUT_DIR:-$(mktemp -d -t tessera-s3-tests-XXXXXX)}"
mkdir -p "$out_dir"

# Markers left out by default, and why:
#   fails_on_aws                    the suite's own tests that AWS S3 does not pass (Ceph-specific)
#   lifecycle_expiration/transition, cloud_*   minutes-long waits on a background lifecycle worker
#   bucket_logging*, s3select, sns, s3website*, appendobject   Ceph extensions or outside services
#   iam_*, test_of_sts, webidentity_test, role/user/group/session_policy, abac_test, token_*   IAM/STS
default_mark='not fails_on_aws and not lifecycle_expiration and not lifecycle_transition
  and not cloud_transition and not cloud_restore and not bucket_logging and not bucket_logging_cleanup
  and not fails_without_logging_rollover and not s3select and not sns and not s3website
  and not s3website_routing_rules and not s3website_redirect_location and not appendobject
  and not iam_account and not iam_cross_account and not iam_role and not iam_tenant and not iam_user
  and not test_of_sts and not webidentity_test and not role_policy and not user_policy
  and not group_policy and not session_policy and not abac_test and not token_claims_trust_policy_test
  and not token_principal_tag_role_policy_test and not token_request_tag_trust_policy_test
  and not token_resource_tags_test and not token_role_tags_test and not token_tag_keys_test'
mark="${S3_TESTS_MARK:-$(echo $default_mark)}"
files="${S3_TESTS_FILES:-s3tests/functional/test_s3.py s3tests/functional/test_headers.py}"

missing=$("$python" - <<'EOF'
import importlib.util
mods = ["boto3", "pytest", "munch", "isodate", "httplib2", "lxml", "gevent", "pytz", "dateutil", "requests", "yaml"]
print(" ".join(m for m in mods if importlib.util.find_spec(m) is None))
EOF
)
if [[ -n "$missing" ]]; then
  echo "$python lacks these modules the suite needs: $missing" >&2
  exit 2
fi

access_key='S3TESTSROOTACCESS001'
secret_key='s3-tests/root/secret/key/000000000000001'
data_dir="$(mktemp -d -t tessera-s3-tests-data-XXXXXX)"
tls="${S3_TESTS_TLS:-off}"
tls_args=()
ca_bundle=''
if [[ "$tls" == on ]]; then
  node "$repo_root/bin/tessera.js" tls init --dir "$out_dir/tls" --hosts 127.0.0.1,localhost >/dev/null
  tls_args=(--tls-cert "$out_dir/tls/server.pem" --tls-key "$out_dir/tls/server.key")
  ca_bundle="$out_dir/tls/ca.pem"
elif [[ "$tls" != off ]]; then
  echo "S3_TESTS_TLS must be on or off, not \"$tls\"" >&2
  exit 2
fi
read -r -a kms_keys <<<"${S3_TESTS_KMS_KEYS-testkey-1 testkey-2}"
server_pid=''
stop_server() {
  if [[ -n "$server_pid" ]] && kill -0 "$server_pid" 2>/dev/null; then
    kill -TERM "$server_pid"
    wait "$server_pid" 2>/dev/null || true
  fi
  rm -rf "$data_dir"
}
trap stop_server EXIT

TESSERA_ROOT_ACCESS_KEY="$access_key" TESSERA_ROOT_SECRET_KEY="$secret_key" \
  node "$repo_root/bin/tessera.js" server --address 127.0.0.1:0 --data "$data_dir" \
  --block-public-access "${S3_TESTS_BLOCK_PUBLIC_ACCESS:-on}" "${tls_args[@]}" \
  >"$out_dir/server.out" 2>"$out_dir/server.log" &
server_pid=$!

# The server prints "endpoint: http://127.0.0.1:PORT" once it listens.
endpoint=''
for _ in $(seq 1 200); do
  endpoint="$(sed -n 's/.*endpoint:[[:space:]]*\(http[^[:space:]]*\).*/\1/p' "$out_dir/server.out" | head -n1)"
  [[ -n "$endpoint" ]] && break
  kill -0 "$server_pid" 2>/dev/null || { echo "Tessera exited before starting:" >&2; cat "$out_dir/server.log" >&2; exit 1; }
  sleep 0.1
done
[[ -n "$endpoint" ]] || { echo "Tessera printed no endpoint within 20 s" >&2; exit 1; }
port="${endpoint##*:}"
port="${port%%/*}"

# main is the root. alt and tenant are IAM users of the store's one account, each with its own key, made
# through the admin CLI as an operator would. Their policy allows only listing the account's bucket names
# (the suite's setup and teardown list buckets with every client) and creating buckets; everything else
# they can do comes from bucket policies and ACLs, so tests expecting another user to be refused mean
# it. One account: their canonical id and display name in owners and grants are the account's.
canonical_id="$(node --input-type=module -e "import('$repo_root/dist/iam/acl.js').then((m) => console.log(m.accountCanonicalId))")"
admin() {
  TESSERA_ROOT_ACCESS_KEY="$access_key" TESSERA_ROOT_SECRET_KEY="$secret_key" \
    node "$repo_root/bin/tessera.js" admin "$@" --endpoint "$endpoint" ${ca_bundle:+--ca-bundle "$ca_bundle"}
}
cat >"$out_dir/second-user-policy.json" <<'EOF'
{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": ["s3:ListAllMyBuckets", "s3:CreateBucket"], "Resource": "*"}]}
EOF
second_user() { # NAME: creates the user and its policy, prints "ACCESS_KEY SECRET_KEY"
  admin user create "$1" >/dev/null
  admin policy attach --user "$1" --name list-and-create-buckets "$out_dir/second-user-policy.json" >/dev/null
  admin key create --user "$1" --json | "$python" -c 'import json, sys; k = json.load(sys.stdin); print(k["accessKeyId"], k["secretAccessKey"])'
}
read -r alt_access_key alt_secret_key < <(second_user s3-tests-alt)
read -r tenant_access_key tenant_secret_key < <(second_user s3-tests-tenant)
[[ -n "$alt_secret_key" && -n "$tenant_secret_key" ]] || { echo "Cannot create the alt and tenant users" >&2; exit 1; }
# The suite's SSE-KMS tests name their keys (kms_keyid, kms_keyid2); an operator makes them with the admin CLI.
for key in "${kms_keys[@]}"; do
  admin kms create "$key" >/dev/null || echo "Cannot create the KMS key \"$key\": the SSE-KMS tests that use it will fail" >&2
done

cat >"$out_dir/s3tests.conf" <<EOF
[DEFAULT]
host = 127.0.0.1
port = $port
is_secure = $([[ "$tls" == on ]] && echo True || echo False)
ssl_verify = $([[ "$tls" == on ]] && echo True || echo False)

[fixtures]
bucket prefix = tessera-{random}-

[s3 main]
display_name = tessera
user_id = $canonical_id
email = root@example.com
api_name =
access_key = $access_key
secret_key = $secret_key
kms_keyid = ${kms_keys[0]:-testkey-1}
kms_keyid2 = ${kms_keys[1]:-testkey-2}

[s3 alt]
display_name = tessera
user_id = $canonical_id
email = alt@example.com
access_key = $alt_access_key
secret_key = $alt_secret_key

[s3 tenant]
display_name = tessera
user_id = $canonical_id
email = tenant@example.com
tenant = root
access_key = $tenant_access_key
secret_key = $tenant_secret_key

[iam]
email = root@example.com
user_id = $canonical_id
access_key = $access_key
secret_key = $secret_key
display_name = tessera

[iam root]
access_key = $access_key
secret_key = $secret_key
user_id = $canonical_id
email = root@example.com

[iam alt root]
access_key = $access_key
secret_key = $secret_key
user_id = $canonical_id
email = root@example.com
EOF

timeout_args=(-o faulthandler_timeout=120)
if "$python" -c 'import pytest_timeout' 2>/dev/null; then
  timeout_args=(-p timeout --timeout=120)
fi

# botocore signs with awscrt when it can import it (Debian's python3-awscrt leaks into venvs with system
# site packages). The CRT signer refuses what some tests send on purpose (an integer header value, a
# negative presign expiry) before any request leaves, so those tests never reach the server; the suite is
# written for botocore's own signer.
export BOTO_DISABLE_CRT=true

plugin_args=()
if [[ "$tls" == on ]]; then
  export S3TESTS_CA_BUNDLE="$ca_bundle" REQUESTS_CA_BUNDLE="$ca_bundle" AWS_CA_BUNDLE="$ca_bundle"
  export PYTHONPATH="$repo_root/scripts${PYTHONPATH:+:$PYTHONPATH}"
  plugin_args=(-p s3tests_tls)
fi

echo "Tessera at $endpoint (pid $server_pid, Block Public Access ${S3_TESTS_BLOCK_PUBLIC_ACCESS:-on}, TLS $tls, KMS keys ${kms_keys[*]:-none}; alt and tenant are IAM users); results in $out_dir"
status=0
# shellcheck disable=SC2086
(cd "$suite_dir" && S3TEST_CONF="$out_dir/s3tests.conf" "$python" -m pytest $files \
  -m "$mark" -rfEs -q -p no:cacheprovider "${timeout_args[@]}" "${plugin_args[@]}" \
  --junitxml="$out_dir/junit.xml" "$@") >"$out_dir/pytest.log" 2>&1 || status=$?

# One line per test: OUTCOME test_name
"$python" - "$out_dir/junit.xml" >"$out_dir/summary.txt" <<'EOF'
import sys, xml.etree.ElementTree as ET
counts = {}
for case in ET.parse(sys.argv[1]).iter("testcase"):
    outcome = "PASSED"
    for child in case:
        if child.tag in ("failure", "error"):
            outcome = child.tag.upper()
        elif child.tag == "skipped":
            outcome = "SKIPPED"
    counts[outcome] = counts.get(outcome, 0) + 1
    print(f"{outcome} {case.get('name')}")
print("# " + ", ".join(f"{k.lower()} {v}" for k, v in sorted(counts.items())))
EOF
tail -n1 "$out_dir/summary.txt"
echo "Per-test results: $out_dir/summary.txt; JUnit XML: $out_dir/junit.xml"
exit "$status"
