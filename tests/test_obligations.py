"""Statutory deadlines with a controllable clock: every obligation is derived from canonical
messages and a `now` passed in, across the National Day weeks of 2024 and 2025 and their
adjusted working weekends; a missed report is escalated once and names the police station."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from uuid import uuid4

import pytest

from gateway.chain import verify_chain
from gateway.directory import Directory, load_directory
from gateway.meetings import DecisionIn, IssueIn, decide, meet, open_issue
from gateway.obligations import (
    ESCALATED,
    PERSON,
    Deadlines,
    Obligation,
    escalate,
    load_deadlines,
    obligations,
    sightings,
)
from gateway.routing import Router, load_rules
from gateway.settings import Settings
from gateway.store import AuditEntry, Store, StoredMessage
from gateway.workdays import COVERED
from tests.conftest import DEMO_DIRECTORY
from tests.flows import (
    COMMITTEE,
    COURT,
    JUSTICE_BUREAU,
    PROCURATORATE,
    PUBLIC_SECURITY,
    SUNWU_STATION,
)

CASE = "（2025）鲁1621刑初123号"
SETTINGS = Settings()
ROUTING = load_rules(SETTINGS.routing_rules)
RULES = load_deadlines(SETTINGS.deadline_rules, ROUTING)
NAMES = {COURT: "惠民县人民法院", JUSTICE_BUREAU: "惠民县司法局", PROCURATORATE: "惠民县人民检察院", PUBLIC_SECURITY: "惠民县公安局"}
RESIDENCE = {"division_code": "371621", "area_code": "371621001003", "address": "山东省滨州市惠民县孙武街道武定府社区3号楼2单元501室"}


def beijing(text: str) -> datetime:
    """A moment given in Beijing time, as the gateway stores it (UTC)."""
    return datetime.fromisoformat(f"{text}+08:00").astimezone(UTC)


def message(
    kind: str, received: str, sender: str, recipients: dict[str, str] | None = None, in_reply_to: str | None = None, **payload: Any
) -> dict[str, Any]:
    """A canonical message (JSON form) received at `received` Beijing time; `recipients` maps unit to role."""
    return {
        "message_id": str(uuid4()),
        "kind": kind,
        "case": {"case_number": CASE},
        "in_reply_to": in_reply_to,
        "sender": {"unit_code": sender, "unit_name": NAMES[sender]},
        "recipients": [
            {"unit_code": code, "unit_name": NAMES[code], "role": role, "rule": "test"} for code, role in (recipients or {}).items()
        ],
        "received_at": beijing(received).isoformat(),
        "payload": payload,
    }


def evaluation_request(received: str, fast_track: bool = False) -> dict[str, Any]:
    return message(
        "evaluation.request", received, COURT, {JUSTICE_BUREAU: "居住地社区矫正机构"}, fast_track=fast_track, requested_on="2025-09-20"
    )


def the(rule: str, found: list[Obligation]) -> Obligation:
    [obligation] = [o for o in found if o.rule == rule]
    return obligation


def test_an_evaluation_opinion_is_due_ten_working_days_after_the_request_across_national_day() -> None:
    request = evaluation_request("2025-09-26T10:00:00")
    opinion = the("evaluation.opinion", obligations([request], RULES, beijing("2025-10-16T23:59:00")))
    assert opinion.due_on == date(2025, 10, 16)  # Sun 28 Sep and Sat 11 Oct are worked, 1–8 Oct are not
    assert (opinion.status, opinion.owed_by[0].unit_code, opinion.owed_to[0].unit_code) == ("open", JUSTICE_BUREAU, COURT)
    assert the("evaluation.opinion", obligations([request], RULES, beijing("2025-10-17T00:01:00"))).status == "overdue"


def test_the_day_received_is_the_day_in_beijing() -> None:
    request = evaluation_request("2025-09-26T01:30:00")  # still 25 September in UTC
    assert the("evaluation.opinion", obligations([request], RULES, beijing("2025-09-26T02:00:00"))).due_on == date(2025, 10, 16)


def test_fast_track_halves_the_evaluation() -> None:
    request = evaluation_request("2025-09-26T10:00:00", fast_track=True)
    assert the("evaluation.opinion", obligations([request], RULES, beijing("2025-09-26T11:00:00"))).due_on == date(2025, 10, 10)


def test_national_day_2024() -> None:
    request = evaluation_request("2024-09-27T10:00:00")  # Sun 29 Sep and Sat 12 Oct 2024 are worked
    assert the("evaluation.opinion", obligations([request], RULES, beijing("2024-09-27T11:00:00"))).due_on == date(2024, 10, 16)


def test_the_opinion_meets_the_obligation_and_asking_the_police_does_not() -> None:
    request = evaluation_request("2025-09-26T10:00:00")
    inquiry = message("evaluation.inquiry", "2025-09-28T09:00:00", JUSTICE_BUREAU, in_reply_to=request["message_id"])
    now = beijing("2025-10-20T09:00:00")
    assert the("evaluation.opinion", obligations([request, inquiry], RULES, now)).status == "overdue"
    opinion = message("evaluation.opinion", "2025-10-17T15:00:00", JUSTICE_BUREAU, in_reply_to=request["message_id"])
    met = the("evaluation.opinion", obligations([opinion, inquiry, request], RULES, now))
    assert (met.status, met.closed_by, met.late) == ("met", opinion["message_id"], True)


def oversight_notice(received: str, **payload: Any) -> dict[str, Any]:
    return message("oversight.notice", received, PROCURATORATE, {JUSTICE_BUREAU: "同级社区矫正机构"}, issued_on="2025-07-30", **payload)


def test_an_oversight_reply_is_due_by_the_date_the_notice_names() -> None:
    notice = oversight_notice("2025-08-01T09:00:00", reply_by="2025-10-20")
    reply = the("oversight.reply", obligations([notice], RULES, beijing("2025-10-21T09:00:00")))
    assert (reply.due_on, reply.status, reply.owed_by[0].unit_code) == (date(2025, 10, 20), "overdue", JUSTICE_BUREAU)
    rectification = message("oversight.rectification_reply", "2025-10-15T09:00:00", JUSTICE_BUREAU, in_reply_to=notice["message_id"])
    assert the("oversight.reply", obligations([notice, rectification], RULES, beijing("2025-10-21T09:00:00"))).status == "met"


def test_without_a_date_the_reply_is_due_two_months_after_receipt_rolled_past_the_holiday() -> None:
    notice = oversight_notice("2025-08-01T09:00:00")
    assert the("oversight.reply", obligations([notice], RULES, beijing("2025-08-01T10:00:00"))).due_on == date(2025, 10, 9)


def test_each_reply_meets_one_notice_in_the_order_they_came() -> None:
    first = oversight_notice("2025-08-01T09:00:00", reply_by="2025-09-01")
    second = oversight_notice("2025-08-05T09:00:00", reply_by="2025-09-05")
    rectification = message("oversight.rectification_reply", "2025-08-20T09:00:00", JUSTICE_BUREAU, in_reply_to=first["message_id"])
    found = {o.opened_by: o for o in obligations([second, rectification, first], RULES, beijing("2025-09-08T09:00:00"))}
    assert (found[first["message_id"]].status, found[second["message_id"]].status) == ("met", "overdue")


def test_a_reopened_oversight_owes_a_further_reply_by_the_new_date() -> None:
    notice = oversight_notice("2025-08-01T09:00:00", reply_by="2025-09-01")
    rectification = message("oversight.rectification_reply", "2025-08-20T09:00:00", JUSTICE_BUREAU, in_reply_to=notice["message_id"])
    accepted = message("oversight.conclusion", "2025-09-05T09:00:00", PROCURATORATE, outcome="accepted")
    reopened = message(
        "oversight.conclusion",
        "2025-09-05T09:00:00",
        PROCURATORATE,
        {JUSTICE_BUREAU: "整改单位"},
        in_reply_to=rectification["message_id"],
        outcome="reopened",
        reply_by="2025-10-31",
    )
    assert not [o for o in obligations([notice, rectification, accepted], RULES, beijing("2025-11-03T09:00:00")) if o.rule == "oversight.further_reply"]
    found = obligations([notice, rectification, reopened], RULES, beijing("2025-11-03T09:00:00"))
    assert the("oversight.reply", found).status == "met"
    further = the("oversight.further_reply", found)
    assert (further.due_on, further.status, further.owed_by[0].unit_code) == (date(2025, 10, 31), "overdue", JUSTICE_BUREAU)


def revocation_proposal(received: str) -> dict[str, Any]:
    return message("sanction.revocation_proposal", received, JUSTICE_BUREAU, {COURT: "原判人民法院"}, proposed_on="2025-09-01")


@pytest.mark.parametrize(
    ("received", "due"),
    [
        ("2025-09-10T09:00:00", date(2025, 10, 10)),  # thirty calendar days
        ("2025-09-05T09:00:00", date(2025, 10, 9)),  # 5 October is a holiday: the first working day after
        ("2025-09-11T09:00:00", date(2025, 10, 11)),  # a worked Saturday is no holiday
    ],
)
def test_a_revocation_ruling_is_due_thirty_days_after_the_proposal(received: str, due: date) -> None:
    ruling = the("sanction.ruling", obligations([revocation_proposal(received)], RULES, beijing(received)))
    assert (ruling.due_on, ruling.owed_by[0].unit_code, ruling.owed_to[0].unit_code) == (due, COURT, JUSTICE_BUREAU)


def test_a_rejection_answers_the_revocation_proposal_too() -> None:
    proposal = revocation_proposal("2025-09-10T09:00:00")
    rejected = message("sanction.ruling", "2025-10-09T09:00:00", COURT, in_reply_to=proposal["message_id"], outcome="rejected")
    ruling = the("sanction.ruling", obligations([proposal, rejected], RULES, beijing("2025-10-20T09:00:00")))
    assert (ruling.status, ruling.late) == ("met", False)


def judgment_effective(received: str, effective_date: str) -> dict[str, Any]:
    recipients = {JUSTICE_BUREAU: "执行地社区矫正机构", PROCURATORATE: "执行地人民检察院", PUBLIC_SECURITY: "执行地公安机关"}
    person = {"name": "张伟", "residence": RESIDENCE}
    return message("handover.judgment_effective", received, COURT, recipients, person=person, effective_date=effective_date)


def test_the_judgment_opens_the_documents_for_the_court_and_the_report_for_the_person() -> None:
    notice = judgment_effective("2025-09-24T09:00:00", "2025-09-22")
    found = obligations([notice], RULES, beijing("2025-09-24T10:00:00"))
    documents, report = the("handover.documents", found), the("enrollment.report", found)
    assert (documents.due_on, documents.owed_by[0].unit_code, documents.owed_to[0].unit_code) == (date(2025, 10, 9), COURT, JUSTICE_BUREAU)
    assert (report.due_on, report.owed_by, report.owed_to[0].unit_code) == (date(2025, 10, 9), (PERSON,), JUSTICE_BUREAU)
    delivered = message("handover.documents", "2025-09-30T09:00:00", COURT, in_reply_to=notice["message_id"])
    assert the("handover.documents", obligations([notice, delivered], RULES, beijing("2025-10-10T09:00:00"))).status == "met"


def test_only_a_later_enrollment_in_the_same_case_meets_the_report() -> None:
    notice = judgment_effective("2025-09-24T09:00:00", "2025-09-22")
    other_case = message("enrollment.registered", "2025-09-26T09:00:00", JUSTICE_BUREAU) | {"case": {"case_number": "（2025）鲁1621刑初9号"}}
    registered = message("enrollment.registered", "2025-09-29T09:00:00", JUSTICE_BUREAU)
    now = beijing("2025-10-10T09:00:00")
    assert the("enrollment.report", obligations([notice, other_case], RULES, now)).status == "overdue"
    report = the("enrollment.report", obligations([other_case, registered, notice], RULES, now))
    assert (report.status, report.closed_by) == ("met", registered["message_id"])


def test_a_due_date_beyond_the_holiday_schedule_is_shown_not_guessed() -> None:
    request = evaluation_request(f"{COVERED.stop - 1}-12-28T10:00:00")
    opinion = the("evaluation.opinion", obligations([request], RULES, beijing(f"{COVERED.stop}-03-01T10:00:00")))
    assert (opinion.due_on, opinion.status) == (None, "open")
    assert "请升级 chinesecalendar" in str(opinion.due_note)


def store_with(tmp_path: Path, *messages: dict[str, Any]) -> Store:
    store = Store(f"sqlite:///{tmp_path / 'xietong.db'}")
    load_directory(store, DEMO_DIRECTORY)
    with store.write() as session:
        for m in messages:
            session.add(
                StoredMessage(
                    message_id=m["message_id"],
                    kind=m["kind"],
                    case_number=m["case"]["case_number"],
                    sender_code=m["sender"]["unit_code"],
                    in_reply_to=m["in_reply_to"],
                    idempotency_key=m["message_id"],
                    received_at=datetime.fromisoformat(m["received_at"]),
                    source_sha256="0" * 64,
                    body=json.dumps(m, ensure_ascii=False),
                )
            )
    return store


def escalations(store: Store) -> list[AuditEntry]:
    with store.read() as session:
        return list(session.query(AuditEntry).filter(AuditEntry.event == ESCALATED).all())


def test_a_missed_report_is_escalated_once_with_the_police_station_of_the_residence(tmp_path: Path) -> None:
    notice = judgment_effective("2025-09-24T09:00:00", "2025-09-25")  # 5 October is a holiday: due 9 October
    store = store_with(tmp_path, notice)
    directory = Directory(store)
    assert escalate(store, RULES, directory, beijing("2025-10-09T23:00:00")) == []

    late = beijing("2025-10-10T08:00:00")
    escalated = escalate(store, RULES, directory, late)
    assert sorted(o.rule for o in escalated) == ["enrollment.report", "handover.documents"]
    assert escalate(store, RULES, directory, late) == []
    assert escalate(store, RULES, directory, beijing("2025-10-20T08:00:00")) == []

    entries = {entry.details["rule"]: entry for entry in escalations(store)}
    assert len(entries) == 2 and {entry.subject for entry in entries.values()} == {notice["message_id"]}
    report = entries["enrollment.report"].details
    assert (report["due_on"], report["owed_by"], report["alert_role"], report["alert_unit"]) == (
        "2025-10-09",
        ["社区矫正对象本人"],
        "居住地派出所",
        SUNWU_STATION,
    )
    assert entries["handover.documents"].details["alert_unit"] is None
    assert verify_chain(store).intact


def test_rules_that_name_a_role_or_field_the_opening_message_lacks_are_refused() -> None:
    data = RULES.model_dump()
    data["obligations"][0]["owed_by"] = {"role": "居住地司法所"}
    with pytest.raises(ValueError, match="no routing rule gives evaluation.request a recipient role 居住地司法所"):
        Deadlines.model_validate(data).check(ROUTING)
    data = RULES.model_dump()
    data["obligations"][0]["due"][0]["after"] = "payload.requested_at"
    with pytest.raises(ValueError, match="evaluation.request has no field payload.requested_at"):
        Deadlines.model_validate(data).check(ROUTING)
    data = RULES.model_dump()
    data["obligations"][1]["closed_by"] = "answer"
    data["obligations"][1]["opened_by"] = "enrollment.registered"
    with pytest.raises(ValueError, match="awaits no answer"):
        Deadlines.model_validate(data).check(ROUTING)


def test_a_joint_meetings_decision_is_an_obligation_escalated_once_when_it_falls_due(tmp_path: Path) -> None:
    store = store_with(tmp_path)
    directory = Directory(store)
    committee = directory.units[COMMITTEE]
    decided_at = beijing("2025-09-20T10:00:00")
    issue = IssueIn(title="撤销缓刑建议久拖未决", summary="建议书已逾三十日未裁定", parties=["court", "justice"])
    with store.write() as session:
        opened = open_issue(session, RULES, Router(ROUTING, directory), committee, issue, decided_at)
        decision = decide(session, directory, committee, opened.issue_id, DecisionIn(text="十日内作出裁定", owed_by=COURT, due_on=date(2025, 9, 30)), decided_at)
    assert escalate(store, RULES, directory, beijing("2025-09-30T23:00:00")) == []
    [late] = escalate(store, RULES, directory, beijing("2025-10-01T08:00:00"))
    assert (late.rule, late.opened_by, late.owed_by[0].unit_code, late.owed_to[0].unit_code) == ("meeting.decision", decision.key, COURT, COMMITTEE)
    assert escalate(store, RULES, directory, beijing("2025-10-02T08:00:00")) == []

    with store.write() as session:
        meet(session, directory.units[COURT], opened.issue_id, decision.key, "已裁定撤销缓刑", beijing("2025-10-08T09:00:00"))
    with store.read() as session:
        [seen] = sightings(session, RULES, Router(ROUTING, directory), directory.units[COURT], beijing("2025-10-09T09:00:00"))
    assert (seen.side, seen.obligation.status, seen.obligation.late, seen.escalation is not None) == ("owes", "met", True, True)
    assert verify_chain(store).intact
