"""User story: whatever an attacker uploads, my own photos still get processed, and the
bad file ends `failed` with a typed reason: never a crash, never stuck, never a jam.

Crafted files (tests/hostile.py) go through the deployed stack: API, presigned POST, S3
notification, processor Lambda with its real timeout, retries and dead-letter queue.
"""

from __future__ import annotations

import contextlib
import time

import pytest

from tests import hostile
from tests.images import phone_jpeg
from tests.integration.test_nothing_lost import dead_letters, invoke, notifications_paused

pytestmark = pytest.mark.integration


@pytest.mark.parametrize(
    "name, make, content_type, code",
    [
        ("tiny-huge.webp", lambda: hostile.lossless_webp(9000, 9000), "image/webp", "too_much_memory"),
        (
            "many-scans.jpg",
            lambda: hostile.progressive_jpeg_with_repeated_scans(2000, 1500, 500),
            "image/jpeg",
            "too_complex",
        ),
        ("huge-png.png", lambda: hostile.png(11_000, 11_000, 8, 6), "image/png", "too_many_pixels"),
    ],
)
def test_a_bomb_ends_failed_with_a_typed_reason(stack, name, make, content_type, code):
    data = make()
    image = stack.wait_final(stack.upload(data, name, content_type)["id"])
    assert image["status"] == "failed" and image["error"]["code"] == code, image
    assert image["error"]["message"]


def test_a_heif_is_processed_from_its_primary_image(stack):
    """Image 0 is a large one; the primary, which a viewer shows, is 64x48."""
    data = hostile.heif_with_large_secondary((64, 48), (2400, 1800))
    image = stack.wait_final(stack.upload(data, "two-images.heic", "image/heic")["id"])
    assert image["status"] == "processed" and (image["width"], image["height"]) == (64, 48), image


@contextlib.contextmanager
def processor_configured(stack, timeout: int, **env):
    """The processor's timeout and settings changed for the duration, as an operator would."""
    lam = stack.client("lambda")
    name = stack.outputs["functions"]["processor"]
    before = lam.get_function_configuration(FunctionName=name)
    variables = before["Environment"]["Variables"]
    lam.update_function_configuration(FunctionName=name, Timeout=timeout, Environment={"Variables": variables | env})
    lam.get_waiter("function_updated_v2").wait(FunctionName=name)
    try:
        yield
    finally:
        lam.update_function_configuration(
            FunctionName=name, Timeout=before["Timeout"], Environment={"Variables": variables}
        )
        lam.get_waiter("function_updated_v2").wait(FunctionName=name)


def test_a_file_that_keeps_killing_its_run_ends_failed_and_does_not_hide_the_others(stack):
    """A run killed by its timeout skips every `except`. With a 1 s timeout, a JPEG within limits
    that takes ~2 s is such a file: Lambda's try and two retries are killed, the event lands in
    the dead-letter queue once, and the record stays `processing`. The sweep then re-drives it
    beside a real lost upload; the claim after the last attempt fails it without decoding, and
    the lost upload is processed."""
    stack.embedded_only("MiniStack kills a function's worker at its timeout, as Lambda does")
    bomb = hostile.progressive_jpeg_with_repeated_scans(10_000, 10_000, 90)  # 100 scans: the limit
    with processor_configured(stack, timeout=1, STUCK_AFTER_SECONDS="1"):
        killer = stack.upload(bomb, "slow.jpg", "image/jpeg")["id"]
        deadline = time.monotonic() + 90
        while f"uploads/{killer}" not in dead_letters(stack):
            assert time.monotonic() < deadline, stack.image(killer)
            time.sleep(1)
        assert stack.image(killer)["status"] == "processing"  # killed: no except ran
        with notifications_paused(stack):  # an upload whose event is lost
            lost = stack.upload(phone_jpeg(640, 480), "lost.jpg", "image/jpeg")["id"]
        assert stack.image(lost)["status"] == "pending"
        time.sleep(1.5)  # both older than STUCK_AFTER_SECONDS
        swept = invoke(stack, {"action": "sweep"})
        assert swept[killer] == swept[lost] == "redriven", swept
        failed = stack.wait_final(killer, 30)
        assert failed["status"] == "failed" and failed["error"]["code"] == "processing_budget_exceeded", failed
        assert stack.wait_final(lost, 30)["status"] == "processed"
    assert dead_letters(stack).count(f"uploads/{killer}") == 1  # once, not once per sweep
