"""Operator story: `make logs ID=<image id>` prints one image's lines from the API, the processor
and the events function, in time order, every one naming the image and its upload's correlation id."""

from __future__ import annotations

import json
import time

import pytest

from handlers.telemetry import CORRELATION_KEY
from tests.images import phone_jpeg

pytestmark = pytest.mark.integration


def story(stack, image_id: str) -> list[tuple[str, str, dict]]:
    """`python -m bootstrap logs --id`, as `make logs` runs it: (time, function, JSON line) each."""
    printed = stack.run_module("bootstrap", "logs", "--id", image_id)
    lines = []
    for line in printed.splitlines():
        when, function, message = line.split(maxsplit=2)
        lines.append((when, function, json.loads(message) if message.startswith("{") else {"raw": message}))
    return lines


def test_make_logs_tells_one_image_s_story_from_every_function(stack):
    created = stack.upload(phone_jpeg(640, 480), "storied.jpg", "image/jpeg")
    other = stack.upload(phone_jpeg(320, 240), "another.jpg", "image/jpeg")
    assert stack.wait_final(created["id"])["status"] == "processed"
    stack.wait_final(other["id"])

    deadline = time.monotonic() + 30  # the event follows the record's write, through the table's stream
    while True:
        lines = story(stack, created["id"])
        functions = [function for _, function, _ in lines]
        if "events" in functions:
            break
        assert time.monotonic() < deadline, functions
        time.sleep(0.5)
    assert "api" in functions and "processor" in functions
    assert functions.index("api") < functions.index("processor")  # the upload form before its processing
    assert [when for when, _, _ in lines] == sorted(when for when, _, _ in lines)
    assert all(created["id"] in json.dumps(message) for _, _, message in lines)  # each names the image
    # Its lines about the image (the upload form, the processing) carry its id and one correlation id;
    # the API's access lines of later reads name it in their path.
    about = [m for _, _, m in lines if m.get("image_id") == created["id"]]
    assert {f for f, (_, _, m) in zip(functions, lines, strict=True) if m in about} == {"api", "processor", "events"}
    correlations = {m.get(CORRELATION_KEY) for m in about}
    assert len(correlations) == 1 and None not in correlations  # one upload, one id, in every function
    structured = [message for _, _, message in lines if "level" in message]
    assert not any(other["id"] in json.dumps(message) for _, _, message in lines)
    assert any(m.get("message") == "image processed" for m in structured)
