"""Developer story: I look inside the running stack with the commands LocalStack users reach
for first (`awslocal ...`), from the project's own tools (.venv-tools, `make tools`)."""

from __future__ import annotations

import functools
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bootstrap.package import ROOT
from tests.images import phone_jpeg
from tests.prereq import need

pytestmark = pytest.mark.integration
AWSLOCAL = ROOT / ".venv-tools" / "bin" / "awslocal"


@functools.cache
def exported_credentials(state: Path, backend: str) -> dict:
    """What `eval "$(make -s credentials)"` exports, as the README says to before awslocal."""
    target = "embedded" if backend == "embedded" else "localstack"
    printed = subprocess.run(
        [sys.executable, "-m", "bootstrap", "credentials", "--target", target],
        env={**os.environ, "IMAGEPIPE_STATE_DIR": str(state)},
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return dict(line.removeprefix("export ").split("=", 1) for line in printed.splitlines())


def awslocal(stack, *args: str) -> str:
    need(AWSLOCAL.exists(), f"{AWSLOCAL} is missing: run `make tools`")
    env = {
        **os.environ,
        "LOCALSTACK_HOST": f"127.0.0.1:{stack.port}",
        "AWS_DEFAULT_REGION": "us-east-1",
        **exported_credentials(stack.state, stack.backend),
    }
    env.pop("AWS_ENDPOINT_URL", None)
    done = subprocess.run([str(AWSLOCAL), *args], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_awslocal_shows_the_buckets_the_table_and_the_dead_letter_queue(stack):
    created = stack.upload(phone_jpeg(320, 240), "seen.jpg", "image/jpeg")
    assert stack.wait_final(created["id"])["status"] == "processed"
    buckets = awslocal(stack, "s3", "ls")
    assert stack.outputs["uploadBucket"] in buckets and stack.outputs["processedBucket"] in buckets
    listing = awslocal(stack, "s3", "ls", f"s3://{stack.outputs['uploadBucket']}/uploads/")
    assert any(line.split()[-1] == created["id"] for line in listing.splitlines())  # keys under the prefix
    item = json.loads(
        awslocal(
            stack,
            "dynamodb",
            "get-item",
            "--table-name",
            stack.outputs["table"],
            "--key",
            json.dumps({"id": {"S": created["id"]}}),
        )
    )["Item"]
    assert item["status"] == {"S": "processed"}
    queues = json.loads(awslocal(stack, "sqs", "list-queues"))["QueueUrls"]
    assert any(q.endswith(stack.outputs["deadLetterQueue"]) for q in queues)
