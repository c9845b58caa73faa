"""The coordinators' board: the county committee (县委政法委) sees its division's overdue
obligations grouped by the agency that owes them, and the cases at risk with what flagged them,
without opening any message; a unit outside the committee sees neither."""

from __future__ import annotations

import pytest
from playwright.sync_api import BrowserContext

from tests.browser.conftest import screenshot, sign_in
from tests.conftest import RunningGateway
from tests.flows import COMMITTEE, COURT, JUSTICE_BUREAU, SUNWU_STATION, sample, submit, wait_delivered

pytestmark = pytest.mark.broker

JUDGED = "（2025）鲁1621刑初123号"  # the court sample's case: its 2025 judgment leaves the documents and the report overdue
ALERTED = "（2024）鲁1621刑初287号"  # the fence-breach sample's case


def test_the_committee_sees_overdue_obligations_by_agency_and_the_cases_at_risk(browser: BrowserContext, fresh_gateway: RunningGateway) -> None:
    for unit, adapter, name in (
        (COURT, "court", "handover.judgment_effective.xml"),
        (JUSTICE_BUREAU, "canonical", "supervision.alert.json"),
        (JUSTICE_BUREAU, "canonical", "sanction.warning.json"),
        (JUSTICE_BUREAU, "canonical", "enrollment.registered.json"),  # routine: flags nothing
    ):
        response = submit(fresh_gateway, unit, adapter, sample(adapter, name))
        assert response.status_code == 202, response.text
        with fresh_gateway.client(unit) as client:
            assert wait_delivered(client, response.json()["message_id"])["status"] == "delivered"

    page = sign_in(browser, fresh_gateway, COMMITTEE)
    court_row = page.inner_text('#overdue-by-agency tr[data-agency="法院"]')
    assert "法律文书" in court_row and JUDGED in court_row
    assert page.inner_text('#overdue-by-agency tr[data-agency="法院"] .count') == "1"

    judged = page.inner_text(f'#cases-at-risk tr[data-case="{JUDGED}"]')
    assert "训诫/警告决定" in judged and "惠民县司法局" in judged and "法律文书" in judged  # flagged and overdue
    alerted = page.inner_text(f'#cases-at-risk tr[data-case="{ALERTED}"]')
    assert "监管告警" in alerted
    assert page.locator("#cases-at-risk tbody tr").count() == 2  # the enrollment flagged nothing
    assert page.locator("#cases-at-risk tbody tr").first.get_attribute("data-case") == JUDGED  # the most troubled first
    assert "117.532811" not in page.content()  # which message flagged a case, never its content
    screenshot(page, "committee-board")

    browser.clear_cookies()
    station = sign_in(browser, fresh_gateway, SUNWU_STATION)
    assert station.locator("#overdue-by-agency").count() == 0 and station.locator("#cases-at-risk").count() == 0
