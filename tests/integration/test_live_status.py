"""Stories of the live status (docs/events.md#live-status): a person's open page is told over the
stack's WebSocket API the moment one of their photos is processed, and never of anyone else's; a
handshake without a valid ID token of the pool is refused; a connection that went away without
saying so is forgotten the first time a message to it meets API Gateway's GoneException."""

from __future__ import annotations

import base64
import contextlib
import json
import time
import uuid
from urllib.parse import urlencode

import pytest
import requests
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from handlers.image_events import PROCESSED
from tests.images import phone_jpeg

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def live(stack):
    stack.embedded_only("LocalStack's WebSocket APIs need Pro: docs/targets.md")
    assert stack.outputs["eventsUrl"] == stack.outputs["siteConfig"]["eventsUrl"]
    return stack


def person(stack, name: str, admin: bool = False) -> requests.Session:
    return stack.session_for(f"{name}-{uuid.uuid4().hex[:8]}@example.com", admin=admin)


def token_of(session: requests.Session) -> str:
    return session.headers["Authorization"]


def open_socket(stack, token: str | None, **query: str):
    params = ({"token": token} if token is not None else {}) | query
    return connect(f"{stack.outputs['eventsUrl']}?{urlencode(params)}", open_timeout=30)


def upload_as(stack, session: requests.Session, name: str) -> str:
    data = phone_jpeg(320, 240)
    created = session.post(
        f"{stack.api}/uploads", json={"filename": name, "contentType": "image/jpeg", "size": len(data)}
    )
    assert created.status_code == 201, created.text
    assert stack.post_file(created.json()["upload"], data, "image/jpeg").status_code in (200, 201, 204)
    return created.json()["id"]


def heard(socket, until, seconds: float = 60) -> list[dict]:
    """The messages the socket receives until `until(messages)` holds."""
    messages: list[dict] = []
    deadline = time.monotonic() + seconds
    while not until(messages):
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError(f"after {seconds} s the socket heard {messages}")
        with contextlib.suppress(TimeoutError):
            messages.append(json.loads(socket.recv(timeout=min(left, 1))))
    return messages


def processed(image_id: str):
    return lambda messages: any(m["imageId"] == image_id and m["event"] == PROCESSED for m in messages)


def refusal(stack, token: str | None, **query: str) -> int:
    with pytest.raises(InvalidStatus) as refused, open_socket(stack, token, **query):
        pass
    return refused.value.response.status_code


def test_a_person_hears_of_their_own_photo_and_of_no_one_else_s(live):
    alice, bob = person(live, "alice"), person(live, "bob")
    with open_socket(live, token_of(alice)) as alice_socket, open_socket(live, token_of(bob)) as bob_socket:
        alices = upload_as(live, alice, "alice.jpg")
        bobs = upload_as(live, bob, "bob.jpg")
        to_alice = heard(alice_socket, processed(alices))
        to_bob = heard(bob_socket, processed(bobs))
        # Each socket got its own person's events, none of the other's (each heard theirs processed,
        # so the other's had been sent by then: both are one rule's targets of one stream).
        assert {m["imageId"] for m in to_alice} == {alices}
        assert {m["imageId"] for m in to_bob} == {bobs}
        (told,) = [m for m in to_alice if m["event"] == PROCESSED]
        assert told["status"] == "processed" and set(told) == {
            "type",
            "event",
            "eventId",
            "imageId",
            "status",
            "occurredAt",
        }  # nothing about the person, no URL: the page asks the API for the record
        assert live.image(alices, alice)["status"] == "processed"


def test_an_admin_watching_everyone_hears_of_another_person_s_photo(live):
    admin, carol = person(live, "admin", admin=True), person(live, "carol")
    with open_socket(live, token_of(admin), scope="all") as watching:
        carols = upload_as(live, carol, "carol.jpg")
        heard(watching, processed(carols))
    # Asking for everyone is an admin's right only: the pool is asked, the token's groups are not read.
    assert refusal(live, token_of(carol), scope="all") == 403


def test_a_handshake_without_a_valid_token_is_refused(live):
    dave = person(live, "dave")
    token = token_of(dave)
    assert refusal(live, None) == 401  # no identity source: API Gateway refuses before the authorizer
    assert refusal(live, "not-a-token") == 403
    head, body, signature = token.split(".")
    forged = f"{head}.{body}.{signature[:-4]}AAAA"  # the pool's claims, another signature
    assert refusal(live, forged) == 403
    password = live.create_user(email := f"eve-{uuid.uuid4().hex[:8]}@example.com")
    access = live.cognito().initiate_auth(
        ClientId=live.outputs["userPoolClientId"],
        AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": email, "PASSWORD": password},
    )["AuthenticationResult"]["AccessToken"]
    assert refusal(live, access) == 403  # signed by the pool, but not an ID token
    with open_socket(live, token):  # the same person's own ID token opens one
        pass
    # The live function said why it refused, and logged none of the tokens.
    group = f"/aws/lambda/{live.outputs['functions']['live']}"
    pages = live.logs().get_paginator("filter_log_events").paginate(logGroupName=group)
    lines = [e["message"] for page in pages for e in page["events"]]
    assert any("live connection refused" in line for line in lines)
    secrets = (token, forged, access, token.split(".")[2], access.split(".")[2])
    assert not [line for line in lines if any(secret in line for secret in secrets)]


def connections_of(stack, owner: str) -> set[str]:
    items = stack.dynamodb().query(
        TableName=stack.outputs["connectionsTable"],
        KeyConditionExpression="#o = :o",
        ExpressionAttributeNames={"#o": "owner"},
        ExpressionAttributeValues={":o": {"S": owner}},
        ConsistentRead=True,
    )["Items"]
    return {i["connectionId"]["S"] for i in items}


def sub_of(stack, session: requests.Session) -> str:
    body = token_of(session).split(".")[1]
    return json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))["sub"]


def wait_for(condition, seconds: float = 30):
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not so after {seconds} s")
        time.sleep(0.2)


def test_a_connection_that_went_away_is_forgotten(live):
    frank = person(live, "frank")
    owner = sub_of(live, frank)
    # A connection closed as it should is forgotten by $disconnect.
    with open_socket(live, token_of(frank)):
        wait_for(lambda: len(connections_of(live, owner)) == 1)
    wait_for(lambda: connections_of(live, owner) == set())
    # One that went away unsaid (a dropped network: API Gateway's $disconnect is best effort) is
    # still in the table, until the first message to it meets GoneException.
    stale = "gone" + uuid.uuid4().hex[:12]
    item = {"owner": {"S": owner}, "connectionId": {"S": stale}, "expiresAt": {"N": str(int(time.time()) + 3600)}}
    live.dynamodb().put_item(TableName=live.outputs["connectionsTable"], Item=item)
    with open_socket(live, token_of(frank)) as socket:
        wait_for(lambda: len(connections_of(live, owner)) == 2)
        image = upload_as(live, frank, "frank.jpg")
        heard(socket, processed(image))  # the open one is still told
    wait_for(lambda: stale not in connections_of(live, owner))


def test_a_person_s_open_connections_are_bounded(live):
    grace = person(live, "grace")
    token = token_of(grace)
    with live.function_env("live", LIVE_CONNECTIONS_PER_PERSON="2"):
        with open_socket(live, token), open_socket(live, token):
            assert refusal(live, token) == 403  # the function said 429; the emulator refuses any non-2xx with 403
        wait_for(lambda: connections_of(live, sub_of(live, grace)) == set())
        with open_socket(live, token):  # closed ones no longer count
            pass
