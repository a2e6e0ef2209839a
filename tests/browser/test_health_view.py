"""User story: as an admin I open the Health view and see every alarm of the stack with its state in
words, the last hour's photos and waits and the oldest unfinished upload, as the API reported
them, and can read it again; axe finds nothing in it. Anyone else has no Health view, and the API
answers them 403."""

from __future__ import annotations

import pytest

from bootstrap.deploy.monitoring import ALARMS
from tests.browser.page import ARTIFACTS, axe_violations, expect, new_user, sign_in, sign_out

pytestmark = pytest.mark.browser

STATE_WORDS = {"OK": "OK", "ALARM": "In alarm", "INSUFFICIENT_DATA": "Not enough data"}  # frontend/js/health.js


def open_health(page) -> dict:
    """Click Health; the report the page was given."""
    with page.expect_response(lambda r: r.url.endswith("/admin/health")) as answered:
        page.get_by_role("button", name="Health").click()
    assert answered.value.status == 200, answered.value.text()
    return answered.value.json()


def test_an_admin_sees_the_stack_s_alarms_and_figures(page, site, stack):
    admin = new_user(stack, "admin", admin=True)
    prefix = stack.outputs["apiEnvironment"]["POWERTOOLS_METRICS_NAMESPACE"]
    sign_in(page, site, admin)
    toggle = page.get_by_role("button", name="Health")
    expect(toggle).to_have_attribute("aria-expanded", "false")

    report = open_health(page)
    assert {a["name"] for a in report["alarms"]} == {f"{prefix}-{a.name}" for a in ALARMS}  # deploy's, every one
    view = page.get_by_role("region", name="Health")
    expect(view.get_by_role("heading", name="Health", level=2)).to_be_focused()
    expect(toggle).to_have_attribute("aria-expanded", "true")
    table = view.get_by_role("table", name="Alarms")
    expect(table.locator("tbody tr")).to_have_count(len(report["alarms"]))
    for alarm in report["alarms"]:
        row = table.get_by_role("row").filter(has=page.get_by_role("rowheader", name=alarm["name"], exact=True))
        expect(row.locator("td").first).to_have_text(STATE_WORDS[alarm["state"]])  # in words

    def figure(term: str):
        return view.locator("#health-figures dt").filter(has_text=term).locator("xpath=following-sibling::dd[1]")

    expect(figure("Photos processed")).to_have_text(str(report["photos"]["processed"]))
    expect(figure("Photos refused")).to_have_text(str(report["photos"]["refused"]))
    oldest = report["oldestUnfinished"]
    expect(figure("Oldest unfinished upload")).to_contain_text(oldest["id"] if oldest else "none")
    assert axe_violations(page) == []
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "health-view.png"), full_page=True)

    with page.expect_response(lambda r: r.url.endswith("/admin/health")) as again:
        view.get_by_role("button", name="Refresh").click()
    assert again.value.status == 200
    toggle.click()  # closes it
    expect(page.locator("#health")).to_be_hidden()
    sign_out(page)
    expect(page.locator("#health")).to_be_hidden()


def test_anyone_else_has_no_health_view_and_the_api_refuses_them(page, site, user, stack):
    sign_in(page, site, user)
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()
    expect(page.get_by_role("button", name="Health")).to_have_count(0)  # hidden: not in the page's tree
    expect(page.locator("#health")).to_be_hidden()
    answer = user.http.get(f"{stack.api}/admin/health")
    assert answer.status_code == 403 and answer.json()["error"]["code"] == "forbidden"
