"""What near duplicates add to each processed image (docs/duplicates.md#what-it-costs): the
perceptual hash of the smallest rendition, in this process, and the index's work (the band items
written, the bands queried, each similar pair linked) against a fresh embedded stack, over HTTP.

`flock /tmp/imagepipe-heavy.lock .venv/bin/python -m tests.bench.similar_index [--gallery N] [--images N]`

The owner's gallery is filled first with N images' band items (random hashes, as many records), so
each new photo's Queries read what a gallery that size holds; half the new photos are copies of one
of them (a few bits changed: linked both ways), half are new pictures. The time is what
`SimilarImages.mark_processed` adds around the record's own write: `index` before it, `join` after.
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from pathlib import Path

from boto3.dynamodb.types import TypeSerializer

from handlers.schema import Status
from handlers.similar_index import SimilarImages
from handlers.similarity import perceptual_hash
from tests.images import photo
from tests.stack import deploy_stack

OWNER = "bench-owner"
_serialize = TypeSerializer().serialize


def hash_times(runs: int = 200) -> list[float]:
    """ms per perceptual_hash of a 320 px rendition (the processor's smallest)."""
    image = photo(320, 240)
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        perceptual_hash(image)
        times.append((time.perf_counter() - started) * 1000)
    return times


def random_hash(rng: random.Random) -> str:
    return f"{rng.getrandbits(64):016x}"


def near(hash_hex: str, rng: random.Random, bits: int = 3) -> str:
    value = int(hash_hex, 16)
    for bit in rng.sample(range(64), bits):
        value ^= 1 << bit
    return f"{value:016x}"


def put_record(dynamodb, table: str, image_id: str, phash: str) -> None:
    item = {"id": image_id, "status": str(Status.PROCESSED), "owner": OWNER, "phash": phash, "sourceEtag": "e"}
    dynamodb.put_item(TableName=table, Item={k: _serialize(v) for k, v in item.items()})


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--gallery", type=int, default=2000, help="the owner's images already indexed")
    parser.add_argument("--images", type=int, default=60, help="new photos measured")
    args = parser.parse_args()
    hashing = hash_times()
    median, most = statistics.median(hashing), max(hashing)
    print(f"perceptual hash of a 320 px rendition: median {median:.2f} ms, max {most:.2f} ms")
    rng = random.Random(24)
    with tempfile.TemporaryDirectory() as state, deploy_stack(Path(state)) as stack:
        dynamodb, table = stack.dynamodb(), stack.outputs["table"]
        similar = SimilarImages(dynamodb, table, stack.outputs["similarTable"])
        gallery = [(f"{i:032x}", random_hash(rng)) for i in range(args.gallery)]
        started = time.perf_counter()
        for image_id, phash in gallery:
            put_record(dynamodb, table, image_id, phash)
            similar.index(OWNER, image_id, phash, "e")
        print(f"gallery of {args.gallery} filled in {time.perf_counter() - started:.0f} s")
        calls: dict[str, int] = {}
        dynamodb.meta.events.register(
            "before-call.dynamodb.*", lambda model, **_: calls.__setitem__(model.name, calls.get(model.name, 0) + 1)
        )
        added, linked = [], 0
        for n in range(args.images):
            image_id = f"{args.gallery + n:032x}"
            phash = near(rng.choice(gallery)[1], rng) if n % 2 else random_hash(rng)
            put_record(dynamodb, table, image_id, phash)  # what mark_processed writes: not counted
            started = time.perf_counter()
            similar.index(OWNER, image_id, phash, "e")
            linked += len(similar.join({"id": image_id, "owner": OWNER, "phash": phash}))
            added.append((time.perf_counter() - started) * 1000)
        calls.pop("PutItem", None)
        per_image = {name: round(count / args.images, 1) for name, count in sorted(calls.items())}
    print(
        f"index work per image ({args.images} photos, a gallery of {args.gallery}, {linked} linked): "
        f"median {statistics.median(added):.1f} ms, p95 {sorted(added)[int(0.95 * (len(added) - 1))]:.1f} ms, "
        f"max {max(added):.1f} ms; calls per image {per_image}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
