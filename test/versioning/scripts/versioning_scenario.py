"""Object versioning through boto3 with its default settings (issue 4).

Usage: versioning_scenario.py ENDPOINT ACCESS_KEY SECRET_KEY REGION BUCKET
Prints one JSON object summarising what the server answered; the calling test asserts on it.
Failures of the scenario itself are reported as {"error": ...} with exit status 1.
"""
import json
import sys
import traceback

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError


def error_of(call):
    """Runs call() expecting a ClientError; returns its code, HTTP status and selected headers."""
    try:
        call()
    except ClientError as err:
        meta = err.response.get("ResponseMetadata", {})
        headers = meta.get("HTTPHeaders", {})
        return {
            "code": err.response.get("Error", {}).get("Code"),
            "status": meta.get("HTTPStatusCode"),
            "deleteMarker": headers.get("x-amz-delete-marker"),
            "versionId": headers.get("x-amz-version-id"),
        }
    return None


def versions_of(s3, bucket, **kwargs):
    """Every Version and DeleteMarker, each list in the order received (botocore parses them apart)."""
    res = s3.list_object_versions(Bucket=bucket, **kwargs)
    def brief(e):
        return {"key": e["Key"], "versionId": e["VersionId"], "isLatest": e["IsLatest"]}
    return {"versions": [brief(v) for v in res.get("Versions", [])], "markers": [brief(d) for d in res.get("DeleteMarkers", [])]}


def scenario(endpoint, access_key, secret_key, region, bucket):
    s3 = boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id=access_key,
        aws_secret_access_key=secret_key,
        region_name=region,
        config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}),
    )
    out = {}
    s3.create_bucket(Bucket=bucket)
    out["initialStatus"] = s3.get_bucket_versioning(Bucket=bucket).get("Status")
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    out["enabledStatus"] = s3.get_bucket_versioning(Bucket=bucket).get("Status")

    # Three versions of one key; every one readable by id.
    ids = [s3.put_object(Bucket=bucket, Key="doc.txt", Body=("v%d" % i).encode())["VersionId"] for i in range(3)]
    out["putVersionIds"] = ids
    out["bodiesById"] = [s3.get_object(Bucket=bucket, Key="doc.txt", VersionId=v)["Body"].read().decode() for v in ids]
    out["headVersionId"] = s3.head_object(Bucket=bucket, Key="doc.txt")["VersionId"]
    out["listedAfterPuts"] = versions_of(s3, bucket, Prefix="doc.txt")

    # Copy of an older version, by the CopySource dict boto3 turns into ?versionId=.
    copied = s3.copy_object(Bucket=bucket, Key="copy.txt", CopySource={"Bucket": bucket, "Key": "doc.txt", "VersionId": ids[0]})
    out["copy"] = {
        "versionId": copied.get("VersionId"),
        "copySourceVersionId": copied.get("CopySourceVersionId"),
        "body": s3.get_object(Bucket=bucket, Key="copy.txt")["Body"].read().decode(),
    }

    # A delete marker hides the key; it can be read neither as the key nor by its id.
    deleted = s3.delete_object(Bucket=bucket, Key="doc.txt")
    marker = deleted.get("VersionId")
    out["deleteMarker"] = {"deleteMarker": deleted.get("DeleteMarker"), "versionId": marker}
    out["getDeleted"] = error_of(lambda: s3.get_object(Bucket=bucket, Key="doc.txt"))
    out["headMarkerById"] = error_of(lambda: s3.head_object(Bucket=bucket, Key="doc.txt", VersionId=marker))
    out["getMarkerById"] = error_of(lambda: s3.get_object(Bucket=bucket, Key="doc.txt", VersionId=marker))
    out["listV2AfterDelete"] = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])]
    out["listedAfterDelete"] = versions_of(s3, bucket, Prefix="doc.txt")

    # Removing the marker restores the newest version; removing a version is for good.
    removed = s3.delete_object(Bucket=bucket, Key="doc.txt", VersionId=marker)
    out["removeMarker"] = {"deleteMarker": removed.get("DeleteMarker"), "versionId": removed.get("VersionId")}
    out["bodyAfterRestore"] = s3.get_object(Bucket=bucket, Key="doc.txt")["Body"].read().decode()
    s3.delete_object(Bucket=bucket, Key="doc.txt", VersionId=ids[2])
    out["bodyAfterVersionDelete"] = s3.get_object(Bucket=bucket, Key="doc.txt")["Body"].read().decode()
    out["getRemovedVersion"] = error_of(lambda: s3.get_object(Bucket=bucket, Key="doc.txt", VersionId=ids[2]))

    # Suspended: a PUT writes the null version, a second PUT overwrites it, older versions survive.
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Suspended"})
    out["suspendedStatus"] = s3.get_bucket_versioning(Bucket=bucket).get("Status")
    first_null = s3.put_object(Bucket=bucket, Key="doc.txt", Body=b"null-1")
    s3.put_object(Bucket=bucket, Key="doc.txt", Body=b"null-2")
    out["suspendedPutVersionId"] = first_null.get("VersionId")
    out["nullBody"] = s3.get_object(Bucket=bucket, Key="doc.txt", VersionId="null")["Body"].read().decode()
    out["nullGetVersionId"] = s3.get_object(Bucket=bucket, Key="doc.txt")["VersionId"]
    out["listedSuspended"] = versions_of(s3, bucket, Prefix="doc.txt")
    suspended_delete = s3.delete_object(Bucket=bucket, Key="doc.txt")
    out["suspendedDelete"] = {"deleteMarker": suspended_delete.get("DeleteMarker"), "versionId": suspended_delete.get("VersionId")}
    out["listedSuspendedDelete"] = versions_of(s3, bucket, Prefix="doc.txt")
    out["oldVersionStillThere"] = s3.get_object(Bucket=bucket, Key="doc.txt", VersionId=ids[1])["Body"].read().decode()

    # The paginator follows NextKeyMarker / NextVersionIdMarker through small pages.
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    for i in range(4):
        for key in ("p/a", "p/b", "p/c"):
            s3.put_object(Bucket=bucket, Key=key, Body=("%s-%d" % (key, i)).encode())
    paged = []
    pages = 0
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket, Prefix="p/", PaginationConfig={"PageSize": 5}):
        pages += 1
        paged += [(v["Key"], v["VersionId"], v["IsLatest"]) for v in page.get("Versions", [])]
    out["paginated"] = {"pages": pages, "entries": len(paged), "distinct": len(set(v for _, v, _ in paged)),
                        "latest": sorted(k for k, _, latest in paged if latest)}

    # DeleteObjects with a version id, a marker id and a plain key.
    pa = versions_of(s3, bucket, Prefix="p/a")["versions"]
    batch = s3.delete_objects(Bucket=bucket, Delete={"Objects": [
        {"Key": "p/a", "VersionId": pa[-1]["versionId"]},
        {"Key": "p/b"},
    ]})
    b_marker = next(d for d in batch["Deleted"] if d["Key"] == "p/b")
    batch2 = s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "p/b", "VersionId": b_marker["DeleteMarkerVersionId"]}]})
    out["deleteObjects"] = {
        "deleted": sorted(
            [{k: d.get(k) for k in ("Key", "VersionId", "DeleteMarker", "DeleteMarkerVersionId")} for d in batch["Deleted"] + batch2["Deleted"]],
            key=lambda d: (d["Key"], d["VersionId"] or "")),
        "errors": batch.get("Errors", []) + batch2.get("Errors", []),
        "paVersionsLeft": len(versions_of(s3, bucket, Prefix="p/a")["versions"]),
        "pbAfter": versions_of(s3, bucket, Prefix="p/b"),
    }
    return out


def main():
    try:
        print(json.dumps(scenario(*sys.argv[1:6])))
    except Exception as err:  # report, so the test shows what went wrong
        print(json.dumps({"error": repr(err), "trace": traceback.format_exc()}))
        sys.exit(1)


if __name__ == "__main__":
    main()
