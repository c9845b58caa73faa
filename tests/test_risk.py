"""Cases at risk on the coordinators' board: which messages flag a case (KindSpec.at_risk), for
how long, and only in the committee's own division."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from gateway.directory import Directory
from gateway.risk import cases_at_risk
from tests.flows import BINCHENG_JUSTICE_BUREAU, JUSTICE_BUREAU, PUBLIC_SECURITY
from tests.test_obligations import NAMES, beijing, message, store_with

NOW = beijing("2025-06-30T12:00:00")


def in_case(case_number: str, sender: str, kind: str, received: str, **payload: Any) -> dict[str, Any]:
    found = message(kind, received, JUSTICE_BUREAU, **payload)
    found["case"]["case_number"] = case_number
    found["sender"] = {"unit_code": sender, "unit_name": NAMES.get(sender, sender)}
    return found


def test_recent_alerts_new_offences_and_overdue_cases_are_at_risk_in_the_division_only(tmp_path: Path) -> None:
    store = store_with(
        tmp_path,
        in_case("（2025）鲁1621刑初1号", JUSTICE_BUREAU, "supervision.alert", "2025-06-20T22:15:00", alert_type="fence_breach"),
        in_case("（2025）鲁1621刑初1号", JUSTICE_BUREAU, "sanction.warning", "2025-06-25T09:00:00"),
        in_case("（2025）鲁1621刑初2号", PUBLIC_SECURITY, "keyperson.event", "2025-06-28T09:00:00", event_type="detention"),
        in_case("（2025）鲁1621刑初3号", PUBLIC_SECURITY, "keyperson.event", "2025-06-28T09:00:00", event_type="sighting"),
        in_case("（2025）鲁1621刑初4号", JUSTICE_BUREAU, "supervision.alert", "2025-05-20T22:15:00", alert_type="lost_contact"),
        in_case("（2025）鲁1602刑初5号", BINCHENG_JUSTICE_BUREAU, "supervision.alert", "2025-06-29T22:15:00", alert_type="lost_contact"),
        in_case("（2025）鲁1621刑初6号", JUSTICE_BUREAU, "enrollment.registered", "2025-06-29T10:00:00"),
    )
    directory = Directory(store)
    overdue = {"（2025）鲁1621刑初7号": ["法律文书送达"], "（2025）鲁1621刑初2号": ["按时报到"]}
    with store.read() as session:
        found = {case.case_number: case for case in cases_at_risk(session, directory, "371621", overdue, NOW)}

    assert set(found) == {"（2025）鲁1621刑初1号", "（2025）鲁1621刑初2号", "（2025）鲁1621刑初7号"}
    flagged = found["（2025）鲁1621刑初1号"]
    assert [f.title for f in flagged.flags] == ["训诫/警告决定", "监管告警"]  # newest first
    assert flagged.flags[0].sender_name == "惠民县司法局" and flagged.overdue == ()
    assert [f.title for f in found["（2025）鲁1621刑初2号"].flags] == ["重点人员动态"] and found["（2025）鲁1621刑初2号"].overdue == ("按时报到",)
    assert found["（2025）鲁1621刑初7号"].flags == ()
    # 3号: a sighting is routine; 4号: flagged 41 days ago; 5号: 滨城区's; 6号: an enrollment flags nothing

    with store.read() as session:
        later = cases_at_risk(session, directory, "371621", {}, NOW + timedelta(days=30))
    assert later == []  # a month on, nothing flags these cases any more
    with store.read() as session:
        bincheng = cases_at_risk(session, directory, "371602", {}, NOW)
    assert [case.case_number for case in bincheng] == ["（2025）鲁1602刑初5号"]
