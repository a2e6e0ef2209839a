"""handlers/api.py on moto: validation, typed errors, presigned POST, listing, delete, CORS."""

from __future__ import annotations

import base64
import json

import pytest

from handlers import api as api_module
from handlers.api import MAX_BODY_BYTES, build_app, clean_filename
from handlers.records import ImageRecords
from tests.hooks import Hooked, s3_goes_away
from tests.unit.conftest import ADMIN, ALICE, BOB, SITE, id_token_claims, rest_event


class Api:
    def __init__(self, settings, clients):
        self.app = build_app(settings, clients)
        self.settings, self.clients = settings, clients

    def __call__(self, method, path, body=None, query=None, headers=None, claims=ALICE):
        """A request from `claims`' person with a valid ID token (None: no claims at all)."""
        if claims is not None and set(claims) <= {"sub", "email"}:  # a person, not a token
            claims = id_token_claims(claims, self.settings)
        return self.resolve(rest_event(method, path, body, query, headers, claims))

    def resolve(self, event):
        response = self.app.resolve(event, {})
        body = response.get("body")
        parsed = json.loads(body) if body else None
        headers = {k: ", ".join(v) for k, v in (response.get("multiValueHeaders") or {}).items()}
        return response["statusCode"], parsed, headers | (response.get("headers") or {})


@pytest.fixture
def api(aws_env):
    return Api(*aws_env)


def create(api, claims=ALICE, **overrides):
    body = {"filename": "photo.jpg", "contentType": "image/jpeg", "size": 1000} | overrides
    return api("POST", "/uploads", body, claims=claims)


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


def arrive(api, image_id: str) -> None:
    """What the processor does when an upload's file arrives: the image joins the gallery."""
    records = ImageRecords(api.clients.dynamodb, api.settings.table_name)
    records.start_processing(image_id, f"uploads/{image_id}", "etag", 1000, "x.jpg", {})


def test_listing_pages_newest_first(api):
    ids = [create(api, filename=f"{i}.jpg")[1]["id"] for i in range(5)]
    for image_id in ids:
        arrive(api, image_id)
    seen, cursor = [], None
    while True:
        status, page, _ = api("GET", "/images", query={"limit": "2"} | ({"cursor": cursor} if cursor else {}))
        assert status == 200
        seen += [i["id"] for i in page["items"]]
        cursor = page["nextCursor"]
        if not cursor:
            break
    assert seen == list(reversed(ids))


def test_uploads_whose_file_never_arrived_are_not_in_the_gallery(api):
    """Unsent forms (no auth needed to ask for one) cannot fill the gallery with pending ghosts."""
    arrived = create(api)[1]["id"]
    arrive(api, arrived)
    for _ in range(30):
        create(api)
    status, page, _ = api("GET", "/images", query={"limit": "100"})
    assert status == 200 and [i["id"] for i in page["items"]] == [arrived]


@pytest.mark.parametrize(
    "query",
    [
        {"limit": "0"},
        {"limit": "101"},
        {"limit": "ten"},
        {"cursor": "!!!"},
        {"cursor": base64.urlsafe_b64encode(b'{"id": "x"}').decode()},
        # Found in review: keys of the right names but the wrong shape reach DynamoDB, which
        # answers ValidationException (a 500) for an empty string or a key over 1024 bytes.
        {
            "cursor": base64.urlsafe_b64encode(
                json.dumps({"id": "", "owner": ALICE["sub"], "listedKey": ""}).encode()
            ).decode()
        },
        {
            "cursor": base64.urlsafe_b64encode(
                json.dumps({"id": "a" * 32, "owner": ALICE["sub"], "listedKey": "x" * 2000}).encode()
            ).decode()
        },
    ],
)
def test_bad_list_queries(api, query):
    status, body, _ = api("GET", "/images", query=query)
    assert status == 400 and body["error"]["code"] == "invalid_request"


def test_get_unknown_image_is_404(api):
    for image_id in ("0" * 32, "not-an-id"):
        status, body, _ = api("GET", f"/images/{image_id}")
        assert status == 404 and body["error"]["code"] == "not_found"


def test_only_the_owner_or_an_admin_sees_and_deletes_an_image(api):
    _, created, _ = create(api)
    path = f"/images/{created['id']}"
    missing = api("GET", "/images/" + "0" * 32, claims=BOB)[1]
    for method in ("GET", "DELETE"):  # another person's image answers exactly as a missing one
        status, body, _ = api(method, path, claims=BOB)
        assert (
            status == 404 and body["error"]["message"].replace(created["id"], "0" * 32) == missing["error"]["message"]
        )
    assert api("GET", path)[0] == 200
    assert api("GET", path, claims=ADMIN)[1]["owner"] == "alice@example.com"
    assert api("DELETE", path)[0] == 204
    assert api("GET", path)[0] == 404 and api("DELETE", path)[0] == 404
    _, other, _ = create(api)
    assert api("DELETE", f"/images/{other['id']}", claims=ADMIN)[0] == 204  # moderation


def test_each_person_lists_their_own_images_and_admins_everyone_s(api):
    mine = [create(api)[1]["id"] for _ in range(2)]
    theirs = create(api, claims=BOB)[1]["id"]
    for image_id in (*mine, theirs):
        arrive(api, image_id)
    assert [i["id"] for i in api("GET", "/images")[1]["items"]] == list(reversed(mine))
    assert [i["id"] for i in api("GET", "/images", claims=BOB)[1]["items"]] == [theirs]
    assert api("GET", "/images", query={"scope": "all"})[0] == 403
    everyone = [i["id"] for i in api("GET", "/images", query={"scope": "all"}, claims=ADMIN)[1]["items"]]
    assert everyone == [theirs, *reversed(mine)]
    # A cursor of one person's gallery cannot page another's.
    cursor = api("GET", "/images", query={"limit": "1"})[1]["nextCursor"]
    assert api("GET", "/images", query={"cursor": cursor}, claims=BOB)[0] == 400


def test_without_verified_claims_every_route_is_401(api):
    for method, path in (("GET", "/images"), ("POST", "/uploads"), ("GET", "/images/" + "0" * 32)):
        status, body, _ = api(method, path, {"filename": "a.jpg", "contentType": "image/jpeg", "size": 1}, claims=None)
        assert status == 401 and body["error"]["code"] == "unauthorized"


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


def test_unknown_route_and_wrong_method(api):
    status, body, _ = api("GET", "/nope")
    assert status == 404 and body["error"]["code"] == "not_found"
    status, body, headers = api("PUT", "/uploads")
    assert status == 405 and body["error"]["code"] == "method_not_allowed"
    assert headers["Allow"] == "POST"


def test_cors_for_the_site_origin_only(api):
    status, _, headers = api("OPTIONS", "/uploads", headers={"Origin": SITE, "Access-Control-Request-Method": "POST"})
    assert status == 204
    assert headers["Access-Control-Allow-Origin"] == SITE
    _, _, headers = api("GET", "/images", headers={"Origin": "https://evil.example"})
    assert "Access-Control-Allow-Origin" not in headers


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


def test_the_handler_logs_one_access_line_per_request_without_the_token(aws_env, monkeypatch, caplog):
    """The ID token travels in the Authorization header; headers are never logged."""
    from types import SimpleNamespace

    from handlers import api as api_module

    settings, _ = aws_env
    for name, value in {
        "UPLOAD_BUCKET": settings.upload_bucket,
        "PROCESSED_BUCKET": settings.processed_bucket,
        "TABLE_NAME": settings.table_name,
        "ALLOWED_ORIGINS": SITE,
        "USER_POOL_ID": settings.user_pool_id,
        "USER_POOL_CLIENT_ID": settings.user_pool_client_id,
    }.items():
        monkeypatch.setenv(name, value)
    api_module._app.cache_clear()
    context = SimpleNamespace(
        function_name="imagepipe-api",
        memory_limit_in_mb=256,
        aws_request_id="r1",
        invoked_function_arn="arn:aws:lambda:us-east-1:000000000000:function:imagepipe-api",
    )
    try:
        response = api_module.handler(
            rest_event(
                "DELETE",
                "/images/" + "a" * 32,
                headers={"Authorization": "secret-token-value"},
                claims=id_token_claims(ALICE, settings),
            ),
            context,
        )
    finally:
        api_module._app.cache_clear()
    assert response["statusCode"] == 404
    assert response["multiValueHeaders"]["X-Content-Type-Options"] == ["nosniff"]
    access = [r for r in caplog.records if r.getMessage() == "request"]
    assert len(access) == 1
    assert (access[0].method, access[0].path, access[0].status) == ("DELETE", "/images/" + "a" * 32, 404)
    assert access[0].ms >= 0
    assert not any("secret-token-value" in str(vars(r)) for r in caplog.records)


def test_delete_removes_renditions_finished_after_it_read_the_record(aws_env):
    """DELETE raced the processor's last write: what the deleted record held is removed."""
    import dataclasses

    settings, clients = aws_env
    records = ImageRecords(clients.dynamodb, settings.table_name)
    _, created, _ = create(Api(settings, clients))
    image_id = created["id"]
    key = f"uploads/{image_id}"
    clients.s3.put_object(Bucket=settings.upload_bucket, Key=key, Body=b"x")
    assert records.start_processing(image_id, key, "etag", 1, "photo.jpg", {}).outcome == "claimed"
    renditions = {}
    for name in ("preview", "thumbnail"):
        clients.s3.put_object(Bucket=settings.processed_bucket, Key=f"{image_id}/{name}.jpg", Body=b"jpeg")
        renditions[name] = {
            "key": f"{image_id}/{name}.jpg",
            "width": 1,
            "height": 1,
            "bytes": 4,
            "contentType": "image/jpeg",
        }

    def finish():
        assert records.mark_processed(image_id, "etag", {"renditions": renditions})[0] == "processed"

    # The processor finishes the image right after the API has read it.
    racing = dataclasses.replace(clients, dynamodb=Hooked(clients.dynamodb, after={"get_item": finish}))
    api = Api(settings, racing)
    status, _, _ = api("DELETE", f"/images/{image_id}")
    assert status == 204 and racing.dynamodb.fired == {"get_item"}
    assert records.get(image_id)["status"] == "deleted"
    assert "Contents" not in clients.s3.list_objects_v2(Bucket=settings.processed_bucket, Prefix=image_id)
    assert "Contents" not in clients.s3.list_objects_v2(Bucket=settings.upload_bucket, Prefix=key)


def test_a_delete_that_fails_half_way_can_be_repeated(aws_env):
    """Files go before the record: if S3 fails, the image is still there to delete again."""
    import dataclasses

    settings, clients = aws_env
    _, created, _ = create(Api(settings, clients))
    s3_down = Hooked(clients.s3, before={"delete_object": s3_goes_away, "delete_objects": s3_goes_away})
    broken = Api(settings, dataclasses.replace(clients, s3=s3_down))
    status, body, _ = broken("DELETE", f"/images/{created['id']}")
    assert status == 500 and body["error"]["code"]
    assert ImageRecords(clients.dynamodb, settings.table_name).get(created["id"]) is not None
    assert Api(settings, clients)("DELETE", f"/images/{created['id']}")[0] == 204


# --- what the page gets for a processed image: sources, placeholder, facts, stable URLs ----------


def processed_through_the_pipeline(api, data: bytes) -> str:
    """POST /uploads, the file put where the form says, then the processor's own run on it."""
    from handlers.processor import process_event, s3_event

    image_id = create(api, size=len(data))[1]["id"]
    key = f"uploads/{image_id}"
    metadata = {"owner": ALICE["sub"], "owner-email": ALICE["email"], "filename": "photo.jpg"}
    put = api.clients.s3.put_object(Bucket=api.settings.upload_bucket, Key=key, Body=data, Metadata=metadata)
    event = s3_event(api.settings.upload_bucket, (key, len(data), put["ETag"].strip('"')))
    assert process_event(event, api.settings, api.clients) == {key: "processed"}
    return image_id


def test_an_image_lists_avif_and_fallback_sources_placeholder_and_facts(api):
    from urllib.parse import parse_qs, urlsplit

    from tests.images import phone_jpeg

    image_id = processed_through_the_pipeline(api, phone_jpeg(1200, 900))
    status, image, _ = api("GET", f"/images/{image_id}")
    assert status == 200
    assert image["placeholder"] and image["dominantColor"].startswith("#") and len(image["dominantColor"]) == 7
    assert image["facts"] == {"make": "imagepipe-test-phone"}  # and never its GPS block
    assert "GPS" not in json.dumps(image) and "52.0" not in json.dumps(image)
    assert set(image["renditions"]) == {"large", "preview", "small", "thumbnail"}
    for rendition in image["renditions"].values():
        types = [s["contentType"] for s in rendition["sources"]]
        assert types == ["image/avif", "image/jpeg"]
        assert {k: rendition[k] for k in ("contentType", "width", "height", "url")} == {
            k: rendition["sources"][-1][k] for k in ("contentType", "width", "height", "url")
        }
        for source in rendition["sources"]:
            query = parse_qs(urlsplit(source["url"]).query)
            assert query["response-content-type"] == [source["contentType"]]
    record = ImageRecords(api.clients.dynamodb, api.settings.table_name).get(image_id)
    for rendition in record["renditions"].values():
        for source in rendition["sources"]:
            stored = api.clients.s3.head_object(Bucket=api.settings.processed_bucket, Key=source["key"])
            assert stored["CacheControl"] == "public, max-age=31536000, immutable"
            assert stored["ContentType"] == source["contentType"]
    original = parse_qs(urlsplit(image["original"]["url"]).query)
    assert original["response-content-disposition"] == ["attachment; filename*=UTF-8''photo.jpg"]


def test_the_same_image_has_the_same_urls_within_the_hour(api, monkeypatch):
    from datetime import UTC, datetime

    from handlers import signing
    from tests.images import phone_jpeg

    image_id = processed_through_the_pipeline(api, phone_jpeg(640, 480))
    moments = iter([datetime(2026, 11, 28, 9, 0, 5, tzinfo=UTC), datetime(2026, 11, 28, 9, 59, 50, tzinfo=UTC)])
    monkeypatch.setattr(signing, "utc_now", lambda: current)
    current = next(moments)
    first = api("GET", f"/images/{image_id}")[1]
    current = next(moments)
    later = api("GET", f"/images/{image_id}")[1]
    assert first["renditions"] == later["renditions"] and first["original"] == later["original"]
    current = datetime(2026, 11, 28, 10, 0, 1, tzinfo=UTC)
    next_hour = api("GET", f"/images/{image_id}")[1]
    assert next_hour["renditions"]["thumbnail"]["url"] != first["renditions"]["thumbnail"]["url"]


def test_an_image_made_before_sources_existed_still_shows(api):
    """Records of two JPEGs (no sources, no placeholder) keep working until reprocessed."""
    image_id = create(api)[1]["id"]
    arrive(api, image_id)
    old = {
        name: {"key": f"{image_id}/etag/{name}.jpg", "width": w, "height": h, "bytes": 10, "contentType": "image/jpeg"}
        for name, w, h in (("preview", 1024, 768), ("thumbnail", 256, 192))
    }
    records = ImageRecords(api.clients.dynamodb, api.settings.table_name)
    assert records.mark_processed(image_id, "etag", {"renditions": old, "width": 1024, "height": 768})[0] == "processed"
    image = api("GET", f"/images/{image_id}")[1]
    assert image["placeholder"] is None and image["dominantColor"] is None and image["facts"] == {}
    for name, rendition in image["renditions"].items():
        assert rendition["width"] == old[name]["width"] and f"/{name}.jpg" in rendition["url"]
        assert [s["url"] for s in rendition["sources"]] == [rendition["url"]]


def test_a_malformed_listing_is_a_400_even_where_it_would_be_forbidden(api):
    status, body, _ = api("GET", "/images", query={"scope": "all", "limit": "null"})
    assert status == 400 and body["error"]["code"] == "invalid_request"
    assert api("GET", "/images", query={"scope": "all"})[0] == 403


# --- the original's download: what the processor found it to be, never what the uploader said ----


def original_download(image: dict) -> tuple[str, str] | None:
    """(Content-Disposition, Content-Type) the original's presigned GET makes S3 answer with."""
    from urllib.parse import parse_qs, urlsplit

    if image["original"] is None:
        return None
    query = parse_qs(urlsplit(image["original"]["url"]).query)
    return query["response-content-disposition"][0], query["response-content-type"][0]


def through_the_pipeline(api, data: bytes, filename: str, content_type: str) -> tuple[str, str]:
    """An upload as the page makes it, with this name and declared type; (id, the processor's verdict)."""
    from handlers.processor import process_event, s3_event

    image_id = create(api, filename=filename, contentType=content_type, size=len(data))[1]["id"]
    key = f"uploads/{image_id}"
    metadata = {"owner": ALICE["sub"], "owner-email": ALICE["email"], "filename": filename}
    put = api.clients.s3.put_object(
        Bucket=api.settings.upload_bucket, Key=key, Body=data, Metadata=metadata, ContentType=content_type
    )
    event = s3_event(api.settings.upload_bucket, (key, len(data), put["ETag"].strip('"')))
    return image_id, process_event(event, api.settings, api.clients)[key]


def test_a_jpeg_named_html_downloads_as_a_jpeg(api):
    """The attack: a JPEG that is also a web page, named photo.html (declared as a PNG, even)."""
    from tests.hostile import html_jpeg

    image_id, verdict = through_the_pipeline(api, html_jpeg(), "photo.html", "image/png")
    assert verdict == "processed"
    image = api("GET", f"/images/{image_id}")[1]
    assert image["filename"] == "photo.html"  # the name the person gave it is still shown
    assert original_download(image) == ("attachment; filename*=UTF-8''photo.jpg", "image/jpeg")


def test_a_file_that_failed_is_offered_to_no_one(api):
    """An SVG declared as a PNG is refused by the processor: no download of it, under any name."""
    from tests.hostile import SVG

    image_id, verdict = through_the_pipeline(api, SVG, "x.png", "image/png")
    assert verdict == "failed"
    image = api("GET", f"/images/{image_id}")[1]
    assert image["status"] == "failed" and image["original"] is None
    assert image["renditions"] == {}


def test_an_image_not_judged_yet_has_no_download(api):
    image_id = create(api, filename="photo.html")[1]["id"]
    arrive(api, image_id)  # processing: the processor has not said what it is
    image = api("GET", f"/images/{image_id}")[1]
    assert image["status"] == "processing" and image["original"] is None


@pytest.mark.parametrize(
    "fmt, declared, expected",
    [
        ("PNG", "image/jpeg", ("attachment; filename*=UTF-8''a.png", "image/png")),
        ("MPO", "image/jpeg", ("attachment; filename*=UTF-8''a.jpg", "image/jpeg")),
        ("HEIF", "image/heic", ("attachment; filename*=UTF-8''a.heif", "image/heif")),
        (None, "image/jpeg", None),  # no format recorded: the page offers the largest rendition instead
        ("UNKNOWN", "image/jpeg", None),
    ],
)
def test_an_image_processed_before_this_change_downloads_as_its_detected_format(api, fmt, declared, expected):
    """The download is worked out when the image is shown, from the record's `format`: records made
    before keep working, and name their original by what it is too."""
    image_id = create(api, filename="a.html", contentType=declared)[1]["id"]
    arrive(api, image_id)
    details = {"renditions": {}, "width": 10, "height": 10} | ({"format": fmt} if fmt else {})
    assert ImageRecords(api.clients.dynamodb, api.settings.table_name).mark_processed(image_id, "etag", details)[0] == (
        "processed"
    )
    assert original_download(api("GET", f"/images/{image_id}")[1]) == expected


@pytest.mark.parametrize(
    "name, expected",
    [
        ("photo.html", "photo.jpg"),
        ("photo", "photo.jpg"),
        ("photo.JPEG", "photo.jpg"),
        ("photo.svg.html", "photo.svg.jpg"),
        ("photo..html", "photo.jpg"),
        ("Mr. Smith at the beach", "Mr. Smith at the beach.jpg"),
        ("été à Paris.htm", "été à Paris.jpg"),
        ("", "image.jpg"),
        (".html", "image.jpg"),
    ],
)
def test_download_name_replaces_any_extension(name, expected):
    assert api_module.download_name(name, ".jpg") == expected
