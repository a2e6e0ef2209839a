"""User story: in a real browser I pick photos, watch them upload, see thumbnails appear,
browse the gallery page by page, open a preview and delete my own image.

Playwright drives Debian's Chromium (/usr/bin/chromium); Playwright's own browser download
cannot work on this machine. The devserver serves the page against the test stack.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from bootstrap.local import stop_pid, wait_until
from bootstrap.package import ROOT
from tests.images import encode, phone_jpeg, photo
from tests.prereq import need

pytestmark = pytest.mark.browser
CHROMIUM = os.environ.get("CHROMIUM", shutil.which("chromium") or "/usr/bin/chromium")
ARTIFACTS = ROOT / "test-artifacts"


@pytest.fixture(scope="module")
def site(stack):
    """The devserver on the site origin the stack's CORS rules name, with 2 images a page."""
    port = int(stack.site_url.rsplit(":", 1)[1])
    log = (stack.state / "logs" / "devserver.log").open("ab")
    proc = subprocess.Popen([sys.executable, "-m", "devserver", "--port", str(port)], cwd=ROOT, stdout=log,
                            stderr=subprocess.STDOUT, start_new_session=True,
                            env={**os.environ, "IMAGEPIPE_STATE_DIR": str(stack.state), "GALLERY_PAGE_SIZE": "2"})
    try:
        wait_until(f"{stack.site_url}/healthz", 30, "the devserver", proc)
        yield stack.site_url
    finally:
        stop_pid(proc.pid)


@pytest.fixture(scope="module")
def browser():
    need(Path(CHROMIUM).exists(), f"Chromium not found at {CHROMIUM}; `apt-get install chromium` (.ci/run does)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", "--no-first-run", "--disable-quic"])
        yield browser
        browser.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1100, "height": 900})
    page = context.new_page()
    page.on("dialog", lambda dialog: dialog.accept())  # the delete confirmation
    yield page
    context.close()


def tile_ids(page) -> list[str]:
    return page.eval_on_selector_all("#gallery > li", "els => els.map(e => e.dataset.id)")


def test_upload_gallery_preview_delete(page, site, stack, tmp_path):
    files = {
        "portrait.jpg": phone_jpeg(1200, 900, orientation=6),
        "landscape.png": encode(photo(640, 400, seed=3), "PNG"),
        "notes.jpg": b"These are meeting notes, not a photo.\n" * 20,  # renamed: the browser says image/jpeg
    }
    paths = []
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
        paths.append(str(tmp_path / name))

    page.goto(site)
    page.wait_for_selector("#gallery-heading")
    page.set_input_files("#file-input", paths)

    # Two cards end with a thumbnail that really decoded, one says failed with the reason.
    page.wait_for_function(
        "document.querySelectorAll('#uploads .card[data-state=processed], #uploads .card[data-state=failed]')"
        ".length === 3", timeout=90_000)
    processed = page.locator("#uploads .card[data-state=processed]")
    assert processed.count() == 2
    for i in range(2):
        assert processed.nth(i).locator("img").evaluate("img => img.complete && img.naturalWidth") > 0
        assert processed.nth(i).locator("progress").evaluate("p => p.value") == 100
    failed = page.locator("#uploads .card[data-state=failed]")
    assert failed.count() == 1
    assert "notes.jpg" in failed.inner_text()
    assert "not an image" in failed.locator(".state").inner_text()
    assert page.locator("#status").inner_text()  # announced to screen readers

    ours = set(page.eval_on_selector_all("#uploads .card", "els => els.map(e => e.dataset.id)"))
    assert len(ours) == 3

    # Reload: the gallery lists newest first, two a page; "Load more" brings the older ones.
    page.reload()
    page.wait_for_function("document.querySelectorAll('#gallery > li').length === 2")
    newest = [i["id"] for i in requests.get(f"{stack.api}/images", params={"limit": 4}).json()["items"]]
    assert tile_ids(page) == newest[:2]
    page.get_by_role("button", name="Load more").click()
    page.wait_for_function(f"document.querySelectorAll('#gallery > li').length === {len(newest)}")
    assert tile_ids(page) == newest  # 3 or 4: other tests may have added images before
    assert ours <= set(tile_ids(page))

    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "gallery.png"), full_page=True)

    # Open the portrait's preview: upright size in the details, and a real image.
    portrait = next(i for i in requests.get(f"{stack.api}/images", params={"limit": 4}).json()["items"]
                    if i["filename"] == "portrait.jpg")
    page.locator(f"#gallery > li[data-id='{portrait['id']}'] button").click()
    viewer = page.locator("#viewer")
    viewer.wait_for(state="visible")
    assert "900×1200" in viewer.inner_text()
    page.wait_for_function("document.getElementById('viewer-image').naturalWidth > 0")
    assert page.locator("#viewer-image").evaluate("img => img.naturalHeight") == 1024
    page.screenshot(path=str(ARTIFACTS / "preview.png"))

    # Delete it (this browser uploaded it, so it holds the token): gone now and after reload.
    page.get_by_role("button", name="Delete").click()
    page.wait_for_selector(f"#gallery > li[data-id='{portrait['id']}']", state="detached")
    assert requests.get(f"{stack.api}/images/{portrait['id']}").status_code == 404
    page.reload()
    page.wait_for_function("document.querySelectorAll('#gallery > li').length >= 2")
    assert portrait["id"] not in tile_ids(page)


def test_page_says_what_happened_when_the_api_is_down(page, site, stack):
    """A failing API gives a message, not a spinner."""
    page.route(f"{stack.api}/**", lambda route: route.fulfill(status=503, body="{}",
                                                               headers={"Access-Control-Allow-Origin": "*"}))
    page.goto(site)
    notice = page.locator("#notice")
    notice.wait_for(state="visible")
    assert "could not be loaded" in notice.inner_text()
    assert "503" in notice.inner_text()


def test_page_checks_type_and_size_before_uploading(page, site, tmp_path):
    svg = tmp_path / "drawing.svg"
    svg.write_text('<svg xmlns="http://www.w3.org/2000/svg"/>')
    page.goto(site)
    page.wait_for_selector("#gallery-heading")
    page.set_input_files("#file-input", [str(svg)])
    card = page.locator("#uploads .card[data-state=failed]")
    card.wait_for()
    assert "not an accepted image type" in card.inner_text()


def test_drop_anywhere_uploads_and_keyboard_reaches_the_picker(page, site, stack):
    page.goto(site)
    page.wait_for_selector("#gallery-heading")
    # Keyboard: the first Tab stop is the file picker, and its label shows the focus.
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "file-input"
    outline = page.eval_on_selector("label[for=file-input]", "el => getComputedStyle(el).outlineStyle")
    assert outline != "none"
    # Drop a file on the page body (not the drop zone): it is uploaded and processed.
    data = list(phone_jpeg(640, 480, orientation=1))
    page.evaluate("""(bytes) => {
        const file = new File([new Uint8Array(bytes)], "dropped.jpg", {type: "image/jpeg"});
        const dt = new DataTransfer();
        dt.items.add(file);
        for (const type of ["dragenter", "dragover", "drop"]) {
            document.body.dispatchEvent(new DragEvent(type, {dataTransfer: dt, bubbles: true, cancelable: true}));
        }
    }""", data)
    card = page.locator("#uploads .card", has_text="dropped.jpg")
    card.wait_for()
    page.wait_for_function("[...document.querySelectorAll('#uploads .card')].some("
                           "c => c.textContent.includes('dropped.jpg') && c.dataset.state === 'processed')",
                           timeout=60_000)
    assert card.locator("img").get_attribute("alt") == "Thumbnail of dropped.jpg"


def test_phone_width(browser, site):
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)
    page = context.new_page()
    page.goto(site)
    page.wait_for_function("document.querySelectorAll('#gallery > li').length > 0"
                           " || !document.getElementById('gallery-empty').hidden")
    page.wait_for_function("[...document.querySelectorAll('#gallery img')].every(i => i.complete)")
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")  # no sideways scrolling
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "phone.png"), full_page=True)
    context.close()


def axe_violations(page) -> list[str]:
    """axe-core's WCAG 2.x A/AA checks on the page as it is now, one line per violation."""
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page, options={"runOnly": {"type": "tag", "values": [
        "wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"]}})
    return [f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']]}"
            for v in results.response["violations"]]


def test_page_passes_an_accessibility_audit_in_each_state(page, site, tmp_path):
    """axe-core finds nothing on the gallery with a processed and a failed card, nor in the
    open preview; closing the preview gives the focus back to the tile that opened it."""
    good, bad = tmp_path / "audit.jpg", tmp_path / "audit-notes.jpg"
    good.write_bytes(phone_jpeg(800, 600))
    bad.write_bytes(b"not a photo\n" * 50)
    page.goto(site)
    page.wait_for_selector("#gallery-heading")
    assert axe_violations(page) == []
    page.set_input_files("#file-input", [str(good), str(bad)])
    page.wait_for_function(
        "document.querySelectorAll('#uploads .card[data-state=processed], #uploads .card[data-state=failed]')"
        ".length === 2", timeout=60_000)
    page.wait_for_function("document.querySelectorAll('#gallery > li').length > 0")
    assert axe_violations(page) == []

    opener = page.locator("#gallery > li button").first
    opener.focus()
    page.keyboard.press("Enter")
    page.locator("#viewer").wait_for(state="visible")
    page.wait_for_function("document.getElementById('viewer-image').complete")
    assert axe_violations(page) == []
    assert page.evaluate("document.getElementById('viewer').contains(document.activeElement)")
    page.keyboard.press("Escape")
    page.locator("#viewer").wait_for(state="hidden")
    assert page.evaluate("document.activeElement.closest('#gallery > li') !== null")


def test_an_upload_cut_off_on_the_way_can_be_retried(page, site, stack, tmp_path):
    """The connection drops while the file goes to S3: the card says so and offers Retry, which
    uploads the same file again; the abandoned attempt's record is removed, not left pending."""
    photo_path = tmp_path / "flaky.jpg"
    photo_path.write_bytes(phone_jpeg(640, 480))
    bucket = stack.outputs["uploadBucket"]
    cut = []

    def drop_first_upload(route):
        request = route.request
        if request.method == "POST" and f"/{bucket}" in request.url and not cut:
            cut.append(request.url)
            return route.abort("connectionreset")
        return route.continue_()

    page.route("**/*", drop_first_upload)
    page.goto(site)
    page.wait_for_selector("#gallery-heading")
    page.set_input_files("#file-input", [str(photo_path)])
    card = page.locator("#uploads .card", has_text="flaky.jpg")
    card.locator(".retry").wait_for()
    assert cut, "the upload was not cut off"
    assert card.get_attribute("data-state") == "failed"
    assert "interrupted" in card.locator(".state").inner_text()
    assert axe_violations(page) == []
    abandoned = card.get_attribute("data-id")

    card.get_by_role("button", name="Retry flaky.jpg").click()
    page.wait_for_function("[...document.querySelectorAll('#uploads .card')].some("
                           "c => c.textContent.includes('flaky.jpg') && c.dataset.state === 'processed')",
                           timeout=60_000)
    assert card.locator(".retry").count() == 0
    retried = card.get_attribute("data-id")
    assert retried != abandoned
    assert requests.get(f"{stack.api}/images/{abandoned}").status_code == 404
    assert requests.get(f"{stack.api}/images/{retried}").json()["status"] == "processed"
    assert abandoned not in page.evaluate("Object.keys(JSON.parse(localStorage.getItem('imagepipe.deleteTokens')))")


def test_a_refusal_offers_no_retry(page, site, stack, tmp_path):
    """A 4xx is an answer, not an accident: the same file would be refused again."""
    photo_path = tmp_path / "refused.jpg"
    photo_path.write_bytes(phone_jpeg(320, 240))
    page.route(f"{stack.api}/uploads", lambda route: route.fulfill(
        status=413, content_type="application/json", headers={"Access-Control-Allow-Origin": "*"},
        body='{"error": {"code": "too_large", "message": "The file is larger than this site accepts."}}'))
    page.goto(site)
    page.wait_for_selector("#gallery-heading")
    page.set_input_files("#file-input", [str(photo_path)])
    card = page.locator("#uploads .card[data-state=failed]", has_text="refused.jpg")
    card.wait_for()
    assert "larger than this site accepts" in card.inner_text()
    assert card.locator(".retry").count() == 0
