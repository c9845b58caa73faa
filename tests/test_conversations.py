"""Conversations and case timelines: every reply names what it answers, an open loop stays open
until a reply settles it, and each party sees the case only through its own projection."""

from __future__ import annotations

import json
from typing import Any

import pytest

from gateway.conversations import loops
from tests.conftest import RunningGateway
from tests.flows import (
    COURT,
    JUSTICE_BUREAU,
    PROCURATORATE,
    PUBLIC_SECURITY,
    WUDINGFU_GRID,
    sample,
    submit,
    wait_delivered,
)

CASE = "（2025）鲁1621刑初123号"
ID_NUMBER = "372321198506120019"


def message(message_id: str, kind: str, received_at: str, in_reply_to: str | None = None, **payload: Any) -> dict[str, Any]:
    return {"message_id": message_id, "kind": kind, "received_at": received_at, "in_reply_to": in_reply_to, "payload": payload}


def test_a_correction_request_keeps_the_handover_open_until_the_receipt() -> None:
    documents = message("m1", "handover.documents", "2025-11-20T09:00:00")
    correction = message("m2", "handover.correction_request", "2025-11-20T10:00:00", "m1")
    receipt = message("m3", "handover.receipt", "2025-11-22T09:00:00", "m1")
    assert [(loop.message_id, loop.settled_by) for loop in loops([documents, correction])] == [("m1", None)]
    assert [(loop.message_id, loop.settled_by) for loop in loops([receipt, documents, correction])] == [("m1", "m3")]


def test_a_reply_settles_the_nearest_waiting_message_up_its_chain() -> None:
    judgment = message("j", "handover.judgment_effective", "2025-11-20T09:00:00")
    documents = message("d", "handover.documents", "2025-11-20T09:30:00", "j")
    receipt = message("r", "handover.receipt", "2025-11-21T09:00:00", "d")
    states = {loop.message_id: loop.settled_by for loop in loops([judgment, documents, receipt])}
    assert states == {"j": None, "d": "r"}


def reply(gateway: RunningGateway, kind: str, in_reply_to: str, payload: dict[str, Any]) -> str:
    body = {"kind": kind, "case": {"case_number": CASE}, "in_reply_to": in_reply_to, "payload": payload}
    response = submit(gateway, JUSTICE_BUREAU, "canonical", json.dumps(body, ensure_ascii=False).encode())
    assert response.status_code == 202, response.text
    message_id: str = response.json()["message_id"]
    with gateway.client(JUSTICE_BUREAU) as bureau:
        assert wait_delivered(bureau, message_id)["status"] == "delivered"
    return message_id


@pytest.mark.broker
def test_conversation_and_timeline_across_agencies(fresh_gateway: RunningGateway) -> None:
    gateway = fresh_gateway
    accepted = submit(gateway, COURT, "court", sample("court", "handover.judgment_effective.xml"))
    assert accepted.status_code == 202, accepted.text
    notice = accepted.json()["message_id"]
    with gateway.client(COURT) as court:
        assert wait_delivered(court, notice)["status"] == "delivered"
    correction = reply(
        gateway,
        "handover.correction_request",
        notice,
        {"missing": [{"document_kind": "execution_notice", "reason": "缺执行通知书"}], "due_on": "2025-11-28"},
    )

    with gateway.client(COURT) as court:
        thread = court.get(f"/v1/conversations/{correction}").json()
    assert [e["kind"] for e in thread["entries"]] == ["handover.judgment_effective", "handover.correction_request"]
    assert [e["role"] for e in thread["entries"]] == ["sender", "recipient"]
    assert thread["loops"] == [
        {**thread["loops"][0], "message_id": notice, "status": "open", "settled_by": None},
    ]

    receipt = reply(
        gateway, "handover.receipt", notice, {"received_on": "2025-11-24", "received_documents": ["judgment"], "signed_by": "张丽"}
    )
    with gateway.client(COURT) as court:
        thread = court.get(f"/v1/conversations/{notice}").json()
    assert len(thread["entries"]) == 3
    assert (thread["loops"][0]["status"], thread["loops"][0]["settled_by"]) == ("settled", receipt)

    with gateway.client(PROCURATORATE) as procuratorate:  # copied on the notice and the receipt only
        seen = procuratorate.get(f"/v1/conversations/{notice}").json()
    assert [e["message_id"] for e in seen["entries"]] == [notice, receipt]
    with gateway.client(PUBLIC_SECURITY) as police:
        assert police.get(f"/v1/conversations/{correction}").status_code == 404
        timeline = police.get(f"/v1/cases/{CASE}").json()
    assert [e["message_id"] for e in timeline["entries"]] == [notice]
    with gateway.client(WUDINGFU_GRID) as grid:
        assert grid.get(f"/v1/cases/{CASE}").status_code == 404
        assert grid.get(f"/v1/conversations/{notice}").status_code == 404

    with gateway.client(COURT) as court:
        by_case = court.get(f"/v1/cases/{CASE}").json()
        person_key = by_case["entries"][0]["message"]["case"]["person_key"]
        by_person = court.get(f"/v1/cases/{person_key}").json()
    assert [e["message_id"] for e in by_case["entries"]] == [notice, correction, receipt]
    assert by_person["entries"] == by_case["entries"]
    assert ID_NUMBER not in person_key
