# SPDX-License-Identifier: GPL-3.0-or-later
"""The scenario's S3 helper, run on the controller against the S3 container's loopback port.

    s3.py make-bucket BUCKET     create the bucket (no error when it exists)
    s3.py list BUCKET PREFIX     print the keys under PREFIX as a JSON list

Endpoint, credentials and the CA certificate come from the environment (S3_ENDPOINT,
S3_ACCESS_KEY, S3_SECRET_KEY, S3_CA_BUNDLE), never from the command line.
"""

from __future__ import annotations

import json
import os
import sys
import time

import boto3
from botocore.exceptions import ClientError, ConnectionClosedError, EndpointConnectionError, SSLError


def client():
    return boto3.client(
        "s3",
        endpoint_url=os.environ["S3_ENDPOINT"],
        aws_access_key_id=os.environ["S3_ACCESS_KEY"],
        aws_secret_access_key=os.environ["S3_SECRET_KEY"],
        region_name="us-east-1",
        verify=os.environ.get("S3_CA_BUNDLE") or True,
    )


def make_bucket(name: str) -> None:
    s3 = client()
    for _attempt in range(30):
        try:
            s3.create_bucket(Bucket=name)
            print("created")
            return
        except ClientError as exc:
            if exc.response["Error"]["Code"] in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
                print("exists")
                return
            raise
        except (EndpointConnectionError, ConnectionClosedError, SSLError):
            time.sleep(1)
    raise SystemExit("the S3 server did not answer")


def list_keys(bucket: str, prefix: str) -> None:
    keys = []
    for page in client().get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        keys += [item["Key"] for item in page.get("Contents", [])]
    print(json.dumps(sorted(keys)))


if __name__ == "__main__":
    if sys.argv[1:2] == ["make-bucket"]:
        make_bucket(sys.argv[2])
    elif sys.argv[1:2] == ["list"]:
        list_keys(sys.argv[2], sys.argv[3])
    else:
        raise SystemExit(__doc__)
