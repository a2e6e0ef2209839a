"""docker-compose.yml: what `make up BACKEND=localstack` relies on. (No Docker engine runs
here; the GitHub workflow runs the suite on LocalStack for real.)"""

from __future__ import annotations

import yaml

from bootstrap.deploy.bus import SERVICES_BEYOND_CLIENTS
from bootstrap.deploy.executor import NOT_ON_LOCALSTACK
from bootstrap.deploy.executor import SERVICES as DEPLOY_SERVICES
from bootstrap.package import ROOT

COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_localstack_is_pinned_overridable_and_local_only():
    localstack = COMPOSE["services"]["localstack"]
    assert localstack["image"] == "${LOCALSTACK_IMAGE:-localstack/localstack:4.14.0}"
    assert localstack["ports"] == ["127.0.0.1:4566:4566"]
    assert localstack["environment"]["LOCALSTACK_AUTH_TOKEN"] == "${LOCALSTACK_AUTH_TOKEN:-}"
    assert "/var/run/docker.sock:/var/run/docker.sock" in localstack["volumes"]
    assert localstack["environment"]["LAMBDA_DOCKER_NETWORK"] == COMPOSE["networks"]["imagepipe"]["name"]
    assert "_localstack/health" in " ".join(localstack["healthcheck"]["test"])
    # Every service deploy calls (the user pool included: every API route is behind it), but
    # CloudFront, which deploy uses on AWS only, and API Gateway v2 (the live status: LocalStack
    # Pro's; not made on this target, the page polls).
    services = set(localstack["environment"]["SERVICES"].split(","))
    assert set(DEPLOY_SERVICES.values()) - set(NOT_ON_LOCALSTACK) <= services
    assert set(SERVICES_BEYOND_CLIENTS) <= services  # the table's stream, read by the events function


def test_devserver_waits_for_a_healthy_localstack():
    devserver = COMPOSE["services"]["devserver"]
    assert devserver["depends_on"]["localstack"]["condition"] == "service_healthy"
    assert devserver["ports"] == ["127.0.0.1:8080:8080"]
    assert (ROOT / devserver["build"]["dockerfile"]).is_file()
