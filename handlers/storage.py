"""What S3 holds besides the key layout (`handlers.keys`): the metadata an upload carries,
the batch delete of renditions, and the ObjectCreated event S3 sends for a file (`s3_event`).

S3 is the truth: an uploaded file carries what its record needs to exist, as `x-amz-meta-*`
bound exactly by the upload policy (owner, the owner's email, file name, created time, the
correlation id that names the upload in every function's log lines, and the SHA-256 the page
declared for the file's bytes, which the processor checks).
`upload_metadata` writes those headers for the form and `origin_from_metadata` reads them
back from S3's answer; both sides live here so that the encoding has one home. The record
rebuilt from them is `handlers.records.record_from_s3`'s business.
"""

from __future__ import annotations

from urllib.parse import quote, quote_plus, unquote

# Upload metadata: header names in the form and the policy; S3 hands them back lower-cased
# without the prefix. Values percent-encoded (S3 metadata is ASCII).
_META = {
    "owner": "owner",
    "ownerEmail": "owner-email",
    "filename": "filename",
    "createdAt": "created",
    "correlationId": "correlation-id",
    "sha256": "sha256",
}


# S3 allows 2 KB of user metadata in all; a file name of 200 emoji is 2.4 KB percent-encoded.
MAX_ENCODED_FILENAME = 1024


def fit_filename(filename: str) -> str:
    """The file name, shortened (never refused) until it fits in the upload's metadata."""
    while len(quote(filename, safe="@")) > MAX_ENCODED_FILENAME:
        filename = filename[:-1]
    return filename


def upload_metadata(
    owner: str,
    owner_email: str | None,
    filename: str,
    created_at: str,
    correlation_id: str | None = None,
    sha256: str | None = None,
) -> dict[str, str]:
    filename = fit_filename(filename)
    values = {"owner": owner, "ownerEmail": owner_email or "", "filename": filename, "createdAt": created_at}
    if correlation_id:
        values["correlationId"] = correlation_id
    if sha256:
        values["sha256"] = sha256
    return {f"x-amz-meta-{_META[name]}": quote(value, safe="@") for name, value in values.items()}


def origin_from_metadata(metadata: dict[str, str]) -> dict:
    """The record fields an uploaded file carries (none for a file put straight into the bucket)."""
    found = {name: unquote(metadata[header]) for name, header in _META.items() if metadata.get(header)}
    return found if "owner" in found else {k: v for k, v in found.items() if k != "ownerEmail"}


def delete_renditions(s3, bucket: str, keys: set[str]) -> None:
    """Delete these rendition objects in one request; a key S3 could not delete raises."""
    if not keys:
        return
    answer = s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": k} for k in sorted(keys)], "Quiet": True})
    if answer.get("Errors"):  # a batch delete reports per-key failures instead of raising
        raise RuntimeError(f"renditions not deleted: {answer['Errors']}")


def s3_event(bucket: str, *objects: tuple) -> dict:
    """An S3 ObjectCreated event for these (key, size, ETag[, version id]) objects, as S3 sends it
    (keys URL-encoded): what the sweep and reconcile re-drive, and what the tests deliver."""
    return {"Records": [_notification(bucket, *obj) for obj in objects]}


def _notification(bucket: str, key: str, size: int, etag: str, version: str | None = None) -> dict:
    obj = {"key": quote_plus(key, safe="/"), "size": size, "eTag": etag}
    return {
        "eventVersion": "2.1",
        "eventSource": "aws:s3",
        "awsRegion": "us-east-1",
        "eventName": "ObjectCreated:Put",
        "s3": {
            "s3SchemaVersion": "1.0",
            "bucket": {"name": bucket, "arn": f"arn:aws:s3:::{bucket}"},
            "object": obj | ({"versionId": version} if version else {}),
        },
    }
