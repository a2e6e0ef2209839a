"""handlers/listing.py: the key a person's photos are listed by and the day each one is listed under
(when it was taken, as the camera's clock read it, else its upload's UTC date); the owner index's
cursor."""

from __future__ import annotations

import base64
import json

import pytest

from handlers.listing import InvalidCursor, day_of, decode_cursor, taken_at, taken_key

ID = "a" * 32
CREATED = "2026-11-28T23:30:00.123Z"  # late in the UTC day: a day later than in New York


def record(taken: str | None = None, created: str = CREATED) -> dict:
    return {"id": ID, "createdAt": created, "facts": {"takenAt": taken} if taken else {}}


@pytest.mark.parametrize(
    "taken, day, at",
    [
        # The camera's clock in New York read 23:30: the 1st where it was taken, though the 2nd in UTC.
        ("2019-06-01T23:30:00-05:00", "2019-06-01", "2019-06-01T23:30:00.000"),
        # In Tokyo at 01:00: the 2nd there, the 1st in UTC.
        ("2019-06-02T01:00:00+09:00", "2019-06-02", "2019-06-02T01:00:00.000"),
        # No offset recorded (most cameras): the clock as it read.
        ("2019-06-01T23:30:00", "2019-06-01", "2019-06-01T23:30:00.000"),
    ],
)
def test_a_photo_is_listed_by_when_it_was_taken_where_it_was_taken(taken, day, at):
    assert taken_at(record(taken)) == at
    assert day_of(record(taken)) == day
    assert taken_key(record(taken)) == f"{at}#{ID}"


@pytest.mark.parametrize("facts", [{}, {"takenAt": "not a time"}, {"takenAt": ""}, None])
def test_without_a_taken_time_a_photo_is_listed_by_its_upload_s_utc_time(facts):
    image = {"id": ID, "createdAt": CREATED, "facts": facts}
    assert taken_at(image) is None
    assert day_of(image) == "2026-11-28"  # UTC's date, whatever the browser's time zone
    assert taken_key(image) == f"{CREATED}#{ID}"  # the record's createdKey: what byCreated sorts by


def test_taken_and_upload_times_sort_together_as_text():
    """The index sorts keys as text: newest first, a photo taken on the 29th, then one uploaded on
    the 28th without a taken time, then one taken on the 27th, then one taken in 2019."""
    photos = [
        record("2026-11-27T10:00:00"),
        record(),
        record("2019-06-01T12:00:00"),
        record("2026-11-29T08:00:00+01:00"),
    ]
    newest_first = sorted(photos, key=taken_key, reverse=True)
    assert [day_of(p) for p in newest_first] == ["2026-11-29", "2026-11-28", "2026-11-27", "2019-06-01"]


def cursor(**values) -> str:
    return base64.urlsafe_b64encode(json.dumps(values).encode()).decode().rstrip("=")


@pytest.mark.parametrize("sort_key", [f"2019-06-01T23:30:00.000#{ID}", f"{CREATED}#{ID}"])
def test_the_owner_index_s_cursor_takes_both_kinds_of_key(sort_key):
    expect = {"id": None, "owner": "sub-1", "takenKey": None}
    decoded = decode_cursor(cursor(id=ID, owner="sub-1", takenKey=sort_key), expect)
    assert decoded["takenKey"] == {"S": sort_key}


@pytest.mark.parametrize(
    "values",
    [
        {"id": ID, "owner": "sub-1", "takenKey": ""},
        {"id": ID, "owner": "sub-1", "takenKey": "x" * 2000},
        {"id": ID, "owner": "sub-1", "takenKey": f"2019-06-01#{ID}"},
        {"id": ID, "owner": "sub-2", "takenKey": f"{CREATED}#{ID}"},  # another person's gallery
        {"id": ID, "owner": "sub-1", "listedKey": f"{CREATED}#{ID}"},  # the retired byOwner's
    ],
)
def test_a_cursor_this_api_did_not_issue_is_refused(values):
    with pytest.raises(InvalidCursor):
        decode_cursor(cursor(**values), {"id": None, "owner": "sub-1", "takenKey": None})
