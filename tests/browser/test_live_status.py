"""User story: I upload a photo and its card turns processed the moment the stack says so, pushed
over the live status's WebSocket (docs/events.md#live-status), not found by asking every second;
where the socket cannot connect, the page polls as it always did and says nothing about it."""

from __future__ import annotations

import base64
import json
import re
import time
from datetime import datetime

import pytest

from tests.browser.page import sign_in, wait_for
from tests.images import phone_jpeg

pytestmark = pytest.mark.browser

RECORD = re.compile(r"/images/([0-9a-f]{32})$")


def record_reads(page) -> dict:
    """Each GET of one image's record the page makes (its polls), with when it was made."""
    reads: dict = {"times": []}

    def on_request(request):
        path = request.url.split("?")[0]
        found = RECORD.search(path)
        if request.method == "GET" and found:
            reads["times"].append((found.group(1), time.monotonic()))

    page.on("request", on_request)
    return reads


def upload(page, tmp_path, name: str) -> None:
    photo = tmp_path / name
    photo.write_bytes(phone_jpeg(640, 480, orientation=1))
    page.set_input_files("#file-input", [str(photo)])


def processed_at(page, name: str) -> float:
    """When (epoch seconds, this machine's clock) the card of `name` turned processed."""
    wait_for(
        page,
        "[...document.querySelectorAll('#uploads .card')].some("
        f"c => c.textContent.includes('{name}') && c.dataset.state === 'processed')",
        timeout=90_000,
    )
    return time.time()


def written_at(stack, user, image_id: str) -> float:
    image = user.http.get(f"{stack.api}/images/{image_id}").json()
    return datetime.fromisoformat(image["updatedAt"].replace("Z", "+00:00")).timestamp()


def socket_recorded(stack, user, seconds: float = 60) -> None:
    """Until the connections table holds a connection of this person's."""
    body = user.http.headers["Authorization"].split(".")[1]
    owner = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))["sub"]
    deadline = time.monotonic() + seconds
    while not stack.dynamodb().query(
        TableName=stack.outputs["connectionsTable"],
        KeyConditionExpression="#o = :o",
        ExpressionAttributeNames={"#o": "owner"},
        ExpressionAttributeValues={":o": {"S": owner}},
        ConsistentRead=True,
    )["Items"]:
        assert time.monotonic() < deadline, "the page opened no live-status socket"
        time.sleep(0.2)


def card_id(page, name: str) -> str:
    return page.eval_on_selector_all(
        "#uploads .card", f"cs => cs.find(c => c.textContent.includes('{name}')).dataset.id"
    )


def test_with_polling_disabled_the_card_turns_processed_from_the_pushed_event(page, site, stack, user, tmp_path):
    """Every read of the record before its event has arrived is refused: a page that polled would
    fail the upload. The card still turns processed, from the one read the event started."""
    stack.embedded_only("LocalStack's WebSocket APIs need Pro: docs/targets.md")
    frames: list[str] = []
    page.on("websocket", lambda ws: ws.on("framereceived", lambda payload: frames.append(str(payload))))
    polled_early: list[str] = []

    def only_after_the_event(route):
        found = RECORD.search(route.request.url.split("?")[0])
        if route.request.method == "GET" and found and not any(found.group(1) in f for f in frames):
            polled_early.append(route.request.url)
            return route.abort()
        return route.continue_()

    page.route("**/images/*", only_after_the_event)
    reads = record_reads(page)
    sign_in(page, site, user)
    socket_recorded(stack, user)  # the page's socket is open (its handshake checked and recorded)
    page.wait_for_timeout(300)
    upload(page, tmp_path, "pushed.jpg")
    seen = processed_at(page, "pushed.jpg")
    image_id = card_id(page, "pushed.jpg")
    assert polled_early == []
    assert [i for i, _ in reads["times"]].count(image_id) == 1  # the one read the event started
    assert page.locator("#notice").inner_text().strip() == ""
    print(f"\npush: record written -> card processed {seen - written_at(stack, user, image_id):.2f} s")


def test_with_the_socket_blocked_polling_still_gets_there_and_nothing_is_said(page, site, stack, user, tmp_path):
    tried: list[str] = []

    def refuse(ws):
        tried.append(ws.url)
        ws.close()

    page.route_web_socket(re.compile(".*execute-api.*"), refuse)
    reads = record_reads(page)
    sign_in(page, site, user)
    page.wait_for_timeout(1500)
    upload(page, tmp_path, "polled.jpg")
    seen = processed_at(page, "polled.jpg")
    image_id = card_id(page, "polled.jpg")
    assert tried and [i for i, _ in reads["times"]].count(image_id) >= 1  # the socket was tried; it polled
    assert page.locator("#notice").inner_text().strip() == ""
    polls = [i for i, _ in reads["times"]].count(image_id)
    print(f"\npoll: record written -> card processed {seen - written_at(stack, user, image_id):.2f} s, {polls} reads")
