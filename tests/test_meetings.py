"""Joint-meeting issues (联席会议议题) through a real gateway: the committee takes an overdue
obligation to the next meeting, records a decision that becomes the owing unit's obligation, and
closes the issue only when the decision is met; each party sees what it may, and the history is
the audit chain."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from gateway.chain import verify_chain
from gateway.obligations import china_date
from gateway.store import utcnow
from tests.conftest import RunningGateway
from tests.flows import BINCHENG_JUSTICE_BUREAU, COMMITTEE, COURT, JUSTICE_BUREAU, SUNWU_STATION, WUDINGFU_GRID, sample, submit

pytestmark = pytest.mark.broker

CASE = "（2025）鲁1621刑初123号"  # the court sample's case: its 2025 judgment leaves the documents overdue


def call(gateway: RunningGateway, unit: str, method: str, path: str, body: dict[str, Any] | None = None) -> tuple[int, Any]:
    with gateway.client(unit) as client:
        response = client.request(method, path, json=body)
    return response.status_code, response.json()


def overdue_documents(gateway: RunningGateway) -> dict[str, Any]:
    status, found = call(gateway, COMMITTEE, "GET", "/v1/obligations?status=overdue")
    assert status == 200, found
    return next(o for o in found if o["rule"] == "handover.documents" and o["case_number"] == CASE)


def test_an_overdue_obligation_goes_to_the_meeting_and_its_decision_becomes_an_obligation(fresh_gateway: RunningGateway) -> None:
    judgment = submit(fresh_gateway, COURT, "court", sample("court", "handover.judgment_effective.xml"))
    assert judgment.status_code == 202, judgment.text
    obligation = overdue_documents(fresh_gateway)
    assert obligation["side"] == "coordinating"

    status, refused = call(fresh_gateway, COURT, "POST", "/v1/issues", {"from_obligation": obligation["obligation_id"]})
    assert (status, refused["error"]["code"]) == (403, "coordinator_only")

    status, issue = call(fresh_gateway, COMMITTEE, "POST", "/v1/issues", {"from_obligation": obligation["obligation_id"]})
    assert status == 201, issue
    assert (issue["origin"], issue["origin_ref"], issue["status"]) == ("obligation", obligation["obligation_id"], "open")
    assert issue["title"] == "逾期未办：送达法律文书" and issue["cases"] == [CASE]
    assert [p["key"] for p in issue["parties"]] == ["court", "justice"]
    assert [m["message_id"] for m in issue["messages"]] == [judgment.json()["message_id"]]
    issue_id = issue["issue_id"]

    today = china_date(utcnow())
    status, refused = call(fresh_gateway, COMMITTEE, "POST", "/v1/meetings", {"held_on": str(today - timedelta(days=1)), "place": "县委政法委会议室"})
    assert (status, refused["error"]["code"], refused["error"]["field"]) == (422, "date_in_past", "held_on")
    status, meeting = call(fresh_gateway, COMMITTEE, "POST", "/v1/meetings", {"held_on": str(today + timedelta(days=7)), "place": "县委政法委会议室"})
    assert status == 201, meeting
    status, issue = call(fresh_gateway, COMMITTEE, "POST", f"/v1/issues/{issue_id}/agenda", {"meeting_id": meeting["meeting_id"]})
    assert (status, issue["status"], issue["meeting"]["meeting_id"]) == (200, "scheduled", meeting["meeting_id"])
    status, upcoming = call(fresh_gateway, COMMITTEE, "GET", "/v1/meetings")
    assert [(m["meeting_id"], [a["issue_id"] for a in m["agenda"]]) for m in upcoming] == [(meeting["meeting_id"], [issue_id])]

    due = today + timedelta(days=10)
    status, refused = call(fresh_gateway, COMMITTEE, "POST", f"/v1/issues/{issue_id}/decisions", {"text": "五日内补送法律文书", "owed_by": "nobody", "due_on": str(due)})
    assert (status, refused["error"]["code"], refused["error"]["field"]) == (422, "unit_unknown", "owed_by")
    status, refused = call(fresh_gateway, COMMITTEE, "POST", f"/v1/issues/{issue_id}/decisions", {"text": "五日内补送法律文书", "due_on": str(due)})
    assert (status, refused["error"]["code"]) == (422, "request_invalid") and "承办单位" in refused["error"]["message"]
    decision = {"text": "惠民县人民法院补送判决书及执行通知书", "owed_by": COURT, "due_on": str(due)}
    status, issue = call(fresh_gateway, COMMITTEE, "POST", f"/v1/issues/{issue_id}/decisions", decision)
    assert (status, issue["status"]) == (201, "decided")
    [recorded] = issue["decisions"]
    assert (recorded["owed_by_name"], recorded["due_on"], recorded["case_number"], recorded["status"]) == ("惠民县人民法院", str(due), CASE, "open")

    # The decision is the court's obligation now, owed to the committee, and the committee's too.
    status, owes = call(fresh_gateway, COURT, "GET", "/v1/obligations")
    mine = next(o for o in owes if o["obligation_id"] == recorded["obligation_id"])
    assert (mine["side"], mine["rule"], mine["title"], mine["due_on"], mine["case_number"]) == ("owes", "meeting.decision", decision["text"], str(due), CASE)
    assert [p["unit_code"] for p in mine["owed_to"]] == [COMMITTEE]
    status, coordinated = call(fresh_gateway, COMMITTEE, "GET", "/v1/obligations?status=open")
    assert next(o for o in coordinated if o["obligation_id"] == recorded["obligation_id"])["side"] == "owed"

    # The court sits at the meeting and sees the issue; a police station and a grid do not.
    status, seen = call(fresh_gateway, COURT, "GET", f"/v1/issues/{issue_id}")
    assert status == 200 and [m["message_id"] for m in seen["messages"]] == [judgment.json()["message_id"]]
    for outsider in (SUNWU_STATION, WUDINGFU_GRID):
        status, refused = call(fresh_gateway, outsider, "GET", f"/v1/issues/{issue_id}")
        assert (status, refused["error"]["code"]) == (404, "issue_not_found")
        assert call(fresh_gateway, outsider, "GET", "/v1/issues")[1] == []
    status, refused = call(fresh_gateway, JUSTICE_BUREAU, "POST", f"/v1/issues/{issue_id}/decisions/{recorded['decision_id']}/done", {"note": "已补送"})
    assert (status, refused["error"]["code"]) == (404, "decision_not_found")  # not the bureau's to report

    status, refused = call(fresh_gateway, COMMITTEE, "POST", f"/v1/issues/{issue_id}/close", {"note": "已解决"})
    assert (status, refused["error"]["code"]) == (409, "decisions_pending")
    status, issue = call(fresh_gateway, COURT, "POST", f"/v1/issues/{issue_id}/decisions/{recorded['decision_id']}/done", {"note": "判决书、执行通知书已于今日补送"})
    assert status == 200 and issue["decisions"][0]["status"] == "met"
    status, refused = call(fresh_gateway, COURT, "POST", f"/v1/issues/{issue_id}/decisions/{recorded['decision_id']}/done", {"note": "再次"})
    assert (status, refused["error"]["code"]) == (409, "decision_already_met")
    status, issue = call(fresh_gateway, COMMITTEE, "POST", f"/v1/issues/{issue_id}/close", {"note": "法律文书已补送，议题办结"})
    assert (status, issue["status"], issue["closed_note"]) == (200, "closed", "法律文书已补送，议题办结")
    status, refused = call(fresh_gateway, COMMITTEE, "POST", f"/v1/issues/{issue_id}/decisions", decision)
    assert (status, refused["error"]["code"]) == (409, "issue_closed")

    assert [(h["what"], h["actor"]) for h in issue["history"]] == [
        ("立项", COMMITTEE),
        ("列入会议议程", COMMITTEE),
        ("作出决定", COMMITTEE),
        ("决定事项办结", COURT),
        ("议题办结", COMMITTEE),
    ]
    assert verify_chain(fresh_gateway.store()).intact


def test_issues_from_a_case_and_by_hand(fresh_gateway: RunningGateway) -> None:
    status, refused = call(fresh_gateway, COMMITTEE, "POST", "/v1/issues", {"from_case": "（2030）鲁1621刑初1号"})
    assert (status, refused["error"]["code"], refused["error"]["field"]) == (404, "case_not_found", "from_case")
    status, refused = call(fresh_gateway, COMMITTEE, "POST", "/v1/issues", {"title": "暂予监外执行病情复查"})
    assert (status, refused["error"]["code"]) == (422, "request_invalid") and "参加单位" in refused["error"]["message"]
    status, refused = call(fresh_gateway, COMMITTEE, "POST", "/v1/issues", {"from_case": CASE, "from_obligation": "x"})
    assert (status, refused["error"]["code"]) == (422, "request_invalid")

    manual = {"title": "暂予监外执行病情复查", "summary": "李某某保外就医满一年，须卫健部门组织病情复查。", "parties": ["health", "justice", "procuratorate"]}
    status, issue = call(fresh_gateway, COMMITTEE, "POST", "/v1/issues", manual)
    assert status == 201, issue
    assert [p["name"] for p in issue["parties"]] == ["检察院", "司法行政机关", "卫生健康部门"]
    due = str(china_date(utcnow()) + timedelta(days=30))
    status, refused = call(fresh_gateway, COMMITTEE, "POST", f"/v1/issues/{issue['issue_id']}/decisions", {"text": "移交病历", "owed_by": BINCHENG_JUSTICE_BUREAU, "due_on": due})
    assert (status, refused["error"]["code"], refused["error"]["field"]) == (422, "unit_unknown", "owed_by")  # another county's unit
    status, refused = call(fresh_gateway, COMMITTEE, "POST", "/v1/issues", {**manual, "messages": ["01a233c5-4254-7f01-b61b-fe010a472b24"]})
    assert (status, refused["error"]["code"], refused["error"]["field"]) == (422, "message_unknown", "messages")
    status, issue = call(fresh_gateway, COMMITTEE, "POST", f"/v1/issues/{issue['issue_id']}/decisions", {"text": "组织病情复查并出具意见", "owed_by_name": "惠民县卫生健康局", "due_on": due})
    assert status == 201 and issue["decisions"][0]["owed_by"] is None
    status, issue = call(fresh_gateway, COMMITTEE, "POST", f"/v1/issues/{issue['issue_id']}/decisions/{issue['decisions'][0]['decision_id']}/done", {"note": "卫健局书面反馈已复查"})
    assert status == 200 and issue["decisions"][0]["met_note"] == "卫健局书面反馈已复查"  # the committee reports for a party with no unit here

    assert submit(fresh_gateway, COURT, "court", sample("court", "handover.judgment_effective.xml")).status_code == 202
    status, issue = call(fresh_gateway, COMMITTEE, "POST", "/v1/issues", {"from_case": CASE})
    assert status == 201, issue
    assert issue["title"] == f"案件协调：{CASE}" and issue["cases"] == [CASE]
    assert {p["key"] for p in issue["parties"]} == {"court", "procuratorate", "police", "justice"}
    assert call(fresh_gateway, COMMITTEE, "GET", "/v1/issues?status=open")[1][0]["issue_id"] == issue["issue_id"]
