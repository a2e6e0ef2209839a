"""handlers/processor.py on moto: records of an event are independent, duplicates are skipped,
a failure mid-way is retried to completion."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC
from urllib.parse import unquote, unquote_plus

import pytest

from handlers.formats import RenditionSpec
from handlers.keys import image_id_for_key, issued_by_api, rendition_keys
from handlers.processor import is_sweep_event, process_event, s3_event
from handlers.records import ImageRecords
from tests.events import load_event
from tests.hooks import Hooked, s3_goes_away
from tests.images import encode, phone_jpeg, photo
from tests.unit.conftest import processor_invocations

SPEC = RenditionSpec().version


def rendition_files(image_id: str, etag: str, *sizes: str, fallback: str = "jpg") -> set[str]:
    """The keys of each size's AVIF and fallback, and the manifest, of one object."""
    made = {f"{image_id}/{etag}/{SPEC}/{size}.{ext}" for size in sizes for ext in ("avif", fallback)}
    return made | {f"{image_id}/{etag}/manifest.json"}


def put(settings, clients, key: str, data: bytes) -> tuple[str, int, str, str]:
    """Put an object; for an API-style key, first the pending record POST /uploads makes. Returns
    (key, size, ETag, version id): what its S3 event names."""
    if issued_by_api(key):
        records = ImageRecords(clients.dynamodb, settings.table_name)
        if records.get(key.split("/")[1]) is None:
            records.create_pending(
                key.split("/")[1], "photo.jpg", "image/jpeg", len(data), "owner-sub", "owner@example.com", 2**31
            )
    put = clients.s3.put_object(Bucket=settings.upload_bucket, Key=key, Body=data)
    return key, len(data), put["ETag"].strip('"'), put["VersionId"]


@pytest.fixture
def env(aws_env):
    settings, clients = aws_env
    return settings, clients, ImageRecords(clients.dynamodb, settings.table_name)


def test_each_record_is_handled_on_its_own(env):
    settings, clients, records = env
    good = put(settings, clients, "uploads/" + "a" * 32, phone_jpeg(800, 600))
    bad = put(settings, clients, "uploads/" + "b" * 32, b"not an image at all")
    direct = put(settings, clients, "holiday/sea view.png", encode(photo(300, 200), "PNG"))
    outcomes = process_event(s3_event(settings.upload_bucket, good, bad, direct), settings, clients)
    assert outcomes == {good[0]: "processed", bad[0]: "failed", direct[0]: "processed"}

    processed = records.get("a" * 32)
    assert processed["status"] == "processed" and (processed["width"], processed["height"]) == (600, 800)
    failed = records.get("b" * 32)
    assert failed["status"] == "failed" and failed["error"]["code"] == "not_an_image"
    made = records.get(image_id_for_key("holiday/sea view.png"))
    assert made["filename"] == "sea view.png" and made["status"] == "processed"
    assert records.get("a" * 32)["filename"] == "photo.jpg"  # the name given at upload is kept
    keys = {o["Key"] for o in clients.s3.list_objects_v2(Bucket=settings.processed_bucket)["Contents"]}
    # Sizes a small source cannot fill share one file: 600x800 is large's and preview's.
    assert keys == (
        rendition_files("a" * 32, good[2], "600x800", "480x640", "240x320")
        | {f"{'b' * 32}/{bad[2]}/manifest.json"}
        | rendition_files(made["id"], direct[2], "300x200")
    )


def test_the_same_event_twice_gives_one_record_and_the_same_renditions(env):
    settings, clients, records = env
    obj = put(settings, clients, "uploads/" + "c" * 32, phone_jpeg(640, 480))
    event = s3_event(settings.upload_bucket, obj)
    assert process_event(event, settings, clients) == {obj[0]: "processed"}
    first = records.get("c" * 32)
    preview_key = first["renditions"]["preview"]["key"]
    assert preview_key == f"{'c' * 32}/{obj[2]}/{SPEC}/480x640.jpg"
    preview = clients.s3.get_object(Bucket=settings.processed_bucket, Key=preview_key)["Body"].read()
    assert process_event(event, settings, clients) == {obj[0]: "duplicate"}
    again = records.get("c" * 32)
    assert again == first  # not touched: never back to processing
    assert clients.s3.get_object(Bucket=settings.processed_bucket, Key=preview_key)["Body"].read() == preview


def test_a_failure_mid_way_is_retried_to_completion(env):
    settings, clients, records = env
    obj = put(settings, clients, "uploads/" + "d" * 32, phone_jpeg(640, 480))
    event = s3_event(settings.upload_bucket, obj)
    flaky = dataclasses.replace(clients, s3=Hooked(clients.s3, before={"put_object": s3_goes_away}))
    with pytest.raises(ConnectionError):
        process_event(event, settings, flaky)  # raised so that Lambda retries the event
    interrupted = records.get("d" * 32)
    assert interrupted["status"] == "failed" and interrupted["error"]["code"] == "processing_error"
    assert process_event(event, settings, flaky) == {obj[0]: "processed"}  # the retry
    assert records.get("d" * 32)["status"] == "processed"


def test_object_gone_before_processing_ends_failed(env):
    settings, clients, records = env
    records.create_pending("e" * 32, "a.jpg", "image/jpeg", 10, "owner-sub", "owner@example.com", expires_at=2**31)
    outcomes = process_event(s3_event(settings.upload_bucket, ("uploads/" + "e" * 32, 10, "x")), settings, clients)
    assert outcomes == {"uploads/" + "e" * 32: "failed"}
    assert records.get("e" * 32)["error"]["code"] == "missing"


def test_processing_removes_the_pending_expiry(env):
    settings, clients, records = env
    records.create_pending("f" * 32, "a.jpg", "image/jpeg", 10, "owner-sub", "owner@example.com", expires_at=1)
    obj = put(settings, clients, "uploads/" + "f" * 32, phone_jpeg(320, 240))
    process_event(s3_event(settings.upload_bucket, obj), settings, clients)
    record = records.get("f" * 32)
    assert record["status"] == "processed" and "expiresAt" not in record


def test_a_late_failure_never_undoes_processed(env):
    settings, clients, records = env
    obj = put(settings, clients, "uploads/" + "2" * 32, phone_jpeg(320, 240))
    process_event(s3_event(settings.upload_bucket, obj), settings, clients)
    assert records.mark_failed("2" * 32, obj[2], "processing_error", "late") is False
    assert records.get("2" * 32)["status"] == "processed"


def test_a_form_posted_again_leaves_the_first_file_as_the_image_and_decodes_nothing_more(env, monkeypatch):
    """One quota unit, one render: the first file posted with a form is the image; each file posted
    again with it (other bytes, or the same) is removed as its own version, never decoded, and the
    original the renditions came from is the current object again."""
    from handlers import processor

    settings, clients, records = env
    key = "uploads/" + "3" * 32
    first = put(settings, clients, key, encode(photo(300, 200), "JPEG"))
    assert process_event(s3_event(settings.upload_bucket, first), settings, clients) == {key: "processed"}
    before = records.get("3" * 32)

    def no_decoding(*_, **__):
        raise AssertionError("a file posted again was decoded")

    monkeypatch.setattr(processor, "make_renditions", no_decoding)
    again = [
        put(settings, clients, key, encode(photo(200, 300), "JPEG")),
        put(settings, clients, key, first_bytes(clients, settings, first)),
    ]
    for obj in again:
        assert process_event(s3_event(settings.upload_bucket, obj), settings, clients) == {key: "reposted"}
    assert records.get("3" * 32) == before  # not even an attempt counted
    versions = clients.s3.list_object_versions(Bucket=settings.upload_bucket, Prefix=key)["Versions"]
    assert [(v["VersionId"], v["IsLatest"]) for v in versions] == [(first[3], True)]
    # A late second delivery of a removed file's event changes nothing either.
    assert process_event(s3_event(settings.upload_bucket, again[0]), settings, clients) == {key: "reposted"}
    assert records.get("3" * 32) == before


def test_of_two_files_posted_at_once_the_first_one_claimed_is_the_image(env):
    settings, clients, records = env
    key = "uploads/" + "4" * 32
    old = put(settings, clients, key, encode(photo(300, 200), "JPEG"))
    new = put(settings, clients, key, encode(photo(200, 300), "JPEG"))
    assert process_event(s3_event(settings.upload_bucket, new), settings, clients) == {key: "processed"}
    assert process_event(s3_event(settings.upload_bucket, old), settings, clients) == {key: "reposted"}
    record = records.get("4" * 32)
    assert (record["width"], record["height"], record["sourceVersion"]) == (200, 300, new[3])
    head = clients.s3.head_object(Bucket=settings.upload_bucket, Key=key)
    assert (head["VersionId"], head["ETag"].strip('"')) == (new[3], new[2])


def first_bytes(clients, settings, obj) -> bytes:
    return clients.s3.get_object(Bucket=settings.upload_bucket, Key=obj[0], VersionId=obj[3])["Body"].read()


def leaves(document, path=()):
    """Every leaf of a JSON document, by its path (list items by position)."""
    if isinstance(document, dict | list):
        for name, value in document.items() if isinstance(document, dict) else enumerate(document):
            yield from leaves(value, (*path, name))
    else:
        yield path, document


def test_s3_event_is_s3_s_own_notification_less_what_nobody_reads():
    """What the sweep and reconcile re-drive, and every test here delivers, is what S3 sends:
    each of its fields stands in S3's own event with S3's value (the key URL-encoded)."""
    sent = load_event("s3_object_created")
    bucket, obj = sent["Records"][0]["s3"]["bucket"], sent["Records"][0]["s3"]["object"]
    made = s3_event(bucket["name"], (unquote_plus(obj["key"]), obj["size"], obj["eTag"]))
    assert dict(leaves(made)).items() <= dict(leaves(sent)).items()


def test_the_processor_takes_s3_s_own_notification(env):
    settings, clients, records = env
    key, size, etag, version = put(settings, clients, "holiday/sea view & sky.jpg", phone_jpeg(320, 240))
    event = load_event("s3_object_created")  # S3's fields, the processor reads none of the others
    entity = event["Records"][0]["s3"]
    entity["bucket"]["name"] = settings.upload_bucket
    entity["object"] |= {"size": size, "eTag": etag, "versionId": version}
    assert process_event(event, settings, clients) == {key: "processed"}
    assert records.get(image_id_for_key(key))["filename"] == "sea view & sky.jpg"


def test_only_the_scheduled_event_runs_the_sweep():
    assert is_sweep_event(load_event("eventbridge_scheduled"))
    assert not is_sweep_event(load_event("s3_object_created"))


def test_sweep_redrives_stuck_records_oldest_first_as_their_own_invocations(env):
    from datetime import datetime, timedelta

    from handlers.processor import sweep

    settings, clients, records = env
    settings = dataclasses.replace(settings, function_name="imagepipe-processor")
    clients, sent = processor_invocations(clients)
    # Killed mid-way: the record says processing, the object is there.
    stuck = put(settings, clients, "uploads/" + "4" * 32, phone_jpeg(320, 240))
    records.start_processing("4" * 32, stuck[0], stuck[2], stuck[1], "stuck.jpg", {})
    # Event lost: the record says pending, the object is there.
    records.create_pending("5" * 32, "lost.jpg", "image/jpeg", 10, "owner-sub", "owner@example.com", expires_at=2**31)
    put(settings, clients, "uploads/" + "5" * 32, phone_jpeg(320, 240))
    # Never uploaded: pending, no object.
    records.create_pending("6" * 32, "never.jpg", "image/jpeg", 10, "owner-sub", "owner@example.com", expires_at=2**31)
    # Killed mid-way, and its object removed since: it cannot stay processing for ever.
    gone = put(settings, clients, "uploads/" + "7" * 32, phone_jpeg(320, 240))
    records.start_processing("7" * 32, gone[0], gone[2], gone[1], "gone.jpg", {})
    clients.s3.delete_object(Bucket=settings.upload_bucket, Key=gone[0])
    # Finished records are not the sweep's business, however old.
    done = put(settings, clients, "uploads/" + "8" * 32, phone_jpeg(320, 240))
    process_event(s3_event(settings.upload_bucket, done), settings, clients)

    assert sweep(settings, clients) == {}  # all younger than STUCK_AFTER_SECONDS
    later = datetime.now(UTC) + timedelta(seconds=settings.stuck_after_seconds + 1)
    outcomes = sweep(settings, clients, now=later)
    assert outcomes == {"4" * 32: "redriven", "5" * 32: "redriven", "6" * 32: "no-object", "7" * 32: "failed"}
    # Each re-drive is an S3 event of its own, sent to this function, oldest record first; the
    # sweep itself decoded nothing (a bomb there would kill the sweep, and every record behind it).
    assert [unquote(e["Records"][0]["s3"]["object"]["key"]) for e in sent] == [stuck[0], "uploads/" + "5" * 32]
    assert records.get("4" * 32)["status"] == "processing"
    for event in sent:
        assert list(process_event(event, settings, clients).values()) == ["processed"]
    assert records.get("4" * 32)["status"] == records.get("5" * 32)["status"] == "processed"
    assert records.get("6" * 32)["status"] == "pending"  # its upload form may still be in use
    # An hour past its upload form's expiry, a record still waiting for its file is abandoned.
    much_later = later + timedelta(seconds=settings.upload_expiry_seconds, hours=1)
    assert sweep(settings, clients, now=much_later) == {"6" * 32: "abandoned"}
    assert records.get("6" * 32) is None
    assert records.get("7" * 32)["status"] == "failed" and records.get("7" * 32)["error"]["code"] == "missing"


def test_the_sweep_reaches_a_real_lost_event_behind_many_abandoned_uploads(env):
    """Abandoned forms never crowd out a real lost event: the sweep walks every unfinished record."""
    from datetime import datetime, timedelta

    from handlers.processor import sweep

    settings, clients, records = env
    settings = dataclasses.replace(settings, function_name="imagepipe-processor")
    clients, sent = processor_invocations(clients)
    lost = put(settings, clients, "uploads/" + "a" * 32, phone_jpeg(320, 240))  # oldest: a lost event
    for i in range(120):  # newer abandoned forms: no file will ever come
        records.create_pending(
            f"{i:032x}", "ghost.jpg", "image/jpeg", 10, "owner-sub", "owner@example.com", expires_at=2**31
        )
    later = datetime.now(UTC) + timedelta(seconds=settings.stuck_after_seconds + 1)
    outcomes = sweep(settings, clients, now=later)
    assert outcomes["a" * 32] == "redriven" and len(outcomes) == 121
    assert [e["Records"][0]["s3"]["object"]["key"] for e in sent] == [lost[0]]
    # and none of them is in the gallery
    assert records.list(100, None)[0] == []


def test_a_record_whose_runs_keep_being_killed_ends_failed_without_decoding_again(env, monkeypatch):
    """A timeout or out-of-memory kill skips every except: the claims count the attempts, and the
    one after the last ends the record failed instead of running the bomb once more."""
    import handlers.processor as processor

    settings, clients, records = env
    obj = put(settings, clients, "uploads/" + "b" * 32, phone_jpeg(320, 240))
    for _ in range(processor.MAX_ATTEMPTS):  # Lambda's try and two retries, each killed mid-way
        records.start_processing("b" * 32, obj[0], obj[2], obj[1], "bomb.jpg", {})
    decoded = []
    monkeypatch.setattr(processor, "make_renditions", lambda *a: decoded.append(a))
    assert process_event(s3_event(settings.upload_bucket, obj), settings, clients) == {obj[0]: "failed"}
    record = records.get("b" * 32)
    assert record["status"] == "failed" and record["error"]["code"] == "processing_budget_exceeded"
    assert "attempts" not in record and "unfinishedPk" not in record and not decoded


def test_attempts_count_only_runs_that_did_not_finish(env):
    """A run that fails and says so (S3 down) is not a poison pill: its retry starts afresh."""
    from handlers.faults import InjectedFault

    settings, clients, records = env
    failing = dataclasses.replace(settings, fault_injection="rendition_put_always")
    obj = put(settings, clients, "uploads/" + "c" * 32, phone_jpeg(320, 240))
    event = s3_event(settings.upload_bucket, obj)
    for _ in range(4):
        with pytest.raises(InjectedFault):
            process_event(event, failing, clients)
        assert records.get("c" * 32)["error"]["code"] == "processing_error"
    assert process_event(event, settings, clients) == {obj[0]: "processed"}  # e.g. `make redrive`


def test_a_file_posted_again_after_its_image_was_deleted_is_removed(env):
    """DELETE is final: a form re-posted within its expiry puts the original back; the processor
    finds no record and removes the file."""
    settings, clients, records = env
    obj = put(settings, clients, "uploads/" + "d" * 32, phone_jpeg(320, 240))
    assert records.delete("d" * 32, "owner-sub", tombstone_until=2**31)
    assert process_event(s3_event(settings.upload_bucket, obj), settings, clients) == {obj[0]: "gone"}
    assert "Contents" not in clients.s3.list_objects_v2(Bucket=settings.upload_bucket, Prefix=obj[0])


def test_configured_fault_fails_the_first_attempt_only(env):
    from handlers.faults import InjectedFault

    settings, clients, records = env
    settings = dataclasses.replace(settings, fault_injection="rendition_put_once")
    obj = put(settings, clients, "uploads/" + "7" * 32, phone_jpeg(320, 240))
    event = s3_event(settings.upload_bucket, obj)
    with pytest.raises(InjectedFault):
        process_event(event, settings, clients)
    assert records.get("7" * 32)["error"]["code"] == "processing_error"
    assert process_event(event, settings, clients) == {obj[0]: "processed"}  # a fresh environment would pass too


def test_an_upload_deleted_before_processing_is_not_brought_back(env):
    """DELETE /images/{id} raced the S3 event: no ghost record, no renditions."""
    settings, clients, records = env
    obj = put(settings, clients, "uploads/" + "8" * 32, phone_jpeg(320, 240))
    assert records.delete("8" * 32, "owner-sub", tombstone_until=2**31)  # what the API's DELETE does to the record
    assert process_event(s3_event(settings.upload_bucket, obj), settings, clients) == {obj[0]: "gone"}
    assert records.get("8" * 32)["status"] == "deleted"  # its tombstone, nothing more
    assert "Contents" not in clients.s3.list_objects_v2(Bucket=settings.processed_bucket, Prefix="8" * 32)


def test_an_image_deleted_while_its_renditions_are_written_leaves_none_behind(env):
    """The API's delete could not know renditions written after it: the processor removes them."""
    settings, clients, records = env
    obj = put(settings, clients, "uploads/" + "9" * 32, phone_jpeg(320, 240))
    deleted = []  # DELETE /images/{id} lands just as the first rendition is written
    racing = Hooked(
        clients.s3,
        before={"put_object": lambda: deleted.append(records.delete("9" * 32, "owner-sub", tombstone_until=2**31))},
    )
    outcome = process_event(s3_event(settings.upload_bucket, obj), settings, dataclasses.replace(clients, s3=racing))
    assert deleted[0] and deleted[0]["status"] == "processing"  # the delete really raced the work
    assert outcome == {obj[0]: "gone"}
    assert records.get("9" * 32)["status"] == "deleted"
    assert "Contents" not in clients.s3.list_objects_v2(Bucket=settings.processed_bucket, Prefix="9" * 32)


def test_a_replaced_object_leaves_only_its_own_renditions(env):
    """A direct put replaced (or a presigned form posted twice): the older object's renditions
    go once the newer one is done, whether it is processed under other keys or refused."""
    settings, clients, records = env
    key = "holiday/logo.png"
    image_id = image_id_for_key(key)

    def renditions_stored():
        listing = clients.s3.list_objects_v2(Bucket=settings.processed_bucket, Prefix=image_id)
        return sorted(o["Key"] for o in listing.get("Contents", []))

    first = put(settings, clients, key, encode(photo(300, 200).convert("RGBA"), "PNG"))
    assert process_event(s3_event(settings.upload_bucket, first), settings, clients) == {key: "processed"}
    assert renditions_stored() == sorted(rendition_files(image_id, first[2], "300x200", fallback="webp"))

    second = put(settings, clients, key, encode(photo(300, 200), "PNG"))
    assert process_event(s3_event(settings.upload_bucket, second), settings, clients) == {key: "processed"}
    assert renditions_stored() == sorted(rendition_files(image_id, second[2], "300x200"))
    assert rendition_keys(records.get(image_id)) == set(renditions_stored())

    refused = put(settings, clients, key, b"not an image")
    assert process_event(s3_event(settings.upload_bucket, refused), settings, clients) == {key: "failed"}
    assert renditions_stored() == [f"{image_id}/{refused[2]}/manifest.json"]  # the refusal, for a rebuild


def test_a_processing_overtaken_by_a_newer_object_removes_what_it_wrote(env):
    """Two versions of one key processed at once: the older finishes last, finds the record
    taken over, and removes its renditions; the record keeps the newer object's."""
    settings, clients, records = env
    key = "holiday/twice.jpg"
    image_id = image_id_for_key(key)
    older = put(settings, clients, key, phone_jpeg(640, 480, orientation=1))
    newer = []

    def newer_object_wins():  # while the older writes its first rendition
        newer.append(put(settings, clients, key, phone_jpeg(480, 640, orientation=1)))
        assert process_event(s3_event(settings.upload_bucket, newer[0]), settings, clients) == {key: "processed"}

    # The older processing has read its bytes already when the newer object lands.
    racing = Hooked(clients.s3, before={"put_object": newer_object_wins})
    outcome = process_event(s3_event(settings.upload_bucket, older), settings, dataclasses.replace(clients, s3=racing))
    assert outcome == {key: "superseded"}
    listing = clients.s3.list_objects_v2(Bucket=settings.processed_bucket, Prefix=image_id)
    assert {o["Key"] for o in listing["Contents"]} == rendition_files(image_id, newer[0][2], "480x640", "240x320")
    record = records.get(image_id)
    assert (record["width"], record["height"], record["sourceEtag"]) == (480, 640, newer[0][2])


# --- re-rendering with a new spec (make reprocess) -----------------------------------------------


def with_spec(settings, **spec):
    return dataclasses.replace(settings, renditions=RenditionSpec(**spec))


def stored_keys(settings, clients, image_id: str) -> set[str]:
    listing = clients.s3.list_objects_v2(Bucket=settings.processed_bucket, Prefix=image_id)
    return {o["Key"] for o in listing.get("Contents", [])}


def test_a_spec_change_re_renders_once_and_old_renditions_serve_until_the_new_are_written(env):
    from handlers.processor import rerender

    settings, clients, records = env
    obj = put(settings, clients, "uploads/" + "d" * 32, phone_jpeg(800, 600))
    assert process_event(s3_event(settings.upload_bucket, obj), settings, clients) == {obj[0]: "processed"}
    before = records.get("d" * 32)
    assert before["specVersion"] == SPEC
    old_keys = rendition_keys(before)

    bigger_thumbs = with_spec(settings, sizes=(("preview", 1024), ("thumbnail", 400)))
    seen_during = []

    def record_while_writing():  # the gallery, while the new renditions are being written
        seen_during.append((records.get("d" * 32), stored_keys(settings, clients, "d" * 32)))

    racing = Hooked(clients.s3, before={"put_object": record_while_writing})
    assert rerender("d" * 32, bigger_thumbs, dataclasses.replace(clients, s3=racing), lease_seconds=60) == "processed"
    listed, stored = seen_during[0]
    assert rendition_keys(listed) == old_keys <= stored  # still the old ones, all present then
    after = records.get("d" * 32)
    assert after["specVersion"] == bigger_thumbs.renditions.version != SPEC
    assert (after["renditions"]["thumbnail"]["width"], after["renditions"]["thumbnail"]["height"]) == (300, 400)
    assert set(after["renditions"]) == {"preview", "thumbnail"} and "rerenderUntil" not in after
    assert stored_keys(settings, clients, "d" * 32) == rendition_keys(after)  # the old ones are gone
    assert {k: after[k] for k in ("status", "createdAt", "owner", "filename")} == {
        k: before[k] for k in ("status", "createdAt", "owner", "filename")
    }
    # Idempotent: made with this spec now, so a second run does nothing.
    assert rerender("d" * 32, bigger_thumbs, clients, lease_seconds=60) == "current"
    assert records.get("d" * 32) == after


def test_nothing_is_re_rendered_twice_at_once(env):
    from handlers.processor import rerender

    settings, clients, records = env
    obj = put(settings, clients, "uploads/" + "e" * 32, phone_jpeg(320, 240))
    process_event(s3_event(settings.upload_bucket, obj), settings, clients)
    new_spec = with_spec(settings, avif_quality=40)
    outcomes = []

    def second_run():  # another `make reprocess` reaches the same image mid-way
        outcomes.append(rerender("e" * 32, new_spec, clients, lease_seconds=60))

    racing = Hooked(clients.s3, before={"put_object": second_run})
    assert rerender("e" * 32, new_spec, dataclasses.replace(clients, s3=racing), lease_seconds=60) == "processed"
    assert outcomes == ["current"]
    # A run killed mid-way leaves its lease; once it has run out, the next run takes the image.
    assert records.claim_rerender("e" * 32, "another", lease_seconds=-1, force=True) is not None
    assert rerender("e" * 32, with_spec(settings, avif_quality=41), clients, lease_seconds=60) == "processed"


def test_an_image_deleted_or_replaced_while_re_rendered_keeps_nothing_of_the_run(env):
    from handlers.processor import rerender

    settings, clients, records = env
    obj = put(settings, clients, "uploads/" + "f" * 32, phone_jpeg(320, 240))
    process_event(s3_event(settings.upload_bucket, obj), settings, clients)
    racing = Hooked(
        clients.s3, before={"put_object": lambda: records.delete("f" * 32, "owner-sub", tombstone_until=2**31)}
    )
    outcome = rerender("f" * 32, with_spec(settings, jpeg_quality=50), dataclasses.replace(clients, s3=racing), 60)
    assert outcome == "gone"
    new_keys = {k for k in stored_keys(settings, clients, "f" * 32) if "/manifest.json" not in k}
    assert not any(with_spec(settings, jpeg_quality=50).renditions.version in k for k in new_keys)


def test_a_record_made_before_specs_existed_is_re_rendered(env):
    from handlers.processor import rerender

    settings, clients, records = env
    obj = put(settings, clients, "uploads/" + "7" * 32, phone_jpeg(320, 240))
    process_event(s3_event(settings.upload_bucket, obj), settings, clients)
    clients.dynamodb.update_item(
        TableName=settings.table_name, Key={"id": {"S": "7" * 32}}, UpdateExpression="REMOVE specVersion"
    )
    assert rerender("7" * 32, settings, clients, lease_seconds=60) == "processed"
    assert records.get("7" * 32)["specVersion"] == SPEC


def test_the_processor_answers_a_rerender_event(env, monkeypatch):
    from handlers import processor, processor_lambda

    settings, clients, _ = env
    monkeypatch.setattr(processor_lambda, "_runtime", lambda: (settings, clients))

    class Context:
        function_name, memory_limit_in_mb, aws_request_id = "processor", 1536, "req"
        invoked_function_arn = "arn:aws:lambda:us-east-1:000000000000:function:processor"

        def get_remaining_time_in_millis(self):
            return 60_000

    assert processor_lambda.handler(processor.rerender_event("not-an-id"), Context()) == {
        "id": "not-an-id",
        "outcome": "invalid",
    }
    assert processor_lambda.handler(processor.rerender_event("1" * 32), Context()) == {
        "id": "1" * 32,
        "outcome": "current",
    }


def test_a_camera_photo_s_facts_are_stored_with_their_fractions(env):
    """f/2.8 and 63 mm are floats: stored (as DynamoDB numbers) and read back as they were."""
    from tests.unit.test_imaging_photo_facts import camera_exif

    settings, clients, records = env
    obj = put(settings, clients, "uploads/" + "5" * 32, encode(photo(800, 600), "JPEG", exif=camera_exif()))
    assert process_event(s3_event(settings.upload_bucket, obj), settings, clients) == {obj[0]: "processed"}
    facts = records.get("5" * 32)["facts"]
    assert facts["fNumber"] == 2.8 and facts["focalLength"] == 63 and facts["iso"] == 400
    assert facts["takenAt"] == "2024-05-01T18:30:05+02:00" and "SERIAL" not in json.dumps(facts)
