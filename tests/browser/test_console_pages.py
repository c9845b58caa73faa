"""The console's pages in a real browser: a court clerk traces a message down to its evidence
chain, another unit cannot open that trace, and a grid worker's console shows its people masked
and nothing outside the grid's projection on any page."""

from __future__ import annotations

import json
import time

import pytest
from playwright.sync_api import BrowserContext, Page

from gateway.store import StoredMessage
from tests.browser.conftest import screenshot, sign_in
from tests.conftest import RunningGateway
from tests.flows import COURT, SUNWU_STATION, WUDINGFU_GRID, sample, submit, wait_delivered
from tests.test_grid_projection import SUBMISSIONS, secrets_of
from tests.test_handover_flow import submit_documents

pytestmark = pytest.mark.broker


def reload_until(page: Page, selector: str, text: str, timeout: float = 30) -> str:
    """The console renders on the server: reload until `selector` shows `text`."""
    deadline = time.monotonic() + timeout
    while True:
        shown = page.inner_text(selector)
        if text in shown or time.monotonic() > deadline:
            return shown
        time.sleep(0.3)
        page.reload()


def test_a_court_clerk_traces_its_documents_to_every_inbox_with_the_evidence_chain(browser: BrowserContext, fresh_gateway: RunningGateway) -> None:
    accepted = submit_documents(fresh_gateway)
    assert accepted.status_code == 202, accepted.text
    message_id = accepted.json()["message_id"]

    page = sign_in(browser, fresh_gateway, COURT, f"/console/messages/{message_id}")
    assert reload_until(page, "#message-status", "全部送达") == "全部送达"
    rows = page.locator("#deliveries tbody tr")
    recipients = [rows.nth(i).inner_text() for i in range(rows.count())]
    assert len(recipients) == 3 and all("已送达" in row for row in recipients)
    assert any("惠民县司法局" in row for row in recipients) and any("惠民县人民检察院" in row for row in recipients)
    assert "审计日志哈希链校验通过" in page.inner_text("#chain-verdict")
    evidence = page.inner_text("#evidence")
    assert "报文受理" in evidence and evidence.count("已送达收件箱") == 3
    screenshot(page, "court-message-trace")

    browser.clear_cookies()  # the clerk signs out; a police station signs in on the same browser
    police = sign_in(browser, fresh_gateway, SUNWU_STATION, f"/console/messages/{message_id}")
    assert police.get_attribute("#refusal", "data-code") == "message_not_found"
    assert "惠民县人民检察院" not in police.inner_text("main")
    screenshot(police, "police-station-cannot-trace-the-courts-message")


def test_the_grid_workers_console_shows_its_people_masked_and_nothing_outside_its_projection(
    browser: BrowserContext, fresh_gateway: RunningGateway
) -> None:
    message_ids = []
    for unit, name in SUBMISSIONS:
        response = submit(fresh_gateway, unit, "canonical", sample("canonical", name))
        assert response.status_code == 202, response.text
        message_ids.append(response.json()["message_id"])
        with fresh_gateway.client(unit) as client:
            assert wait_delivered(client, message_ids[-1])["status"] == "delivered"
    store = fresh_gateway.store()
    with store.read() as session:
        bodies = [json.loads(m.body) for m in session.query(StoredMessage).all()]
    store.engine.dispose()
    secrets = secrets_of(bodies) | {b["case"]["person_key"] for b in bodies if b["case"]["person_key"]}
    assert "372321198506120019" in secrets

    page = sign_in(browser, fresh_gateway, WUDINGFU_GRID)
    board = page.inner_text("#tasks")
    assert "李建国" in board and "372321********0319" in board  # the visit task, its person masked
    screenshot(page, "grid-board")
    seen = [page.content()]
    pages = ["/console/live", "/console/dlq", "/console/cases", *(f"/console/messages/{m}" for m in message_ids)]
    pages += [f"/console/cases?key={secret}" for secret in sorted(secrets) if secret.startswith("（") or len(secret) == 32]
    for path in pages:
        page.goto(f"{fresh_gateway.base_url}{path}")
        if path == "/console/live":
            page.wait_for_selector("#stream-state.ok")
        page.evaluate("() => document.querySelector('#key')?.remove()")  # the search box echoes what the worker typed
        seen.append(page.content())
    text = "\n".join(seen)
    for secret in secrets:
        assert secret not in text, secret
