"""The deployed stack, for the whole test session (fixture `stack`).

BACKEND=embedded | localstack | auto (default auto; the same name and choice as `make up`): LocalStack in a
testcontainers LocalStackContainer (pinned like docker-compose.yml, with the Docker socket)
when a Docker engine answers, else the embedded emulator: a MiniStack of its own on a free
port with its state in a temp folder. Either way the real bootstrap deploys the stack, and
nothing here touches a `make up` stack on 4566. The same integration tests run on both;
the few that need the embedded emulator's own features say so and skip on LocalStack.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import boto3
import pytest
import requests
from botocore.config import Config

from bootstrap.deploy.bus import SERVICES_BEYOND_CLIENTS
from bootstrap.deploy.executor import NOT_ON_LOCALSTACK
from bootstrap.deploy.executor import SERVICES as DEPLOY_SERVICES
from bootstrap.local import (
    EMULATOR_PYTHON,
    choose_backend,
    deploy_into,
    docker_engine_answers,
    free_port,
    stack_credentials,
    start_emulator,
    stop_emulator,
)
from bootstrap.package import ROOT
from tests.prereq import need

FINAL = ("processed", "failed")


def local_client(service: str, endpoint: str, credentials: tuple[str, str]):
    """A boto3 client for a local emulator, signed with these credentials (a stack's own:
    `stack.client(service)`), path-style S3."""
    key, secret = credentials
    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id=key,
        aws_secret_access_key=secret,
        config=Config(s3={"addressing_style": "path"}),
    )


@dataclass
class Stack:
    outputs: dict
    endpoint: str
    site_url: str
    state: Path
    http: requests.Session
    proc: subprocess.Popen | None
    port: int
    backend: str = "embedded"

    @property
    def credentials(self) -> tuple[str, str]:
        """What bootstrap signs this stack's calls with: the embedded emulator's own root key, kept
        in the state dir (refused to anyone else); LocalStack takes any key."""
        return stack_credentials(self.state) if self.backend == "embedded" else ("test", "test")

    def client(self, service: str):
        """A boto3 client of this stack, signed with its own credentials."""
        return local_client(service, self.endpoint, self.credentials)

    @contextlib.contextmanager
    def function_env(self, role: str, **overrides):
        """Change a deployed function's settings for the duration, as an operator would."""
        lam = self.client("lambda")
        name = self.outputs["functions"][role]
        before = lam.get_function_configuration(FunctionName=name)["Environment"]["Variables"]
        lam.update_function_configuration(FunctionName=name, Environment={"Variables": before | overrides})
        lam.get_waiter("function_updated_v2").wait(FunctionName=name)
        try:
            yield
        finally:
            lam.update_function_configuration(FunctionName=name, Environment={"Variables": before})
            lam.get_waiter("function_updated_v2").wait(FunctionName=name)

    def cognito(self):
        return self.client("cognito-idp")

    def create_user(self, email: str, admin: bool = False) -> str:
        """A confirmed user, made as `make user` makes one; returns the password."""
        from types import SimpleNamespace

        from bootstrap.deploy.identity import create_user

        password = f"pw-{email}-{time.monotonic_ns()}"
        create_user(SimpleNamespace(cognito=self.cognito()), self.outputs["userPoolId"], email, password, admin=admin)
        return password

    def sign_in(self, email: str, password: str) -> str:
        """The ID token the page would get (USER_PASSWORD_AUTH)."""
        result = self.cognito().initiate_auth(
            ClientId=self.outputs["userPoolClientId"],
            AuthFlow="USER_PASSWORD_AUTH",
            AuthParameters={"USERNAME": email, "PASSWORD": password},
        )
        return result["AuthenticationResult"]["IdToken"]

    def session_for(self, email: str, admin: bool = False) -> requests.Session:
        """An HTTP session signed in as a new user with this email."""
        session = requests.Session()
        session.headers["Authorization"] = self.sign_in(email, self.create_user(email, admin=admin))
        return session

    @functools.cached_property
    def admin(self) -> requests.Session:
        """Signed in as a member of `admins`: sees every image, files put straight into the bucket too."""
        return self.session_for("moderator@example.com", admin=True)

    def embedded_only(self, why: str) -> None:
        if self.backend != "embedded":
            pytest.skip(f"needs the embedded emulator ({why}); this run uses {self.backend}")

    @property
    def api(self) -> str:
        return self.outputs["apiUrl"]

    def s3(self):
        return self.client("s3")

    def logs(self):
        return self.client("logs")

    def dynamodb(self):
        return self.client("dynamodb")

    def create_upload(self, filename: str, content_type: str, size: int) -> dict:
        response = self.http.post(
            f"{self.api}/uploads", json={"filename": filename, "contentType": content_type, "size": size}
        )
        assert response.status_code == 201, response.text
        return response.json()

    def post_file(self, upload: dict, data: bytes, content_type: str, filename: str = "file") -> requests.Response:
        return requests.post(upload["url"], data=upload["fields"], files={"file": (filename, data, content_type)})

    def upload(self, data: bytes, filename: str, content_type: str) -> dict:
        """The page's flow: ask the API, then POST the bytes to S3 with the presigned form."""
        created = self.create_upload(filename, content_type, len(data))
        response = self.post_file(created["upload"], data, content_type, filename)
        assert response.status_code in (200, 201, 204), response.text
        return created

    def image(self, image_id: str, session: requests.Session | None = None) -> dict:
        response = (session or self.http).get(f"{self.api}/images/{image_id}")
        assert response.status_code == 200, response.text
        return response.json()

    def run_module(self, module: str, *args: str) -> str:
        """`python -m <module> <args>` (what the make commands run) against this stack; its stdout."""
        env = {**os.environ, "IMAGEPIPE_STATE_DIR": str(self.state), "AWS_ENDPOINT_URL": self.endpoint}
        command = [sys.executable, "-m", module, *args]
        return subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True, check=True).stdout

    def queue_for(self, name: str, service: str, source_arn: str) -> tuple[str, str]:
        """A new SQS queue whose policy lets `service` send to it on behalf of `source_arn` only
        (a topic, a rule), as AUTH=true needs; its URL and ARN."""
        sqs = self.client("sqs")
        url = sqs.create_queue(QueueName=name)["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        statement = {
            "Effect": "Allow",
            "Principal": {"Service": service},
            "Action": "sqs:SendMessage",
            "Resource": arn,
            "Condition": {"ArnEquals": {"aws:SourceArn": source_arn}},
        }
        policy = json.dumps({"Version": "2012-10-17", "Statement": [statement]})
        sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": policy})
        return url, arn

    def subscribe_queue(self, topic_arn: str, name: str) -> str:
        """A new SQS queue subscribed to the topic (raw delivery: each message is what was
        published); its URL."""
        url, arn = self.queue_for(name, "sns.amazonaws.com", topic_arn)
        self.client("sns").subscribe(
            TopicArn=topic_arn, Protocol="sqs", Endpoint=arn, Attributes={"RawMessageDelivery": "true"}
        )
        return url

    def wait_final(
        self, image_id: str, seconds: float = 90, poll: float = 0.3, session: requests.Session | None = None
    ) -> dict:
        deadline = time.monotonic() + seconds
        while True:
            image = self.image(image_id, session)
            if image["status"] in FINAL:
                return image
            if time.monotonic() > deadline:
                raise AssertionError(f"{image_id} still {image['status']} after {seconds} s: {image}")
            time.sleep(poll)


@contextlib.contextmanager
def deploy_stack(state: Path, extra_env: dict | None = None):
    """A fresh emulator on a free port, the stack deployed into it by bootstrap."""
    need(EMULATOR_PYTHON.exists(), f"the emulator virtualenv is missing ({EMULATOR_PYTHON}); run `make emulator-venv`")
    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    site_url = f"http://127.0.0.1:{free_port()}"
    proc = start_emulator(port, state / "emulator", state / "logs" / "emulator.log", die_with_parent=True)
    stack = None
    try:
        # The suite's one tester uploads hundreds of files: a quota of its own size (quota tests
        # set theirs per test).
        outputs = _deploy(
            "embedded",
            state,
            {
                "AWS_ENDPOINT_URL": endpoint,
                "SITE_URL": site_url,
                "QUOTA_UPLOADS_PER_DAY": "100000",
                **(extra_env or {}),
            },
        )
        stack = Stack(outputs, endpoint, site_url, state, requests.Session(), proc, port)
        stack.http = stack.session_for("tester@example.com")  # every test's calls are signed in
        yield stack
    finally:
        stop_emulator((stack.proc if stack else proc).pid, state / "emulator")
        log = state / "logs" / "emulator.log"
        if log.exists():  # kept beside the test artifacts for post-mortems
            artifacts = ROOT / "test-artifacts"
            artifacts.mkdir(exist_ok=True)
            (artifacts / f"emulator-{state.name}.log").write_bytes(log.read_bytes())


LOCALSTACK_IMAGE = os.environ.get("LOCALSTACK_IMAGE", "localstack/localstack:4.14.0")


def _deploy(target: str, state: Path, env: dict) -> dict:
    return deploy_into(target, state, env)


@contextlib.contextmanager
def localstack_stack(state: Path):
    """LocalStack in a container (testcontainers), the stack deployed into it."""
    need(docker_engine_answers(), "no Docker engine answers, so LocalStack cannot run here", docker=True)
    from testcontainers.community.localstack import LocalStackContainer

    container = (
        LocalStackContainer(image=LOCALSTACK_IMAGE, region_name="us-east-1")
        # What deploy calls on this target (bootstrap/deploy/executor.py: not NOT_ON_LOCALSTACK), and the
        # table's stream that Lambda reads (bootstrap/deploy/bus.py).
        .with_services(*sorted(set(DEPLOY_SERVICES.values()) - set(NOT_ON_LOCALSTACK) | set(SERVICES_BEYOND_CLIENTS)))
        .with_volume_mapping("/var/run/docker.sock", "/var/run/docker.sock", "rw")
    )
    if os.environ.get("LOCALSTACK_AUTH_TOKEN"):
        container.with_env("LOCALSTACK_AUTH_TOKEN", os.environ["LOCALSTACK_AUTH_TOKEN"])
    with container:
        endpoint = container.get_url()
        site_url = f"http://127.0.0.1:{free_port()}"
        # PUBLIC_S3_ENDPOINT: presigned URLs must name the host port, not the container's address.
        outputs = _deploy(
            "localstack",
            state,
            {
                "AWS_ENDPOINT_URL": endpoint,
                "PUBLIC_S3_ENDPOINT": endpoint,
                "SITE_URL": site_url,
                "QUOTA_UPLOADS_PER_DAY": "100000",
            },
        )
        stack = Stack(
            outputs,
            endpoint,
            site_url,
            state,
            requests.Session(),
            None,
            int(endpoint.rsplit(":", 1)[1]),
            backend="localstack",
        )
        stack.http = stack.session_for("tester@example.com")
        yield stack


def resolve_backend() -> tuple[str, str]:
    """The same choice, under the same name, as `make up`: BACKEND=embedded|localstack|auto."""
    return choose_backend(os.environ.get("BACKEND", "auto"))


@pytest.fixture(scope="session")
def stack(tmp_path_factory) -> Stack:
    backend, why = resolve_backend()
    print(f"\nintegration backend: {backend} ({why})")
    state = tmp_path_factory.mktemp("stack")
    with localstack_stack(state) if backend == "localstack" else deploy_stack(state) as deployed:
        yield deployed
