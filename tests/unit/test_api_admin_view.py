"""handlers/api.py on moto, the admin's view: everyone's images filtered by status and by owner, the
counts by status, each image's ownerId; every filtered read bounded (handlers/bounded.py)."""

from __future__ import annotations

import pytest

from handlers import bounded
from handlers.record_items import to_item
from handlers.records import ImageRecords
from tests.unit.api_helpers import Api, arrive, create
from tests.unit.conftest import ADMIN, ALICE, BOB

ALL = {"scope": "all", "limit": "100"}


@pytest.fixture
def api(aws_env):
    return Api(*aws_env)


def records_of(api) -> ImageRecords:
    return ImageRecords(api.clients.dynamodb, api.settings.table_name)


def uploaded(api, claims=ALICE, status: str = "processing") -> str:
    """An image of `claims`' whose file arrived, left in `status`: processing (as the processor
    claims it), processed, failed, or pending (arrived, never taken up: what reconcile rebuilds)."""
    image_id = create(api, claims=claims)[1]["id"]
    arrive(api, image_id)
    records = records_of(api)
    if status == "processed":
        records.mark_processed(image_id, "etag", {"format": "JPEG", "width": 10, "height": 10})
    elif status == "failed":
        records.mark_failed(image_id, "etag", "not_an_image", "Not an image.")
    elif status == "pending":
        api.clients.dynamodb.update_item(
            TableName=api.settings.table_name,
            Key={"id": {"S": image_id}},
            UpdateExpression="SET #s = :s",
            ExpressionAttributeNames={"#s": "status"},
            ExpressionAttributeValues=to_item({":s": "pending"}),
        )
    return image_id


def ids(api, query, claims=ADMIN) -> list[str]:
    status, body, _ = api("GET", "/images", query=query, claims=claims)
    assert status == 200, body
    return [i["id"] for i in body["items"]]


def every_page(api, query, claims=ADMIN) -> tuple[list[str], int]:
    """Every item of a listing, page by page to the end; and how many pages it took."""
    seen, cursor, pages = [], None, 0
    while True:
        status, body, _ = api("GET", "/images", query=query | ({"cursor": cursor} if cursor else {}), claims=claims)
        assert status == 200, body
        seen, cursor, pages = seen + [i["id"] for i in body["items"]], body["nextCursor"], pages + 1
        if not cursor:
            return seen, pages


def test_an_admin_lists_everyone_s_images_of_one_status_newest_first(api):
    made = {
        s: [uploaded(api, who, s) for who in (ALICE, BOB)] for s in ("processed", "failed", "pending", "processing")
    }
    for _ in range(3):
        create(api)  # upload forms never sent: pending, but never listed
    for status, images in made.items():
        assert ids(api, ALL | {"status": status}) == list(reversed(images)), status
    # Whole records, though byStatus holds only their keys (and listPk).
    _, body, _ = api("GET", "/images", query=ALL | {"status": "failed"}, claims=ADMIN)
    assert [(i["filename"], i["ownerId"], i["error"]["code"]) for i in body["items"]] == [
        ("photo.jpg", BOB["sub"], "not_an_image"),
        ("photo.jpg", ALICE["sub"], "not_an_image"),
    ]
    assert sorted(ids(api, ALL)) == sorted(i for images in made.values() for i in images)


def test_an_admin_lists_one_person_s_images_and_of_one_status(api):
    alice = [uploaded(api, ALICE, s) for s in ("processed", "failed")]
    bob = [uploaded(api, BOB, s) for s in ("processed", "failed", "processed")]
    assert ids(api, ALL | {"owner": BOB["sub"]}) == list(reversed(bob))
    assert ids(api, ALL | {"owner": ALICE["sub"], "status": "failed"}) == [alice[1]]
    assert ids(api, ALL | {"owner": BOB["sub"], "status": "processed"}) == [bob[2], bob[0]]
    # Each image says whose it is: the id the owner filter takes.
    _, body, _ = api("GET", "/images", query=ALL, claims=ADMIN)
    assert {i["id"]: i["ownerId"] for i in body["items"]} == {i: ALICE["sub"] for i in alice} | {
        i: BOB["sub"] for i in bob
    }


def test_a_person_filters_their_own_gallery_by_status_and_sees_only_their_own_ids(api):
    mine = [uploaded(api, ALICE, s) for s in ("processed", "failed")]
    uploaded(api, BOB, "failed")
    status, body, _ = api("GET", "/images", query={"status": "failed"})
    assert status == 200 and [i["id"] for i in body["items"]] == [mine[1]]
    _, body, _ = api("GET", "/images")
    assert {i["ownerId"] for i in body["items"]} == {ALICE["sub"]}


@pytest.mark.parametrize(
    "query, claims, expected",
    [
        ({"scope": "all", "status": "deleted"}, ADMIN, 400),  # tombstones are never shown
        ({"scope": "all", "status": "Failed"}, ADMIN, 400),
        ({"status": ""}, ALICE, 400),
        ({"owner": BOB["sub"]}, ADMIN, 400),  # one person's: from everyone's only
        ({"scope": "all", "owner": "a/b"}, ADMIN, 400),
        ({"scope": "all", "owner": "x" * 129}, ADMIN, 400),
        ({"scope": "all", "status": "failed"}, ALICE, 403),
        ({"scope": "all", "owner": BOB["sub"]}, ALICE, 403),
        ({"scope": "all", "status": "nope"}, ALICE, 400),  # malformed: a 400 whoever asks
    ],
)
def test_bad_or_forbidden_filters(api, query, claims, expected):
    status, body, _ = api("GET", "/images", query=query, claims=claims)
    assert status == expected, body
    assert body["error"]["code"] == {400: "invalid_request", 403: "forbidden"}[expected]


def test_a_cursor_pages_only_the_filter_it_came_from(api):
    for status in ("failed", "failed", "processed"):
        uploaded(api, BOB, status)
    cursor = api("GET", "/images", query={"scope": "all", "status": "failed", "limit": "1"}, claims=ADMIN)[1]
    assert cursor["nextCursor"]
    other = {"scope": "all", "status": "processed", "cursor": cursor["nextCursor"]}
    assert api("GET", "/images", query=other, claims=ADMIN)[0] == 400


def test_a_filtered_page_reads_a_bounded_number_of_items_and_carries_on_by_its_cursor(api):
    """Bob's two failed photos are his oldest, under 24 others: a page of 2 reads at most
    MAX_QUERIES_PER_PAGE x 2 items, comes back short with a cursor, and paging on finds both once."""
    failed = [uploaded(api, BOB, "failed") for _ in range(2)]
    for _ in range(24):
        uploaded(api, BOB, "processed")
    queries: list[dict] = []
    api.clients.dynamodb.meta.events.register(
        "provide-client-params.dynamodb.Query", lambda params, **_: queries.append(params)
    )
    query = {"scope": "all", "owner": BOB["sub"], "status": "failed", "limit": "2"}
    status, first, _ = api("GET", "/images", query=query, claims=ADMIN)
    assert status == 200 and first["items"] == [] and first["nextCursor"]  # nothing among the newest 10
    assert len(queries) == bounded.MAX_QUERIES_PER_PAGE and all(q["Limit"] == 2 for q in queries)
    seen, pages = every_page(api, query)
    assert seen == list(reversed(failed)) and pages <= 4


def test_a_page_that_finds_more_than_it_holds_carries_on_after_the_last_one_it_gives(api):
    """Newest first: processed, then three failed. A page of 2 reads [processed, failed] (1 kept),
    then [failed, failed]: one fits, and the next page starts after it, not after the last read."""
    made = [uploaded(api, ALICE, "failed") for _ in range(3)]
    uploaded(api, ALICE, "processed")
    seen, _ = every_page(api, {"scope": "all", "owner": ALICE["sub"], "status": "failed", "limit": "2"})
    assert seen == list(reversed(made))


def test_counts_by_status_for_admins_only(api):
    for status, n in (("processed", 3), ("failed", 2), ("pending", 1), ("processing", 1)):
        for _ in range(n):
            uploaded(api, BOB, status)
    for _ in range(4):
        create(api)  # never sent: not counted
    status, body, _ = api("GET", "/admin/counts", claims=ADMIN)
    assert status == 200
    assert body == {
        "processed": {"count": 3, "more": False},
        "processing": {"count": 1, "more": False},
        "pending": {"count": 1, "more": False},
        "failed": {"count": 2, "more": False},
    }
    status, body, _ = api("GET", "/admin/counts")
    assert status == 403 and body["error"]["code"] == "forbidden"
    assert api("POST", "/admin/counts", claims=ADMIN)[0] == 405


def test_a_count_stops_at_its_cap_and_says_there_may_be_more(api, monkeypatch):
    monkeypatch.setattr(bounded, "COUNT_CAP", 3)
    for _ in range(5):
        uploaded(api, ALICE, "processed")
    uploaded(api, ALICE, "failed")
    for _ in range(5):
        create(api)  # read (pending's partition holds them) but not counted
    queries: list[dict] = []
    api.clients.dynamodb.meta.events.register(
        "provide-client-params.dynamodb.Query", lambda params, **_: queries.append(params)
    )
    _, body, _ = api("GET", "/admin/counts", claims=ADMIN)
    assert body["processed"] == {"count": 3, "more": True}
    assert body["failed"] == {"count": 1, "more": False}
    assert body["pending"] == {"count": 0, "more": True}
    assert all(q["Select"] == "COUNT" and q["Limit"] <= 3 for q in queries)
