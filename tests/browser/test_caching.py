"""User story: coming back to my gallery (a reload, a return, another tab) costs no image's bytes:
the browser's cache answers, because a rendition's URL is the same all hour."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.browser.page import User, new_page, sign_in, upload_as, wait_for_gallery_images
from tests.images import phone_jpeg

pytestmark = pytest.mark.browser


def network_log(page) -> list[tuple[str, dict]]:
    """The Chrome DevTools Protocol's network events of this page, as they come."""
    events = []
    cdp = page.context.new_cdp_session(page)
    for name in (
        "Network.requestWillBeSent",
        "Network.requestServedFromCache",
        "Network.responseReceived",
        "Network.loadingFinished",
    ):
        cdp.on(name, lambda event, name=name: events.append((name, event)))
    cdp.send("Network.enable")
    return events


def rendition_loads(events, bucket: str) -> dict[str, dict]:
    """Each request for a rendition: its URL, whether the cache answered it (memory: served from
    cache; disk: fromDiskCache) and the bytes it took from the network (encodedDataLength)."""
    loads = {}
    for name, event in events:
        if name == "Network.requestWillBeSent" and f"/{bucket}/" in event["request"]["url"]:
            loads[event["requestId"]] = {"url": event["request"]["url"], "cache": None, "bytes": None}
        load = loads.get(event["requestId"])
        if load is None:
            continue
        if name == "Network.requestServedFromCache":
            load["cache"] = "memory"
        elif name == "Network.responseReceived":
            response = event["response"]
            if response.get("fromDiskCache"):
                load["cache"] = "disk"
            elif not load["cache"] and (response.get("fromServiceWorker") or response.get("fromPrefetchCache")):
                load["cache"] = "other"
        elif name == "Network.loadingFinished":
            load["bytes"] = event["encodedDataLength"]
    return loads


@dataclass
class Visit:
    """One showing of the gallery: its photos' URLs, and each rendition request it made."""

    shown: list[str]
    loads: dict[str, dict]


def gallery_visit(tab, log, bucket: str, go) -> Visit:
    log.clear()
    go()
    wait_for_gallery_images(tab, 2)
    shown = tab.eval_on_selector_all("#gallery img", "els => els.map(i => i.currentSrc)")
    return Visit(shown, rendition_loads(log, bucket))


def first_visit_and_returns(browser, site, user: User, bucket: str) -> list[Visit]:
    """The gallery in a new browser context (an empty cache), then a reload, a return to the site,
    and the site in another tab."""
    page = new_page(browser)
    try:
        events = network_log(page)  # before anything loads: no page.route here, it turns the cache off
        visits = [gallery_visit(page, events, bucket, lambda: sign_in(page, site, user))]
        visits.append(gallery_visit(page, events, bucket, page.reload))
        visits.append(gallery_visit(page, events, bucket, lambda: page.goto(site)))
        other = page.context.new_page()
        visits.append(gallery_visit(other, network_log(other), bucket, lambda: other.goto(site)))
        return visits
    finally:
        page.context.close()


def signing_times(visits: list[Visit]) -> set[str]:
    """The time each shown URL says it was signed at (X-Amz-Date): the hour's start, whenever in
    the hour the API handed it out (handlers/signing.py)."""
    return {parse_qs(urlsplit(url).query)["X-Amz-Date"][0] for visit in visits for url in visit.shown}


def test_coming_back_to_the_gallery_downloads_no_image_again(browser, site, stack, user):
    """Renditions are stored immutable, and their URLs are the same all hour: a reload, coming
    back to the site, or opening it in another tab shows every photo from the browser's cache,
    with no byte of them over the network."""
    for name in ("first.jpg", "second.jpg"):
        assert upload_as(stack, user, phone_jpeg(900, 600, orientation=1), name)["status"] == "processed"
    bucket = stack.outputs["processedBucket"]
    visits = first_visit_and_returns(browser, site, user, bucket)
    if len(signing_times(visits)) > 1:
        # The API's hour turned during the visits, so a return rightly got new URLs. Once more,
        # from an empty cache: the visits take well under a minute, so all of these fall in the
        # new hour. (A URL that changed within an hour has another signing time too: it fails below.)
        visits = first_visit_and_returns(browser, site, user, bucket)
    first, *returns = visits
    assert {load["url"] for load in first.loads.values()} == set(first.shown)
    assert all(load["cache"] is None and load["bytes"] > 0 for load in first.loads.values()), first.loads
    for again in returns:
        assert again.shown == first.shown  # the same URLs within the hour: the same cache entries
        assert {load["url"] for load in again.loads.values()} == set(again.shown), again.loads
        for load in again.loads.values():
            assert load["cache"] in ("memory", "disk") and load["bytes"] == 0, load
    assert {load["cache"] for load in returns[-1].loads.values()} == {"disk"}  # the other tab's
