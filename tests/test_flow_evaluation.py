"""Evaluation end to end: a 委托函 from the court, the police or the procuratorate reaches the
justice bureau of the residence; the bureau asks the police station and gets its answer; the
意见书 goes back to whoever asked, in that agency's XML, with a copy to the procuratorate."""

from __future__ import annotations

import json

import pytest
from lxml import etree

from adapters.base import registry
from tests.conftest import RunningGateway
from tests.flows import COURT, JUSTICE_BUREAU, PROCURATORATE, PUBLIC_SECURITY, SUNWU_STATION, answering, flow, sample

pytestmark = pytest.mark.broker

PDF = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n"
OPINION_PDF = {"调查评估意见书.pdf": PDF}


def opinion_answering(adapter: str, request: bytes, message_id: str) -> bytes:
    """The bureau's 意见书 (canonical sample) on the requested person and case, answering it."""
    asked = registry()[adapter].parse(request)
    opinion = json.loads(sample("canonical", "evaluation.opinion.json"))
    person = asked.payload.person.model_dump(mode="json", exclude_none=True)
    opinion["case"] = {"case_number": asked.case.case_number}
    opinion["in_reply_to"] = message_id
    opinion["payload"].update(person=person, execution_place=person["residence"])
    return json.dumps(opinion, ensure_ascii=False).encode()


def texts(document: bytes) -> dict[str, str | None]:
    return {etree.QName(node).localname: node.text for node in etree.fromstring(document).iter()}


def test_court_request_is_evaluated_with_the_police_station_and_answered(fresh_gateway: RunningGateway) -> None:
    request = sample("court", "evaluation.request.xml")
    request_id, received = flow(
        fresh_gateway,
        COURT,
        "court",
        request,
        {JUSTICE_BUREAU: "evaluation.request_to_bureau"},
        attachments={"起诉书.pdf": PDF},
    )
    assert json.loads(received[JUSTICE_BUREAU])["payload"]["fast_track"] is True

    inquiry = answering(sample("canonical", "evaluation.inquiry.json"), "canonical", request_id)
    inquiry_id, received = flow(
        fresh_gateway, JUSTICE_BUREAU, "canonical", inquiry, {SUNWU_STATION: "evaluation.inquiry_to_station"}
    )
    asked = texts(received[SUNWU_STATION])
    assert (asked["HFXXZJBH"], asked["GMSFHM"], asked["HFQX"]) == (request_id, "372321199008150033", "20250509")

    reply = answering(sample("police", "evaluation.inquiry_reply.xml"), "police", inquiry_id)
    _, received = flow(fresh_gateway, SUNWU_STATION, "police", reply, {JUSTICE_BUREAU: "evaluation.reply_to_bureau"})
    assert json.loads(received[JUSTICE_BUREAU])["payload"]["resides_at_address"] is True

    opinion = answering(sample("canonical", "evaluation.opinion.json"), "canonical", request_id)
    _, received = flow(
        fresh_gateway,
        JUSTICE_BUREAU,
        "canonical",
        opinion,
        {COURT: "evaluation.opinion_to_requester", PROCURATORATE: "evaluation.opinion_copy"},
        attachments=OPINION_PDF,
    )
    assert texts(received[COURT])["评估结论"] == "适宜社区矫正"
    assert texts(received[COURT])["回复报文标识"] == request_id
    assert texts(received[PROCURATORATE])["PGJL"] == "1"


def test_police_request_for_medical_parole_is_answered_to_the_police(fresh_gateway: RunningGateway) -> None:
    request = sample("police", "evaluation.request.xml")
    request_id, _ = flow(
        fresh_gateway, PUBLIC_SECURITY, "police", request, {JUSTICE_BUREAU: "evaluation.request_to_bureau"}
    )
    _, received = flow(
        fresh_gateway,
        JUSTICE_BUREAU,
        "canonical",
        opinion_answering("police", request, request_id),
        {PUBLIC_SECURITY: "evaluation.opinion_to_requester", PROCURATORATE: "evaluation.opinion_copy"},
        attachments=OPINION_PDF,
    )
    answer = texts(received[PUBLIC_SECURITY])
    assert (answer["XM"], answer["PGJLDM"], answer["HFXXZJBH"]) == ("王秀兰", "1", request_id)


def test_procuratorate_request_gets_a_single_opinion(fresh_gateway: RunningGateway) -> None:
    """The procuratorate is both the requester and the copy: it receives the 意见书 once."""
    request = sample("procuratorate", "evaluation.request.xml")
    request_id, _ = flow(
        fresh_gateway,
        PROCURATORATE,
        "procuratorate",
        request,
        {JUSTICE_BUREAU: "evaluation.request_to_bureau"},
        attachments={"起诉意见书.pdf": PDF},
    )
    _, received = flow(
        fresh_gateway,
        JUSTICE_BUREAU,
        "canonical",
        opinion_answering("procuratorate", request, request_id),
        {PROCURATORATE: "evaluation.opinion_to_requester"},
        attachments=OPINION_PDF,
    )
    assert texts(received[PROCURATORATE])["AJBH"] == "惠检刑诉受〔2025〕37162100056号"
