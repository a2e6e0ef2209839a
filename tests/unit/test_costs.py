"""bootstrap/costs.py: the arithmetic on a run small enough to check by hand, the per-photo counts
against what the re-render really asks of S3 and DynamoDB, and docs/scale.md's tables against
what the module prints."""

from __future__ import annotations

import dataclasses
import re
from collections import Counter
from pathlib import Path

import pytest

from bootstrap import costs
from handlers.config import Settings
from handlers.formats import RenditionSpec
from handlers.processor import process_event, rerender, s3_event
from handlers.rendering import _KINDS
from tests.images import phone_jpeg
from tests.unit.test_processor import put

SCALE_DOC = Path(__file__).resolve().parents[2] / "docs" / "scale.md"


def test_the_doc_s_tables_are_what_the_module_prints():
    """Changing MEASURED_SECONDS_PER_PHOTO, a price or a count without pasting the new tables into
    docs/scale.md fails here."""
    text = SCALE_DOC.read_text()
    printed = re.search(
        r"<!-- printed by python -m bootstrap.costs -->\n(.*?)\n<!-- end of printed tables -->", text, re.S
    )
    assert printed, "docs/scale.md holds the tables between its two markers"
    assert printed[1].strip() == costs.report().strip()


def test_a_thousand_photos_at_one_second_by_hand():
    cost = costs.rerender_cost(1_000, seconds_per_photo=1.0, memory_mb=1024, arch="x86_64", items_per_batch=10)
    assert cost.usage == costs.Usage(
        photos=1_000,
        children=100,
        gb_seconds=1_000,  # 1,000 photos x 1 s x 1 GB
        lambda_requests=101,  # a child each, and the summary
        transitions=202,  # 2 a child, and the parent's Map and Summary
        list_requests=1,
        put_requests=10_003,  # 8 renditions + the manifest + the old ones' delete, each; ResultWriter's 2; summary.json
        get_requests=1_002,  # the originals; the summary reads ResultWriter's manifest and file
        # 3 updates x 3 units (2.6 KB) x (the table + 2 indexes), and 9 band items of a unit, each
        write_units=36_000,
        read_units=9_000,  # the 9 band Queries, a unit each
    )
    assert cost.dollars == pytest.approx(
        {
            "Lambda duration": 1_000 * 0.0000166667,
            "Lambda requests": 101 * 0.20 / 1_000_000,
            "Step Functions transitions": 202 * 0.025 / 1_000,
            "S3 LIST": 1 * 0.005 / 1_000,
            "S3 PUT and POST": 10_003 * 0.005 / 1_000,
            "S3 GET": 1_002 * 0.0004 / 1_000,
            "DynamoDB writes": 36_000 * 0.625 / 1_000_000,
            "DynamoDB reads": 9_000 * 0.125 / 1_000_000,
        }
    )
    assert cost.total == pytest.approx(
        0.0166667 + 0.0000202 + 0.00505 + 0.000005 + 0.050015 + 0.0004008 + 0.0225 + 0.001125
    )


def test_arm64_is_cheaper_by_its_gb_second_and_by_nothing_else():
    x86, arm = (costs.rerender_cost(1_000_000, 0.31, 1536, arch) for arch in ("x86_64", "arm64"))
    assert arm.dollars["Lambda duration"] == pytest.approx(x86.dollars["Lambda duration"] * 0.0000133334 / 0.0000166667)
    assert arm.total < x86.total
    assert {k: v for k, v in arm.dollars.items() if k != "Lambda duration"} == {
        k: v for k, v in x86.dollars.items() if k != "Lambda duration"
    }
    with pytest.raises(ValueError, match="arch"):
        costs.rerender_cost(1, 1.0, 1024, "sparc")


def test_time_is_the_photos_shared_among_the_children_after_the_listing():
    assert costs.listing_seconds(1_000_000) == pytest.approx(100.0)  # 1,000 pages at 0.1 s
    assert costs.wall_seconds(1_000_000, 0.31, 4) == pytest.approx(1_000_000 * 0.31 / 4 + 100)
    assert costs.children_at_once_for(1_000_000, 0.31, 24) == 4  # 310,000 s / (86,400 - 100) s = 3.6
    assert costs.children_at_once_for(100_000_000, 0.31, 24) == 406  # 31e6 s / (86,400 - 10,000) s = 405.8
    with pytest.raises(ValueError, match="listing"):
        costs.children_at_once_for(10**10, 0.31, 24)  # ten million pages: 11.6 days of listing


def test_the_per_photo_counts_are_what_a_re_render_asks_of_s3_and_dynamodb(aws_env):
    settings, clients = aws_env
    assert costs.RENDITION_FILES == len(Settings().renditions.sizes) * len(_KINDS[False])
    obj = put(settings, clients, "uploads/" + "c" * 32, phone_jpeg(2400, 1800))  # fills every default size
    assert process_event(s3_event(settings.upload_bucket, obj), settings, clients) == {obj[0]: "processed"}
    calls = Counter()

    def count(model, **_):
        calls[model.name] += 1

    for client in (clients.s3, clients.dynamodb):
        client.meta.events.register("before-call", count)
    new_spec = dataclasses.replace(settings, renditions=RenditionSpec(avif_quality=60))
    assert rerender("c" * 32, new_spec, clients, lease_seconds=60) == "processed"
    assert calls == {
        "GetObject": costs.S3_GETS_PER_PHOTO,
        "PutObject": costs.S3_PUTS_PER_PHOTO - 1,
        "DeleteObjects": 1,  # the old renditions: a POST, counted with the PUTs
        "UpdateItem": costs.DYNAMODB_WRITES_PER_PHOTO,
        "BatchWriteItem": 1,  # the near-duplicate index's band items, a write unit each
        "Query": costs.SIMILAR_INDEX_QUERIES_PER_PHOTO,
    }


def test_a_million_new_photos_by_hand():
    """Processing new uploads: GB-seconds at the configured memory, a request each, the renditions'
    and manifest's PUTs and the upload's POST, the original's GET, two record writes with their
    indexes."""
    dollars = costs.upload_cost(1_000_000, seconds_per_photo=0.5, memory_mb=1536, arch="x86_64")
    units = costs.UPLOAD_WRITE_UNITS_PER_PHOTO
    assert units == 2 * 3 * 3 + 9  # two record writes (3 units, the table + 2 indexes), 9 band items
    assert costs.UPLOAD_S3_PUTS_PER_PHOTO == 10  # 8 renditions, the manifest, the upload
    assert dollars == pytest.approx(
        {
            "Lambda duration": 1_000_000 * 0.5 * 1.5 * 0.0000166667,  # 750,000 GB-s
            "Lambda requests": 0.20,
            "S3 PUT and POST": 10_000_000 * 0.005 / 1_000,
            "S3 GET": 1_000_000 * 0.0004 / 1_000,
            "DynamoDB writes": 1_000_000 * units * 0.625 / 1_000_000,
            "DynamoDB reads": 1_000_000 * 9 * 0.125 / 1_000_000,  # the band Queries
        }
    )
    arm = costs.upload_cost(1_000_000, seconds_per_photo=0.5, memory_mb=1536, arch="arm64")
    assert arm["Lambda duration"] == pytest.approx(750_000 * 0.0000133334)


def test_billed_seconds_follow_the_vcpu_share_memory_buys():
    # Below 1,769 MB a share of one vCPU: the same CPU work takes longer, the GB-seconds stay the same.
    assert costs.photo_seconds(0.3, 0.2, 1769, io_seconds=0) == pytest.approx(0.3)
    assert costs.photo_seconds(0.3, 0.2, 1769 // 2, io_seconds=0) == pytest.approx(0.6, rel=1e-3)
    # Two vCPUs: the time measured with two cores; the I/O is added whatever the memory.
    assert costs.photo_seconds(0.3, 0.2, 2 * 1769, io_seconds=0.1) == pytest.approx(0.3)
    assert costs.photo_seconds(0.3, 0.2, 10_240, io_seconds=0) == pytest.approx(0.2)
