"""Oversight end to end: the procuratorate's correction notice reaches the justice bureau of its
division; the bureau's rectification reply comes back; the procuratorate reopens, the bureau
replies again, and the procuratorate accepts. A notice about a practice concerns no person."""

from __future__ import annotations

import json

import pytest

from tests.conftest import RunningGateway
from tests.flows import JUSTICE_BUREAU, PROCURATORATE, answering, flow, sample

pytestmark = pytest.mark.broker

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

    reply, received = flow(
        fresh_gateway,
        JUSTICE_BUREAU,
        "canonical",
        answering(sample("canonical", "oversight.rectification_reply.json"), "canonical", notice),
        {PROCURATORATE: "oversight.rectification_reply"},
    )
    assert f"<HFBWBS>{notice}</HFBWBS>".encode() in received[PROCURATORATE]

    reopened, received = flow(
        fresh_gateway,
        PROCURATORATE,
        "procuratorate",
        answering(REOPENED, "procuratorate", reply),
        {JUSTICE_BUREAU: "oversight.conclusion"},
    )
    assert json.loads(received[JUSTICE_BUREAU])["payload"]["outcome"] == "reopened"

    second, _ = flow(
        fresh_gateway,
        JUSTICE_BUREAU,
        "canonical",
        answering(sample("canonical", "oversight.rectification_reply.second.json"), "canonical", reopened),
        {PROCURATORATE: "oversight.rectification_reply"},
    )
    _, received = flow(
        fresh_gateway,
        PROCURATORATE,
        "procuratorate",
        answering(sample("procuratorate", "oversight.conclusion.xml"), "procuratorate", second),
        {JUSTICE_BUREAU: "oversight.conclusion"},
    )
    accepted = json.loads(received[JUSTICE_BUREAU])
    assert (accepted["payload"]["outcome"], accepted["in_reply_to"]) == ("accepted", second)


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
