"""Drives boto3 for Sealgate's client conformance suite (test/clients/drivers/boto3.ts).

Usage: boto3_driver.py COMMAND ARGS...; the endpoint comes from SEALGATE_ENDPOINT and the credentials
from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY. Lists are printed as JSON on stdout; errors go to
stderr with a non-zero exit status (a botocore ClientError's ending with a line
`ClientError status=<HTTP status> code=<S3 code> operation=<operation>`). Uses boto3's defaults
(checksums, transfer settings) on purpose: they are what boto3 users send.
"""

import json
import os
import sys
import traceback

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError


def client(**config):
    return boto3.client(
        "s3",
        endpoint_url=os.environ["SEALGATE_ENDPOINT"],
        region_name="us-east-1",
        # One attempt per request: a retry would hide a gateway error the suite should see.
        config=Config(s3={"addressing_style": "path"}, retries={"total_max_attempts": 1, "mode": "standard"}, **config),
    )


def list_keys(s3, bucket, prefix):
    keys = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        keys.extend(item["Key"] for item in page.get("Contents", []))
    return keys


def sync_up(s3, directory, bucket, prefix):
    for root, _dirs, files in os.walk(directory):
        for name in files:
            path = os.path.join(root, name)
            relative = os.path.relpath(path, directory).replace(os.sep, "/")
            s3.upload_file(path, bucket, prefix + relative)


def sync_down(s3, bucket, prefix, directory):
    for key in list_keys(s3, bucket, prefix):
        path = os.path.join(directory, *key[len(prefix) :].split("/"))
        os.makedirs(os.path.dirname(path), exist_ok=True)
        s3.download_file(bucket, key, path)


def remove_prefix(s3, bucket, prefix):
    keys = list_keys(s3, bucket, prefix)
    # DeleteObjects takes at most 1000 keys per request.
    for start in range(0, len(keys), 1000):
        batch = [{"Key": key} for key in keys[start : start + 1000]]
        result = s3.delete_objects(Bucket=bucket, Delete={"Objects": batch, "Quiet": True})
        if result.get("Errors"):
            raise RuntimeError(f"DeleteObjects reported errors: {result['Errors']}")


def customer_key(path, prefix=""):
    """SSE-C parameters for the 32 raw key bytes in `path`: boto3 base64-encodes the key and adds its MD5."""
    with open(path, "rb") as file:
        key = file.read()
    return {f"{prefix}SSECustomerAlgorithm": "AES256", f"{prefix}SSECustomerKey": key}


def customer_key_if_given(paths):
    """The SSE-C parameters for an optional trailing key-file argument (none when it is absent)."""
    return customer_key(paths[0]) if paths else {}


def put_with_key(s3, path, bucket, key, key_file):
    with open(path, "rb") as body:
        s3.put_object(Bucket=bucket, Key=key, Body=body, **customer_key(key_file))


def get_with_key(s3, bucket, key, path, *key_file):
    response = s3.get_object(Bucket=bucket, Key=key, **customer_key_if_given(key_file))
    with open(path, "wb") as file:
        for piece in response["Body"].iter_chunks(1024 * 1024):
            file.write(piece)


def head_with_key(s3, bucket, key, key_file):
    head = s3.head_object(Bucket=bucket, Key=key, **customer_key(key_file))
    fields = ["ContentLength", "ETag", "SSECustomerAlgorithm", "SSECustomerKeyMD5"]
    print(json.dumps({field: head.get(field) for field in fields}))


def copy_changing_key(s3, bucket, source, target, source_key_file, target_key_file):
    s3.copy_object(
        Bucket=bucket,
        Key=target,
        CopySource={"Bucket": bucket, "Key": source},
        **customer_key(source_key_file, "CopySource"),
        **customer_key(target_key_file),
    )


def main(command, *args):
    s3 = client()
    if command == "mb":
        s3.create_bucket(Bucket=args[0])
    elif command == "rb":
        s3.delete_bucket(Bucket=args[0])
    elif command == "ls-buckets":
        print(json.dumps([bucket["Name"] for bucket in s3.list_buckets()["Buckets"]]))
    elif command == "ls-keys":
        print(json.dumps(list_keys(s3, args[0], args[1])))
    elif command == "upload":
        s3.upload_file(args[0], args[1], args[2])
    elif command == "download":
        s3.download_file(args[0], args[1], args[2])
    elif command == "sync-up":
        sync_up(s3, *args)
    elif command == "sync-down":
        sync_down(s3, *args)
    elif command == "presign":
        # With default settings botocore presigns S3 URLs with SigV2 (requests are SigV4 either way); the
        # gateway accepts those for GET, so the default is what is tested.
        params = {"Bucket": args[0], "Key": args[1]}
        print(s3.generate_presigned_url("get_object", Params=params, ExpiresIn=int(args[2])))
    # SSE-C: KEY_FILE holds the 32 raw bytes of the customer key.
    elif command == "put-ssec":  # FILE BUCKET KEY KEY_FILE: one PutObject
        put_with_key(s3, *args)
    elif command == "get-ssec":  # BUCKET KEY FILE [KEY_FILE]: one GetObject
        get_with_key(s3, *args)
    elif command == "upload-ssec":  # FILE BUCKET KEY KEY_FILE: s3transfer, multipart above 8 MiB
        s3.upload_file(args[0], args[1], args[2], ExtraArgs=customer_key(args[3]))
    elif command == "download-ssec":  # BUCKET KEY FILE [KEY_FILE]: s3transfer (HeadObject, then GETs)
        s3.download_file(args[0], args[1], args[2], ExtraArgs=customer_key_if_given(args[3:]))
    elif command == "head-ssec":  # BUCKET KEY KEY_FILE
        head_with_key(s3, *args)
    elif command == "copy-ssec":  # BUCKET SOURCE TARGET SOURCE_KEY_FILE TARGET_KEY_FILE: one CopyObject
        copy_changing_key(s3, *args)
    elif command == "rm":
        s3.delete_object(Bucket=args[0], Key=args[1])
    elif command == "rm-prefix":
        remove_prefix(s3, *args)
    else:
        raise SystemExit(f"unknown command {command!r}")


if __name__ == "__main__":
    try:
        main(*sys.argv[1:])
    except ClientError as error:
        # The traceback, then one line the tests match: the HTTP status and S3 code the client saw (a
        # HEAD's error has no body, so its code is only the status again).
        traceback.print_exc()
        response = error.response
        status = response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        code = response.get("Error", {}).get("Code")
        print(f"ClientError status={status} code={code} operation={error.operation_name}", file=sys.stderr)
        sys.exit(1)
