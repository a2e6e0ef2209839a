"""User story: my photos sit under the day they were taken, newest day first, the same after a
reload; while ten photos upload, each one's tile is in its place from the moment I pick them and
fills in there, so nothing on the screen jumps; scrolling down brings the next page by itself; in
everyone's gallery each photo says whose it is. On a desktop and on a phone."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest

from tests.browser.page import (
    ARTIFACTS,
    DESKTOP,
    PHONE,
    axe_violations,
    expect,
    new_page,
    new_user,
    sign_in,
    tile_ids,
    upload_as,
    wait_for,
    wait_for_cards,
    wait_for_gallery_images,
)
from tests.images import encode, photo, taken_jpeg

pytestmark = pytest.mark.browser

SCREENS = {"desktop": DESKTOP, "phone": PHONE}

# Every layout shift the browser measures on the page from its start (buffered), as it measures it.
RECORD_LAYOUT_SHIFTS = """() => {
    window.shifts = [];
    new PerformanceObserver((list) => {
        for (const e of list.getEntries()) {
            const moved = (e.sources || []).map((s) => s.node?.id || s.node?.className || s.node?.nodeName || '?');
            window.shifts.push({value: e.value, input: e.hadRecentInput, at: Math.round(e.startTime), moved});
        }
    }).observe({type: 'layout-shift', buffered: true});
}"""

# Where one tile is, in the page's coordinates, every 50 ms: the element at `index` when it starts,
# then whatever tile holds its place under the same id (a tile is replaced when it fills in).
WATCH_A_TILE = """(index) => {
    const watch = {el: document.querySelectorAll('#gallery li.tile')[index], id: null, boxes: new Set()};
    window.watched = watch;
    const look = () => {
        if (!watch.el.isConnected) watch.el = document.querySelector(`#gallery li.tile[data-id="${watch.id}"]`);
        if (!watch.el) return watch.boxes.add('gone');
        watch.id = watch.el.dataset.id;
        const r = watch.el.getBoundingClientRect();
        watch.boxes.add([r.left, r.top + window.scrollY, r.width, r.height].map(Math.round).join(','));
    };
    look();
    watch.timer = setInterval(look, 50);
}"""


def day_groups(page) -> list[str]:
    """The days the gallery shows, in its order (each a heading over its photos)."""
    return page.eval_on_selector_all("#gallery > .day:not([hidden])", "els => els.map(e => e.dataset.day)")


def load_every_page(page, count: int) -> None:
    """The gallery's every page, by its "Load more" button (two photos a page here)."""
    wait_for(page, "document.querySelectorAll('#gallery li.tile').length > 0")
    while (shown := len(tile_ids(page))) < count:
        page.get_by_role("button", name="Load more").click()
        wait_for(page, f"document.querySelectorAll('#gallery li.tile').length > {shown}")


@pytest.mark.parametrize("screen", SCREENS)
def test_photos_sit_under_the_day_they_were_taken_newest_first_and_a_reload_keeps_it(
    browser, site, stack, user, tmp_path, screen
):
    """Three photos sent before: one taken in 2019 (its camera in New York, late in the day), one in
    2024, one that does not say (today's, by its upload). Then one picked on the page, taken in 2021:
    its tile waits under today's heading and moves under its own day once processed."""
    upload_as(stack, user, taken_jpeg("2019:06:01 23:30:00", "-05:00", seed=2), "new-york-2019.jpg")
    upload_as(stack, user, taken_jpeg("2024:05:01 18:30:05", "+02:00", seed=3), "spring-2024.jpg")
    today = upload_as(stack, user, encode(photo(640, 480, seed=4), "JPEG"), "no-date.jpg")["createdAt"][:10]
    picked = tmp_path / "picked-2021.jpg"
    picked.write_bytes(taken_jpeg("2021:08:15 09:00:00", seed=5))
    page = new_page(browser, **SCREENS[screen])
    try:
        sign_in(page, site, user)
        load_every_page(page, 3)
        assert day_groups(page) == [today, "2024-05-01", "2019-06-01"]  # newest day first
        # The 2019 photo under a real heading (the document's outline) that says 2019.
        heading = page.get_by_role("heading", level=3, name=re.compile(r"\b2019\b"))
        expect(heading).to_be_visible()
        group = page.locator("#gallery > .day", has=heading)
        expect(group.locator("li.tile img")).to_have_attribute("alt", "new-york-2019.jpg")
        assert heading.evaluate("h => getComputedStyle(h).position") == "sticky"  # over its day as it scrolls
        order = tile_ids(page)

        page.set_input_files("#file-input", [str(picked)])
        waiting = page.locator(f"#gallery > .day[data-day='{today}'] li.tile").first
        expect(waiting).to_contain_text("picked-2021.jpg")  # at once, first under today's heading
        wait_for_cards(page, 1, timeout=90_000)
        expect(page.locator("#gallery > .day[data-day='2021-08-15'] li.tile img")).to_have_attribute(
            "alt", "picked-2021.jpg"
        )
        assert day_groups(page) == [today, "2024-05-01", "2021-08-15", "2019-06-01"]
        wait_for_gallery_images(page, 4)
        assert axe_violations(page) == []  # the grid with its headings
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"days-{screen}.png"), full_page=True)

        shown = tile_ids(page)
        assert [i for i in shown if i in order] == order
        page.reload()
        load_every_page(page, 4)
        assert day_groups(page) == [today, "2024-05-01", "2021-08-15", "2019-06-01"]
        assert tile_ids(page) == shown  # the listing's order is the page's: nothing sorted again
    finally:
        page.context.close()


@pytest.mark.parametrize("screen", SCREENS)
def test_ten_photos_upload_without_the_grid_jumping(browser, site, user, tmp_path, screen):
    """Picked at once, each photo has its tile under today's heading, the size of a finished one;
    each fills in where it is. The browser's layout shift for the whole visit stays under 0.1 and a
    watched tile never moves."""
    paths = []
    for i in range(10):
        path = tmp_path / f"steady-{i}.jpg"
        path.write_bytes(encode(photo(480 + 40 * i, 360, seed=i), "JPEG"))  # of different shapes
        paths.append(str(path))
    page = new_page(browser, **SCREENS[screen])
    try:
        sign_in(page, site, user)
        expect(page.locator("#gallery-empty")).to_be_visible()
        page.evaluate(RECORD_LAYOUT_SHIFTS)

        page.set_input_files("#file-input", paths)
        today = datetime.now(UTC).date().isoformat()
        tiles = page.locator(f"#gallery > .day[data-day='{today}'] li.tile")
        expect(tiles).to_have_count(10)
        page.evaluate(WATCH_A_TILE, 3)
        wait_for_cards(page, 10, timeout=180_000)
        assert page.locator("#uploads .card[data-state=processed]").count() == 10
        wait_for_gallery_images(page, 10)
        page.wait_for_timeout(600)  # the last fade-ins over, and any shift they made reported

        boxes = page.evaluate("clearInterval(window.watched.timer), [...window.watched.boxes]")
        assert len(boxes) == 1 and boxes[0] != "gone", boxes  # the watched tile never moved
        sizes = page.eval_on_selector_all(
            "#gallery li.tile", "els => els.map(e => [e.offsetWidth, e.offsetHeight].join('x'))"
        )
        assert len(set(sizes)) == 1, sizes  # every tile the same square, whatever its photo's shape
        shifts = page.evaluate("window.shifts")
        score = sum(s["value"] for s in shifts if not s["input"])
        assert score < 0.1, [s for s in shifts if not s["input"]]
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"steady-grid-{screen}.png"))
    finally:
        page.context.close()


def test_scrolling_down_brings_the_next_page_without_a_click(browser, site, stack, user):
    """Two photos a page here, on a screen too short for the first page's "Load more": nothing more
    comes until the page is scrolled; scrolled to it, the pages come by themselves. The button is
    still there for the keyboard."""
    for seed in range(5):
        upload_as(stack, user, encode(photo(320, 240, seed=seed), "JPEG"), f"scroll-{seed}.jpg")
    page = new_page(browser, viewport={"width": 1100, "height": 420})
    try:
        sign_in(page, site, user)
        wait_for(page, "document.querySelectorAll('#gallery li.tile').length === 2")
        more = page.get_by_role("button", name="Load more")
        expect(more).to_be_visible()
        assert not more.evaluate("b => b.getBoundingClientRect().top < window.innerHeight")  # below the fold
        page.evaluate(
            "window.clicks = 0;"
            " document.getElementById('load-more').addEventListener('click', () => window.clicks++, true)"
        )
        page.wait_for_timeout(1000)
        assert len(tile_ids(page)) == 2  # not scrolled: nothing more yet

        page.mouse.move(500, 300)
        page.mouse.wheel(0, 2000)
        wait_for(page, "document.querySelectorAll('#gallery li.tile').length === 5")
        expect(more).to_be_hidden()  # the last page: no more to load
        assert page.evaluate("window.clicks") == 0
    finally:
        page.context.close()


def test_everyone_s_gallery_writes_each_photo_s_owner_on_its_tile(page, site, stack):
    owner = new_user(stack, "owner")
    theirs = upload_as(stack, owner, encode(photo(400, 300, seed=7), "JPEG"), "whose.jpg")
    admin = new_user(stack, "admin", admin=True)
    sign_in(page, site, admin)
    page.get_by_label("All users").check()
    tile = page.locator(f"#gallery li.tile[data-id='{theirs['id']}']")
    expect(tile.locator(".tile-owner")).to_have_text(owner.email)
    expect(tile.locator(".tile-owner")).to_be_visible()  # written on the photo, not only in its name
    assert owner.email in tile.locator(".tile-button").get_attribute("aria-label")
    wait_for(page, "[...document.querySelectorAll('#gallery img')].every(i => i.complete)")
    assert axe_violations(page) == []
