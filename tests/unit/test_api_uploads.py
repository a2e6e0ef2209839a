"""handlers/api.py on moto, POST /uploads: the presigned POST fixed to one key, type and size;
request validation and the body's limits; the quotas; file names."""

from __future__ import annotations

import base64
import json

import pytest

from handlers import api as api_module
from handlers.api import MAX_BODY_BYTES, clean_filename
from handlers.records import ImageRecords
from tests.unit.api_helpers import Api, create
from tests.unit.conftest import ADMIN, ALICE, BOB, id_token_claims, rest_event


@pytest.fixture
def api(aws_env):
    return Api(*aws_env)


def test_create_upload_returns_a_presigned_post_fixed_to_one_key_type_and_size(api):
    status, body, _ = create(api, filename="../../etc/passwd\x00.jpg")
    assert status == 201
    fields = body["upload"]["fields"]
    assert fields["key"] == f"uploads/{body['id']}"
    assert fields["Content-Type"] == "image/jpeg"
    policy = json.loads(base64.b64decode(fields["policy"]))
    conditions = policy["conditions"]
    assert {"Content-Type": "image/jpeg"} in conditions
    assert ["content-length-range", 1000, 1000] in conditions  # the declared size, exactly
    assert {"key": f"uploads/{body['id']}"} in conditions
    assert body["maxBytes"] == 25 * 1024 * 1024
    record = ImageRecords(api.clients.dynamodb, api.settings.table_name).get(body["id"])
    assert record["status"] == "pending"
    assert record["filename"] == "_.._etc_passwd.jpg"  # no separators, no leading dots
    assert (record["owner"], record["ownerEmail"]) == (ALICE["sub"], ALICE["email"])
    assert set(body) == {"id", "upload", "expiresAt", "maxBytes"}  # no delete token: the owner signs in
    assert record["expiresAt"] > 0  # TTL for uploads that never arrive


@pytest.mark.parametrize(
    "body, status, code",
    [
        ("{not json", 400, "invalid_request"),
        ("[1, 2]", 400, "invalid_request"),
        ('{"filename": "a.jpg", "contentType": "image/jpeg", "size": 1, "x": NaN}', 400, "invalid_request"),
        ('{"filename": "a.jpg", "contentType": "image/jpeg", "size": 1, "x": -Infinity}', 400, "invalid_request"),
        ({"contentType": "image/jpeg", "size": 1}, 400, "invalid_request"),
        ({"filename": "a.jpg", "contentType": "image/jpeg", "size": "10"}, 400, "invalid_request"),
        ({"filename": "a.jpg", "contentType": "image/jpeg", "size": 0}, 400, "invalid_request"),
        ({"filename": "a.jpg", "contentType": "image/jpeg", "size": True}, 400, "invalid_request"),
        ({"filename": "a.jpg", "contentType": "image/jpeg", "size": 25 * 1024 * 1024 + 1}, 413, "too_large"),
        ({"filename": "a.svg", "contentType": "image/svg+xml", "size": 10}, 415, "unsupported_type"),
        ({"filename": "a.html", "contentType": "text/html", "size": 10}, 415, "unsupported_type"),
    ],
)
def test_bad_upload_requests(api, body, status, code):
    got_status, got, _ = api("POST", "/uploads", body)
    assert (got_status, got["error"]["code"]) == (status, code)
    assert got["error"]["message"]


@pytest.mark.parametrize("size", [1, 12345, 25 * 1024 * 1024])
def test_the_form_accepts_only_the_declared_size(api, size):
    """content-length-range is [size, size]: a form asked for 1 byte cannot carry 25 MiB."""
    status, body, _ = create(api, size=size)
    assert status == 201
    policy = json.loads(base64.b64decode(body["upload"]["fields"]["policy"]))
    assert [c for c in policy["conditions"] if isinstance(c, list) and c[0] == "content-length-range"] == [
        ["content-length-range", size, size]
    ]
    assert ImageRecords(api.clients.dynamodb, api.settings.table_name).get(body["id"])["bytes"] == size


def upload_body(size: int) -> str:
    """A valid upload request of exactly `size` bytes (JSON allows trailing whitespace)."""
    text = json.dumps({"filename": "photo.jpg", "contentType": "image/jpeg", "size": 1000})
    return text + " " * (size - len(text))


def post_encoded(api, raw: bytes):
    """As API Gateway delivers a binary media type: the body base64-encoded."""
    event = rest_event(
        "POST", "/uploads", base64.b64encode(raw).decode(), claims=id_token_claims(ALICE, api.settings)
    ) | {"isBase64Encoded": True}
    return api.resolve(event)


def test_a_deeply_nested_body_is_a_400_not_a_500(api):
    """Found against the stack: json.loads raised RecursionError, and the API answered 500."""
    deep = "[" * (MAX_BODY_BYTES // 2) + "]" * (MAX_BODY_BYTES // 2)  # at the limit, so it is parsed
    status, body, _ = api("POST", "/uploads", deep)
    assert (status, body["error"]["code"]) == (400, "invalid_request")


@pytest.mark.parametrize(
    "body",
    ["[" * 50_000, upload_body(MAX_BODY_BYTES + 1), upload_body(64 * 1024)],
    ids=["50000-deep", "limit+1", "64KiB"],
)
def test_a_body_over_the_limit_is_a_413_and_never_parsed(api, monkeypatch, body):
    class Unused:
        def decode(self, text):
            raise AssertionError("a body over the limit reached the JSON parser")

    monkeypatch.setattr(api_module, "_JSON", Unused())
    status, got, _ = api("POST", "/uploads", body)
    assert (status, got["error"]["code"]) == (413, "body_too_large")
    assert str(MAX_BODY_BYTES) in got["error"]["message"]


def test_a_body_at_the_limit_works_and_holds_the_longest_file_name(api):
    assert len(upload_body(MAX_BODY_BYTES).encode()) == MAX_BODY_BYTES
    assert api("POST", "/uploads", upload_body(MAX_BODY_BYTES))[0] == 201
    # 255 characters (the usual file system limit), each \u-escaped: the largest honest body.
    longest = json.dumps({"filename": "\x01" * 255, "contentType": "image/jpeg", "size": 1000})
    assert len(longest.encode()) < MAX_BODY_BYTES
    assert api("POST", "/uploads", longest)[0] == 201


def test_a_base64_encoded_body_is_measured_decoded(api):
    """The limit counts the bytes the client sent, whether or not API Gateway encoded them
    (a binary media type): the same body gets the same answer either way."""
    assert len(base64.b64encode(upload_body(MAX_BODY_BYTES).encode())) > MAX_BODY_BYTES
    assert post_encoded(api, upload_body(MAX_BODY_BYTES).encode())[0] == 201
    status, body, _ = post_encoded(api, upload_body(MAX_BODY_BYTES + 1).encode())
    assert (status, body["error"]["code"]) == (413, "body_too_large")


@pytest.mark.parametrize(
    "raw",
    [
        b'{"filename": "\xff.jpg", "contentType": "image/jpeg", "size": 1}',
        b"\xef\xbb\xbf" + upload_body(100).encode(),
        b"\x00" * 10,
    ],
    ids=["latin-1", "utf-8-bom", "nul-bytes"],
)
def test_a_body_that_is_not_utf8_json_is_a_400(api, raw):
    status, body, _ = post_encoded(api, raw)
    assert (status, body["error"]["code"]) == (400, "invalid_request")


def test_a_body_flagged_base64_that_is_not_is_a_400(api):
    event = rest_event("POST", "/uploads", upload_body(100), claims=id_token_claims(ALICE, api.settings)) | {
        "isBase64Encoded": True
    }
    status, body, _ = api.resolve(event)
    assert (status, body["error"]["code"]) == (400, "invalid_request")


def test_the_daily_quota_answers_429_with_when_it_resets(aws_env):
    import dataclasses

    from handlers.quotas import Quota

    settings, clients = aws_env
    api = Api(dataclasses.replace(settings, quota=Quota(uploads_per_day=2, bytes=10**9)), clients)
    assert [create(api)[0] for _ in range(3)] == [201, 201, 429]
    body = create(api)[1]
    assert body["error"]["code"] == "quota_exceeded" and body["error"]["resetsAt"].endswith("T00:00:00Z")
    assert create(api, claims=BOB)[0] == 201  # per person


def test_stored_bytes_are_freed_by_deleting(aws_env):
    import dataclasses

    from handlers.quotas import Quota

    settings, clients = aws_env
    api = Api(dataclasses.replace(settings, quota=Quota(uploads_per_day=100, bytes=2000)), clients)
    first = create(api, size=1500)[1]
    refused = create(api, size=600)
    assert refused[0] == 429 and refused[1]["error"]["resetsAt"] is None
    assert create(api, size=500)[0] == 201  # exactly full
    assert api("DELETE", f"/images/{first['id']}", claims=ADMIN)[0] == 204  # the owner's space, freed
    assert create(api, size=1500)[0] == 201


def test_any_non_empty_filename_is_accepted_and_cleaned(api):
    """Found by schemathesis: a name of only control characters is still a name."""
    status, body, _ = create(api, filename="\x1d")
    assert status == 201
    assert ImageRecords(api.clients.dynamodb, api.settings.table_name).get(body["id"])["filename"] == "image"


def test_clean_filename():
    assert clean_filename("a/b\\c.jpg") == "a_b_c.jpg"
    assert clean_filename("\u202eevil\x07.jpg") == "evil.jpg"
    assert clean_filename("...") == "image"
    assert len(clean_filename("x" * 1000)) == 200
