"""handlers/api.py on moto, the gallery: listing, reading and deleting images, and whose they are;
unknown routes, CORS, requests without claims, the access log."""

from __future__ import annotations

import base64
import json

import pytest

from handlers.processor import process_event, s3_event
from handlers.records import ImageRecords
from tests.hooks import Hooked, s3_goes_away
from tests.images import phone_jpeg, taken_jpeg
from tests.unit.api_helpers import Api, arrive, create
from tests.unit.conftest import ADMIN, ALICE, BOB, SITE, id_token_claims, rest_event


@pytest.fixture
def api(aws_env):
    return Api(*aws_env)


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
                json.dumps({"id": "", "owner": ALICE["sub"], "takenKey": ""}).encode()
            ).decode()
        },
        {
            "cursor": base64.urlsafe_b64encode(
                json.dumps({"id": "a" * 32, "owner": ALICE["sub"], "takenKey": "x" * 2000}).encode()
            ).decode()
        },
    ],
)
def test_bad_list_queries(api, query):
    status, body, _ = api("GET", "/images", query=query)
    assert status == 400 and body["error"]["code"] == "invalid_request"


def test_a_malformed_listing_is_a_400_even_where_it_would_be_forbidden(api):
    status, body, _ = api("GET", "/images", query={"scope": "all", "limit": "null"})
    assert status == 400 and body["error"]["code"] == "invalid_request"
    assert api("GET", "/images", query={"scope": "all"})[0] == 403


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


def test_a_person_s_gallery_is_listed_by_the_day_each_photo_was_taken_page_by_page(api):
    """Newest first by when each was taken (else uploaded), each with its `day`: where it was taken
    (the camera's offset left out), else its upload's UTC date. Everyone's listing (admins) stays
    in upload order, each photo with the same day."""
    settings, clients = api.settings, api.clients
    photos = {
        "2019.jpg": taken_jpeg("2019:06:01 23:30:00", "-05:00"),  # the 2nd in UTC, the 1st where it was taken
        "plain.jpg": phone_jpeg(320, 240),
        "2024.jpg": taken_jpeg("2024:05:01 18:30:05"),
    }
    ids, objects = {}, []
    for name, data in photos.items():
        ids[name] = create(api, filename=name, size=len(data))[1]["id"]
        sent = clients.s3.put_object(Bucket=settings.upload_bucket, Key=f"uploads/{ids[name]}", Body=data)
        objects.append((f"uploads/{ids[name]}", len(data), sent["ETag"].strip('"'), sent["VersionId"]))
    process_event(s3_event(settings.upload_bucket, *objects), settings, clients)

    listed, cursor = [], None
    while True:  # a page at a time: the cursor carries on where the last page ended
        status, page, _ = api("GET", "/images", query={"limit": "1"} | ({"cursor": cursor} if cursor else {}))
        assert status == 200 and len(page["items"]) <= 1
        listed += page["items"]
        if not (cursor := page["nextCursor"]):
            break
    uploaded = api("GET", f"/images/{ids['plain.jpg']}")[1]["createdAt"][:10]
    assert [(i["filename"], i["day"]) for i in listed] == [
        ("plain.jpg", uploaded),
        ("2024.jpg", "2024-05-01"),
        ("2019.jpg", "2019-06-01"),
    ]
    assert api("GET", f"/images/{ids['2019.jpg']}")[1]["day"] == "2019-06-01"
    everyone = api("GET", "/images", query={"scope": "all"}, claims=ADMIN)[1]["items"]
    assert [(i["filename"], i["day"]) for i in everyone] == [
        ("2024.jpg", "2024-05-01"),
        ("plain.jpg", uploaded),
        ("2019.jpg", "2019-06-01"),
    ]
