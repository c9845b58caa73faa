"""The court's evaluation request, submitted to a real gateway, makes the justice bureau owe an
opinion within 5 working days (速裁); the bureau's opinion meets it. Each unit sees only the
obligations of messages it sent or received."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from adapters.base import registry
from gateway.broker_node import RabbitNode
from gateway.cli import role_pids
from gateway.obligations import china_date
from gateway.workdays import CalendarGap, add_working_days
from tests.conftest import RunningGateway, gateway_in_vhost
from tests.flows import COMMITTEE, COURT, JUSTICE_BUREAU, PROCURATORATE, SUNWU_STATION, answering, flow, sample, submit, wait_delivered, xsd_valid

pytestmark = pytest.mark.broker

CASE = "（2025）鲁1621刑初123号"  # the court samples' case
OVERDUE_CASE = "（2025）鲁1621刑初456号"
PDF = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n"


def owed(gateway: RunningGateway, unit: str, status: str | None = None) -> list[dict[str, Any]]:
    with gateway.client(unit) as client:
        response = client.get("/v1/obligations", params={"status": status} if status else {})
    assert response.status_code == 200, response.text
    found: list[dict[str, Any]] = response.json()
    return found


def test_the_bureau_owes_the_court_an_opinion_until_it_answers(fresh_gateway: RunningGateway) -> None:
    request_id, _ = flow(
        fresh_gateway,
        COURT,
        "court",
        sample("court", "evaluation.request.xml"),
        {JUSTICE_BUREAU: "evaluation.request_to_bureau"},
        attachments={"起诉书.pdf": PDF},
    )

    [bureau] = owed(fresh_gateway, JUSTICE_BUREAU, "open")
    assert (bureau["rule"], bureau["opened_by"], bureau["side"], bureau["case_number"]) == (
        "evaluation.opinion",
        request_id,
        "owes",
        "（2025）鲁1621刑初215号",
    )
    assert ([p["unit_code"] for p in bureau["owed_by"]], [p["unit_code"] for p in bureau["owed_to"]]) == ([JUSTICE_BUREAU], [COURT])
    try:  # the sample is fast-track (速裁): five working days from the day the gateway received it
        expected = add_working_days(china_date(datetime.fromisoformat(bureau["opened_at"])), 5).isoformat()
    except CalendarGap:
        expected = None
    assert bureau["due_on"] == expected
    [court] = owed(fresh_gateway, COURT)
    assert (court["obligation_id"], court["side"]) == (bureau["obligation_id"], "owed")
    assert owed(fresh_gateway, PROCURATORATE) == []  # the request was not copied to it
    assert owed(fresh_gateway, SUNWU_STATION) == []
    assert owed(fresh_gateway, JUSTICE_BUREAU, "met") == []

    opinion = json.loads(answering(sample("canonical", "evaluation.opinion.json"), "canonical", request_id))
    opinion_id, _ = flow(
        fresh_gateway,
        JUSTICE_BUREAU,
        "canonical",
        json.dumps(opinion, ensure_ascii=False).encode(),
        {COURT: "evaluation.opinion_to_requester", PROCURATORATE: "evaluation.opinion_copy"},
        attachments={"调查评估意见书.pdf": PDF},
    )

    assert owed(fresh_gateway, JUSTICE_BUREAU, "open") == []
    [met] = owed(fresh_gateway, COURT, "met")
    assert (met["closed_by"], met["late"], met["escalated_at"]) == (opinion_id, False, None)
    assert owed(fresh_gateway, PROCURATORATE) == []  # a copy of the opinion is not the request


def test_an_unknown_status_is_refused_in_chinese(fresh_gateway: RunningGateway) -> None:
    with fresh_gateway.client(COURT) as client:
        response = client.get("/v1/obligations", params={"status": "late"})
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "request_invalid"
    assert httpx.get(f"{fresh_gateway.base_url}/v1/obligations").status_code == 401


def watch_once(gateway: RunningGateway) -> list[dict[str, Any]]:
    """One pass of `xietong watcher --once` over the running gateway's store; its escalation events."""
    done = subprocess.run([sys.executable, "-m", "gateway.cli", "watcher", "--once"], env=gateway.env, capture_output=True, timeout=60)
    assert done.returncode == 0, done.stderr.decode()
    events = [json.loads(line) for line in done.stderr.decode().splitlines() if line.startswith("{")]
    return [e for e in events if e["event"] == "obligation.escalated"]


def test_the_watcher_escalates_a_missed_report_once_naming_the_police_station(fresh_gateway: RunningGateway) -> None:
    """A judgment that took effect on 2025-03-17 with nobody enrolled since: the report (and the
    court's documents) are overdue; the watcher records each once, the report naming the police
    station of the residence (孙武派出所), and the bureau sees when it was escalated."""
    judgment = sample("court", "handover.judgment_effective.xml").replace(CASE.encode(), OVERDUE_CASE.encode())
    response = submit(fresh_gateway, COURT, "court", judgment)
    assert response.status_code == 202, response.text

    escalated = watch_once(fresh_gateway)
    assert {(e["rule"], e["case_number"]) for e in escalated} == {
        ("enrollment.report", OVERDUE_CASE),
        ("handover.documents", OVERDUE_CASE),
    }
    assert watch_once(fresh_gateway) == []  # once: the audit chain remembers

    overdue = {o["rule"]: o for o in owed(fresh_gateway, JUSTICE_BUREAU, "overdue") if o["case_number"] == OVERDUE_CASE}
    report = overdue["enrollment.report"]
    assert (report["due_on"], report["alert_unit"], report["side"]) == ("2025-03-27", SUNWU_STATION, "owed")
    assert report["escalated_at"] is not None
    assert overdue["handover.documents"]["side"] == "owed"

    # The committee of the division coordinates both without having received the judgment, and its
    # overdue notice (督办通知) reaches the police station of the residence, in police XML.
    coordinated = {o["rule"]: o for o in owed(fresh_gateway, COMMITTEE, "overdue") if o["case_number"] == OVERDUE_CASE}
    assert {o["side"] for o in coordinated.values()} == {"coordinating"}
    assert coordinated["enrollment.report"]["notice"] == report["notice"] is not None
    assert overdue["handover.documents"]["notice"] is None  # the court's format has no notice: the board shows it
    with fresh_gateway.client(COMMITTEE) as client:
        sent = wait_delivered(client, report["notice"])
    assert [(d["recipient"], d["rule"]) for d in sent["deliveries"]] == [(SUNWU_STATION, "coordination.overdue_alert")]
    with fresh_gateway.client(SUNWU_STATION) as client:
        notices = [i for i in client.get("/v1/inbox").json() if i["message_id"] == report["notice"]]
        assert len(notices) == 1
        document = client.get(f"/v1/inbox/{notices[0]['delivery_id']}").content
    assert xsd_valid(document)
    notice = registry()["police"].parse(document)
    assert notice.kind == "coordination.overdue_notice" and notice.case.case_number == OVERDUE_CASE
    assert notice.payload.due_on.isoformat() == "2025-03-27" and "孙武派出所" in notice.payload.request


def test_xietong_run_keeps_the_watch_in_its_worker(rabbit: RabbitNode, tmp_path: Path) -> None:
    """`xietong run` has no watcher process of its own: its worker escalates, pass after pass, an
    obligation that was already overdue when the judgment arrived after the gateway started."""
    case = "（2025）鲁1621刑初789号"
    with gateway_in_vhost(rabbit, tmp_path, "xietong-watch", extra_env={"XIETONG_WATCH_SECONDS": "0.5"}) as gateway:
        assert gateway.process is not None
        assert set(role_pids(gateway.process.pid)) == {"api", "relay", "worker"}
        judgment = sample("court", "handover.judgment_effective.xml").replace(CASE.encode(), case.encode())
        assert submit(gateway, COURT, "court", judgment).status_code == 202
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            overdue = [o for o in owed(gateway, JUSTICE_BUREAU, "overdue") if o["case_number"] == case]
            if {o["rule"] for o in overdue if o["escalated_at"]} == {"enrollment.report", "handover.documents"}:
                break
            time.sleep(0.2)
        else:
            pytest.fail(f"not escalated within 30 s: {overdue}")
    events = [json.loads(line) for line in (tmp_path / "gateway.log").read_text().splitlines() if line.startswith("{")]
    escalated = [e for e in events if e["event"] == "obligation.escalated" and e["case_number"] == case]
    assert sorted(e["rule"] for e in escalated) == ["enrollment.report", "handover.documents"]  # once each, pass after pass
