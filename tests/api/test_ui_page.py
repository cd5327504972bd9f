"""The Connectors page in a real browser (Debian's Chromium), inside the real Airflow UI, behind its login.

Login goes through Airflow's own login form (simple auth manager); the page is opened from the Airflow
UI's nav, so what is tested is that the UI session's cookie reaches the page in the iframe.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
import requests
from playwright.sync_api import Browser, BrowserContext, FrameLocator, Page, expect

from tests.support.airflow_server import AirflowServer

pytestmark = [pytest.mark.airflow_server, pytest.mark.browser]

DEMO = {"demo_shop": ("sqlite", "*/10 * * * *"), "demo_products": ("sqlite", "0 * * * *")}
PAGE = "/atlas/ui/connectors"


@pytest.fixture(scope="module")
def demo(airflow_server: AirflowServer, tokens: dict[str, str]) -> None:
    """The demo connectors (``atlas demo setup``), their DAGs parsed."""
    airflow_server.run("atlas", "demo", "setup")
    for name in DEMO:
        airflow_server.wait_for_dag(f"atlas__{name}", token=tokens["admin"], timeout=120)


@pytest.fixture
def context(browser: Browser) -> Iterator[BrowserContext]:
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    context.set_default_timeout(30_000)
    yield context
    context.close()


def log_in(page: Page, server: AirflowServer, user: str = "admin") -> None:
    """Through Airflow's own login form, as a person would."""
    page.goto(server.base_url + "/")
    page.wait_for_url("**/auth/login**")
    page.fill("input[name=username]", user)
    page.fill("input[name=password]", server.passwords[user])
    page.click("button[type=submit]")
    page.wait_for_url(lambda url: "/auth/login" not in url)


def open_from_nav(page: Page) -> FrameLocator:
    """Click the Connectors entry of the Airflow UI's nav; return the iframe showing our page."""
    page.get_by_role("link", name="Connectors").click()
    page.wait_for_url("**/plugin/atlas-connectors**")
    return page.frame_locator(f"iframe[src$='{PAGE}']")


def test_login_then_nav_shows_demo_connectors_and_sync_now_starts_a_run(
    context, airflow_server, tokens, admin, demo
) -> None:
    page = context.new_page()
    log_in(page, airflow_server)
    frame = open_from_nav(page)

    for name, (source_type, cron) in DEMO.items():
        row = frame.locator(f"tr[data-connector={name}]")
        expect(row).to_be_visible()
        expect(row.locator(".chip.type")).to_have_text(source_type)
        expect(row.locator("td").nth(2)).to_contain_text(cron)
        expect(row.locator(".status .chip")).not_to_have_text("Invalid")

    shop = frame.locator("tr[data-connector=demo_shop]")
    shop.get_by_role("button", name="Test").click()
    expect(shop.locator(".result.ok")).to_contain_text("connected to SQLite")

    shop.get_by_role("button", name="Sync now").click()
    link = frame.locator("tr[data-connector=demo_shop] .result.ok a[data-dag-run-id]")
    expect(link).to_be_visible()
    run_id = link.get_attribute("data-dag-run-id")

    # The run exists in Airflow, started by the user whose session the page used.
    resp = requests.get(
        f"{airflow_server.base_url}/api/v2/dags/atlas__demo_shop/dagRuns/{run_id}",
        headers={"Authorization": f"Bearer {tokens['admin']}"},
        timeout=30,
    )
    assert resp.status_code == 200, resp.text
    run = resp.json()
    assert (run["run_type"], run["triggering_user_name"], run["conf"]) == (
        "manual",
        "admin",
        {"full_refresh": False, "since": None},
    )
    # Once it is done, the sparkline shows it.
    assert airflow_server.wait_for_run("atlas__demo_shop", run_id, token=tokens["admin"])["state"] == "success"
    frame.get_by_role("button", name="Refresh").click()
    expect(frame.locator("tr[data-connector=demo_shop] svg.spark rect.success").first).to_be_visible()
    # Freshness as the API reports it: last success, lag, and the stale marker exactly where stale.
    expect(shop.locator(".last-success")).to_contain_text(re.compile(r"just now|\d+ (s|min|h|d)\b.* ago"))
    expect(shop.locator(".freshness")).to_contain_text(re.compile(r"\d+ (s|min|h|d)\b"))
    for connector in admin.get("/connectors/").json():
        marker = frame.locator(f"tr[data-connector={connector['source_name']}] [data-stale]")
        expect(marker).to_have_count(1 if connector["stale"] else 0)


@pytest.mark.parametrize("cookie", [None, "not.a.jwt"], ids=["no-session", "bad-session"])
def test_page_refuses_without_a_login(airflow_server, cookie) -> None:
    cookies = {"_token": cookie} if cookie else None
    resp = requests.get(airflow_server.base_url + PAGE, cookies=cookies, allow_redirects=False, timeout=30)
    assert resp.status_code == 303
    assert resp.headers["location"].startswith("/auth/login?next=")
    assert "connectors.js" not in resp.text


def test_page_is_served_to_a_valid_token(airflow_server, tokens) -> None:
    resp = requests.get(airflow_server.base_url + PAGE, cookies={"_token": tokens["viewer"]}, timeout=30)
    assert resp.status_code == 200
    assert "connectors.js" in resp.text and "signed in as viewer" in resp.text
    assert resp.headers["cache-control"] == "no-store"


def test_browser_without_login_lands_on_the_login_form(context, airflow_server) -> None:
    page = context.new_page()
    page.goto(airflow_server.base_url + PAGE)
    page.wait_for_url("**/auth/login**")
    expect(page.locator("input[name=password]")).to_be_visible()


def test_a_bad_field_is_shown_next_to_that_field(context, airflow_server, admin, demo) -> None:
    page = context.new_page()
    log_in(page, airflow_server)
    page.goto(airflow_server.base_url + PAGE)

    # Edit: a bad cron is refused by the API (422); the message sits under the schedule field.
    page.locator("tr[data-connector=demo_products]").get_by_role("button", name="Edit").click()
    form = page.locator("#editor[open]")
    expect(form.locator("[name=schedule_cron]")).to_have_value("0 * * * *")
    form.locator("[name=schedule_cron]").fill("61 * * * *")
    form.get_by_role("button", name="Save").click()
    error = form.locator(".field-error[data-error-for=schedule_cron]")
    expect(error).to_contain_text("invalid cron expression '61 * * * *'")
    expect(form.locator(".field.invalid")).to_have_count(1)
    assert admin.get("/connectors/demo_products").json()["schedule_cron"] == "0 * * * *"  # nothing written
    form.get_by_role("button", name="Cancel").click()

    # Create: a nested config field and a top-level one, each under its own input.
    page.get_by_role("button", name="New connector").click()
    form.locator("#source-type").select_option("sqlite")
    form.locator("[name=source_name]").fill("Not-A-Slug")
    form.locator("[name=conn_id]").fill("atlas_demo_shop")
    form.locator("[name='config.table']").fill("products")
    form.locator("[name='config.batch_size']").fill("0")
    form.get_by_role("button", name="Save").click()
    expect(form.locator(".field-error[data-error-for=source_name]")).to_contain_text("pattern")
    expect(form.locator(".field-error[data-error-for='config.batch_size']")).to_contain_text("greater than or equal")
    expect(form.locator("#form-error")).to_be_hidden()
    assert admin.get("/connectors/Not-A-Slug").status_code == 404
