"""User story: as an admin I list everyone's photos of one status, one person's, and one person's of
one status, and count everyone's by status, against the emulator over HTTP: the byStatus index (keys
and listPk only, the records fetched by key), its filters and its counts, as DynamoDB answers them."""

from __future__ import annotations

import uuid

import pytest

from tests.images import encode, photo

pytestmark = pytest.mark.integration

NOT_AN_IMAGE = b"A shopping list, not a photo.\n" * 20


def every_page(session, url: str, **params) -> list[dict]:
    """Every item of a listing, to its end (a filtered page may be short, even empty)."""
    items, cursor = [], None
    for _ in range(1000):
        answer = session.get(url, params=params | ({"cursor": cursor} if cursor else {}))
        assert answer.status_code == 200, answer.text
        items += answer.json()["items"]
        cursor = answer.json()["nextCursor"]
        if not cursor:
            return items
    raise AssertionError("the listing never ended")


def counts(stack) -> dict:
    answer = stack.admin.get(f"{stack.api}/admin/counts")
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_an_admin_filters_and_counts_everyone_s_photos_by_status_and_owner(stack):
    person = stack.session_for(f"filtered-{uuid.uuid4().hex[:8]}@example.com")
    before = counts(stack)

    def upload(data: bytes, name: str) -> dict:
        created = person.post(
            f"{stack.api}/uploads", json={"filename": name, "contentType": "image/jpeg", "size": len(data)}
        ).json()
        assert stack.post_file(created["upload"], data, "image/jpeg", name).status_code in (200, 201, 204)
        return stack.wait_final(created["id"], session=person)

    processed = upload(encode(photo(320, 240, seed=5), "JPEG"), "kept.jpg")
    failed = upload(NOT_AN_IMAGE, "list.jpg")
    assert (processed["status"], failed["status"]) == ("processed", "failed")
    person.post(f"{stack.api}/uploads", json={"filename": "never.jpg", "contentType": "image/jpeg", "size": 10})
    owner = processed["ownerId"]
    assert owner and failed["ownerId"] == owner

    images = f"{stack.api}/images"
    everyone_failed = every_page(stack.admin, images, scope="all", status="failed", limit=5)
    assert {i["status"] for i in everyone_failed} == {"failed"} and everyone_failed[0]["id"] == failed["id"]
    assert everyone_failed[0]["filename"] == "list.jpg"  # the whole record, not the index's keys
    pending = every_page(stack.admin, images, scope="all", status="pending", limit=5)
    assert all(i["filename"] != "never.jpg" for i in pending)  # an upload never sent is never listed
    assert [i["id"] for i in every_page(stack.admin, images, scope="all", owner=owner, limit=1)] == [
        failed["id"],
        processed["id"],
    ]
    assert [i["id"] for i in every_page(stack.admin, images, scope="all", owner=owner, status="failed", limit=1)] == [
        failed["id"]
    ]
    assert [i["id"] for i in every_page(person, images, status="processed")] == [processed["id"]]

    after = counts(stack)
    assert after["failed"]["count"] == before["failed"]["count"] + 1
    assert after["processed"]["count"] == before["processed"]["count"] + 1
    assert after["pending"] == before["pending"]  # the form never sent is not counted
    assert person.get(f"{stack.api}/admin/counts").status_code == 403
    assert person.get(images, params={"scope": "all", "status": "failed"}).status_code == 403
