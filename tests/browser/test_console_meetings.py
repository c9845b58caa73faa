"""The coordinators' joint-meeting work in a real browser: the committee raises an overdue
obligation to the next joint meeting from its board, records a decision, and sees it become the
court's obligation; the court reports it done from its own console, and the committee closes the
issue."""

from __future__ import annotations

from datetime import timedelta

import pytest
from playwright.sync_api import BrowserContext

from gateway.obligations import china_date
from gateway.store import utcnow
from tests.browser.conftest import screenshot, sign_in
from tests.conftest import RunningGateway
from tests.flows import COMMITTEE, COURT, sample, submit

pytestmark = pytest.mark.broker

DECISION = "惠民县人民法院五日内补送判决书及执行通知书"


def test_a_coordinator_raises_an_overdue_obligation_and_its_decision_becomes_an_obligation(browser: BrowserContext, fresh_gateway: RunningGateway) -> None:
    assert submit(fresh_gateway, COURT, "court", sample("court", "handover.judgment_effective.xml")).status_code == 202
    today = china_date(utcnow())

    page = sign_in(browser, fresh_gateway, COMMITTEE, "/console/issues")
    page.fill("#convene input[name=held_on]", str(today + timedelta(days=7)))
    page.fill("#convene input[name=place]", "县委政法委三楼会议室")
    page.click("#convene button")
    assert "县委政法委三楼会议室" in page.inner_text("#meetings")

    page.goto(f"{fresh_gateway.base_url}/console/")
    overdue = page.locator('#overdue-by-agency tr[data-agency="法院"] [data-obligation^="handover.documents/"]')
    assert "送达法律文书" in overdue.inner_text()
    overdue.locator("button").click()
    page.wait_for_selector("#issue-title")
    assert page.inner_text("#issue-title") == "逾期未办：送达法律文书"
    assert page.get_attribute("#issue-status", "data-status") == "open"
    assert "判决生效通知" in page.inner_text("#issue-messages") and "惠民县人民法院" in page.inner_text("#issue-messages")

    page.click("#agenda button")
    assert page.get_attribute("#issue-status", "data-status") == "scheduled"
    page.fill("#decide input[name=text]", DECISION)
    page.select_option("#decide select[name=owed_by]", COURT)
    page.fill("#decide input[name=due_on]", str(today + timedelta(days=5)))
    page.click("#decide button")
    assert page.get_attribute("#issue-status", "data-status") == "decided"
    decision = page.locator("#decisions tr[data-decision]")
    assert "惠民县人民法院" in decision.inner_text() and "办理中" in decision.inner_text()
    obligation_id = decision.get_attribute("data-obligation")
    screenshot(page, "meeting-issue-decided")

    page.goto(f"{fresh_gateway.base_url}/console/")
    assert "已提交联席会议" in page.inner_text('#overdue-by-agency tr[data-agency="法院"]')
    assert DECISION in page.inner_text("#open-issues")
    assert page.locator(f'#owed tr[data-obligation="{obligation_id}"]').count() == 1  # owed to the committee
    screenshot(page, "committee-board-with-issue")

    browser.clear_cookies()
    court = sign_in(browser, fresh_gateway, COURT)
    owes = court.locator(f'#owes tr[data-obligation="{obligation_id}"]')
    assert DECISION in owes.inner_text() and "惠民县委政法委" in owes.inner_text()
    court.click("text=联席会议")
    court.click("#issues a:has-text('逾期未办：送达法律文书')")
    court.fill("#decisions form.done input[name=note]", "判决书、执行通知书已于今日补送")
    court.click("#decisions form.done button")
    assert "已办结" in court.inner_text("#decisions")
    assert court.locator("#decide").count() == 0  # only the committee records decisions
    screenshot(court, "court-reports-decision-done")

    browser.clear_cookies()
    page = sign_in(browser, fresh_gateway, COMMITTEE, court.url.removeprefix(fresh_gateway.base_url))
    page.fill("#close input[name=note]", "法律文书已补送，议题办结")
    page.click("#close button")
    assert page.get_attribute("#issue-status", "data-status") == "closed"
    history = page.locator("#history li .what").all_inner_texts()
    assert [h.split("惠民县")[0] for h in history] == ["立项", "列入会议议程", "作出决定", "决定事项办结", "议题办结"]
    assert "惠民县人民法院" in history[3] and "判决书、执行通知书已于今日补送" in history[3]
    screenshot(page, "meeting-issue-closed")
