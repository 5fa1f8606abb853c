#!/usr/bin/env python3
# Sorts the results of scripts/s3-tests.sh (its junit.xml) into feature groups and prints the pass
# rate of the groups Tessera implements. Groups come from the suite's markers, test names and the
# clients and calls a test uses (read from the suite's source with ast; nothing is imported).
#
# Usage: scripts/s3-tests-report.py S3_TESTS_DIR JUNIT_XML [--per-test FILE]
#        scripts/s3-tests-report.py S3_TESTS_DIR --select [GROUP...]
#   --select prints the pytest node ids of the tests in GROUPs (default: the foundation groups), to run
#   only those: S3_TESTS_FILES="$(scripts/s3-tests-report.py DIR --select)" scripts/s3-tests.sh DIR
import ast
import re
import sys
import xml.etree.ElementTree as ET
from collections import Counter, defaultdict

SUITE_FILES = ['s3tests/functional/test_s3.py', 's3tests/functional/test_headers.py']

# The groups Tessera implements today; the pass rate is computed over these.
FOUNDATION = ['listing', 'bucket and object operations', 'copy', 'multipart', 'conditional',
              'checksums and attributes', 'headers', 'signatures']


def load_tests(suite_dir):
    """name -> (markers, source text, file) for every test function of the suite files."""
    tests, helpers = {}, {}
    for rel in SUITE_FILES:
        src = open(f'{suite_dir}/{rel}').read()
        lines = src.splitlines()
        for node in ast.parse(src).body:
            if isinstance(node, ast.FunctionDef) and node.name.startswith('test_'):
                marks = set()
                for d in node.decorator_list:
                    m = re.match(r'pytest\.mark\.(\w+)', ast.unparse(d))
                    if m:
                        marks.add(m.group(1))
                tests[node.name] = (marks, '\n'.join(lines[node.lineno - 1:node.end_lineno]), rel)
            elif isinstance(node, ast.FunctionDef):
                helpers[node.name] = '\n'.join(lines[node.lineno - 1:node.end_lineno])
    # A test's text includes the suite helpers it calls (one level), where ACL and versioning setup often is.
    for name, (marks, body, rel) in tests.items():
        called = [helpers[h] for h in set(re.findall(r'\b(_\w+)\(', body)) if h in helpers]
        tests[name] = (marks, '\n'.join([body, *called]), rel)
    return tests


def out_of_scope_group(name, marks, body):
    """The out-of-scope feature a test needs, or None. Checked first: the first match wins."""
    if 'auth_aws2' in marks or name.endswith('_aws2') or 'get_v2_client' in body or 'get_v2_tenant_client' in body:
        return 'SigV2'
    if 'acl' in name or 'object_ownership' in marks or re.search(r"ACL=|_acl\(|Grant[A-Z]|ownership", body, re.I):
        return 'ACLs'
    if 'bucket_policy' in marks or re.search(r'policy|public', name) or 'put_bucket_policy' in body:
        return 'policies and public access'
    if marks & {'encryption', 'sse_s3', 'bucket_encryption'} or re.search(r'sse|encrypt', name) or 'SSECustomer' in body:
        return 'encryption'
    if 'object_lock' in name or 'ObjectLockEnabledForBucket' in body:
        return 'object lock'
    if 'lifecycle' in name or marks & {'lifecycle', 'lifecycle_expiration', 'lifecycle_transition'}:
        return 'lifecycle'
    if 'cors' in name:
        return 'CORS'
    if 'post_object' in name:
        return 'POST object (browser forms)'
    if 'logging' in name or 'bucket_logging' in marks:
        return 'bucket logging'
    if re.search(r'restore|read_through|storage_class', name):
        return 'storage classes and restore'
    if 'versioning' in marks or re.search(r'version|delete_marker', name) or "'Status': 'Enabled'" in body \
            or 'check_configure_versioning_retry' in body:
        return 'versioning'
    if 'get_tenant_client' in body or 'get_alt_client' in body:
        return 'second user (alt or tenant)'
    if 'get_bucket_tagging' in body or 'put_bucket_tagging' in body:
        return 'bucket tagging'
    if 'account_usage' in name or 'head_bucket_usage' in name:
        return 'usage statistics (Ceph)'
    return None


def foundation_group(name, marks, body, rel):
    if 'checksum' in marks or re.search(r'checksum|attributes', name):
        return 'checksums and attributes'
    if 'conditional_write' in marks or re.search(r'if_?match|if_?none_?match|if_?modified|if_?unmodified|conditional', name):
        return 'conditional'
    if 'multipart' in name or 'upload_part' in name or 'copy_part' in name:
        return 'multipart'
    if 'copy' in marks or 'copy' in name:
        return 'copy'
    if 'list_objects_v2' in marks or re.search(r'list|get_paginated', name):
        return 'listing'
    if re.search(r'auth|presigned|anon|signature|_date|unauthenticated|bad_ua', name):
        return 'signatures'
    if rel.endswith('test_headers.py') or re.search(r'header|continue|contentlength|content_length|md5|raw', name):
        return 'headers'
    return 'bucket and object operations'


def classify(name, tests):
    base = name.split('[')[0]
    marks, body, rel = tests.get(base, (set(), '', ''))
    return out_of_scope_group(base, marks, body) or foundation_group(base, marks, body, rel)


def results(junit):
    for case in ET.parse(junit).iter('testcase'):
        outcome, message = 'passed', ''
        for child in case:
            if child.tag in ('failure', 'error'):
                outcome = 'failed' if child.tag == 'failure' else 'error'
                message = (child.get('message') or '').splitlines()[0][:200] if child.get('message') else ''
            elif child.tag == 'skipped':
                outcome = 'skipped'
        yield case.get('name'), outcome, message


def select(suite_dir, groups):
    tests = load_tests(suite_dir)
    for name, (marks, body, rel) in sorted(tests.items(), key=lambda t: (t[1][2], t[0])):
        if classify(name, tests) in groups:
            print(f'{rel}::{name}')


def main():
    suite_dir, junit = sys.argv[1], sys.argv[2]
    if junit == '--select':
        return select(suite_dir, set(sys.argv[3:]) or set(FOUNDATION))
    per_test = sys.argv[4] if len(sys.argv) > 4 and sys.argv[3] == '--per-test' else None
    tests = load_tests(suite_dir)
    by_group = defaultdict(Counter)
    lines = []
    for name, outcome, message in results(junit):
        group = classify(name, tests)
        by_group[group][outcome] += 1
        lines.append(f'{outcome.upper():8} {group:30} {name}  {message}'.rstrip())
    if per_test:
        with open(per_test, 'w') as f:
            f.write('\n'.join(sorted(lines)) + '\n')
    total = Counter()
    print(f'{"group":32} {"pass":>5} {"fail":>5} {"skip":>5}  rate')
    for group in FOUNDATION + sorted(g for g in by_group if g not in FOUNDATION):
        c = by_group.get(group, Counter())
        ran = c['passed'] + c['failed'] + c['error']
        rate = f'{100 * c["passed"] / ran:.0f}%' if ran else '-'
        print(f'{group:32} {c["passed"]:5} {c["failed"] + c["error"]:5} {c["skipped"]:5}  {rate}')
        if group in FOUNDATION:
            total += c
        if group == FOUNDATION[-1]:
            ran = total['passed'] + total['failed'] + total['error']
            print(f'{"= foundation groups":32} {total["passed"]:5} {ran - total["passed"]:5} {total["skipped"]:5}  '
                  f'{100 * total["passed"] / max(ran, 1):.1f}%')


if __name__ == '__main__':
    main()
