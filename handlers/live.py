"""Live status (docs/events.md#live-status): what the page's WebSocket is told of an image event,
who is told it, and the connections table's items. Pure: no AWS, no clock; the live function
(`handlers.live_lambda`) reads and writes by it.

A person's connections are told of their own images only; an admin's connection that asked for
everyone (`scope=all` on the handshake, checked against the pool) of every image. A message
carries the image's id, what happened and its status, nothing about its owner: the page asks
the API for the record, as it does when it polls, and the API applies its own rules.
"""

from __future__ import annotations

from typing import Any

from handlers.config import LIVE_CONNECTION_SECONDS
from handlers.image_events import FAILED
from handlers.schema import CONNECTIONS_KEY, EVERYONE, TTL_ATTRIBUTE

OWNER, CONNECTION = CONNECTIONS_KEY
EVERYONE_ATTRIBUTE = "everyone"  # on an owner's item: the connection has an item under EVERYONE too
MESSAGE_TYPE = "image"


def message(detail_type: str, detail: dict[str, Any]) -> dict[str, Any]:
    """What an open page is sent for an image event (the event's detail, docs/events.md)."""
    said = {
        "type": MESSAGE_TYPE,
        "event": detail_type,
        "eventId": detail["eventId"],
        "imageId": detail["imageId"],
        "status": detail["status"],
        "occurredAt": detail["occurredAt"],
    }
    if detail_type == FAILED:
        said["errorCode"] = detail.get("errorCode")
    return said


def partitions_told(detail: dict[str, Any]) -> tuple[str, ...]:
    """The connections table's partitions whose connections are told of this event: its owner's
    and the admins' who watch everyone (a file put straight into the bucket has no owner)."""
    owner = detail.get("owner")
    return (owner, EVERYONE) if owner and owner != EVERYONE else (EVERYONE,)


def expires_at(connected_at: int) -> int:
    """Epoch seconds after which no connection opened at `connected_at` can still be open."""
    return connected_at + LIVE_CONNECTION_SECONDS + 60


def connection_items(owner: str, connection_id: str, everyone: bool, connected_at: int) -> list[dict[str, Any]]:
    """The items of one open connection: under its owner, and under EVERYONE if it watches everyone."""
    item = {OWNER: owner, CONNECTION: connection_id, TTL_ATTRIBUTE: expires_at(connected_at)}
    if not everyone:
        return [item]
    watching = {OWNER: EVERYONE, CONNECTION: connection_id, "watcher": owner, TTL_ATTRIBUTE: item[TTL_ATTRIBUTE]}
    return [item | {EVERYONE_ATTRIBUTE: True}, watching]


def authorizer_answer(method_arn: str, owner: str | None, everyone: bool = False) -> dict[str, Any]:
    """The $connect REQUEST authorizer's answer: Allow with the owner in the context (API Gateway
    hands it to every route of the connection), or Deny (the handshake is refused with a 403)."""
    statement = {"Action": "execute-api:Invoke", "Effect": "Allow" if owner else "Deny", "Resource": method_arn}
    answer: dict[str, Any] = {
        "principalId": owner or "refused",
        "policyDocument": {"Version": "2012-10-17", "Statement": [statement]},
    }
    if owner:
        answer["context"] = {OWNER: owner, EVERYONE_ATTRIBUTE: "true" if everyone else "false"}
    return answer
