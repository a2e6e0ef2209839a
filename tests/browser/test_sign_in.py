"""User story: I create an account on the page (with a confirmation code where the pool sends one)
or sign in, stay signed in across a reload without my password kept anywhere, and sign out; when
something is wrong, the sign-in screen says what, and passes an accessibility audit."""

from __future__ import annotations

import json
import uuid

import pytest
import requests

from tests.browser.page import (
    ARTIFACTS,
    User,
    axe_violations,
    cognito,
    expect,
    new_page,
    new_user,
    sign_in,
    sign_out,
    stored_session,
    tile_ids,
    wait_for,
    wait_for_cards,
)
from tests.images import phone_jpeg

pytestmark = pytest.mark.browser


def refresh(config: dict, refresh_token: str) -> requests.Response:
    return cognito(
        config, "InitiateAuth", {"AuthFlow": "REFRESH_TOKEN_AUTH", "AuthParameters": {"REFRESH_TOKEN": refresh_token}}
    )


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
    expect(page.locator(f"#gallery li.tile[data-id='{image_id}'] img")).to_be_visible()

    # Reload: still signed in, and the photo is in the gallery.
    page.reload()
    page.locator(f"#gallery li.tile[data-id='{image_id}'] img").wait_for()
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()
    expect(page.locator("#auth")).to_be_hidden()
    wait_for(page, f"document.querySelector(\"#gallery li.tile[data-id='{image_id}'] img\").naturalWidth > 0")
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
    page.locator(f"#gallery li.tile[data-id='{image_id}']").wait_for()


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
