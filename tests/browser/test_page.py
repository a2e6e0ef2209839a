"""User story: in a real browser I create an account or sign in, pick photos, watch them
upload, see thumbnails appear, browse my own gallery page by page, open a preview and delete
my image; I stay signed in across a reload and sign out. An admin also sees everyone's.

Playwright drives Debian's Chromium (/usr/bin/chromium); Playwright's own browser download
cannot work on this machine. The devserver serves the page against the test stack, whose
user pool (the emulator's Cognito) the page signs in with.
"""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from boto3.dynamodb.types import TypeSerializer
from PIL import ExifTags, Image
from PIL.TiffImagePlugin import IFDRational

from bootstrap.local import start_devserver, stop_pid
from bootstrap.package import ROOT
from tests.images import GPS_TAGS, encode, phone_jpeg, photo
from tests.prereq import need

pytestmark = pytest.mark.browser
CHROMIUM = os.environ.get("CHROMIUM", shutil.which("chromium") or "/usr/bin/chromium")
ARTIFACTS = ROOT / "test-artifacts"
SESSION_KEY = "imagepipe.session"


def expect(*args, **kwargs):
    from playwright.sync_api import expect as playwright_expect

    # A sign-up runs the pool's PreSignUp function, which may start cold: more than 5 s.
    playwright_expect.set_options(timeout=30_000)
    return playwright_expect(*args, **kwargs)


@pytest.fixture(scope="module")
def site(stack):
    """The devserver on the site origin the stack's CORS rules name, with 2 images a page."""
    port = int(stack.site_url.rsplit(":", 1)[1])
    proc = start_devserver(
        port, stack.state, stack.state / "logs" / "devserver.log", extra_env={"GALLERY_PAGE_SIZE": "2"}
    )
    try:
        yield stack.site_url
    finally:
        stop_pid(proc.pid)


@pytest.fixture(scope="module")
def site_config(site) -> dict:
    """What the page reads: the API, and the user pool it signs in with."""
    return requests.get(f"{site}/config.json", timeout=10).json()


@pytest.fixture(scope="module")
def browser():
    need(Path(CHROMIUM).exists(), f"Chromium not found at {CHROMIUM}; `apt-get install chromium` (.ci/run does)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
                "--disable-quic",
            ],
        )
        yield browser
        browser.close()


# What Chromium's console said the page's Content-Security-Policy refused, in any tab of any
# context new_page made during the current test: every test ends with none (no_csp_refusals).
CSP_REFUSALS: list[str] = []


def new_page(browser, **options):
    context = browser.new_context(**({"viewport": {"width": 1100, "height": 900}} | options))
    context.on(
        "console",
        lambda message: "Content Security Policy" in message.text and CSP_REFUSALS.append(message.text),
    )
    page = context.new_page()
    page.on("dialog", lambda dialog: dialog.accept())  # the delete confirmation
    return page


@pytest.fixture(autouse=True)
def no_csp_refusals():
    """The page works under its CSP (bootstrap/site.py, sent by the devserver): whatever a test
    does, Chromium refuses nothing the page asks for."""
    CSP_REFUSALS.clear()
    yield
    assert CSP_REFUSALS == [], CSP_REFUSALS


@pytest.fixture
def page(browser):
    page = new_page(browser)
    yield page
    page.context.close()


@dataclass
class User:
    email: str
    password: str
    http: requests.Session  # the API as this person: their ID token in Authorization


def new_user(stack, name: str = "user", admin: bool = False) -> User:
    """A confirmed user of the stack's pool, made without the page (AdminCreateUser)."""
    email = f"{name}-{uuid.uuid4().hex[:10]}@example.com"
    password = stack.create_user(email, admin=admin)
    http = requests.Session()
    http.headers["Authorization"] = stack.sign_in(email, password)
    return User(email, password, http)


@pytest.fixture
def user(stack) -> User:
    """A person of their own for each test: their gallery holds only what the test made."""
    return new_user(stack)


def sign_in(page, site, user: User) -> None:
    """Through the sign-in form, as a person would."""
    page.goto(site)
    page.get_by_label("Email").fill(user.email)
    page.get_by_label("Password").fill(user.password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_selector("#gallery-heading")
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()


def sign_out(page) -> None:
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("button", name="Sign in")).to_be_visible()


def cognito(config: dict, action: str, body: dict) -> requests.Response:
    """The user pool's public JSON API, called as the page calls it (no AWS signature)."""
    return requests.post(
        config["auth"]["endpoint"].rstrip("/") + "/",
        timeout=30,
        data=json.dumps({"ClientId": config["auth"]["clientId"], **body}),
        headers={
            "Content-Type": "application/x-amz-json-1.1",
            "X-Amz-Target": f"AWSCognitoIdentityProviderService.{action}",
        },
    )


def refresh(config: dict, refresh_token: str) -> requests.Response:
    return cognito(
        config, "InitiateAuth", {"AuthFlow": "REFRESH_TOKEN_AUTH", "AuthParameters": {"REFRESH_TOKEN": refresh_token}}
    )


def stored_session(page) -> dict | None:
    return page.evaluate(f"JSON.parse(localStorage.getItem('{SESSION_KEY}'))")


def upload_as(stack, user: User, data: bytes, filename: str, content_type: str = "image/jpeg") -> dict:
    """The page's flow from Python, signed in as `user`; waits for the processor's verdict."""
    response = user.http.post(
        f"{stack.api}/uploads", json={"filename": filename, "contentType": content_type, "size": len(data)}
    )
    assert response.status_code == 201, response.text
    created = response.json()
    assert stack.post_file(created["upload"], data, content_type, filename).status_code in (200, 201, 204)
    return stack.wait_final(created["id"], session=user.http)


def wait_for(page, expression: str, timeout: float = 30_000) -> None:
    """page.wait_for_function without eval: Playwright's polls its predicate through `new Function`
    inside the page, which the page's CSP (no 'unsafe-eval') refuses; page.evaluate goes through
    the DevTools protocol, which the CSP does not govern."""
    deadline = time.monotonic() + timeout / 1000
    while not page.evaluate(expression):
        if time.monotonic() > deadline:
            raise TimeoutError(f"still false after {timeout / 1000:.0f} s: {expression}")
        page.wait_for_timeout(100)


def tile_ids(page) -> list[str]:
    return page.eval_on_selector_all("#gallery > li", "els => els.map(e => e.dataset.id)")


def wait_for_cards(page, count: int, timeout: int = 90_000) -> None:
    wait_for(
        page,
        "document.querySelectorAll('#uploads .card[data-state=processed], #uploads .card[data-state=failed]')"
        f".length === {count}",
        timeout=timeout,
    )


def test_upload_gallery_preview_delete(page, site, stack, user, tmp_path):
    files = {
        "portrait.jpg": phone_jpeg(1200, 900, orientation=6),
        "landscape.png": encode(photo(640, 400, seed=3), "PNG"),
        "notes.jpg": b"These are meeting notes, not a photo.\n" * 20,  # renamed: the browser says image/jpeg
    }
    paths = []
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
        paths.append(str(tmp_path / name))

    sign_in(page, site, user)
    page.set_input_files("#file-input", paths)

    # Two cards end with a thumbnail that really decoded, one says failed with the reason.
    wait_for_cards(page, 3)
    processed = page.locator("#uploads .card[data-state=processed]")
    assert processed.count() == 2
    for i in range(2):
        assert processed.nth(i).locator("img").evaluate("img => img.decode().then(() => img.naturalWidth)") > 0
        assert processed.nth(i).locator("progress").evaluate("p => p.value") == 100
    failed = page.locator("#uploads .card[data-state=failed]")
    assert failed.count() == 1
    assert "notes.jpg" in failed.inner_text()
    assert "not an image" in failed.locator(".state").inner_text()
    assert page.locator("#status").inner_text()  # announced to screen readers

    ours = set(page.eval_on_selector_all("#uploads .card", "els => els.map(e => e.dataset.id)"))
    assert len(ours) == 3

    # Reload: still signed in; the gallery lists newest first, two a page; "Load more" brings the rest.
    # (A store of delete tokens left by the page before accounts is removed on load.)
    page.evaluate("localStorage.setItem('imagepipe.deleteTokens', JSON.stringify({abc: 'token'}))")
    page.reload()
    wait_for(page, "document.querySelectorAll('#gallery > li').length === 2")
    newest = [i["id"] for i in user.http.get(f"{stack.api}/images", params={"limit": 4}).json()["items"]]
    assert set(newest) == ours  # this person's gallery: their three uploads, nothing else
    assert tile_ids(page) == newest[:2]
    assert page.evaluate("localStorage.getItem('imagepipe.deleteTokens')") is None
    page.get_by_role("button", name="Load more").click()
    wait_for(page, f"document.querySelectorAll('#gallery > li').length === {len(newest)}")
    assert tile_ids(page) == newest

    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "gallery.png"), full_page=True)

    # Open the portrait's preview: upright size in the details, and a real image.
    portrait = next(
        i
        for i in user.http.get(f"{stack.api}/images", params={"limit": 4}).json()["items"]
        if i["filename"] == "portrait.jpg"
    )
    assert portrait["owner"] == user.email
    page.locator(f"#gallery > li[data-id='{portrait['id']}'] button").click()
    viewer = page.locator("#viewer")
    viewer.wait_for(state="visible")
    assert "900×1200" in viewer.inner_text()
    assert "Owner" not in viewer.inner_text()  # it is mine: no need to say whose
    wait_for(page, "document.getElementById('viewer-image').naturalWidth > 0")
    # Upright: the rendition the browser chose for the dialog's size is 3:4, taller than wide.
    shown = page.locator("#viewer-image").evaluate("img => [img.naturalWidth, img.naturalHeight]")
    assert abs(shown[1] / shown[0] - 4 / 3) < 0.01, shown
    page.screenshot(path=str(ARTIFACTS / "preview.png"))

    # Delete it, with the sign-in alone: gone now and after reload.
    with page.expect_request(lambda r: r.method == "DELETE") as deleting:
        page.get_by_role("button", name="Delete").click()
    sent = deleting.value.all_headers()
    assert sent.get("authorization") == stored_session(page)["idToken"]
    assert "x-delete-token" not in sent
    page.wait_for_selector(f"#gallery > li[data-id='{portrait['id']}']", state="detached")
    assert user.http.get(f"{stack.api}/images/{portrait['id']}").status_code == 404
    page.reload()
    wait_for(page, "document.querySelectorAll('#gallery > li').length === 2")
    assert portrait["id"] not in tile_ids(page)


def test_sign_up_sign_in_upload_reload_sign_out(page, site, site_config, tmp_path):
    """A new person creates an account on the page (confirmed at once locally), uploads a
    photo, stays signed in across a reload without the password being kept anywhere, and
    signs out: the form is back and the session's refresh token no longer works."""
    email = f"newcomer-{uuid.uuid4().hex[:10]}@example.com"
    password = f"Tulip-harbour-{uuid.uuid4().hex[:6]}"
    photo_path = tmp_path / "first.jpg"
    photo_path.write_bytes(phone_jpeg(800, 600))

    page.goto(site)
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    expect(page.locator("#app")).to_be_hidden()
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Create account").click()
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()
    expect(page.locator("#account-email")).to_have_text(email)
    expect(page.locator("#gallery-empty")).to_be_visible()  # a new account has no photos
    assert page.get_by_label("Password").input_value() == ""  # not left on the page either

    page.set_input_files("#file-input", [str(photo_path)])
    wait_for_cards(page, 1, timeout=60_000)
    card = page.locator("#uploads .card[data-state=processed]")
    assert card.locator("img").evaluate("img => img.decode().then(() => img.naturalWidth)") > 0
    image_id = card.get_attribute("data-id")
    expect(page.locator(f"#gallery > li[data-id='{image_id}'] img")).to_be_visible()

    # Reload: still signed in, and the photo is in the gallery.
    page.reload()
    page.locator(f"#gallery > li[data-id='{image_id}'] img").wait_for()
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()
    expect(page.locator("#auth")).to_be_hidden()
    wait_for(page, f"document.querySelector(\"#gallery > li[data-id='{image_id}'] img\").naturalWidth > 0")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "signed-in.png"), full_page=True)

    # What the browser keeps: tokens, never the password.
    kept = page.evaluate(
        "JSON.stringify([Object.entries(localStorage), Object.entries(sessionStorage), document.cookie])"
    )
    assert password not in kept
    session = stored_session(page)
    assert set(session) >= {"idToken", "refreshToken"}
    assert refresh(site_config, session["refreshToken"]).status_code == 200  # it works until sign-out

    sign_out(page)
    expect(page.get_by_label("Email")).to_be_focused()
    expect(page.locator("#app")).to_be_hidden()
    assert tile_ids(page) == []  # nothing of the gallery is left on the page
    assert stored_session(page) is None
    refused = refresh(site_config, session["refreshToken"])
    assert refused.status_code == 400, refused.text
    assert refused.json()["__type"].endswith("NotAuthorizedException")
    page.screenshot(path=str(ARTIFACTS / "signed-out.png"), full_page=True)

    # Still signed out after a reload; and the same email and password sign in again.
    page.reload()
    expect(page.get_by_role("button", name="Sign in")).to_be_visible()
    sign_in(page, site, User(email, password, requests.Session()))
    page.locator(f"#gallery > li[data-id='{image_id}']").wait_for()


def test_each_person_sees_only_their_own_gallery(page, site, stack, tmp_path):
    """Two people take turns at the same browser: each sees their own photos only, the API
    answers another person's image as missing, and neither gets the "All users" view."""
    alice, bob = new_user(stack, "alice"), new_user(stack, "bob")
    ids = {}
    for person in (alice, bob):
        name = person.email.split("-")[0] + ".jpg"
        (tmp_path / name).write_bytes(phone_jpeg(640, 480))
        sign_in(page, site, person)
        expect(page.get_by_label("All users")).to_be_hidden()
        assert tile_ids(page) == []
        page.set_input_files("#file-input", [str(tmp_path / name)])
        wait_for_cards(page, 1, timeout=60_000)
        ids[person.email] = page.locator("#uploads .card[data-state=processed]").get_attribute("data-id")
        sign_out(page)
        assert page.locator("#uploads .card").count() == 0  # the next person sees no one's cards

    for me, other in ((alice, bob), (bob, alice)):
        sign_in(page, site, me)
        wait_for(page, "document.querySelectorAll('#gallery > li').length > 0")
        assert tile_ids(page) == [ids[me.email]]
        listed = me.http.get(f"{stack.api}/images").json()["items"]
        assert [i["id"] for i in listed] == [ids[me.email]]
        assert listed[0]["owner"] == me.email
        theirs = ids[other.email]
        assert me.http.get(f"{stack.api}/images/{theirs}").status_code == 404
        assert me.http.delete(f"{stack.api}/images/{theirs}").status_code == 404
        assert me.http.get(f"{stack.api}/images", params={"scope": "all"}).status_code == 403
        sign_out(page)
    assert alice.http.get(f"{stack.api}/images/{ids[alice.email]}").json()["status"] == "processed"
    assert bob.http.get(f"{stack.api}/images/{ids[bob.email]}").json()["status"] == "processed"


def test_an_admin_sees_all_users(page, site, stack, tmp_path):
    """An admin's own gallery is their own; "All users" lists everyone's images with their
    owner, and the admin may delete any of them."""
    owner = new_user(stack, "owner")
    theirs = upload_as(stack, owner, phone_jpeg(640, 480), "someone-elses.jpg")
    assert theirs["status"] == "processed"
    admin = new_user(stack, "admin", admin=True)

    sign_in(page, site, admin)
    expect(page.locator("#gallery-empty")).to_be_visible()  # the admin's own photos: none
    toggle = page.get_by_label("All users")
    expect(toggle).to_be_visible()
    expect(toggle).not_to_be_checked()

    with page.expect_request(lambda r: "scope=all" in r.url):
        toggle.check()
    tile = page.locator(f"#gallery > li[data-id='{theirs['id']}']")
    tile.wait_for()  # the newest image of all, so on the first page
    expect(page.locator("#gallery-heading")).to_have_text("Everyone’s gallery")
    assert owner.email in tile.locator("button").get_attribute("aria-label")
    wait_for(page, "[...document.querySelectorAll('#gallery img')].every(i => i.complete)")
    assert axe_violations(page) == []
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "admin-all-users.png"), full_page=True)

    tile.locator("button").click()
    viewer = page.locator("#viewer")
    viewer.wait_for(state="visible")
    assert owner.email in viewer.inner_text()  # the Owner row
    messages = []
    page.on("dialog", lambda dialog: messages.append(dialog.message))
    page.get_by_role("button", name="Delete").click()
    tile.wait_for(state="detached")
    assert owner.email in messages[0]  # the confirmation says whose it is
    assert owner.http.get(f"{stack.api}/images/{theirs['id']}").status_code == 404

    toggle.uncheck()
    expect(page.locator("#gallery-heading")).to_have_text("Gallery")
    expect(page.locator("#gallery-empty")).to_be_visible()


def test_create_account_with_a_confirmation_code(page, site, site_config):
    """Where config.json says sign-ups are confirmed by email (AWS), Create account asks for
    the code, says so when it is wrong, and signs in once it is right. Locally the pool
    confirms at once, so the pool's answers that differ are played by the test."""
    endpoint = site_config["auth"]["endpoint"].rstrip("/")
    email = f"confirming-{uuid.uuid4().hex[:10]}@example.com"
    password = f"Lantern-quay-{uuid.uuid4().hex[:6]}"
    confirmations = []
    cors = {"Access-Control-Allow-Origin": "*", "Content-Type": "application/x-amz-json-1.1"}

    def as_on_aws(route):
        request = route.request
        target = (request.headers.get("x-amz-target") or "").rsplit(".", 1)[-1]
        if request.method != "POST" or target not in ("SignUp", "ConfirmSignUp"):
            return route.continue_()
        if target == "SignUp":  # the real sign-up; answered as a pool that sends a code
            response = route.fetch()
            return route.fulfill(
                response=response,
                json={
                    **response.json(),
                    "UserConfirmed": False,
                    "CodeDeliveryDetails": {
                        "Destination": "c***@e***",
                        "DeliveryMedium": "EMAIL",
                        "AttributeName": "email",
                    },
                },
            )
        confirmations.append(json.loads(request.post_data))
        if len(confirmations) == 1:
            return route.fulfill(
                status=400,
                headers=cors,
                body=json.dumps(
                    {
                        "__type": "CodeMismatchException",
                        "message": "Invalid verification code provided, please try again.",
                    }
                ),
            )
        return route.fulfill(status=200, headers=cors, body="{}")

    def confirm_by_email(route):
        response = route.fetch()
        config = response.json()
        config["auth"]["confirmSignUp"] = True
        route.fulfill(response=response, json=config)

    page.route("**/config.json", confirm_by_email)
    page.route(f"{endpoint}/", as_on_aws)
    page.goto(site)
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Create account").click()

    code = page.get_by_label("Confirmation code")
    expect(code).to_be_focused()
    expect(page.locator("#confirm-form")).to_contain_text(email)
    assert axe_violations(page) == []
    code.fill("000000")
    page.get_by_role("button", name="Confirm").click()
    expect(page.locator("#auth-message")).to_contain_text("code is not right")
    expect(page.get_by_role("button", name="Sign out")).to_be_hidden()
    code.fill("123456")
    page.get_by_role("button", name="Confirm").click()
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()
    expect(page.locator("#account-email")).to_have_text(email)
    assert [c["ConfirmationCode"] for c in confirmations] == ["000000", "123456"]
    assert {c["Username"] for c in confirmations} == {email}
    assert {c["ClientId"] for c in confirmations} == {site_config["auth"]["clientId"]}


def test_the_sign_in_screen_is_accessible_and_says_what_went_wrong(browser, site, stack):
    """axe-core finds nothing on the sign-in screen, with or without a message; each refusal
    gets its own plain message; at phone width nothing scrolls sideways."""
    known = new_user(stack, "known")
    page = new_page(browser)
    page.goto(site)
    expect(page.get_by_role("button", name="Sign in")).to_be_visible()
    expect(page.get_by_role("button", name="Create account")).to_be_visible()
    expect(page.get_by_role("button", name="Sign out")).to_be_hidden()
    assert axe_violations(page) == []
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "sign-in.png"), full_page=True)

    message = page.locator("#auth-message")
    cases = [
        ("Sign in", known.email, known.password + "-wrong", "Wrong email or password"),
        ("Sign in", f"nobody-{uuid.uuid4().hex[:8]}@example.com", "Whatever it is 123", "Wrong email or password"),
        ("Create account", known.email, "Another good one 123", "already exists"),
        ("Create account", f"weak-{uuid.uuid4().hex[:8]}@example.com", "short", "too weak"),
    ]
    for button, email, password, said in cases:
        page.get_by_label("Email").fill(email)
        page.get_by_label("Password").fill(password)
        page.get_by_role("button", name=button).click()
        expect(message).to_contain_text(said)
        expect(page.get_by_role("button", name="Sign out")).to_be_hidden()
    assert axe_violations(page) == []
    page.context.close()

    phone = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True).new_page()
    phone.goto(site)
    expect(phone.get_by_role("button", name="Sign in")).to_be_visible()
    assert phone.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    phone.screenshot(path=str(ARTIFACTS / "phone-sign-in.png"), full_page=True)
    phone.context.close()


def test_a_refused_token_is_refreshed_once_then_the_page_asks_to_sign_in(page, site, site_config, user):
    """A 401 from the API (here: a forged ID token) makes the page refresh once and retry;
    when the refresh token is revoked too, the sign-in form comes back with a reason."""
    sign_in(page, site, user)
    expect(page.locator("#gallery-empty")).to_be_visible()
    statuses, refreshes = [], []
    page.on("response", lambda r: "/images" in r.url and r.request.method == "GET" and statuses.append(r.status))
    page.on("request", lambda r: "REFRESH_TOKEN_AUTH" in (r.post_data or "") and refreshes.append(r))

    def forge():
        # Same claims (not expired), another signature: only the API can tell.
        page.evaluate(f"""() => {{
            const s = JSON.parse(localStorage.getItem('{SESSION_KEY}'));
            const [h, p, sig] = s.idToken.split('.');
            s.idToken = [h, p, [...sig].reverse().join('')].join('.');
            localStorage.setItem('{SESSION_KEY}', JSON.stringify(s));
            return s.idToken;
        }}""")
        return stored_session(page)["idToken"]

    forged = forge()
    page.reload()
    expect(page.locator("#gallery-empty")).to_be_visible()
    assert statuses == [401, 200]
    assert len(refreshes) == 1
    assert stored_session(page)["idToken"] != forged
    expect(page.locator("#notice")).to_be_hidden()
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()

    assert cognito(site_config, "RevokeToken", {"Token": stored_session(page)["refreshToken"]}).status_code == 200
    statuses.clear()
    forge()
    page.reload()
    expect(page.get_by_role("button", name="Sign in")).to_be_visible()
    expect(page.locator("#auth-message")).to_contain_text("session has ended")
    assert statuses == [401]
    assert stored_session(page) is None


def test_the_session_is_refreshed_before_the_id_token_expires(page, site, site_config, user):
    """The page refreshes the ID token a few minutes before it expires, without a reload."""
    page.clock.install()
    sign_in(page, site, user)
    before = stored_session(page)
    claims = json.loads(_b64url(before["idToken"].split(".")[1]))
    lifetime = claims["exp"] - claims["iat"]
    with page.expect_request(lambda r: "REFRESH_TOKEN_AUTH" in (r.post_data or "")):
        page.clock.fast_forward((lifetime - 60) * 1000)  # a minute before it expires
    wait_for(page, f"JSON.parse(localStorage.getItem('{SESSION_KEY}')).idToken !== {json.dumps(before['idToken'])}")
    after = stored_session(page)
    assert after["refreshToken"] == before["refreshToken"]
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()


def _b64url(text: str) -> bytes:
    import base64

    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def test_signing_out_in_one_tab_signs_out_the_other(browser, site, user):
    page = new_page(browser)
    sign_in(page, site, user)
    other = page.context.new_page()
    other.goto(site)
    expect(other.get_by_role("button", name="Sign out")).to_be_visible()  # the same session
    sign_out(page)
    expect(other.get_by_role("button", name="Sign in")).to_be_visible()
    expect(other.locator("#app")).to_be_hidden()
    page.context.close()


def test_page_says_what_happened_when_the_api_is_down(page, site, stack, user):
    """A failing API gives a message, not a spinner."""
    page.route(
        f"{stack.api}/**",
        lambda route: route.fulfill(status=503, body="{}", headers={"Access-Control-Allow-Origin": "*"}),
    )
    sign_in(page, site, user)
    notice = page.locator("#notice")
    notice.wait_for(state="visible")
    assert "could not be loaded" in notice.inner_text()
    assert "503" in notice.inner_text()


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
    card.wait_for(timeout=90_000)
    assert "640×480" in card.inner_text()


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


def test_phone_width(browser, site, stack, user):
    upload_as(stack, user, phone_jpeg(900, 600), "phone.jpg")
    page = new_page(browser, viewport={"width": 390, "height": 844}, is_mobile=True)
    sign_in(page, site, user)
    wait_for(page, "document.querySelectorAll('#gallery > li').length > 0")
    wait_for(page, "[...document.querySelectorAll('#gallery img')].every(i => i.complete)")
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")  # no sideways scrolling
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "phone.png"), full_page=True)
    page.context.close()


def axe_violations(page) -> list[str]:
    """axe-core's WCAG 2.x A/AA checks on the page as it is now, one line per violation."""
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(
        page,
        options={"runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"]}},
    )
    return [
        f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']]}"
        for v in results.response["violations"]
    ]


def test_page_passes_an_accessibility_audit_in_each_state(page, site, user, tmp_path):
    """axe-core finds nothing on the gallery with a processed and a failed card, nor in the
    open preview; closing the preview gives the focus back to the tile that opened it.
    (The sign-in screen has its own audit above.)"""
    good, bad = tmp_path / "audit.jpg", tmp_path / "audit-notes.jpg"
    good.write_bytes(phone_jpeg(800, 600))
    bad.write_bytes(b"not a photo\n" * 50)
    sign_in(page, site, user)
    expect(page.locator("#gallery-empty")).to_be_visible()
    assert axe_violations(page) == []
    page.set_input_files("#file-input", [str(good), str(bad)])
    wait_for_cards(page, 2, timeout=60_000)
    wait_for(page, "document.querySelectorAll('#gallery > li').length > 0")
    assert axe_violations(page) == []

    opener = page.locator("#gallery > li button").first
    opener.focus()
    page.keyboard.press("Enter")
    page.locator("#viewer").wait_for(state="visible")
    wait_for(page, "document.getElementById('viewer-image').complete")
    assert axe_violations(page) == []
    assert page.evaluate("document.getElementById('viewer').contains(document.activeElement)")
    page.keyboard.press("Escape")
    page.locator("#viewer").wait_for(state="hidden")
    assert page.evaluate("document.activeElement.closest('#gallery > li') !== null")


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


# ---- pictures: responsive renditions, placeholders, caching, photo facts ---------------------


def path_of(url: str) -> str:
    """An object's URL without its signature: the same file whatever hour it was signed in."""
    return urlsplit(url).path


def files_of(image: dict, content_type: str | None = None) -> list[dict]:
    """Every file of every rendition (its `sources`), or those of one type; never by name."""
    return [
        s
        for r in image["renditions"].values()
        for s in r["sources"]
        if content_type is None or s["contentType"] == content_type
    ]


def fallbacks_of(image: dict) -> list[dict]:
    return list(image["renditions"].values())


def rgb(hex_colour: str) -> str:
    r, g, b = (int(hex_colour[i : i + 2], 16) for i in (1, 3, 5))
    return f"rgb({r}, {g}, {b})"


def wait_for_gallery_images(page, count: int) -> None:
    wait_for(
        page,
        f"document.querySelectorAll('#gallery img').length === {count}"
        " && [...document.querySelectorAll('#gallery img')].every(i => i.complete && i.naturalWidth > 0)",
    )


def test_the_gallery_paints_each_photo_s_placeholder_before_the_photo_arrives(page, site, stack, user):
    """A slow network: the tile shows the photo's mean colour and its ThumbHash blur while the
    image itself is on its way (here held back at the network), then the image once it arrives."""
    image = upload_as(stack, user, phone_jpeg(1200, 900, orientation=1), "held.jpg")
    assert image["status"] == "processed", image
    assert image["dominantColor"] and image["placeholder"]
    held, released = [], []

    def hold(route):
        if released:
            return route.continue_()
        held.append(route)  # answered when the test says so

    page.route(f"{stack.endpoint}/{stack.outputs['processedBucket']}/**", hold)
    sign_in(page, site, user)
    picture = page.locator(f"#gallery > li[data-id='{image['id']}'] picture")
    picture.wait_for()
    img = picture.locator("img")
    for _ in range(300):  # the browser has asked for the image, and is waiting for it
        if held:
            break
        page.wait_for_timeout(100)
    assert held, "the page never asked for the image"

    expect(picture).to_have_css("background-color", rgb(image["dominantColor"]))
    expect(picture).to_have_css("background-image", re.compile(r'^url\("data:image/png;base64,'))
    assert img.evaluate("i => !i.complete && i.naturalWidth === 0")  # nothing of the image yet
    expect(img).to_have_css("opacity", "0")
    # What a person sees: the tile's middle is the photo's colours (the blur), not a blank tile.
    shot = Image.open(io.BytesIO(picture.screenshot())).convert("RGB")
    seen = shot.resize((1, 1), Image.Resampling.BOX).getpixel((0, 0))
    expected = tuple(int(image["dominantColor"][i : i + 2], 16) for i in (1, 3, 5))
    assert all(abs(a - b) <= 40 for a, b in zip(seen, expected, strict=True)), (seen, expected)
    assert min(seen) < 230, seen  # not the white of an empty tile
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "gallery-placeholders.png"))

    released.append(True)
    for route in held:
        route.continue_()
    wait_for(
        page,
        f"(() => {{ const i = document.querySelector(\"#gallery > li[data-id='{image['id']}'] img\");"
        " return i.complete && i.naturalWidth > 0; })()",
    )
    expect(img).to_have_css("opacity", "1")
    expect(picture).to_have_class(re.compile(r"\bloaded\b"))


def test_a_photo_whose_url_went_stale_is_asked_for_again_and_shows(page, site, stack, user):
    """A tab left open past its URLs' lifetime, or a photo re-rendered meanwhile (`make
    reprocess`): the image's first request fails; the page asks the API for the image again and
    shows it with its current URLs."""
    image = upload_as(stack, user, phone_jpeg(800, 600, orientation=1), "stale.jpg")
    assert image["status"] == "processed", image
    failed, asked_again = [], []

    def expire_once(route):
        if failed:
            return route.continue_()
        failed.append(route.request.url)
        route.fulfill(status=403, content_type="application/xml", body="<Error><Code>AccessDenied</Code></Error>")

    page.route(f"{stack.endpoint}/{stack.outputs['processedBucket']}/**", expire_once)
    page.on("request", lambda r: asked_again.append(r.url) if r.url.endswith(f"/images/{image['id']}") else None)
    sign_in(page, site, user)
    wait_for(
        page,
        f"(() => {{ const i = document.querySelector(\"#gallery > li[data-id='{image['id']}'] img\");"
        " return i && i.complete && i.naturalWidth > 0; })()",
    )
    assert failed and asked_again, (failed, asked_again)


def test_chromium_fetches_the_avif_that_fits_the_tile_and_never_the_jpeg(browser, site, stack, user):
    """A browser that shows AVIF gets AVIF (image/avif on the wire), in the smallest size that is
    sharp in the tile at its pixel density: a phone gets a bigger one than a desktop's 1x screen;
    the JPEG fallback is not fetched at all."""
    image = upload_as(stack, user, phone_jpeg(1200, 900, orientation=1), "modern.jpg")
    assert image["status"] == "processed", image
    avif = {path_of(f["url"]): f["width"] for f in files_of(image, "image/avif")}
    assert len(set(avif.values())) == 4  # large, preview, small, thumbnail: 1200, 1024, 640, 320
    jpeg = {path_of(f["url"]) for f in fallbacks_of(image)}
    assert all(f["contentType"] == "image/jpeg" for f in fallbacks_of(image))

    chosen = []
    for options in (
        {"viewport": {"width": 1100, "height": 900}},
        {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "device_scale_factor": 3},
    ):
        page = new_page(browser, **options)
        responses = []
        page.on("response", lambda r, seen=responses: stack.outputs["processedBucket"] in r.url and seen.append(r))
        sign_in(page, site, user)
        wait_for_gallery_images(page, 1)
        img = page.locator(f"#gallery > li[data-id='{image['id']}'] img")
        current, tile, density = img.evaluate(
            "i => [i.currentSrc, i.getBoundingClientRect().width, window.devicePixelRatio]"
        )
        assert path_of(current) in avif, current
        got = [r for r in responses if r.url == current]
        assert got and got[0].headers["content-type"] == "image/avif"
        assert not [r.url for r in responses if path_of(r.url) in jpeg]  # no JPEG besides
        # The tile is square and the photo 4:3 (object-fit: cover): it is shown 4/3 as wide.
        needed = tile * 4 / 3 * density
        width = avif[path_of(current)]
        assert width >= needed and not [w for w in avif.values() if needed <= w < width], (width, needed)
        chosen.append(width)
        page.context.close()
    assert chosen[0] < chosen[1], chosen  # the phone's 3x screen needs more pixels than 1x


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


def test_a_photo_from_before_avif_still_shows_in_the_gallery_and_the_preview(page, site, stack, user):
    """Records made before AVIF and placeholders have a 1024px preview and a 256px thumbnail, one
    JPEG each, no placeholder and no facts: the gallery and the preview show them as before."""
    image_id, etag = uuid.uuid4().hex, uuid.uuid4().hex
    created = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    processed = stack.outputs["processedBucket"]
    renditions = {}
    for name, size in (("preview", (1024, 768)), ("thumbnail", (256, 192))):
        data = encode(photo(*size, seed=5), "JPEG", quality=85)
        key = f"{image_id}/{etag}/{name}.jpg"  # where the processor of then put them
        stack.s3().put_object(Bucket=processed, Key=key, Body=data, ContentType="image/jpeg")
        renditions[name] = {"width": size[0], "height": size[1], "bytes": len(data), "contentType": "image/jpeg"}
        renditions[name]["key"] = key
    sub = json.loads(_b64url(user.http.headers["Authorization"].split(".")[1]))["sub"]
    record = {
        "id": image_id,
        "status": "processed",
        "filename": "from-before.jpg",
        "contentType": "image/jpeg",
        "bytes": 300_000,
        "format": "JPEG",
        "width": 1200,
        "height": 900,
        "frames": 1,
        "hasAlpha": False,
        "colour": "assumed-srgb",
        "owner": sub,
        "ownerEmail": user.email,
        "createdAt": created,
        "updatedAt": created,
        "createdKey": f"{created}#{image_id}",
        "listPk": "IMAGE",
        "listedKey": f"{created}#{image_id}",
        "sourceEtag": etag,
        "renditions": renditions,
        # No uploadKey: the API then offers no original, and the page downloads the largest rendition.
    }
    serialize = TypeSerializer().serialize
    stack.dynamodb().put_item(TableName=stack.outputs["table"], Item={k: serialize(v) for k, v in record.items()})
    listed = user.http.get(f"{stack.api}/images/{image_id}").json()
    assert listed["placeholder"] is None and listed["dominantColor"] is None and listed["facts"] == {}
    assert [len(r["sources"]) for r in listed["renditions"].values()] == [1, 1]
    urls = {name: path_of(r["url"]) for name, r in listed["renditions"].items()}

    sign_in(page, site, user)
    wait_for_gallery_images(page, 1)
    tile = page.locator(f"#gallery > li[data-id='{image_id}']")
    assert tile.locator("source").count() == 0  # JPEG only: nothing for the browser to prefer
    assert path_of(tile.locator("img").evaluate("i => i.currentSrc")) == urls["thumbnail"]
    expect(tile.locator("picture")).to_have_css("background-image", "none")  # no placeholder: as before
    expect(tile.locator("img")).to_have_css("opacity", "1")

    tile.locator("button").click()
    viewer = page.locator("#viewer")
    viewer.wait_for(state="visible")
    wait_for(page, "document.getElementById('viewer-image').naturalWidth > 0")
    assert path_of(page.locator("#viewer-image").evaluate("i => i.currentSrc")) == urls["preview"]
    assert "1200×900" in viewer.inner_text()
    expect(page.locator("#viewer-facts-section")).to_be_hidden()
    download = page.get_by_role("link", name="Download", exact=True)
    assert path_of(download.get_attribute("href")) == urls["preview"]
    assert axe_violations(page) == []


SERIAL = "SN-4471-QX-0925"


def camera_jpeg() -> bytes:
    """A camera's JPEG: what it was taken with and when, and also where (GPS) and the body's
    serial number, which are no one's business."""
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "FUJIFILM"
    exif[ExifTags.Base.Model] = "X100V"
    details = exif.get_ifd(ExifTags.IFD.Exif)
    details[ExifTags.Base.DateTimeOriginal] = "2015:09:06 18:46:57"
    details[ExifTags.Base.OffsetTimeOriginal] = "+02:00"
    details[ExifTags.Base.FNumber] = IFDRational(45, 10)
    details[ExifTags.Base.ExposureTime] = IFDRational(1, 15)
    details[ExifTags.Base.ISOSpeedRatings] = 200
    details[ExifTags.Base.FocalLength] = IFDRational(23, 1)
    details[ExifTags.Base.LensModel] = "XF23mmF2 R WR"
    details[0xA431] = SERIAL  # BodySerialNumber
    exif.get_ifd(ExifTags.IFD.GPSInfo).update(GPS_TAGS)
    return encode(photo(1200, 900, seed=7), "JPEG", quality=90, exif=exif.tobytes())


def test_the_preview_tells_when_and_with_what_a_photo_was_taken_never_where(browser, site, stack, user):
    """The preview lists the photo's facts for people (the camera's own time, in words; camera,
    lens, aperture, exposure, ISO, focal length). Its GPS position and the camera's serial number
    appear nowhere: not in the dialog, not in the API. Download gives the file as uploaded."""
    original = camera_jpeg()
    image = upload_as(stack, user, original, "holiday.jpg")
    assert image["status"] == "processed", image["error"]
    for answer in (
        user.http.get(f"{stack.api}/images/{image['id']}").text,
        user.http.get(f"{stack.api}/images").text,
    ):
        assert SERIAL not in answer
        assert not re.search(r"gps|latitude|longitude", answer, re.IGNORECASE)

    # Another time zone than the camera's: the time shown is still the one the camera wrote.
    page = new_page(browser, locale="en-GB", timezone_id="America/New_York")
    sign_in(page, site, user)
    page.locator(f"#gallery > li[data-id='{image['id']}'] button").click()
    viewer = page.locator("#viewer")
    viewer.wait_for(state="visible")
    facts = page.locator("#viewer-facts")
    expect(facts).to_be_visible()
    rows = dict(
        zip(
            facts.locator("dt").all_inner_texts(),
            facts.locator("dd").all_inner_texts(),
            strict=True,
        )
    )
    assert rows == {
        "Taken": "6 September 2015 at 18:46 (UTC+02:00)",
        "Camera": "FUJIFILM X100V",
        "Lens": "XF23mmF2 R WR",
        "Aperture": "f/4.5",
        "Exposure": "1/15 s",
        "ISO": "200",
        "Focal length": "23 mm",
    }
    text = viewer.inner_text()
    assert SERIAL not in text
    assert not re.search(r"gps|latitude|longitude|52°|52\.5", text, re.IGNORECASE)

    download = page.get_by_role("link", name="Download original")
    assert path_of(download.get_attribute("href")) == path_of(image["original"]["url"])
    got = requests.get(download.get_attribute("href"), timeout=30)
    assert got.status_code == 200 and got.content == original  # the file itself, EXIF and all: it is theirs
    assert got.headers["content-disposition"].startswith("attachment")
    expect(page.locator("#viewer-image")).to_have_css("opacity", "1")  # arrived, and faded in
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "preview-facts.png"))
    assert axe_violations(page) == []
    page.context.close()


def test_another_site_cannot_frame_the_page(page, site):
    """Clickjacking: a page of another origin (another port) puts the site in an iframe. The site's
    CSP (frame-ancestors 'none'; X-Frame-Options: DENY for older browsers) makes Chromium refuse
    to show it: the frame holds an error page, never the sign-in form."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    served = requests.get(site, timeout=10)
    assert "frame-ancestors 'none'" in served.headers["Content-Security-Policy"]
    assert served.headers["X-Frame-Options"] == "DENY"

    framer_html = f'<!doctype html><title>framer</title><iframe id="site" src="{site}/"></iframe>'.encode()

    class Framer(BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.end_headers()
            self.wfile.write(framer_html)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Framer)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        page.goto(f"http://127.0.0.1:{server.server_port}/")
        deadline = time.monotonic() + 15
        while not [m for m in CSP_REFUSALS if "frame-ancestors" in m] and time.monotonic() < deadline:
            page.wait_for_timeout(100)
        refused = [m for m in CSP_REFUSALS if "frame-ancestors" in m]
        assert refused, CSP_REFUSALS  # Chromium says why
        page.wait_for_timeout(1000)  # what a framed page would have shown by now
        frames = [f for f in page.frames if f != page.main_frame]
        assert len(frames) == 1 and not frames[0].url.startswith(site), frames[0].url
        assert page.frame_locator("#site").locator("#sign-in-form").count() == 0
    finally:
        server.shutdown()
        server.server_close()
    CSP_REFUSALS[:] = [m for m in CSP_REFUSALS if m not in refused]  # the refusal this test expects
