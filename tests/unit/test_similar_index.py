"""Near duplicates in the tables, on moto (handlers/similar_index.py): each processed image's band
items, found by a similar photo of the same owner in at most BANDS bounded Queries, `similarTo` both
ways, bounded, and undone when an image is deleted, refused or replaced; kept by a re-render and
found again by a rebuild."""

from __future__ import annotations

import dataclasses
import json

import pytest

from handlers import similar_index
from handlers.processor import process_event, rerender, s3_event
from handlers.records import ImageRecords
from handlers.schema import Status
from handlers.similar_index import SimilarImages
from handlers.similarity import BANDS, band_keys
from tests.images import encode, photo
from tests.unit.api_helpers import Api
from tests.unit.conftest import ALICE, BOB
from tests.unit.test_duplicates import direct_put, upload

SCENE = photo(1200, 900, seed=1)
FIRST = encode(SCENE, "JPEG", quality=90)
COPY = encode(SCENE.resize((600, 450)), "WEBP", quality=70)  # resized and re-encoded: 0 bits apart
OTHER = encode(photo(1200, 900, seed=2), "JPEG", quality=90)  # another photo: 16 bits apart


def copy(n: int) -> bytes:
    """Another resized, re-encoded copy of SCENE: other bytes (no exact duplicate), the same picture."""
    return encode(SCENE.resize((600, 450)), "WEBP", quality=70 + n)


def ids(n: int) -> list[str]:
    return [f"{i:x}" * 32 for i in range(1, n + 1)]


A, B, C, D, E = ids(5)


@pytest.fixture
def stack(aws_env):
    settings, clients = aws_env
    return settings, clients, ImageRecords(clients.dynamodb, settings.table_name)


def process(settings, clients, *files) -> dict:
    return process_event(s3_event(settings.upload_bucket, *files), settings, clients)


def band_items(settings, clients) -> dict[str, set[str]]:
    """Image id -> its band keys, as the bands table holds them."""
    found: dict[str, set[str]] = {}
    for item in clients.dynamodb.scan(TableName=settings.similar_table)["Items"]:
        found.setdefault(item["id"]["S"], set()).add(item["band"]["S"])
    return found


def similar_to(records, image_id) -> list[str]:
    return records.get(image_id).get("similarTo", [])


def test_a_resized_re_encoded_copy_and_its_original_list_each_other_and_a_different_photo_neither(stack):
    settings, clients, records = stack
    first = upload(settings, clients, A, FIRST, ALICE["sub"], None)
    assert process(settings, clients, first) == {first[0]: "processed"}
    assert len(records.get(A)["phash"]) == 16 and "similarTo" not in records.get(A)
    queries: list[dict] = []
    clients.dynamodb.meta.events.register(
        "provide-client-params.dynamodb.Query", lambda params, **_: queries.append(params)
    )
    copy, other = (
        upload(settings, clients, B, COPY, ALICE["sub"], None),
        upload(settings, clients, C, OTHER, ALICE["sub"], None),
    )
    assert process(settings, clients, copy, other) == {copy[0]: "processed", other[0]: "processed"}
    assert similar_to(records, B) == [A] and similar_to(records, A) == [B]
    assert similar_to(records, C) == []
    # The index: BANDS items per image under its owner's keys; each photo's candidates in at most
    # BANDS Queries of the bands table, each of one key, bounded, strongly consistent: never a scan.
    assert band_items(settings, clients) == {
        i: set(band_keys(ALICE["sub"], records.get(i)["phash"])) for i in (A, B, C)
    }
    bands = [q for q in queries if q["TableName"] == settings.similar_table]
    assert len(bands) == 2 * BANDS
    assert all(q["Limit"] == similar_index.SIMILAR_BAND_READ and q["ConsistentRead"] for q in bands)
    assert all(q["KeyConditionExpression"] == "#b = :b" for q in bands)
    # The API shows it, both ways.
    api = Api(settings, clients)
    assert api("GET", f"/images/{A}")[1]["similarTo"] == [B] and api("GET", f"/images/{C}")[1]["similarTo"] == []
    listed = {image["id"]: image["similarTo"] for image in api("GET", "/images")[1]["items"]}
    assert listed == {A: [B], B: [A], C: []}


def test_another_persons_copy_is_never_a_candidate(stack):
    settings, clients, records = stack
    alices, bobs = (
        upload(settings, clients, A, FIRST, ALICE["sub"], None),
        upload(settings, clients, B, COPY, BOB["sub"], None),
    )
    assert set(process(settings, clients, alices, bobs).values()) == {"processed"}
    assert records.get(A)["phash"] == records.get(B)["phash"]
    assert similar_to(records, A) == [] and similar_to(records, B) == []
    # Nor a file put into the bucket without an owner: in no one's index.
    nobodys = direct_put(settings, clients, "camera/x.jpg", COPY, None)
    assert process(settings, clients, nobodys) == {nobodys[0]: "processed"}
    assert set(band_items(settings, clients)) == {A, B}


def test_deleting_an_image_removes_its_band_items_and_it_from_the_others_similar_to(stack):
    settings, clients, records = stack
    files = [upload(settings, clients, i, copy(n), ALICE["sub"], None) for n, i in enumerate((A, B, C))]
    process(settings, clients, *files)
    assert similar_to(records, A) == [B, C] and similar_to(records, B) == [A, C] and similar_to(records, C) == [A, B]
    assert Api(settings, clients)("DELETE", f"/images/{B}")[0] == 204
    assert similar_to(records, A) == [C] and similar_to(records, C) == [A]
    assert set(band_items(settings, clients)) == {A, C}
    # A deleted image is never written back to life: linking it again is refused on both sides.
    tombstone = records.get(B)
    similar = SimilarImages.of(settings, clients)
    assert similar.link(ALICE["sub"], A, records.get(A)["phash"], [(B, records.get(A)["phash"])]) == []
    assert records.get(B) == tombstone and similar_to(records, A) == [C]
    # The last of a group: nothing names it; its items go.
    assert Api(settings, clients)("DELETE", f"/images/{A}")[0] == 204
    assert similar_to(records, C) == [] and set(band_items(settings, clients)) == {C}


def test_an_image_deleted_while_it_was_processed_leaves_no_band_items_and_no_link(stack, monkeypatch):
    """The processor's "gone" path: the items it wrote before marking the record go again."""
    settings, clients, records = stack
    process(settings, clients, upload(settings, clients, A, FIRST, ALICE["sub"], None))
    copy = upload(settings, clients, B, COPY, ALICE["sub"], None)
    mark_processed = ImageRecords.mark_processed

    def deleted_meanwhile(self, image_id, *args, **kwargs):
        if image_id == B:
            assert B in band_items(settings, clients)  # written before the record
            self.delete(B, None, tombstone_until=2**31)
        return mark_processed(self, image_id, *args, **kwargs)

    monkeypatch.setattr(ImageRecords, "mark_processed", deleted_meanwhile)
    assert process(settings, clients, copy) == {copy[0]: "gone"}
    assert set(band_items(settings, clients)) == {A} and similar_to(records, A) == []
    assert records.get(B)["status"] == Status.DELETED and "similarTo" not in records.get(B)


def test_a_file_that_replaces_a_processed_one_and_is_refused_takes_its_links_and_items_with_it(stack):
    settings, clients, records = stack
    first = upload(settings, clients, A, FIRST, ALICE["sub"], None)
    copy = direct_put(settings, clients, "old-client/copy.jpg", COPY, ALICE["sub"])
    process(settings, clients, first, copy)
    copy_id = records.get(A)["similarTo"][0]
    assert similar_to(records, copy_id) == [A]
    broken = direct_put(settings, clients, "old-client/copy.jpg", b"not an image at all", ALICE["sub"])
    assert process(settings, clients, broken) == {broken[0]: "failed"}
    refused = records.get(copy_id)
    assert "phash" not in refused and "similarTo" not in refused
    assert similar_to(records, A) == [] and set(band_items(settings, clients)) == {A}


def test_a_file_that_replaces_a_processed_one_with_another_picture_moves_its_links(stack):
    settings, clients, records = stack
    first, other = (
        upload(settings, clients, A, FIRST, ALICE["sub"], None),
        upload(settings, clients, B, OTHER, ALICE["sub"], None),
    )
    key = "old-client/z.jpg"
    process(settings, clients, first, other, direct_put(settings, clients, key, COPY, ALICE["sub"]))
    (z,) = records.get(A)["similarTo"]
    assert similar_to(records, B) == []
    process(
        settings, clients, direct_put(settings, clients, key, encode(photo(1200, 900, seed=2), "WEBP"), ALICE["sub"])
    )
    assert similar_to(records, z) == [B] and similar_to(records, B) == [z] and similar_to(records, A) == []
    assert band_items(settings, clients)[z] == set(band_keys(ALICE["sub"], records.get(z)["phash"]))


def test_similar_to_is_bounded_and_both_ways_or_neither(stack, monkeypatch):
    settings, clients, records = stack
    monkeypatch.setattr(similar_index, "SIMILAR_TO_MAX", 2)
    files = [upload(settings, clients, i, copy(n), ALICE["sub"], None) for n, i in enumerate((A, B, C, D))]
    process(settings, clients, *files)
    # A, B and C fill each other's; D finds them full: it lists none rather than overflow one.
    assert [len(similar_to(records, i)) for i in (A, B, C, D)] == [2, 2, 2, 0]
    linked = {(i, j) for i in (A, B, C, D) for j in similar_to(records, i)}
    assert linked == {(j, i) for i, j in linked}  # both ways, or neither


def test_a_re_render_keeps_the_hash_and_the_links_and_a_rebuilt_record_finds_them_again(stack):
    from bootstrap.reconcile import reconcile

    settings, clients, records = stack
    process(
        settings, clients, *(upload(settings, clients, i, d, ALICE["sub"], None) for i, d in ((A, FIRST), (B, COPY)))
    )
    before = records.get(A)
    assert rerender(A, settings, clients, lease_seconds=60, force=True) == Status.PROCESSED
    again = records.get(A)
    assert again["phash"] == before["phash"] and again["similarTo"] == [B] and similar_to(records, B) == [A]
    manifest = json.load(clients.s3.get_object(Bucket=settings.processed_bucket, Key=again["manifestKey"])["Body"])
    assert manifest["phash"] == before["phash"] and "similarTo" not in manifest
    # The table lost (both records, and the band items): reconcile rebuilds the hashes from the
    # manifests and the links by finding them again.
    for image_id in (A, B):
        clients.dynamodb.delete_item(TableName=settings.table_name, Key={"id": {"S": image_id}})
    for band in band_keys(ALICE["sub"], before["phash"]):
        for image_id in (A, B):
            clients.dynamodb.delete_item(
                TableName=settings.similar_table, Key={"band": {"S": band}, "id": {"S": image_id}}
            )
    outputs = {
        "uploadBucket": settings.upload_bucket,
        "processedBucket": settings.processed_bucket,
        "table": settings.table_name,
        "similarTable": settings.similar_table,
    }
    assert reconcile(clients.s3, clients.dynamodb, None, outputs, log=lambda _: None, bar=lambda _: None) == {
        "restored": 2
    }
    assert records.get(A)["phash"] == before["phash"]
    assert similar_to(records, A) == [B] and similar_to(records, B) == [A]
    assert set(band_items(settings, clients)) == {A, B}


def test_records_from_before_hashes_are_no_candidates_and_break_nothing(stack):
    settings, clients, records = stack
    process(settings, clients, upload(settings, clients, A, FIRST, ALICE["sub"], None))
    clients.dynamodb.update_item(TableName=settings.table_name, Key={"id": {"S": A}}, UpdateExpression="REMOVE phash")
    process(settings, clients, upload(settings, clients, B, COPY, ALICE["sub"], None))
    # A's band items say it is similar, but its record no longer carries that hash: not linked.
    assert similar_to(records, B) == [] and similar_to(records, A) == []
    assert Api(settings, clients)("DELETE", f"/images/{A}")[0] == 204  # a record without a hash deletes as before


def test_without_the_bands_table_processing_fails_loudly(stack):
    settings, clients, records = stack
    broken = dataclasses.replace(settings, similar_table="no-such-table")
    first = upload(settings, clients, A, FIRST, ALICE["sub"], None)
    with pytest.raises(clients.dynamodb.exceptions.ResourceNotFoundException):
        process(broken, clients, first)
    assert records.get(A)["status"] == Status.FAILED and records.get(A)["error"]["code"] == "processing_error"
