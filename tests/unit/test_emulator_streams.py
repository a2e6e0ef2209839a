"""bootstrap/emulator_streams.py: after a restart of the embedded emulator, a DynamoDB stream
mapping's saved position past its (empty again) stream is moved to the stream's end, so the
changes made from then on are read; a position within its stream, and other mappings, are kept.
(The restart itself: tests/integration/test_image_events.py.)"""

from __future__ import annotations

import threading
from types import SimpleNamespace

from bootstrap.emulator_streams import rewind_stream_positions, table_of

STREAM = "arn:aws:dynamodb:us-east-1:000000000000:table/imagepipe-images/stream/2026-12-03T00:00:00.000"
QUEUE = "arn:aws:sqs:us-east-1:000000000000:some-queue"


def emulator(positions: dict, sources: dict, stream_ends: dict):
    scope = ("000000000000", "us-east-1")
    lambda_svc = SimpleNamespace(
        _dynamodb_stream_positions_lock=threading.Lock(),
        _dynamodb_stream_positions=SimpleNamespace(_data={(*scope, k): v for k, v in positions.items()}),
        _esms=SimpleNamespace(_data={(*scope, k): {"EventSourceArn": v} for k, v in sources.items()}),
    )
    dynamodb = SimpleNamespace(stream_end_position=lambda table, account_id, region: stream_ends[table])
    return lambda_svc, dynamodb


def test_a_position_past_its_stream_s_end_moves_to_the_end_and_others_stay():
    lambda_svc, dynamodb = emulator(
        positions={"restarted": 57, "within": 3, "queue": 9},
        sources={"restarted": STREAM, "within": STREAM, "queue": QUEUE},
        stream_ends={"imagepipe-images": 5},
    )
    assert rewind_stream_positions(lambda_svc, dynamodb) == ["restarted"]
    assert {k[-1]: v for k, v in lambda_svc._dynamodb_stream_positions._data.items()} == {
        "restarted": 5,
        "within": 3,
        "queue": 9,
    }
    assert table_of(STREAM) == "imagepipe-images"
