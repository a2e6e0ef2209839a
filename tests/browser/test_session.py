"""User story: my session lasts while I use the page: a refused token is refreshed once, the ID
token before it expires; signing out in one tab signs out the others."""

from __future__ import annotations

import json

import pytest

from tests.browser.page import (
    SESSION_KEY,
    b64url_decode,
    cognito,
    expect,
    new_page,
    sign_in,
    sign_out,
    stored_session,
    wait_for,
)

pytestmark = pytest.mark.browser


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
    claims = json.loads(b64url_decode(before["idToken"].split(".")[1]))
    lifetime = claims["exp"] - claims["iat"]
    with page.expect_request(lambda r: "REFRESH_TOKEN_AUTH" in (r.post_data or "")):
        page.clock.fast_forward((lifetime - 60) * 1000)  # a minute before it expires
    wait_for(page, f"JSON.parse(localStorage.getItem('{SESSION_KEY}')).idToken !== {json.dumps(before['idToken'])}")
    after = stored_session(page)
    assert after["refreshToken"] == before["refreshToken"]
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()


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
