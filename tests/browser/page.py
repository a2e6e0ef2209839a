"""What the browser tests share: signing in as a person would, people of the stack's pool, waiting
on the page without eval (its CSP refuses it), uploads from Python, axe-core's audit."""

from __future__ import annotations

import base64
import json
import re
import time
import uuid
from dataclasses import dataclass
from urllib.parse import urlsplit

import requests

from bootstrap.package import ROOT
from handlers.schema import EVERYONE
from tests.images import phone_jpeg

RECORD = re.compile(r"/images/([0-9a-f]{32})$")  # one image's record, its id
ARTIFACTS = ROOT / "test-artifacts"  # screenshots, git-ignored
SESSION_KEY = "imagepipe.session"


def expect(*args, **kwargs):
    from playwright.sync_api import expect as playwright_expect

    # A sign-up runs the pool's PreSignUp function, which may start cold: more than 5 s.
    playwright_expect.set_options(timeout=30_000)
    return playwright_expect(*args, **kwargs)


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
    page.on("dialog", lambda dialog: dialog.accept())  # the page asks nothing this way: none hangs a test
    return page


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
    return page.eval_on_selector_all("#gallery li.tile", "els => els.map(e => e.dataset.id)")


def wait_for_cards(page, count: int, timeout: int = 90_000) -> None:
    wait_for(
        page,
        "document.querySelectorAll('#uploads .card[data-state=processed], #uploads .card[data-state=failed]')"
        f".length === {count}",
        timeout=timeout,
    )


def wait_for_gallery_images(page, count: int) -> None:
    wait_for(
        page,
        f"document.querySelectorAll('#gallery img').length === {count}"
        " && [...document.querySelectorAll('#gallery img')].every(i => i.complete && i.naturalWidth > 0)",
    )


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


def path_of(url: str) -> str:
    """An object's URL without its signature: the same file whatever hour it was signed in."""
    return urlsplit(url).path


def b64url_decode(text: str) -> bytes:
    """A JWT part (base64url, its padding dropped) as bytes."""
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def set_undo_delay(page, ms: int) -> None:
    """A delete's Undo is on offer this long before its requests go (the page's own: 8 s); for the
    deletes made from now on, until the page is loaded again."""
    page.evaluate(f"document.getElementById('undo-bar').dataset.undoMs = '{ms}'")


def wait_gone(http: requests.Session, url: str, timeout: float = 30) -> None:
    """The API answers 404 for this image: its delete has gone (after the Undo's delay)."""
    deadline = time.monotonic() + timeout
    while (status := http.get(url).status_code) != 404:
        if time.monotonic() > deadline:
            raise TimeoutError(f"{url} still answers {status} after {timeout:.0f} s")
        time.sleep(0.2)


# The screens the page is tried on: a desktop, and a phone with touch.
DESKTOP = {"viewport": {"width": 1280, "height": 800}}
PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True, "device_scale_factor": 3}

# Every text the live region (#status) takes from now on, in order, as a screen reader gets it.
RECORD_ANNOUNCEMENTS = """() => {
    window.announced = [];
    const status = document.getElementById('status');
    new MutationObserver(() => window.announced.push(status.textContent))
        .observe(status, {childList: true, characterData: true, subtree: true});
}"""


def pick_photo(page, tmp_path, name: str) -> None:
    """A phone photo of this name, picked on the page (its upload starts)."""
    photo = tmp_path / name
    photo.write_bytes(phone_jpeg(640, 480, orientation=1))
    page.set_input_files("#file-input", [str(photo)])


def sub_of(user) -> str:
    return json.loads(b64url_decode(user.http.headers["Authorization"].split(".")[1]))["sub"]


def socket_recorded(stack, user, seconds: float = 60, everyone: bool = False) -> None:
    """Until the connections table holds a connection of this person's (one that watches everyone's
    events: an item under EVERYONE naming them)."""
    owner = sub_of(user)

    def recorded() -> bool:
        items = stack.dynamodb().query(
            TableName=stack.outputs["connectionsTable"],
            KeyConditionExpression="#o = :o",
            ExpressionAttributeNames={"#o": "owner"},
            ExpressionAttributeValues={":o": {"S": EVERYONE if everyone else owner}},
            ConsistentRead=True,
        )["Items"]
        return any(not everyone or item["watcher"]["S"] == owner for item in items)

    deadline = time.monotonic() + seconds
    while not recorded():
        assert time.monotonic() < deadline, "the page opened no live-status socket"
        time.sleep(0.2)
