"""User story: I upload a photo and its card turns processed the moment the stack says so, pushed
over the live status's WebSocket (docs/events.md#live-status), not found by asking every second;
where the socket cannot connect, the page polls as it always did and says nothing about it. As an
admin watching all users, another person's upload turns processed on my page the same way."""

from __future__ import annotations

import re
import time
from datetime import datetime

import pytest

from tests.browser.page import (
    RECORD,
    expect,
    new_user,
    pick_photo,
    sign_in,
    socket_recorded,
    tile_ids,
    upload_as,
    wait_for,
)
from tests.images import phone_jpeg

pytestmark = pytest.mark.browser


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


def refuse_reads_before_their_event(page) -> list[tuple[str, float]]:
    """Every GET of an image's record before a message about that image has come over the page's
    socket is refused (the URL and when, returned): a page that polled would never get there."""
    frames: list[str] = []
    page.on("websocket", lambda ws: ws.on("framereceived", lambda payload: frames.append(str(payload))))
    refused: list[tuple[str, float]] = []

    def only_after_the_event(route):
        found = RECORD.search(route.request.url.split("?")[0])
        if route.request.method == "GET" and found and not any(found.group(1) in f for f in frames):
            refused.append((found.group(1), time.monotonic()))
            return route.abort()
        return route.continue_()

    page.route("**/images/*", only_after_the_event)
    return refused


def card_id(page, name: str) -> str:
    return page.eval_on_selector_all(
        "#uploads .card", f"cs => cs.find(c => c.textContent.includes('{name}')).dataset.id"
    )


def test_with_polling_disabled_the_card_turns_processed_from_the_pushed_event(page, site, stack, user, tmp_path):
    """Every read of the record before its event has arrived is refused: a page that polled would
    fail the upload. The card still turns processed, from the one read the event started."""
    stack.embedded_only("LocalStack's WebSocket APIs need Pro: docs/targets.md")
    polled_early = refuse_reads_before_their_event(page)
    reads = record_reads(page)
    sign_in(page, site, user)
    socket_recorded(stack, user)  # the page's socket is open (its handshake checked and recorded)
    page.wait_for_timeout(300)
    pick_photo(page, tmp_path, "pushed.jpg")
    seen = processed_at(page, "pushed.jpg")
    image_id = card_id(page, "pushed.jpg")
    assert polled_early == []
    assert [i for i, _ in reads["times"]].count(image_id) == 1  # the one read the event started
    assert page.locator("#notice").inner_text().strip() == ""
    print(f"\npush: record written -> card processed {seen - written_at(stack, user, image_id):.2f} s")


def test_an_admin_watching_all_users_sees_another_s_upload_come_in_processed_from_the_pushed_event(
    page, site, stack, tmp_path
):
    """Another person's photo, sent once the admin's page watches everyone's events, comes into
    everyone's gallery, processed, without a reload (a waiting upload is not listed: its first
    listable state is its verdict). No read of its record is let through before its event has
    come: the tile is made from the one read the event started."""
    stack.embedded_only("LocalStack's WebSocket APIs need Pro: docs/targets.md")
    admin, other = new_user(stack, "admin", admin=True), new_user(stack, "other")
    refused = refuse_reads_before_their_event(page)
    reads = record_reads(page)
    sign_in(page, site, admin)
    page.get_by_label("All users").check()
    expect(page.get_by_role("heading", name="Everyone’s gallery")).to_be_visible()
    socket_recorded(stack, admin, everyone=True)
    image = upload_as(stack, other, phone_jpeg(640, 480, orientation=1), "theirs.jpg")
    assert image["status"] == "processed", image
    tile = page.locator(f'#gallery li.tile[data-id="{image["id"]}"]')
    expect(tile.get_by_role("button", name=re.compile(r"^Open theirs\.jpg, by other-"))).to_be_visible()
    assert tile_ids(page)[0] == image["id"]  # the newest upload: first in everyone's gallery
    assert refused == []
    assert [i for i, _ in reads["times"]] == [image["id"]]  # the one the event started
    assert page.locator("#notice").inner_text().strip() == ""


def test_with_the_socket_blocked_polling_still_gets_there_and_nothing_is_said(page, site, stack, user, tmp_path):
    tried: list[str] = []

    def refuse(ws):
        tried.append(ws.url)
        ws.close()

    page.route_web_socket(re.compile(".*execute-api.*"), refuse)
    reads = record_reads(page)
    sign_in(page, site, user)
    page.wait_for_timeout(1500)
    pick_photo(page, tmp_path, "polled.jpg")
    seen = processed_at(page, "polled.jpg")
    image_id = card_id(page, "polled.jpg")
    assert tried and [i for i, _ in reads["times"]].count(image_id) >= 1  # the socket was tried; it polled
    assert page.locator("#notice").inner_text().strip() == ""
    polls = [i for i, _ in reads["times"]].count(image_id)
    print(f"\npoll: record written -> card processed {seen - written_at(stack, user, image_id):.2f} s, {polls} reads")
