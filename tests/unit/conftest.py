"""In-process AWS (moto) for fast unit tests of the handlers; the table is made by bootstrap's
own ensure_table so the schema under test is the deployed one."""

from __future__ import annotations

import dataclasses
import json
import socket
import subprocess
import time

import boto3
import pytest
from botocore.stub import ANY, Stubber
from moto import mock_aws

from bootstrap.deploy.config import StackConfig
from bootstrap.deploy.executor import Aws
from bootstrap.deploy.storage import ensure_bucket, ensure_table, ensure_upload_versioning
from handlers.clients import make_clients
from handlers.config import Settings
from handlers.identity import ADMINS_GROUP, ID_TOKEN_MINUTES, issuer_of
from tests.events import load_event

SITE = "http://127.0.0.1:8080"


@pytest.fixture(autouse=True)
def in_this_interpreter_and_offline(monkeypatch):
    """The unit tier starts no process and opens no connection (moto answers AWS in process): a
    test that needs either belongs in tests/integration."""

    def refuse(*args, **kwargs):
        raise AssertionError("a unit test started a process or opened a connection: it belongs in tests/integration")

    monkeypatch.setattr(subprocess.Popen, "__init__", refuse)
    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


@pytest.fixture
def moto(monkeypatch):
    """An empty AWS account in this process (moto), whatever the environment points at."""
    for name, value in {
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        yield


@pytest.fixture
def aws_env(moto):
    """The stack's buckets and table as deploy makes them, and a user pool, in moto's account."""
    cfg = StackConfig(target="aws", region="us-east-1", endpoint_url=None)
    aws = Aws(cfg)
    ensure_bucket(aws, cfg, cfg.upload_bucket)
    ensure_bucket(aws, cfg, cfg.processed_bucket)
    ensure_upload_versioning(aws, cfg)  # as deploy makes it, on every target
    ensure_table(aws, cfg)
    pool_id, client_id = user_pool(aws.cognito)
    settings = Settings(
        upload_bucket=cfg.upload_bucket,
        processed_bucket=cfg.processed_bucket,
        table_name=cfg.table,
        similar_table=cfg.similar_table,
        allowed_origins=(SITE,),
        user_pool_id=pool_id,
        user_pool_client_id=client_id,
    )
    yield settings, make_clients(settings, with_cognito=True)


def user_pool(cognito) -> tuple[str, str]:
    """(pool id, app client id) of a user pool holding ALICE, BOB and ADMIN (in `admins`), each
    with their sub as username, as Cognito makes them when email is the username attribute."""
    pool_id = cognito.create_user_pool(PoolName="imagepipe-users")["UserPool"]["Id"]
    client_id = cognito.create_user_pool_client(UserPoolId=pool_id, ClientName="imagepipe-web")["UserPoolClient"][
        "ClientId"
    ]
    cognito.create_group(UserPoolId=pool_id, GroupName=ADMINS_GROUP)
    for person in (ALICE, BOB, ADMIN):
        cognito.admin_create_user(
            UserPoolId=pool_id, Username=person["sub"], UserAttributes=[{"Name": "email", "Value": person["email"]}]
        )
    cognito.admin_add_user_to_group(UserPoolId=pool_id, Username=ADMIN["sub"], GroupName=ADMINS_GROUP)
    return pool_id, client_id


def processor_invocations(clients):
    """The clients with a Lambda client answered by botocore's Stubber, for what re-drives events
    to the processor (the sweep, reconcile); and the events it was asked to invoke
    asynchronously, in order (any other invocation fails the call)."""
    lambda_ = boto3.client("lambda", region_name="us-east-1")
    stubber = Stubber(lambda_)
    for _ in range(10):
        stubber.add_response(
            "invoke",
            {"StatusCode": 202},
            {"FunctionName": "imagepipe-processor", "InvocationType": "Event", "Payload": ANY},
        )
    stubber.activate()
    sent: list[dict] = []
    lambda_.meta.events.register(
        "provide-client-params.lambda.Invoke", lambda params, **_: sent.append(json.loads(params["Payload"]))
    )
    return dataclasses.replace(clients, lambda_=lambda_), sent


ALICE = {"sub": "a1a1a1a1-0000-4000-8000-000000000001", "email": "alice@example.com"}
BOB = {"sub": "b2b2b2b2-0000-4000-8000-000000000002", "email": "bob@example.com"}
ADMIN = {"sub": "ad00ad00-0000-4000-8000-000000000003", "email": "mod@example.com"}  # in `admins` in user_pool()


def id_token_claims(person: dict, settings: Settings, now: float | None = None, **changes) -> dict:
    """The claims of `person`'s ID token for this stack's pool and app client, as strings, the way
    API Gateway's Cognito authorizer passes them on; `changes` replace or add claims."""
    issued = int(time.time() if now is None else now)
    claims = {
        "sub": person["sub"],
        "cognito:username": person["sub"],
        "email": person["email"],
        "token_use": "id",
        "iss": issuer_of(settings.region, settings.user_pool_id),
        "aud": settings.user_pool_client_id,
        "iat": issued,
        "auth_time": issued,
        "exp": issued + ID_TOKEN_MINUTES * 60,
    }
    return {k: str(v) for k, v in (claims | changes).items() if v is not None}


def rest_event(
    method: str,
    path: str,
    body=None,
    query: dict | None = None,
    headers: dict | None = None,
    claims: dict | None = ALICE,
) -> dict:
    """An API Gateway REST proxy event, as the {proxy+} resource delivers it (tests/events/
    apigw_rest_proxy.json, filled in); `claims` are what its Cognito authorizer verified
    (strings, as API Gateway passes them)."""
    event = load_event("apigw_rest_proxy")
    context = event["requestContext"]
    event |= {
        "path": path,
        "httpMethod": method,
        "headers": headers or {},
        "multiValueHeaders": {k: [v] for k, v in (headers or {}).items()},
        "queryStringParameters": query,
        "multiValueQueryStringParameters": {k: [v] for k, v in query.items()} if query else None,
        "pathParameters": {"proxy": path.lstrip("/")},
        "body": body if body is None or isinstance(body, str) else json.dumps(body),
    }
    context |= {
        "httpMethod": method,
        "path": f"/{context['stage']}{path}",
        "authorizer": {"claims": claims} if claims else None,
    }
    return event
