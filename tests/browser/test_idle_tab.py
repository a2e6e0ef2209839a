"""Measured: what an open, signed-in, idle tab asks of the API (docs/events.md#live-status), on
Playwright's clock: simulated minutes, not waited ones. With the live status's socket open, ten
minutes ask the API nothing and send one keepalive on the socket; with the socket blocked, the tab
reads an upload's record every second while it is unfinished (two minutes at most) and asks
nothing once nothing is pending.

The clock is paused once the tab is idle and moved on one simulated second at a time: a poll is a
timer, then a request over the real network, then the next timer; run_for(10 minutes) at once
would fire the first timer only, the next one being set after the clock had already moved on. So
each step lets the page finish what that second started (its requests answered) before the next.
"""

from __future__ import annotations

import re
import time

import pytest

from tests.browser.page import RECORD, expect, pick_photo, sign_in, socket_recorded, wait_for

pytestmark = pytest.mark.browser

SOCKET = re.compile(r".*execute-api.*")
KEEPALIVE = '{"action":"keepalive"}'
# A task of the page's, after whatever the answers queued (MessageChannel: not one of the clock's timers).
HANDLED = "new Promise((done) => { const c = new MessageChannel(); c.port1.onmessage = done; c.port2.postMessage(0); })"


class Traffic:
    """The tab's requests to the API (not the socket, nor storage, nor sign-in), and the frames its
    sockets send, from the moment it is made."""

    def __init__(self, page, api: str):
        self.api, self.asked, self.frames, self.pending = api.rstrip("/"), [], [], set()
        page.on("request", self.on_request)
        page.on("requestfinished", self.on_done)
        page.on("requestfailed", self.on_done)
        page.on("websocket", lambda ws: ws.on("framesent", lambda payload: self.frames.append(str(payload))))

    def on_request(self, request):
        if request.url.startswith(self.api):
            self.asked.append(f"{request.method} {request.url.split('?')[0][len(self.api) :]}")
            self.pending.add(request)

    def on_done(self, request):
        self.pending.discard(request)

    def clear(self) -> None:
        """What was asked so far forgotten (a request still unanswered is still waited for)."""
        self.asked, self.frames = [], []


def pause(page) -> None:
    """The page's clock stops where it is: from now on it moves only when advance() moves it."""
    page.clock.pause_at(page.evaluate("Date.now()") / 1000 + 1)  # in Unix seconds; a second on (time runs)


def advance(page, traffic: Traffic, seconds: int, step_ms: int = 1000) -> None:
    """`seconds` simulated seconds, a step at a time, each step's requests answered and their
    answers handled by the page before the next (a timer set a task or two later fires a step
    late: a poll's cycle is measured up to a step long); waits bounded, on Playwright's timer."""
    for _ in range(seconds * 1000 // step_ms):
        page.clock.run_for(step_ms)
        page.evaluate("0")
        deadline = time.monotonic() + 10
        while traffic.pending:
            assert time.monotonic() < deadline, f"requests unanswered: {[r.url for r in traffic.pending]}"
            page.wait_for_timeout(5)
        for _ in range(2):
            page.evaluate(HANDLED)


def signed_in_and_idle(page, site, user) -> None:
    sign_in(page, site, user)
    expect(page.locator("#gallery-empty")).to_be_visible()  # the first listing is in


def test_an_idle_tab_with_the_socket_open_asks_the_api_nothing(page, site, site_config, stack, user):
    stack.embedded_only("LocalStack's WebSocket APIs need Pro: docs/targets.md")
    page.clock.install()
    traffic = Traffic(page, site_config["apiUrl"])
    signed_in_and_idle(page, site, user)
    socket_recorded(stack, user)
    pause(page)
    traffic.clear()
    advance(page, traffic, 10 * 60)
    assert traffic.asked == []
    assert traffic.frames == [KEEPALIVE]  # at 9 minutes: API Gateway closes a socket idle for 10
    print(
        f"\nidle tab, socket open, 10 simulated minutes: {len(traffic.asked)} API requests, "
        f"{len(traffic.frames)} socket message ({KEEPALIVE})"
    )


def still_processing(route):
    """A slow processor, as the page sees it: its upload's record, read for real, says `processing`."""
    response = route.fetch()
    if route.request.method != "GET" or not RECORD.search(route.request.url.split("?")[0]) or not response.ok:
        return route.fulfill(response=response)
    return route.fulfill(response=response, json=response.json() | {"status": "processing"})


def test_with_the_socket_blocked_a_tab_polls_only_while_an_upload_is_unfinished(
    page, site, site_config, stack, user, tmp_path
):
    tried: list[str] = []

    def refuse(ws):
        tried.append(ws.url)
        ws.close()

    page.route_web_socket(SOCKET, refuse)
    page.clock.install()
    traffic = Traffic(page, site_config["apiUrl"])
    signed_in_and_idle(page, site, user)
    pause(page)
    traffic.clear()
    tried.clear()
    advance(page, traffic, 10 * 60)
    idle, tries = list(traffic.asked), len(tried)
    assert idle == [] and tries >= 5  # the socket tried again and again, the API never asked

    page.route("**/images/*", still_processing)
    page.clock.resume()
    pick_photo(page, tmp_path, "slow.jpg")
    wait_for(page, "document.querySelector('#uploads .card')?.dataset.state === 'processing'", timeout=60_000)
    pause(page)
    traffic.clear()
    advance(page, traffic, 60, step_ms=250)
    polls = [asked for asked in traffic.asked if RECORD.search(asked)]
    # One read a second by the page's timer (60); a timer set while the clock was between steps
    # fires up to a step late, so fewer are seen, never more.
    assert 45 <= len(polls) <= 61 and len(polls) == len(traffic.asked), traffic.asked
    advance(page, traffic, 70)  # the page gives up after two minutes, and says so on the card
    card = page.locator("#uploads .card")
    expect(card).to_have_attribute("data-state", "failed")
    expect(card).to_contain_text("taking too long")
    traffic.clear()
    advance(page, traffic, 10 * 60)
    assert traffic.asked == []
    print(
        f"\nsocket blocked: idle 10 simulated minutes {len(idle)} API requests ({tries} socket tries); "
        f"an unfinished upload: {len(polls)} record reads in its first simulated minute; "
        f"after it: {len(traffic.asked)} in 10 minutes"
    )
