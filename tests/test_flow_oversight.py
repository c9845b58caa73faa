"""Oversight end to end: the procuratorate's correction notice reaches the justice bureau of its
division; the bureau's rectification reply comes back; the procuratorate reopens, the bureau
replies again, and the procuratorate accepts. Through all of it both sides read the notice's loop
as open, until the acceptance settles it. A notice about a practice concerns no person."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.conftest import RunningGateway
from tests.flows import JUSTICE_BUREAU, PROCURATORATE, answering, flow, sample

pytestmark = pytest.mark.broker

CASE = "（2025）鲁1621刑初123号"

REOPENED = """<?xml version="1.0" encoding="UTF-8"?>
<JDJL xmlns="urn:xietong:procuratorate:oversight:1" BBH="1">
  <BWXX>
    <FSDWBM>11371621004370020E</FSDWBM>
    <FSDWMC>惠民县人民检察院</FSDWMC>
    <FSSJ>2025-08-28 16:00:00</FSSJ>
    <HFBWBS>01988c20-6e4f-7b91-a3d7-4f0c8b2e5a19</HFBWBS>
  </BWXX>
  <AJBH>（2025）鲁1621刑初123号</AJBH>
  <JLLB>2</JLLB>
  <LY>经核查，告警处置规程已落实，但张伟2025年4月、5月的走访记录系事后补写，未能反映实际走访情况，矫正小组责任未落实到人，请继续整改并对相关责任人员作出处理。</LY>
  <JLRQ>2025-08-28</JLRQ>
  <HFQX>2025-09-30</HFQX>
</JDJL>
""".encode()
"""监督结论（继续督促）: not a sample file, because the generic adapter tests strip every optional
field from each sample and a reopened conclusion without its new reply-by date is invalid."""


def pdf(title: str) -> bytes:
    """A stand-in for a scanned 文书: only its bytes and digest matter to the gateway."""
    return b"%PDF-1.4\n% " + title.encode("utf-8") + b"\n%%EOF\n"


def loop_seen(gateway: RunningGateway, unit: str, message_id: str, notice: str) -> dict[str, Any]:
    """The notice's loop as `unit` reads it in the conversation of `message_id` (any message of the
    conversation leads to the same loops), after checking the conversation itself: every message
    sent so far, each naming what it answers."""
    with gateway.client(unit) as client:
        response = client.get(f"/v1/conversations/{message_id}")
    assert response.status_code == 200, response.text
    conversation = response.json()
    assert conversation["entries"][0]["message_id"] == notice
    assert all(entry["in_reply_to"] == before["message_id"] for before, entry in zip(conversation["entries"], conversation["entries"][1:]))
    assert [loop["message_id"] for loop in conversation["loops"]] == [notice]  # replies open no loop of their own
    loop: dict[str, Any] = conversation["loops"][0]
    assert loop["kind"] == "oversight.notice"
    return loop


def assert_loop(gateway: RunningGateway, message_id: str, notice: str, settled_by: str | None, messages: int) -> None:
    """Both the procuratorate and the bureau read the same state, and the same conversation."""
    for unit in (PROCURATORATE, JUSTICE_BUREAU):
        loop = loop_seen(gateway, unit, message_id, notice)
        assert (loop["status"], loop["settled_by"]) == ("settled" if settled_by else "open", settled_by), unit
        with gateway.client(unit) as client:
            assert len(client.get(f"/v1/conversations/{notice}").json()["entries"]) == messages, unit


def test_notice_reply_reopened_reply_accepted(fresh_gateway: RunningGateway) -> None:
    notice, received = flow(
        fresh_gateway,
        PROCURATORATE,
        "procuratorate",
        sample("procuratorate", "oversight.notice.xml"),
        {JUSTICE_BUREAU: "oversight.notice"},
        attachments={"纠正违法通知书.pdf": pdf("惠检纠违〔2025〕3号纠正违法通知书")},
    )
    seen = json.loads(received[JUSTICE_BUREAU])
    assert (seen["payload"]["notice_type"], seen["payload"]["reply_by"]) == ("correction_notice", "2025-09-15")
    assert [document["document_kind"] for document in seen["documents"]] == ["correction_notice"]
    assert_loop(fresh_gateway, notice, notice, settled_by=None, messages=1)

    reply, received = flow(
        fresh_gateway,
        JUSTICE_BUREAU,
        "canonical",
        answering(sample("canonical", "oversight.rectification_reply.json"), "canonical", notice),
        {PROCURATORATE: "oversight.rectification_reply"},
    )
    assert f"<HFBWBS>{notice}</HFBWBS>".encode() in received[PROCURATORATE]
    assert_loop(fresh_gateway, reply, notice, settled_by=None, messages=2)  # a reply does not settle it

    reopened, received = flow(
        fresh_gateway,
        PROCURATORATE,
        "procuratorate",
        answering(REOPENED, "procuratorate", reply),
        {JUSTICE_BUREAU: "oversight.conclusion"},
    )
    assert json.loads(received[JUSTICE_BUREAU])["payload"]["outcome"] == "reopened"
    assert_loop(fresh_gateway, reopened, notice, settled_by=None, messages=3)  # nor does reopening

    second, _ = flow(
        fresh_gateway,
        JUSTICE_BUREAU,
        "canonical",
        answering(sample("canonical", "oversight.rectification_reply.second.json"), "canonical", reopened),
        {PROCURATORATE: "oversight.rectification_reply"},
    )
    assert_loop(fresh_gateway, second, notice, settled_by=None, messages=4)
    accepting, received = flow(
        fresh_gateway,
        PROCURATORATE,
        "procuratorate",
        answering(sample("procuratorate", "oversight.conclusion.xml"), "procuratorate", second),
        {JUSTICE_BUREAU: "oversight.conclusion"},
    )
    accepted = json.loads(received[JUSTICE_BUREAU])
    assert (accepted["payload"]["outcome"], accepted["in_reply_to"]) == ("accepted", second)
    assert_loop(fresh_gateway, accepting, notice, settled_by=accepting, messages=5)
    with fresh_gateway.client(PROCURATORATE) as procuratorate:
        timeline = procuratorate.get(f"/v1/cases/{CASE}").json()
    assert {loop["message_id"]: loop["status"] for loop in timeline["loops"]}[notice] == "settled"


def test_a_suggestion_about_a_practice_names_no_person(fresh_gateway: RunningGateway) -> None:
    _, received = flow(
        fresh_gateway,
        PROCURATORATE,
        "procuratorate",
        sample("procuratorate", "oversight.notice.practice.xml"),
        {JUSTICE_BUREAU: "oversight.notice"},
    )
    seen = json.loads(received[JUSTICE_BUREAU])
    assert seen["payload"]["notice_type"] == "procuratorial_suggestion"
    assert "person" not in seen["payload"] or seen["payload"]["person"] is None
    assert seen["case"]["person_key"] is None
