"""User story: I pick or drop photos and each card tells what became of it: checked before it goes
(type, size, a file the browser gives no type), retried when the connection drops, explained
when the API refuses it or my quota is used up."""

from __future__ import annotations

import json

import pytest
import requests

from tests.browser.page import axe_violations, sign_in, wait_for
from tests.images import phone_jpeg

pytestmark = pytest.mark.browser


def test_page_checks_type_and_size_before_uploading(page, site, user, tmp_path):
    svg = tmp_path / "drawing.svg"
    svg.write_text('<svg xmlns="http://www.w3.org/2000/svg"/>')
    sign_in(page, site, user)
    page.set_input_files("#file-input", [str(svg)])
    card = page.locator("#uploads .card[data-state=failed]")
    card.wait_for()
    assert "not an accepted image type" in card.inner_text()


def test_a_file_the_browser_gives_no_image_type_is_judged_by_its_first_bytes(page, site, user, tmp_path):
    """Issue 13, tried as a new user would: a camera's .mpo (a JPEG with a second image) has no
    MIME type in browsers, and the page refused it as "unknown" though the server accepts it."""
    mpo = tmp_path / "DSCF0001.MPO"
    mpo.write_bytes(phone_jpeg(640, 480, orientation=1))
    sign_in(page, site, user)
    # What the browser says it is, read before the page's own handler (capture phase).
    page.evaluate("document.addEventListener('change', e => { window.told = e.target.files[0].type }, true)")
    page.set_input_files("#file-input", [str(mpo)])
    told = page.evaluate("window.told")
    assert not told.startswith("image/"), told
    card = page.locator("#uploads .card[data-state=processed]")
    card.wait_for(state="attached", timeout=90_000)  # the tray folds a processed card out of view
    assert "640×480" in card.text_content()


def test_drop_anywhere_uploads_and_keyboard_reaches_the_picker(page, site, user):
    sign_in(page, site, user)
    # Keyboard: signing in puts the focus at the upload section, so the next Tab stop is the
    # file picker, and its label shows the focus.
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "file-input"
    outline = page.eval_on_selector("label[for=file-input]", "el => getComputedStyle(el).outlineStyle")
    assert outline != "none"
    # Drop a file on the page body (not the drop zone): it is uploaded and processed.
    data = list(phone_jpeg(640, 480, orientation=1))
    page.evaluate(
        """(bytes) => {
        const file = new File([new Uint8Array(bytes)], "dropped.jpg", {type: "image/jpeg"});
        const dt = new DataTransfer();
        dt.items.add(file);
        for (const type of ["dragenter", "dragover", "drop"]) {
            document.body.dispatchEvent(new DragEvent(type, {dataTransfer: dt, bubbles: true, cancelable: true}));
        }
    }""",
        data,
    )
    card = page.locator("#uploads .card", has_text="dropped.jpg")
    card.wait_for()
    wait_for(
        page,
        "[...document.querySelectorAll('#uploads .card')].some("
        "c => c.textContent.includes('dropped.jpg') && c.dataset.state === 'processed')",
        timeout=60_000,
    )
    assert card.locator("img").get_attribute("alt") == "Thumbnail of dropped.jpg"


def test_an_upload_cut_off_on_the_way_can_be_retried(page, site, stack, user, tmp_path):
    """The connection drops while the file goes to S3: the card says so and offers Retry, which
    uploads the same file again; the abandoned attempt's record is removed (DELETE with the
    sign-in), not left pending."""
    photo_path = tmp_path / "flaky.jpg"
    photo_path.write_bytes(phone_jpeg(640, 480))
    bucket = stack.outputs["uploadBucket"]
    cut, deletes = [], []

    def drop_first_upload(route):
        request = route.request
        if request.method == "POST" and f"/{bucket}" in request.url and not cut:
            cut.append(request.url)
            return route.abort("connectionreset")
        if request.method == "DELETE":
            deletes.append(request.all_headers())
        return route.continue_()

    page.route("**/*", drop_first_upload)
    sign_in(page, site, user)
    page.set_input_files("#file-input", [str(photo_path)])
    card = page.locator("#uploads .card", has_text="flaky.jpg")
    card.locator(".retry").wait_for()
    assert cut, "the upload was not cut off"
    assert card.get_attribute("data-state") == "failed"
    assert "interrupted" in card.locator(".state").inner_text()
    assert axe_violations(page) == []
    abandoned = card.get_attribute("data-id")

    card.get_by_role("button", name="Retry flaky.jpg").click()
    wait_for(
        page,
        "[...document.querySelectorAll('#uploads .card')].some("
        "c => c.textContent.includes('flaky.jpg') && c.dataset.state === 'processed')",
        timeout=60_000,
    )
    assert card.locator(".retry").count() == 0
    retried = card.get_attribute("data-id")
    assert retried != abandoned
    assert user.http.get(f"{stack.api}/images/{abandoned}").status_code == 404
    assert user.http.get(f"{stack.api}/images/{retried}").json()["status"] == "processed"
    assert len(deletes) == 1 and deletes[0].get("authorization") and "x-delete-token" not in deletes[0]
    assert page.evaluate("localStorage.getItem('imagepipe.deleteTokens')") is None


def answer_uploads(page, stack, status: int, body: dict) -> None:
    """POST /uploads answers this, as the API would (a stand-in at the network, in the browser)."""
    page.route(
        f"{stack.api}/uploads",
        lambda route: route.fulfill(
            status=status,
            content_type="application/json",
            headers={"Access-Control-Allow-Origin": "*"},
            body=json.dumps(body),
        ),
    )


def test_a_refusal_offers_no_retry(page, site, stack, user, tmp_path):
    """A 4xx is an answer, not an accident: the same file would be refused again."""
    photo_path = tmp_path / "refused.jpg"
    photo_path.write_bytes(phone_jpeg(320, 240))
    answer_uploads(
        page, stack, 413, {"error": {"code": "too_large", "message": "The file is larger than this site accepts."}}
    )
    sign_in(page, site, user)
    page.set_input_files("#file-input", [str(photo_path)])
    card = page.locator("#uploads .card[data-state=failed]", has_text="refused.jpg")
    card.wait_for()
    assert "larger than this site accepts" in card.inner_text()
    assert card.locator(".retry").count() == 0


def test_a_used_up_quota_is_explained(page, site, stack, user, tmp_path):
    """429 quota_exceeded: the card gives the server's message and when it resets; no Retry."""
    photo_path = tmp_path / "one-too-many.jpg"
    photo_path.write_bytes(phone_jpeg(320, 240))
    answer_uploads(
        page,
        stack,
        429,
        {
            "error": {
                "code": "quota_exceeded",
                "message": "You have used today's uploads.",
                "resetsAt": "2030-01-02T00:00:00Z",
            }
        },
    )
    sign_in(page, site, user)
    quota = requests.get(f"{site}/config.json", timeout=10).json()["quota"]
    assert f"{quota['uploadsPerDay']} uploads a day" in page.locator("#dropzone").inner_text()
    page.set_input_files("#file-input", [str(photo_path)])
    card = page.locator("#uploads .card[data-state=failed]", has_text="one-too-many.jpg")
    card.wait_for()
    assert "used today's uploads" in card.inner_text()
    assert "upload again after" in card.inner_text()
    assert card.locator(".retry").count() == 0
