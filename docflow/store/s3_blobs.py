"""Originals in an S3-compatible bucket (AWS S3, MinIO, Ceph, ...), keyed by SHA-256.

Uploads are written to a local temp file while hashed (the key is the digest, known only at
the end), then sent with boto3's managed multipart transfer.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

from docflow.store.blobs import _Puts


class S3BlobStore(_Puts):
    def __init__(self, bucket: str, tmp_dir: Path, *, prefix: str = "originals/",
                 endpoint_url: str | None = None, region: str | None = None,
                 access_key_id: str | None = None, secret_access_key: str | None = None,
                 client: Any = None) -> None:
        import boto3  # optional dependency: pip install 'docflow[s3]'

        self.bucket, self.prefix, self.tmp_dir = bucket, prefix, tmp_dir
        tmp_dir.mkdir(parents=True, exist_ok=True)
        self.client = client or boto3.client(
            "s3", endpoint_url=endpoint_url, region_name=region,
            aws_access_key_id=access_key_id, aws_secret_access_key=secret_access_key)

    def key(self, sha256: str) -> str:
        return f"{self.prefix}{sha256[:2]}/{sha256[2:4]}/{sha256}"

    def exists(self, sha256: str) -> bool:
        return self.stored_at(sha256) is not None

    def stored_at(self, sha256: str) -> float | None:
        from botocore.exceptions import ClientError

        try:
            head = self.client.head_object(Bucket=self.bucket, Key=self.key(sha256))
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return None
            raise
        return float(head["LastModified"].timestamp())

    def adopt(self, tmp: Path, sha256: str) -> None:
        from botocore.exceptions import ClientError

        key = self.key(sha256)
        try:
            if self.exists(sha256):
                try:  # touch it (a copy onto itself renews LastModified) for the orphan sweep
                    self.client.copy_object(Bucket=self.bucket, Key=key,
                                            CopySource={"Bucket": self.bucket, "Key": key},
                                            MetadataDirective="REPLACE")
                    return
                except ClientError:  # swept a moment ago: store these bytes again
                    pass
            self.client.upload_file(str(tmp), self.bucket, key)
        finally:
            tmp.unlink(missing_ok=True)

    def listing(self) -> Iterator[tuple[str, float]]:
        pages = self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket,
                                                                       Prefix=self.prefix)
        for page in pages:
            for item in page.get("Contents", []):
                name = item["Key"].rsplit("/", 1)[-1]
                if len(name) == 64:
                    yield name, float(item["LastModified"].timestamp())

    def delete(self, sha256: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=self.key(sha256))

    def open(self, sha256: str) -> BinaryIO:
        from botocore.exceptions import ClientError

        try:
            reply = self.client.get_object(Bucket=self.bucket, Key=self.key(sha256))
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                raise FileNotFoundError(f"original {sha256} is not in bucket "
                                        f"{self.bucket}") from exc
            raise
        return reply["Body"]  # type: ignore[no-any-return]

    def read(self, sha256: str) -> bytes:
        with self.open(sha256) as body:
            return body.read()

    def local_path(self, sha256: str) -> Path | None:
        return None
