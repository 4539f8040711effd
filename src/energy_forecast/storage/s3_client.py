"""The S3 client pieces of the model store: URL, bucket creation, and errors in our terms."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit

import botocore.exceptions as bex

from energy_forecast.errors import StorageError

_UNREACHABLE = (
    bex.EndpointConnectionError,
    bex.ConnectTimeoutError,
    bex.ReadTimeoutError,
    bex.ConnectionClosedError,
)
_REFUSED = {"AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "AllAccessDisabled"}


def parse_store_url(url: str) -> tuple[str, str]:
    """``s3://bucket/some/prefix`` -> ("bucket", "some/prefix").

    Raises:
        ValueError: not an ``s3://`` URL with a bucket name.
    """
    parts = urlsplit(url)
    if parts.scheme != "s3" or not parts.netloc:
        raise ValueError(f"EF_MODEL_STORE_URL must look like s3://BUCKET/PREFIX, got {url!r}")
    return parts.netloc, parts.path.strip("/")


def code_of(exc: bex.ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def status_of(exc: bex.ClientError) -> int:
    return int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0))


def ensure_bucket(client: Any, bucket: str, endpoint: str, *, create: bool) -> None:
    """Create a missing bucket when allowed.

    Raises:
        StorageError: it is missing and may not or cannot be created; the message names it.
    """
    try:
        client.head_bucket(Bucket=bucket)
        return
    except bex.ClientError as exc:
        if status_of(exc) != 404:
            raise
    if not create:
        raise StorageError(
            f"model bucket {bucket!r} does not exist at {endpoint}; create it, or allow "
            "the service to (EF_S3_CREATE_BUCKET=true)"
        )
    try:
        region = client.meta.region_name
        options = (
            {}
            if region in (None, "us-east-1")
            else {"CreateBucketConfiguration": {"LocationConstraint": region}}
        )
        client.create_bucket(Bucket=bucket, **options)
    except bex.ClientError as exc:
        if code_of(exc) in {"BucketAlreadyOwnedByYou", "BucketAlreadyExists"}:
            return
        raise StorageError(
            f"model bucket {bucket!r} does not exist at {endpoint} and cannot be created "
            f"({code_of(exc) or status_of(exc)}); create it, or grant s3:CreateBucket"
        ) from None


@contextmanager
def s3_errors(bucket: str, endpoint: str, action: str) -> Iterator[None]:
    """Botocore's failures as StorageError naming the action, bucket and endpoint (never a credential)."""
    try:
        yield
    except _UNREACHABLE as exc:
        raise StorageError(
            f"cannot {action}: the model store at {endpoint} did not answer "
            f"({type(exc).__name__}); "
            "check EF_S3_ENDPOINT_URL and that the S3 service is up"
        ) from None
    except bex.NoCredentialsError:
        raise StorageError(
            f"cannot {action}: no S3 credentials found; set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, "
            "AWS_PROFILE, or give the host an instance role"
        ) from None
    except bex.ClientError as exc:
        code = code_of(exc)
        refused = code in _REFUSED or status_of(exc) == 403
        hint = "check the S3 credentials and the bucket policy" if refused else "see the S3 logs"
        raise StorageError(
            f"cannot {action}: S3 bucket {bucket!r} answered {code or status_of(exc)}; {hint}"
        ) from None
    except bex.BotoCoreError as exc:
        raise StorageError(f"cannot {action}: S3 client error ({type(exc).__name__})") from None
    except OSError as exc:
        raise StorageError(f"cannot {action}: {exc.strerror or exc}") from exc
