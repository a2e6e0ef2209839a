"""The events function: the images table's stream in, image events on the stack's bus out.

Deploy maps the table's DynamoDB stream (new and old images) to this function; each batch of
changes is turned into events by `handlers.image_events` and sent with PutEvents. At least once:
an entry PutEvents fails is sent again a few times; if some still fail, the invocation raises,
the stream hands the whole batch again (its retries last as long as the stream keeps a change,
24 hours), and the entries already sent are sent twice with their same `eventId`. A change
this function cannot read is logged and skipped, never raised: it would hold up every change
after it.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Iterator
from functools import lru_cache

from aws_lambda_powertools import Logger

from handlers.clients import Clients, make_clients
from handlers.config import Settings
from handlers.image_events import SOURCE, image_event
from handlers.record_items import from_item
from handlers.telemetry import CORRELATION_KEY

logger = Logger(service="imagepipe-events")

PUT_EVENTS_MAX = 10  # entries per PutEvents call (its limit)
SEND_TRIES = 3  # of one entry PutEvents failed (throttled, an internal error), before the batch is retried


class EventsNotSent(Exception):
    """Some entries still failed after SEND_TRIES: the stream retries the batch."""


def events_of(changes: Iterable[dict], bucket: str) -> Iterator[tuple[str, dict]]:
    """(detail type, detail) of each change (a stream record) that is an event, in order."""
    for change in changes:
        images = change.get("dynamodb") or {}
        try:
            before = from_item(images.get("OldImage") or {})
            after = from_item(images.get("NewImage") or {})
            event = image_event(before, after, bucket)
        except Exception:  # one odd item must not hold up the stream
            logger.exception("a change of the table not understood: no event", extra={"keys": images.get("Keys")})
            continue
        if event:
            yield event


def correlation_ids(changes: Iterable[dict]) -> dict[str, str]:
    """Each changed image's upload correlation id, for the lines about it (`make logs`)."""
    found = {}
    for change in changes:
        images = change.get("dynamodb") or {}
        try:
            record = from_item(images.get("NewImage") or images.get("OldImage") or {})
        except Exception:  # events_of has logged it
            continue
        if record.get("id") and record.get("correlationId"):
            found[record["id"]] = record["correlationId"]
    return found


def entries(events: Iterable[tuple[str, dict]], bus: str) -> list[dict]:
    return [
        {"Source": SOURCE, "DetailType": detail_type, "Detail": json.dumps(detail), "EventBusName": bus}
        for detail_type, detail in events
    ]


def send(events_client, to_send: list[dict], tries: int = SEND_TRIES, wait: Callable[[float], None] = time.sleep):
    """Every entry, PUT_EVENTS_MAX at a time; the ones PutEvents fails sent again, with a growing
    wait. Raises EventsNotSent (each entry still failing logged with its image id) after `tries`."""
    for start in range(0, len(to_send), PUT_EVENTS_MAX):
        pending = to_send[start : start + PUT_EVENTS_MAX]
        for attempt in range(1, tries + 1):
            answers = events_client.put_events(Entries=pending)
            if not answers.get("FailedEntryCount"):
                break
            failed = [(e, a) for e, a in zip(pending, answers["Entries"], strict=True) if a.get("ErrorCode")]
            if attempt == tries:
                for entry, answer in failed:
                    detail = json.loads(entry["Detail"])
                    logger.error(
                        "image event not sent",
                        extra={
                            "image_id": detail["imageId"],
                            "detail_type": entry["DetailType"],
                            "event_id": detail["eventId"],
                            "error": answer.get("ErrorCode"),
                        },
                    )
                raise EventsNotSent(f"{len(failed)} image events not sent after {tries} tries")
            pending = [entry for entry, _ in failed]
            wait(0.2 * attempt)


@lru_cache(maxsize=1)
def _runtime() -> tuple[Settings, Clients]:
    settings = Settings.from_env()
    return settings, make_clients(settings, with_events=True)


@logger.inject_lambda_context(clear_state=True)
def handler(event, context):
    settings, clients = _runtime()
    changes = event.get("Records") or []
    found = entries(events_of(changes, settings.processed_bucket), settings.event_bus_name)
    send(clients.events, found)
    correlation = correlation_ids(changes)
    for entry in found:
        image_id = json.loads(entry["Detail"])["imageId"]
        about = {"image_id": image_id, "detail_type": entry["DetailType"]}
        if image_id in correlation:
            about[CORRELATION_KEY] = correlation[image_id]
        logger.info("image event sent", extra=about)
    return {"changes": len(changes), "events": len(found)}
