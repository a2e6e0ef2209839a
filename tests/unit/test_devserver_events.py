"""devserver/apigw.py: the local API's events have API Gateway's shape (tests/events/
apigw_rest_proxy.json, as AWS documents it), so the handler sees the same event locally and
behind API Gateway, and the unit tests' events (tests/unit/conftest.rest_event) are the same
shape too."""

from __future__ import annotations

from flask import Flask

from devserver.apigw import to_proxy_event
from tests.events import load_event
from tests.unit.conftest import ALICE, rest_event


def shape(value):
    """The keys of an event, all the way down; values only by whether they are set."""
    if isinstance(value, dict):
        return {k: shape(v) for k, v in value.items()}
    return value is not None


def test_the_devserver_and_the_unit_tests_build_api_gateway_s_event():
    aws = load_event("apigw_rest_proxy")
    with Flask(__name__).test_request_context(
        "/images?limit=2", method="GET", headers={"Authorization": "token"}
    ) as context:
        local = to_proxy_event(context.request, "/images", claims=ALICE)
    ours = rest_event("GET", "/images", query={"limit": "2"}, headers={"Authorization": "token"})
    for built in (local, ours):
        # Every field the handler (Powertools' APIGatewayProxyEvent) reads is there, and nothing
        # API Gateway would not send.
        assert set(built) == set(aws), set(built) ^ set(aws)
        assert set(built["requestContext"]) <= set(aws["requestContext"])
        for field in ("resourcePath", "httpMethod", "path", "stage", "requestId", "identity", "authorizer"):
            assert field in built["requestContext"], field
        assert built["queryStringParameters"] == {"limit": "2"}
        assert built["multiValueQueryStringParameters"] == {"limit": ["2"]}
        assert built["requestContext"]["authorizer"]["claims"]["sub"] == ALICE["sub"]
        assert built["requestContext"]["path"] == "/v1/images"
    assert shape(local["requestContext"]["identity"]).keys() <= shape(aws["requestContext"]["identity"]).keys()
