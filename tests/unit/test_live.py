"""handlers/id_tokens.py, handlers/live.py and handlers/live_lambda.py: the handshake's token is
verified for real (signature, issuer, audience, use, expiry, then the API's claim rules), asking
for everyone is an admin's right as the pool says, a person's connections are bounded, and an
image event reaches its owner's connections and the admins watching everyone, nobody else, a
gone connection being forgotten."""

from __future__ import annotations

import dataclasses
import json
import time

import boto3
import jwt
import pytest
from botocore.stub import Stubber
from cryptography.hazmat.primitives.asymmetric import rsa

from bootstrap.deploy.config import StackConfig
from bootstrap.deploy.executor import Aws
from bootstrap.deploy.live import ensure_connections_table
from handlers import errors
from handlers.id_tokens import IdTokenVerifier, jwks_url
from handlers.identity import GroupDirectory, TokenRules, issuer_of
from handlers.image_events import FAILED, PROCESSED
from handlers.live import message
from handlers.live_lambda import Live
from handlers.schema import EVERYONE
from tests.unit.conftest import ADMIN, ALICE, BOB, id_token_claims

KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
OTHER_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
SECRET = "a-shared-secret-of-thirty-two-bytes!"
METHOD_ARN = "arn:aws:execute-api:us-east-1:123456789012:abcdef1234/v1/$connect"


def signed(claims: dict, key=KEY, **numbers) -> str:
    """An RS256 token of these claims (time claims as numbers, as Cognito signs them)."""
    body = {k: (int(v) if k in ("iat", "exp", "auth_time") else v) for k, v in claims.items()} | numbers
    return jwt.encode(body, key, algorithm="RS256", headers={"kid": "k1"})


@pytest.fixture
def live_env(aws_env):
    settings, clients = aws_env
    cfg = StackConfig(target="aws", region="us-east-1", endpoint_url=None)
    ensure_connections_table(Aws(cfg), cfg)
    settings = dataclasses.replace(settings, connections_table=cfg.connections_table)
    management = boto3.client("apigatewaymanagementapi", region_name="us-east-1", endpoint_url="https://x.test/v1")
    stubber = Stubber(management)
    stubber.activate()
    clients = dataclasses.replace(clients, connections=management)
    rules = TokenRules(issuer_of(settings.region, settings.user_pool_id), settings.user_pool_client_id)
    verifier = IdTokenVerifier(rules, lambda token: KEY.public_key())
    live = Live(settings, clients, verifier, GroupDirectory(clients.cognito, settings.user_pool_id))
    return live, settings, stubber


# --- the token ----------------------------------------------------------------------------------


def test_an_id_token_of_the_pool_s_app_client_names_its_person(live_env):
    live, settings, _ = live_env
    assert live.verifier.claims(signed(id_token_claims(ALICE, settings)))["sub"] == ALICE["sub"]


@pytest.mark.parametrize(
    "token_of",
    [
        lambda s: None,
        lambda s: "not-a-token",
        lambda s: signed(id_token_claims(ALICE, s), key=OTHER_KEY),  # not the pool's signature
        lambda s: signed(id_token_claims(ALICE, s, aud="another-app-client")),
        lambda s: signed(id_token_claims(ALICE, s, iss=issuer_of("us-east-1", "us-east-1_another"))),
        lambda s: signed(id_token_claims(ALICE, s, token_use="access")),
        lambda s: signed(id_token_claims(ALICE, s, now=time.time() - 7200)),  # expired
        lambda s: signed(id_token_claims(ALICE, s), exp=int(time.time()) + 86400),  # a lifetime never issued
        lambda s: signed(id_token_claims(ALICE, s, **{"cognito:username": BOB["sub"]})),  # identity rewritten
        lambda s: jwt.encode(id_token_claims(ALICE, s), SECRET, algorithm="HS256"),  # the key as a secret
    ],
)
def test_a_token_that_does_not_hold_is_refused_with_a_deny(live_env, token_of):
    live, settings, _ = live_env
    token = token_of(settings)
    with pytest.raises(errors.Unauthorized):
        live.verifier.claims(token)
    answer = live.authorize({"methodArn": METHOD_ARN, "queryStringParameters": {"token": token} if token else None})
    assert answer["policyDocument"]["Statement"][0]["Effect"] == "Deny" and "context" not in answer


def test_the_pool_s_keys_are_read_from_its_jwks():
    assert jwks_url("eu-west-1", "eu-west-1_abc", None) == (
        "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_abc/.well-known/jwks.json"
    )
    assert jwks_url("us-east-1", "us-east-1_abc", "http://127.0.0.1:4566/") == (
        "http://127.0.0.1:4566/us-east-1_abc/.well-known/jwks.json"
    )


def test_everyone_s_events_are_an_admin_s_as_the_pool_says_not_the_token(live_env):
    live, settings, _ = live_env
    asked = {"scope": "all"}
    claiming = signed(id_token_claims(ALICE, settings), **{"cognito:groups": ["admins"]})
    refused = live.authorize({"methodArn": METHOD_ARN, "queryStringParameters": {"token": claiming} | asked})
    assert refused["policyDocument"]["Statement"][0]["Effect"] == "Deny"
    admin = signed(id_token_claims(ADMIN, settings))
    allowed = live.authorize({"methodArn": METHOD_ARN, "queryStringParameters": {"token": admin} | asked})
    assert allowed["policyDocument"]["Statement"][0] == {
        "Action": "execute-api:Invoke",
        "Effect": "Allow",
        "Resource": METHOD_ARN,
    }
    assert allowed["context"] == {"owner": ADMIN["sub"], "everyone": "true"}


# --- connections --------------------------------------------------------------------------------


def connect(live, person: dict, connection_id: str, everyone: bool = False, now: int | None = None) -> dict:
    authorizer = {"owner": person["sub"], "everyone": "true" if everyone else "false", "principalId": person["sub"]}
    event = {"requestContext": {"routeKey": "$connect", "connectionId": connection_id, "authorizer": authorizer}}
    return live.connect(event, int(time.time()) if now is None else now)


def test_a_person_s_open_connections_are_bounded_and_closed_ones_do_not_count(live_env):
    live, settings, _ = live_env
    limit = settings.live_connections_per_person
    for n in range(limit):
        assert connect(live, ALICE, f"a{n}")["statusCode"] == 200
    assert connect(live, ALICE, "one-more")["statusCode"] == 429
    assert connect(live, BOB, "bob's")["statusCode"] == 200  # per person
    live.disconnect({"requestContext": {"connectionId": "a0", "authorizer": {"owner": ALICE["sub"]}}})
    assert connect(live, ALICE, "again")["statusCode"] == 200
    # Expired ones (API Gateway has closed them; DynamoDB's TTL deletes late) do not count either.
    later = int(time.time()) + 3 * 3600
    assert connect(live, ALICE, "hours-later", now=later)["statusCode"] == 200


@pytest.mark.parametrize("between", range(3))
def test_two_handshakes_at_once_for_the_last_place_admit_one(live_env, between):
    """The last place of a person's bound asked for by two handshakes at once: the second runs in
    full between two of the first's calls to DynamoDB (before its first, after its first, after
    its second). Whatever the interleaving, one is admitted and recorded, never both."""
    live, settings, _ = live_env
    limit = settings.live_connections_per_person
    for n in range(limit - 1):
        assert connect(live, ALICE, f"a{n}")["statusCode"] == 200
    answers: dict[str, int] = {}
    calls = 0

    def second_barges_in(**_):
        nonlocal calls
        calls += 1
        if calls == between + 1 and "second" not in answers:
            answers["second"] = 0  # its own calls do not barge in again
            answers["second"] = connect(live, ALICE, "second")["statusCode"]

    hooks = live.clients.dynamodb.meta.events
    hooks.register("before-call.dynamodb", second_barges_in, unique_id="second-handshake")
    try:
        answers["first"] = connect(live, ALICE, "first")["statusCode"]
    finally:
        hooks.unregister("before-call.dynamodb", unique_id="second-handshake")
    if "second" not in answers:  # `between` is after the first's last call
        answers["second"] = connect(live, ALICE, "second")["statusCode"]
    admitted = {name for name, status in answers.items() if status == 200}
    assert len(admitted) == 1 and set(answers.values()) == {200, 429}, answers
    recorded = set(live.listeners((ALICE["sub"],), int(time.time())))
    assert recorded == {f"a{n}" for n in range(limit - 1)} | admitted


def bus_event(detail_type: str, owner: str | None, image_id: str = "0" * 32) -> dict:
    detail = {
        "schemaVersion": "1",
        "eventId": "e" * 32,
        "imageId": image_id,
        "owner": owner,
        "status": "processed" if detail_type == PROCESSED else "failed",
        "createdAt": "2026-12-04T08:00:00Z",
        "occurredAt": "2026-12-04T08:00:02Z",
        "errorCode": "not_an_image",
    }
    return {"source": "imagepipe", "detail-type": detail_type, "detail": detail}


def expect_posts(stubber, connection_ids, gone=()):
    for connection_id in connection_ids:
        if connection_id in gone:
            stubber.add_client_error("post_to_connection", "GoneException", http_status_code=410, expected_params=None)
        else:
            stubber.add_response("post_to_connection", {}, None)


def test_an_event_reaches_its_owner_and_the_admins_watching_everyone_only(live_env):
    live, _, stubber = live_env
    connect(live, ALICE, "alice-tab")
    connect(live, BOB, "bob-tab")
    connect(live, ADMIN, "admin-all", everyone=True)
    connect(live, ADMIN, "admin-own")
    posted: list[tuple[str, dict]] = []
    live.clients.connections.meta.events.register(
        "provide-client-params.apigatewaymanagementapi.PostToConnection",
        lambda params, **_: posted.append((params["ConnectionId"], json.loads(params["Data"]))),
    )
    expect_posts(stubber, ["alice-tab", "admin-all"])
    assert live.tell(bus_event(PROCESSED, ALICE["sub"]), int(time.time())) == {"told": 2, "gone": 0}
    assert sorted(c for c, _ in posted) == ["admin-all", "alice-tab"]  # never bob's, nor the admin's own tab
    assert posted[0][1] == message(PROCESSED, bus_event(PROCESSED, ALICE["sub"])["detail"])
    assert "owner" not in posted[0][1]
    # The admin's own image: the watching tab is told once, the other tab too.
    posted.clear()
    expect_posts(stubber, ["admin-all", "admin-own"])
    assert live.tell(bus_event(FAILED, ADMIN["sub"]), int(time.time()))["told"] == 2
    assert sorted(c for c, _ in posted) == ["admin-all", "admin-own"] and posted[0][1]["errorCode"] == "not_an_image"
    # A file put straight into the bucket has no owner: admins watching everyone only.
    posted.clear()
    expect_posts(stubber, ["admin-all"])
    assert live.tell(bus_event(PROCESSED, None), int(time.time()))["told"] == 1
    stubber.assert_no_pending_responses()


def test_a_connection_api_gateway_says_is_gone_is_forgotten(live_env):
    live, _, stubber = live_env
    connect(live, ALICE, "still-open")
    connect(live, ALICE, "went-away")
    connect(live, ADMIN, "admin-gone", everyone=True)
    order = sorted(["still-open", "went-away"]) + ["admin-gone"]  # the owner's partition, then everyone's
    expect_posts(stubber, order, gone={"went-away", "admin-gone"})
    assert live.tell(bus_event(PROCESSED, ALICE["sub"]), int(time.time())) == {"told": 1, "gone": 2}
    assert set(live.listeners((ALICE["sub"],), int(time.time()))) == {"still-open"}
    assert live.listeners((EVERYONE, ADMIN["sub"]), int(time.time())) == {}  # both of the admin's items
