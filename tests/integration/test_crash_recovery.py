"""User story: my laptop crashes (or the emulator is killed) while the stack runs; the next
`make up` brings every photo back, processed or failed as it was, with its renditions and
its owner, and finishes the one that was still waiting.

MiniStack saves its state only on a clean stop; S3 objects are written at once. So a SIGKILL
loses every record made since the last clean start, and `make up` rebuilds them from S3 (the
files' metadata and the processor's manifests) with `python -m bootstrap reconcile`.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from types import SimpleNamespace

import pytest
import requests

from bootstrap.deploy.identity import create_user
from bootstrap.local import free_port, stack_credentials
from bootstrap.package import ROOT
from tests.images import encode, phone_jpeg, photo
from tests.stack import local_client

pytestmark = pytest.mark.integration


class LocalStack:
    """`make up` / `make down` on a state folder and ports of its own."""

    def __init__(self, state):
        self.state = state
        self.port = free_port()
        self.env = {
            **os.environ,
            "IMAGEPIPE_STATE_DIR": str(state),
            "EMULATOR_PORT": str(self.port),
            "DEVSERVER_PORT": str(free_port()),
            "BACKEND": "embedded",
            "API": "",
        }
        self.endpoint = f"http://127.0.0.1:{self.port}"

    def run(self, command: str) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "bootstrap.local", command],
            env=self.env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout + done.stderr

    @property
    def outputs(self) -> dict:
        return json.loads((self.state / "outputs.json").read_text())

    def client(self, service: str):
        return local_client(service, self.endpoint, stack_credentials(self.state))

    def session(self, email: str, password: str) -> requests.Session:
        token = self.client("cognito-idp").initiate_auth(
            ClientId=self.outputs["userPoolClientId"],
            AuthFlow="USER_PASSWORD_AUTH",
            AuthParameters={"USERNAME": email, "PASSWORD": password},
        )["AuthenticationResult"]["IdToken"]
        session = requests.Session()
        session.headers["Authorization"] = token
        return session


def upload(stack: LocalStack, session, data: bytes, name: str) -> str:
    created = session.post(
        f"{stack.outputs['apiUrl']}/uploads", json={"filename": name, "contentType": "image/jpeg", "size": len(data)}
    ).json()
    posted = requests.post(
        created["upload"]["url"], data=created["upload"]["fields"], files={"file": (name, data, "image/jpeg")}
    )
    assert posted.status_code in (200, 204), posted.text
    return created["id"]


def wait_for(session, url: str, done, seconds: float = 90) -> dict:
    deadline = time.monotonic() + seconds
    while True:
        image = session.get(url).json()
        if done(image):
            return image
        assert time.monotonic() < deadline, image
        time.sleep(0.5)


def test_every_image_comes_back_after_the_emulator_is_killed(tmp_path):
    stack = LocalStack(tmp_path)
    try:
        stack.run("up")
        password = "a-long-enough-password"
        create_user(
            SimpleNamespace(cognito=stack.client("cognito-idp")),
            stack.outputs["userPoolId"],
            "owner@example.com",
            password,
        )
        stack.run("down")  # a clean stop: the pool and its user are saved
        stack.run("up")
        alice = stack.session("owner@example.com", password)
        api = stack.outputs["apiUrl"]
        final = lambda image: image["status"] in ("processed", "failed")  # noqa: E731
        processed = upload(stack, alice, phone_jpeg(800, 600), "kept.jpg")
        failed = upload(stack, alice, b"not a photo at all" * 10, "notes.jpg")
        before = {i: wait_for(alice, f"{api}/images/{i}", final) for i in (processed, failed)}
        s3, bucket = stack.client("s3"), stack.outputs["uploadBucket"]
        saved = s3.get_bucket_notification_configuration(Bucket=bucket)
        saved.pop("ResponseMetadata", None)
        s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration={})
        waiting = upload(stack, alice, encode(photo(640, 480), "JPEG"), "waiting.jpg")  # its event lost
        s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration=saved)

        os.killpg(int((tmp_path / "emulator.pid").read_text()), signal.SIGKILL)  # a crash: nothing saved
        time.sleep(1)
        said = stack.run("up")
        assert "did not stop cleanly" in said and "reconcile:" in said, said

        alice = stack.session("owner@example.com", password)  # the same person, saved by the clean stop
        api = stack.outputs["apiUrl"]
        for image_id, was in before.items():
            now = alice.get(f"{api}/images/{image_id}").json()
            assert (now["status"], now["owner"], now["filename"], now["width"], now["height"], now["error"]) == (
                was["status"],
                was["owner"],
                was["filename"],
                was["width"],
                was["height"],
                was["error"],
            )
            assert {n: r["bytes"] for n, r in now["renditions"].items()} == {
                n: r["bytes"] for n, r in was["renditions"].items()
            }
            for rendition in now["renditions"].values():
                assert requests.get(rendition["url"]).status_code == 200
        finished = wait_for(alice, f"{api}/images/{waiting}", final)
        assert finished["status"] == "processed" and finished["owner"] == "owner@example.com"
        listed = [i["id"] for i in alice.get(f"{api}/images").json()["items"]]
        assert sorted(listed) == sorted([processed, failed, waiting])
        # Once more: nothing left to rebuild.
        again = subprocess.run(
            [sys.executable, "-m", "bootstrap", "reconcile", "--target", "embedded"],
            env={**stack.env, "AWS_ENDPOINT_URL": stack.endpoint},
            cwd=ROOT,
            capture_output=True,
            text=True,
        )
        assert "reconcile: 3 kept" in again.stdout + again.stderr, again.stdout + again.stderr
    finally:
        stack.run("down")
