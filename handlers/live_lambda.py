"""The live function: the WebSocket API's authorizer and routes, and the target of the bus's rule
that hands it each image event (docs/events.md#live-status). One small function, four entries:

- the `$connect` REQUEST authorizer: the `token` query parameter must be an ID token of the pool
  (`handlers.id_tokens`: signature, issuer, audience, use, expiry, then the API's claim rules);
  `scope=all` asks for everyone's events, granted to members of `admins` as the pool says. Deny:
  API Gateway refuses the handshake (403). The token is never logged.
- `$connect`: the connection's items in the connections table, under the owner the authorizer
  named; one beyond a person's LIVE_CONNECTIONS_PER_PERSON is refused (429), counted after it is
  recorded so that handshakes at the same instant cannot pass the bound together.
- `$disconnect`: its items deleted. `$default`: nothing to do (the page's keepalive, which only keeps the
  connection from idling out).
- an image event from the bus: a message to each connection of its owner's and of the admins
  watching everyone; a connection API Gateway says is gone (GoneException) is deleted.
"""

from __future__ import annotations

import json
import time
from functools import lru_cache

from aws_lambda_powertools import Logger
from botocore.exceptions import ClientError

from handlers import errors
from handlers.clients import Clients, make_clients
from handlers.config import Settings
from handlers.id_tokens import IdTokenVerifier
from handlers.identity import ADMINS_GROUP, GroupDirectory
from handlers.live import (
    CONNECTION,
    EVERYONE_ATTRIBUTE,
    OWNER,
    authorizer_answer,
    connection_items,
    message,
    partitions_told,
)
from handlers.schema import EVERYONE, TTL_ATTRIBUTE

logger = Logger(service="imagepipe-live")


class Live:
    """The live function's work, on the clients, settings and token checks it is given."""

    def __init__(self, settings: Settings, clients: Clients, verifier: IdTokenVerifier, directory: GroupDirectory):
        self.settings, self.clients, self.verifier, self.directory = settings, clients, verifier, directory
        self.table = settings.connections_table

    # --- the handshake ------------------------------------------------------------------------

    def authorize(self, event: dict) -> dict:
        query = event.get("queryStringParameters") or {}
        method_arn = event.get("methodArn", "")
        try:
            sub = self.verifier.claims(query.get("token"))["sub"]
        except errors.Unauthorized as refusal:
            logger.info("live connection refused", extra={"reason": refusal.message})
            return authorizer_answer(method_arn, None)
        everyone = query.get("scope") == "all"
        if everyone and ADMINS_GROUP not in self.directory.groups(sub):
            logger.info("live connection refused: everyone's events asked by a non-admin", extra={"owner": sub})
            return authorizer_answer(method_arn, None)
        return authorizer_answer(method_arn, sub, everyone)

    def connect(self, event: dict, now: int) -> dict:
        """Recorded first, then counted: a handshake that finds more than the bound open, itself
        included, takes its own item back and is refused. Two at the same instant cannot both pass
        the bound (the one that counts last sees both); at the edge both may be refused, and the
        page tries again a moment later."""
        context = event["requestContext"]
        owner, connection_id = context["authorizer"][OWNER], context["connectionId"]
        everyone = str(context["authorizer"].get(EVERYONE_ATTRIBUTE)) == "true"
        own, *watching = connection_items(owner, connection_id, everyone, now)
        self.clients.dynamodb.put_item(
            TableName=self.table,
            Item=_typed(own),
            ConditionExpression="attribute_not_exists(#c)",  # a connection id is API Gateway's, once
            ExpressionAttributeNames={"#c": CONNECTION},
        )
        if self.open_count(owner, now) > self.settings.live_connections_per_person:
            self.forget(owner, connection_id)  # (it has no item under EVERYONE yet)
            logger.info("live connection refused: too many open", extra={"owner": owner})
            return {"statusCode": 429, "body": "too many open connections"}
        for item in watching:
            self.clients.dynamodb.put_item(TableName=self.table, Item=_typed(item))
        logger.info("live connection opened", extra={"owner": owner, "connection_id": connection_id})
        return {"statusCode": 200}

    def disconnect(self, event: dict) -> dict:
        context = event["requestContext"]
        owner = (context.get("authorizer") or {}).get(OWNER)
        if owner:
            self.forget(owner, context["connectionId"])
        return {"statusCode": 200}

    def open_count(self, owner: str, now: int) -> int:
        """The owner's connections not yet expired (DynamoDB's TTL deletes late), counted."""
        answer = self.clients.dynamodb.query(
            TableName=self.table,
            KeyConditionExpression="#o = :o",
            FilterExpression="#e > :now",
            ExpressionAttributeNames={"#o": OWNER, "#e": TTL_ATTRIBUTE},
            ExpressionAttributeValues={":o": {"S": owner}, ":now": {"N": str(now)}},
            Select="COUNT",
            ConsistentRead=True,
        )
        return answer["Count"]

    def forget(self, owner: str, connection_id: str) -> None:
        """The connection's items, whichever it has."""
        for partition in dict.fromkeys((owner, EVERYONE)):
            self.clients.dynamodb.delete_item(
                TableName=self.table, Key={OWNER: {"S": partition}, CONNECTION: {"S": connection_id}}
            )

    # --- an image event -------------------------------------------------------------------------

    def tell(self, event: dict, now: int) -> dict:
        detail_type, detail = event["detail-type"], event["detail"]
        data = json.dumps(message(detail_type, detail)).encode()
        told, gone = 0, 0
        for connection_id, owner in self.listeners(partitions_told(detail), now).items():
            try:
                self.clients.connections.post_to_connection(ConnectionId=connection_id, Data=data)
                told += 1
            except self.clients.connections.exceptions.GoneException:
                self.forget(owner, connection_id)
                gone += 1
            except ClientError as exc:  # throttled, or a connection in a bad state: the others still hear
                logger.warning("live message not sent", extra={"connection_id": connection_id, "error": str(exc)})
        logger.info("image event told", extra={"image_id": detail["imageId"], "detail_type": detail_type, "told": told})
        return {"told": told, "gone": gone}

    def listeners(self, partitions: tuple[str, ...], now: int) -> dict[str, str]:
        """connection id -> its owner, for every unexpired connection in these partitions (an admin
        watching everyone is there twice for their own images: told once)."""
        found: dict[str, str] = {}
        for partition in partitions:
            pages = self.clients.dynamodb.get_paginator("query").paginate(
                TableName=self.table,
                KeyConditionExpression="#o = :o",
                ExpressionAttributeNames={"#o": OWNER},
                ExpressionAttributeValues={":o": {"S": partition}},
            )
            for page in pages:
                for item in page["Items"]:
                    if int(item[TTL_ATTRIBUTE]["N"]) <= now:
                        continue
                    owner = item["watcher"]["S"] if partition == EVERYONE else partition
                    found.setdefault(item[CONNECTION]["S"], owner)
        return found


def _typed(item: dict) -> dict:
    """A plain item in DynamoDB's typed form (strings, integers, booleans)."""
    typed = {}
    for name, value in item.items():
        if isinstance(value, bool):
            typed[name] = {"BOOL": value}
        elif isinstance(value, int):
            typed[name] = {"N": str(value)}
        else:
            typed[name] = {"S": str(value)}
    return typed


@lru_cache(maxsize=1)
def _live() -> Live:
    settings = Settings.from_env()
    clients = make_clients(settings, with_cognito=True, with_connections=True)
    verifier = IdTokenVerifier.for_pool(
        settings.region, settings.user_pool_id, settings.user_pool_client_id, settings.endpoint_url
    )
    return Live(settings, clients, verifier, GroupDirectory(clients.cognito, settings.user_pool_id))


@logger.inject_lambda_context(clear_state=True)  # never log_event: the handshake's query holds the token
def handler(event, context):
    live, now = _live(), int(time.time())
    if event.get("type") == "REQUEST":
        return live.authorize(event)
    if "detail-type" in event:
        return live.tell(event, now)
    route = (event.get("requestContext") or {}).get("routeKey")
    if route == "$connect":
        return live.connect(event, now)
    if route == "$disconnect":
        return live.disconnect(event)
    return {"statusCode": 200}
