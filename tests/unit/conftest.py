"""In-process AWS (moto) for fast unit tests of the handlers; the table is made by bootstrap's
own ensure_table so the schema under test is the deployed one."""

from __future__ import annotations

import json

import pytest
from moto import mock_aws

from bootstrap.stack import Aws, StackConfig, ensure_bucket, ensure_table
from handlers.clients import make_clients
from handlers.config import Settings

SITE = "http://127.0.0.1:8080"


@pytest.fixture
def aws_env(monkeypatch):
    for name, value in {
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        cfg = StackConfig(target="aws", region="us-east-1", endpoint_url=None)
        aws = Aws(cfg)
        ensure_bucket(aws, cfg, cfg.upload_bucket)
        ensure_bucket(aws, cfg, cfg.processed_bucket)
        ensure_table(aws, cfg)
        settings = Settings(
            upload_bucket=cfg.upload_bucket,
            processed_bucket=cfg.processed_bucket,
            table_name=cfg.table,
            allowed_origins=(SITE,),
        )
        yield settings, make_clients(settings)


ALICE = {"sub": "a1a1a1a1-0000-4000-8000-000000000001", "email": "alice@example.com", "cognito:username": "alice"}
BOB = {"sub": "b2b2b2b2-0000-4000-8000-000000000002", "email": "bob@example.com", "cognito:username": "bob"}
ADMIN = {"sub": "ad00ad00-0000-4000-8000-000000000003", "email": "mod@example.com", "cognito:groups": "[admins]"}


def rest_event(
    method: str,
    path: str,
    body=None,
    query: dict | None = None,
    headers: dict | None = None,
    claims: dict | None = ALICE,
) -> dict:
    """An API Gateway REST proxy event, as the {proxy+} resource delivers it; `claims` are what
    its Cognito authorizer verified (strings, as API Gateway passes them)."""
    return {
        "resource": "/{proxy+}",
        "path": path,
        "httpMethod": method,
        "headers": headers or {},
        "multiValueHeaders": {k: [v] for k, v in (headers or {}).items()},
        "queryStringParameters": query,
        "multiValueQueryStringParameters": {k: [v] for k, v in query.items()} if query else None,
        "pathParameters": {"proxy": path.lstrip("/")},
        "stageVariables": None,
        "requestContext": {
            "resourcePath": "/{proxy+}",
            "httpMethod": method,
            "path": f"/v1{path}",
            "stage": "v1",
            "requestId": "test",
            "identity": {"sourceIp": "127.0.0.1"},
            "authorizer": {"claims": claims} if claims else None,
        },
        "body": body if body is None or isinstance(body, str) else json.dumps(body),
        "isBase64Encoded": False,
    }
