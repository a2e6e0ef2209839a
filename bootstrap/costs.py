"""What batch work costs and takes on AWS: re-rendering N photos through the batch state machine
(`make reprocess ALL=1`: bootstrap/deploy/batch.py, handlers/batch.py), from one dated price table
and the requests the code makes for each photo.

Pure arithmetic, no AWS call. `python -m bootstrap.costs` prints the tables (`--help`: the
inputs); docs/scale.md holds them as printed with the defaults, and tests/unit/test_costs.py
fails when the two differ.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Sequence
from dataclasses import dataclass

from bootstrap.__main__ import AWS_PROCESSOR_CONCURRENCY
from bootstrap.deploy.batch import batch_concurrency
from bootstrap.deploy.config import processor_memory_mb
from handlers.batch import ITEMS_PER_BATCH
from handlers.config import Settings
from handlers.formats import Limits
from handlers.schema import INDEX_ATTRIBUTES, TABLE_INDEXES
from handlers.similarity import BANDS

# --- Prices ---------------------------------------------------------------------------------------

REGION = "us-east-1"
PRICES_CHECKED = "2026-12-03"


@dataclass(frozen=True)
class Price:
    dollars: float
    per: int  # the units those dollars buy
    what: str
    source: str  # where the number came from, and whether it could be confirmed there

    @property
    def each(self) -> float:
        return self.dollars / self.per


# Where each number was checked, in the stored copies the `search` tool reads: only Step Functions'
# own page shows its price. Lambda's and S3's pages fill their prices in by script (and S3's stored
# copy lacks the request table); DynamoDB's on-demand page is not stored. Those are the research
# pass's numbers, found the same on the third-party pages named.
_LAMBDA = "as researched 2026-12-03, from aws.amazon.com/lambda/pricing/; the same on cloudchipr.com"
_S3 = "as researched 2026-12-03, from aws.amazon.com/s3/pricing/; the same on c3x.dev"
_DYNAMODB = "as researched 2026-12-03, from aws.amazon.com/dynamodb/pricing/on-demand/; the same on airbyte.com"

# us-east-1, on demand, before free tiers and Savings Plans.
PRICES: dict[str, Price] = {
    # Each retry is one more transition, the page says.
    "transition": Price(
        0.025, 1_000, "Step Functions Standard state transition", "confirmed on aws.amazon.com/step-functions/pricing/"
    ),
    "lambda_request": Price(0.20, 1_000_000, "Lambda request", _LAMBDA),
    # The first tier: up to 6 billion GB-s a month on x86_64, 7.5 billion on arm64 (cloudchipr.com).
    "gb_second_x86_64": Price(0.0000166667, 1, "Lambda GB-second, x86_64", _LAMBDA),
    "gb_second_arm64": Price(0.0000133334, 1, "Lambda GB-second, arm64", _LAMBDA),
    "s3_put": Price(0.005, 1_000, "S3 Standard PUT, COPY, POST or LIST request", _S3),
    "s3_get": Price(0.0004, 1_000, "S3 Standard GET request", _S3),
    # Halved by AWS in November 2024 (airbyte.com).
    "write_unit": Price(0.625, 1_000_000, "DynamoDB on-demand write request unit", _DYNAMODB),
    # Read by the near-duplicate index's Queries (a re-render's claim returns the record: no read).
    "read_unit": Price(0.125, 1_000_000, "DynamoDB on-demand read request unit", _DYNAMODB),
}
ARCHITECTURES = ("x86_64", "arm64")

# --- What one photo asks of S3 and DynamoDB (handlers.processor.rerender) --------------------------

# Each size of the spec is written twice: AVIF, and the fallback every browser shows (JPEG, or WebP
# for a source with alpha: handlers/rendering.py's _KINDS). A source smaller than a size shares its
# files, so this is the most; a camera's photo fills every default size.
SOURCES_PER_SIZE = 2
RENDITION_FILES = len(Settings().renditions.sizes) * SOURCES_PER_SIZE
S3_GETS_PER_PHOTO = 1  # _fetch: the original, pinned to its ETag
# _store_renditions' PUTs, _store_manifest's one, and delete_renditions' DeleteObjects of the old
# renditions: a POST (DELETEs are free; whether this batch delete is billed as a POST is not
# confirmed, so it is counted: at most $0.005 per 1,000 photos).
S3_PUTS_PER_PHOTO = RENDITION_FILES + 1 + 1
# records.claim_rerender (the lease), mark_processed (the new renditions) and release_rerender (in a
# `finally`, after mark_processed has already ended the lease): three UpdateItems, no read.
DYNAMODB_WRITES_PER_PHOTO = 3
# A processed record is ~2.6 KB (measured 2026-12-03 on a synthetic 12 MP JPEG's with EXIF and GPS: facts,
# placeholder, eight rendition keys). An update costs a write unit per KB, rounded up, of the larger of the item
# before and after it: 3 units.
RECORD_BYTES = 2_700
WRITE_UNITS_PER_WRITE = math.ceil(RECORD_BYTES / 1024)
# An index that projects ALL attributes (bootstrap/deploy/storage.py) rewrites its entry, the record's
# size again, on every update of a processed record it holds: byCreated and byOwnerTaken (an upload
# through the API), not byUnfinished, which finished records leave, nor one of some attributes only
# (INDEX_ATTRIBUTES: byStatus), which a re-render leaves as it was. The lease's release after a
# finished run changes nothing in the item: counted all the same (at most).
INDEXES_OF_A_PROCESSED_RECORD = len(set(TABLE_INDEXES) - set(INDEX_ATTRIBUTES)) - 1
WRITE_UNITS_PER_PHOTO = DYNAMODB_WRITES_PER_PHOTO * WRITE_UNITS_PER_WRITE * (1 + INDEXES_OF_A_PROCESSED_RECORD)
# The near-duplicate index (handlers.similar_index), on every render and re-render: the image's BANDS
# band items in one BatchWriteItem (each ~150 B: a write unit each) and its BANDS Queries, strongly
# consistent (a read unit each while a band's answer stays under 4 KB, ~25 items: a gallery's
# band rarely holds more). The links to look-alikes (a transaction a pair: two updates at twice the
# units) are not counted: they depend on how many look-alikes the owner has.
SIMILAR_INDEX_WRITE_UNITS_PER_PHOTO = BANDS
SIMILAR_INDEX_QUERIES_PER_PHOTO = BANDS
SIMILAR_INDEX_READ_UNITS_PER_PHOTO = SIMILAR_INDEX_QUERIES_PER_PHOTO

# --- What the state machine adds (bootstrap/deploy/batch.py) ---------------------------------------

# Each child: one transition for starting it (Step Functions charges one for each child workflow
# execution a Distributed Map starts: docs.aws.amazon.com/step-functions/latest/dg/concepts-transitions.html,
# read in its Korean and Japanese copies) and one for its one Task state, "Batch". Its retries
# (a batch out of time, a throttle) are one more each, and are not counted.
TRANSITIONS_PER_CHILD = 2
TRANSITIONS_PER_RUN = 2  # the parent's own states: the Map ("Each upload") and "Summary"
KEYS_PER_LIST_PAGE = 1_000  # ListObjectsV2 gives at most 1,000 keys a request
# ResultWriter writes a manifest and files of the children's results (~2 KB a child: its input of ten
# keys, its output, their metadata) of up to 5 GB each (as researched, not confirmed); the summary
# reads each of them and writes summary.json.
RESULT_BYTES_PER_CHILD = 2_000
RESULT_FILE_BYTES = 5 * 1024**3
# An assumption, not measured: S3 answers a 1,000-key page in ~0.1 s, and the whole listing comes
# before the children start (bootstrap/deploy/batch.py: a hundred million keys take hours).
LIST_SECONDS_PER_PAGE = 0.1

# The byCreated index has one partition key for every image (handlers.schema.LIST_PARTITION), so all
# of a run's updates go through one index partition, and a throttled index write throttles the
# table's (GSI back-pressure, docs.aws.amazon.com/amazondynamodb/latest/developerguide/gsi-throttling.html).
# A partition takes 1,000 write units a second (as researched; DynamoDB may split a hot one by its
# sort key, createdKey, which would lift this): a ceiling on photos a second, not measured.
PARTITION_WRITE_UNITS_PER_SECOND = 1_000
INDEX_LIMITED_PHOTOS_PER_SECOND = PARTITION_WRITE_UNITS_PER_SECOND / (DYNAMODB_WRITES_PER_PHOTO * WRITE_UNITS_PER_WRITE)

# --- The inputs -----------------------------------------------------------------------------------

PROCESSOR_MEMORY_MB = processor_memory_mb(Limits())
# Seconds the processor bills for one photo. From docs/benchmarks.md ("The rendition set", measured
# 2026-12-04 on a 2-core machine): the 12 MP JPEG's set takes 0.17 s there with both cores at work,
# and two worker processes make 8.8 photos/s on the two cores: 2 / 8.8 = 0.227 s of one core a photo.
# Lambda at 1536 MB has 1536/1769 = 0.87 of a vCPU (one vCPU at 1,769 MB), so 0.227 / 0.87 = 0.26 s,
# assuming its vCPU as fast as a core here, and arm64 as fast as x86_64. Not in it: the I/O (one GET,
# nine PUTs and a delete, three DynamoDB writes) and cold starts. The lead engineer replaces it with
# the time measured on the emulator's batch run.
MEASURED_SECONDS_PER_PHOTO = 0.26
SCALES = (1_000_000, 100_000_000)
DEADLINE_HOURS = 24
DEFAULT_CHILDREN_AT_ONCE = batch_concurrency(AWS_PROCESSOR_CONCURRENCY)  # as deployed on AWS


@dataclass(frozen=True)
class Usage:
    """What re-rendering `photos` through the batch state machine asks of each service."""

    photos: int
    children: int
    gb_seconds: float
    lambda_requests: int
    transitions: int
    list_requests: int
    put_requests: int  # PUT and POST
    get_requests: int
    write_units: int
    read_units: int


def usage(photos: int, seconds_per_photo: float, memory_mb: int, items_per_batch: int = ITEMS_PER_BATCH) -> Usage:
    children = math.ceil(photos / items_per_batch)
    result_files = 1 + math.ceil(children * RESULT_BYTES_PER_CHILD / RESULT_FILE_BYTES)  # and the manifest
    return Usage(
        photos=photos,
        children=children,
        gb_seconds=photos * seconds_per_photo * memory_mb / 1024,  # Lambda's GB is 1,024 MB
        lambda_requests=children + 1,  # one invocation a child (retries aside), and the summary's
        transitions=children * TRANSITIONS_PER_CHILD + TRANSITIONS_PER_RUN,
        list_requests=math.ceil(photos / KEYS_PER_LIST_PAGE),
        put_requests=photos * S3_PUTS_PER_PHOTO + result_files + 1,  # ResultWriter's, summary.json
        get_requests=photos * S3_GETS_PER_PHOTO + result_files,  # the summary reads ResultWriter's
        write_units=photos * (WRITE_UNITS_PER_PHOTO + SIMILAR_INDEX_WRITE_UNITS_PER_PHOTO),
        read_units=photos * SIMILAR_INDEX_READ_UNITS_PER_PHOTO,
    )


@dataclass(frozen=True)
class Cost:
    usage: Usage
    arch: str
    dollars: dict[str, float]  # line -> dollars

    @property
    def total(self) -> float:
        return sum(self.dollars.values())


def rerender_cost(
    photos: int, seconds_per_photo: float, memory_mb: int, arch: str, items_per_batch: int = ITEMS_PER_BATCH
) -> Cost:
    """What re-rendering `photos` costs, line by line."""
    if arch not in ARCHITECTURES:
        raise ValueError(f"arch is one of {', '.join(ARCHITECTURES)}")
    use = usage(photos, seconds_per_photo, memory_mb, items_per_batch)
    each = {name: price.each for name, price in PRICES.items()}
    return Cost(
        use,
        arch,
        {
            "Lambda duration": use.gb_seconds * each[f"gb_second_{arch}"],
            "Lambda requests": use.lambda_requests * each["lambda_request"],
            "Step Functions transitions": use.transitions * each["transition"],
            "S3 LIST": use.list_requests * each["s3_put"],
            "S3 PUT and POST": use.put_requests * each["s3_put"],
            "S3 GET": use.get_requests * each["s3_get"],
            "DynamoDB writes": use.write_units * each["write_unit"],
            "DynamoDB reads": use.read_units * each["read_unit"],
        },
    )


# --- A new photo: the S3 event's processing (handlers.processor), per million --------------------

# Lambda gives one vCPU at 1,769 MB and a share of one below it; above it, a second vCPU.
MB_PER_VCPU = 1_769
# The processor's image work for one 12 MP photo, measured 2026-12-04 on this 2-core machine by
# `python -m tests.bench.formats_speed` (docs/benchmarks.md, "Every format"; JPEG and PNG at 19:15
# UTC, HEIC at 20:45 after its largest resize went back to Pillow): CPU seconds of make_renditions
# (every thread), and its wall time with two cores, per source format.
MEASURED_PHOTO_SECONDS = {  # source -> (CPU seconds, wall seconds on two cores)
    "JPEG": (0.29, 0.20),
    "PNG": (0.36, 0.28),
    "HEIC": (0.94, 0.56),
}
# An assumption, not measured on AWS: the GET of the original, nine PUTs in parallel and two
# DynamoDB writes in the region, ~0.15 s of a photo's billed time the CPU is idle.
UPLOAD_IO_SECONDS = 0.15
# The processor's requests for a new photo: its invocation by the S3 event; the original's GET; the
# renditions' PUTs and the manifest's, and the browser's upload POST; start_processing and
# mark_processed, each counted at a processed record's size with every index that holds it (the
# first write is smaller: an upper bound).
UPLOAD_S3_PUTS_PER_PHOTO = RENDITION_FILES + 1 + 1
UPLOAD_WRITE_UNITS_PER_PHOTO = (
    2 * WRITE_UNITS_PER_WRITE * (1 + INDEXES_OF_A_PROCESSED_RECORD) + SIMILAR_INDEX_WRITE_UNITS_PER_PHOTO
)
UPLOAD_MEMORIES_MB = (PROCESSOR_MEMORY_MB, MB_PER_VCPU, 2 * MB_PER_VCPU)


def photo_seconds(cpu_seconds: float, two_core_seconds: float, memory_mb: int, io_seconds: float) -> float:
    """Billed seconds of one photo at `memory_mb`: its CPU work on the vCPU share that memory buys
    (one vCPU is assumed as fast as a core here), up to the measured two-core time at two vCPUs."""
    vcpus = memory_mb / MB_PER_VCPU
    if vcpus <= 1:
        return cpu_seconds / vcpus + io_seconds
    return cpu_seconds - (cpu_seconds - two_core_seconds) * min(1.0, vcpus - 1) + io_seconds


def upload_cost(photos: int, seconds_per_photo: float, memory_mb: int, arch: str) -> dict[str, float]:
    """What processing `photos` new uploads costs, line by line (the API's own calls not counted)."""
    each = {name: price.each for name, price in PRICES.items()}
    return {
        "Lambda duration": photos * seconds_per_photo * memory_mb / 1024 * each[f"gb_second_{arch}"],
        "Lambda requests": photos * each["lambda_request"],
        "S3 PUT and POST": photos * UPLOAD_S3_PUTS_PER_PHOTO * each["s3_put"],
        "S3 GET": photos * S3_GETS_PER_PHOTO * each["s3_get"],
        "DynamoDB writes": photos * UPLOAD_WRITE_UNITS_PER_PHOTO * each["write_unit"],
        "DynamoDB reads": photos * SIMILAR_INDEX_READ_UNITS_PER_PHOTO * each["read_unit"],
    }


def upload_cost_table(
    measured: dict[str, tuple[float, float]] = MEASURED_PHOTO_SECONDS,
    memories: Sequence[int] = UPLOAD_MEMORIES_MB,
    architectures: Sequence[str] = ARCHITECTURES,
    io_seconds: float = UPLOAD_IO_SECONDS,
) -> str:
    """USD per million new photos, per source format, memory and architecture."""
    rows = []
    for source, (cpu, two_core) in measured.items():
        for memory_mb in memories:
            seconds = photo_seconds(cpu, two_core, memory_mb, io_seconds)
            totals = [sum(upload_cost(1_000_000, seconds, memory_mb, arch).values()) for arch in architectures]
            rows.append([source, f"{memory_mb} MB", f"{seconds:.2f} s", *(_money(t) for t in totals)])
    header = ["12 MP source", "memory", "billed a photo", *(f"USD per million, {a}" for a in architectures)]
    return _table(header, rows)


# --- Time -----------------------------------------------------------------------------------------


def listing_seconds(photos: int) -> float:
    return math.ceil(photos / KEYS_PER_LIST_PAGE) * LIST_SECONDS_PER_PAGE


def wall_seconds(photos: int, seconds_per_photo: float, children_at_once: int) -> float:
    """Each child runs its batch's photos one after the other: N x s / C, after the listing."""
    return photos * seconds_per_photo / children_at_once + listing_seconds(photos)


def children_at_once_for(photos: int, seconds_per_photo: float, hours: float) -> int:
    """The concurrency (children at once, each one Lambda execution) that finishes in `hours`."""
    left = hours * 3600 - listing_seconds(photos)
    if left <= 0:
        raise ValueError(f"listing {photos:,} keys alone takes {hours} h or more")
    return math.ceil(photos * seconds_per_photo / left)


# --- The tables -----------------------------------------------------------------------------------


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(cells) + " |" for cells in (header, *rows)]
    lines.insert(1, "|" + "---|" * len(header))
    return "\n".join(lines)


def _count(n: float) -> str:
    return f"{n:,.0f}"


def _money(dollars: float, places: int = 2) -> str:
    return f"${dollars:,.{places}f}"


def _price(price: Price) -> str:
    digits = f"{price.dollars:.10f}".rstrip("0")
    digits += "0" * max(0, 2 - len(digits.partition(".")[2]))  # $0.20, not $0.2
    return f"${digits} " + ("each" if price.per == 1 else f"per {price.per:,}")


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 2 * 3600:
        return f"{seconds / 60:.0f} min"
    if seconds < 72 * 3600:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.0f} days"


def _scale(photos: int) -> str:
    return f"{photos // 1_000_000:,} million" if photos % 1_000_000 == 0 else f"{photos:,}"


def usage_table(seconds_per_photo: float, memory_mb: int, scales: Sequence[int] = SCALES) -> str:
    uses = [usage(photos, seconds_per_photo, memory_mb) for photos in scales]
    rows = [
        (f"child executions ({ITEMS_PER_BATCH} photos each)", [u.children for u in uses]),
        (f"Lambda GB-seconds ({seconds_per_photo} s x {memory_mb} MB a photo)", [u.gb_seconds for u in uses]),
        ("Lambda requests", [u.lambda_requests for u in uses]),
        ("state transitions", [u.transitions for u in uses]),
        ("S3 LIST requests", [u.list_requests for u in uses]),
        (f"S3 PUT and POST requests ({S3_PUTS_PER_PHOTO} a photo)", [u.put_requests for u in uses]),
        (f"S3 GET requests ({S3_GETS_PER_PHOTO} a photo)", [u.get_requests for u in uses]),
        (
            f"DynamoDB write units ({WRITE_UNITS_PER_PHOTO + SIMILAR_INDEX_WRITE_UNITS_PER_PHOTO} a photo)",
            [u.write_units for u in uses],
        ),
        (f"DynamoDB read units ({SIMILAR_INDEX_READ_UNITS_PER_PHOTO} a photo)", [u.read_units for u in uses]),
    ]
    return _table(["", *map(_scale, scales)], [[name, *map(_count, values)] for name, values in rows])


def cost_table(
    seconds_per_photo: float,
    memory_mb: int,
    architectures: Sequence[str] = ARCHITECTURES,
    scales: Sequence[int] = SCALES,
) -> str:
    costs = [rerender_cost(p, seconds_per_photo, memory_mb, arch) for p in scales for arch in architectures]
    header = ["USD", *(f"{_scale(c.usage.photos)}, {c.arch}" for c in costs)]
    rows = [[line, *(_money(c.dollars[line]) for c in costs)] for line in costs[0].dollars]
    rows.append(["**total**", *(f"**{_money(c.total)}**" for c in costs)])
    rows.append(["per 1,000 photos", *(_money(c.total / c.usage.photos * 1000, 3) for c in costs)])
    return _table(header, rows)


def time_table(
    seconds_per_photo: float,
    hours: float = DEADLINE_HOURS,
    scales: Sequence[int] = SCALES,
    children_at_once: int = DEFAULT_CHILDREN_AT_ONCE,
) -> str:
    needed = [children_at_once_for(p, seconds_per_photo, hours) for p in scales]
    rows = [
        [f"listing `uploads/` ({LIST_SECONDS_PER_PAGE} s a page of {KEYS_PER_LIST_PAGE:,})"]
        + [_duration(listing_seconds(p)) for p in scales],
        [f"the whole run, {children_at_once} children at once (as deployed)"]
        + [_duration(wall_seconds(p, seconds_per_photo, children_at_once)) for p in scales],
        [f"children at once to finish in {hours:g} h"] + [_count(c) for c in needed],
        ["`PROCESSOR_CONCURRENCY` for that (twice as many)"] + [_count(2 * c) for c in needed],
        [f"the least time if byCreated's one partition is not split ({INDEX_LIMITED_PHOTOS_PER_SECOND:.0f} photos/s)"]
        + [_duration(p / INDEX_LIMITED_PHOTOS_PER_SECOND) for p in scales],
    ]
    return _table(["", *map(_scale, scales)], rows)


def price_table() -> str:
    rows = [[p.what, _price(p), p.source] for p in PRICES.values()]
    return _table([f"{REGION}, checked {PRICES_CHECKED}", "price", "source"], rows)


def report(
    seconds_per_photo: float = MEASURED_SECONDS_PER_PHOTO,
    memory_mb: int = PROCESSOR_MEMORY_MB,
    architectures: Sequence[str] = ARCHITECTURES,
    hours: float = DEADLINE_HOURS,
) -> str:
    """Every table, in markdown: what docs/scale.md holds between its markers (with the defaults)."""
    return "\n\n".join(
        [
            f"With {seconds_per_photo} s of processor time a photo, {memory_mb} MB, {ITEMS_PER_BATCH} photos "
            f"a child, prices of {PRICES_CHECKED} ({REGION}). What a run asks for:",
            usage_table(seconds_per_photo, memory_mb),
            "What it costs:",
            cost_table(seconds_per_photo, memory_mb, architectures),
            "How long it takes:",
            time_table(seconds_per_photo, hours),
            "The prices, and where they come from:",
            price_table(),
        ]
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bootstrap.costs", description=__doc__.splitlines()[0])
    parser.add_argument("--seconds-per-photo", type=float, default=MEASURED_SECONDS_PER_PHOTO)
    parser.add_argument("--memory-mb", type=int, default=PROCESSOR_MEMORY_MB)
    parser.add_argument("--arch", choices=ARCHITECTURES, help="one architecture (default: both)")
    parser.add_argument("--hours", type=float, default=DEADLINE_HOURS, help="the deadline the concurrency is for")
    parser.add_argument("--uploads", action="store_true", help="what processing new photos costs, per million")
    args = parser.parse_args(argv)
    architectures = (args.arch,) if args.arch else ARCHITECTURES
    if args.uploads:
        print(upload_cost_table(architectures=architectures))
        return 0
    print(report(args.seconds_per_photo, args.memory_mb, architectures, args.hours))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
