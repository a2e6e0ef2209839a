"""User story: with Docker, the same stack runs on LocalStack (testcontainers), pinned to
localstack/localstack:4.14.0. Without a Docker engine this is skipped, with the reason."""

from __future__ import annotations

import pytest

from tests.images import phone_jpeg
from tests.stack import localstack_stack

pytestmark = pytest.mark.integration


def test_upload_is_processed_on_localstack(tmp_path):
    with localstack_stack(tmp_path) as stack:
        created = stack.upload(phone_jpeg(800, 600), "localstack.jpg", "image/jpeg")
        assert created["upload"]["url"].startswith(stack.endpoint)  # reachable from the host, not a container name
        image = stack.wait_final(created["id"], 180)
        assert image["status"] == "processed", image
        assert (image["width"], image["height"]) == (600, 800)
