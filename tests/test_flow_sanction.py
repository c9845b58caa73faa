"""Sanctions end to end: the bureau's warning reaches the 司法所 and the procuratorate; its penalty
proposal reaches the county police, whose decision comes back; its revocation proposal reaches
the sentencing court, whose ruling reaches the bureau, the police (remand) and the procuratorate,
each in its own format and with the PDF."""

from __future__ import annotations

import hashlib
import json

import pytest

from adapters.base import registry
from tests.conftest import RunningGateway
from tests.flows import (
    COURT,
    JUSTICE_BUREAU,
    PROCURATORATE,
    PUBLIC_SECURITY,
    SUNWU_OFFICE,
    answering,
    delivery_to,
    flow,
    sample,
    submit,
    wait_delivered,
)

pytestmark = pytest.mark.broker


def pdf(title: str) -> bytes:
    """A stand-in for a scanned 文书: only its bytes and digest matter to the gateway."""
    return b"%PDF-1.4\n% " + title.encode("utf-8") + b"\n%%EOF\n"


def test_warning_reaches_the_office_of_the_residence_and_the_procuratorate(fresh_gateway: RunningGateway) -> None:
    _, received = flow(
        fresh_gateway,
        JUSTICE_BUREAU,
        "canonical",
        sample("canonical", "sanction.warning.json"),
        {SUNWU_OFFICE: "sanction.warning", PROCURATORATE: "sanction.warning"},
    )
    assert b"<CSLB>2</CSLB>" in received[PROCURATORATE]  # 警告
    assert json.loads(received[SUNWU_OFFICE])["payload"]["measure"] == "warning"


def test_penalty_proposal_goes_to_the_county_police_whose_decision_comes_back(fresh_gateway: RunningGateway) -> None:
    proposal, received = flow(
        fresh_gateway,
        JUSTICE_BUREAU,
        "canonical",
        sample("canonical", "sanction.penalty_proposal.json"),
        {PUBLIC_SECURITY: "sanction.penalty_proposal", PROCURATORATE: "sanction.penalty_proposal"},
    )
    assert "<XM>张伟</XM>".encode() in received[PUBLIC_SECURITY]
    _, received = flow(
        fresh_gateway,
        PUBLIC_SECURITY,
        "police",
        answering(sample("police", "sanction.penalty_decision.xml"), "police", proposal),
        {JUSTICE_BUREAU: "sanction.penalty_decision", PROCURATORATE: "sanction.penalty_decision"},
    )
    decision = json.loads(received[JUSTICE_BUREAU])
    assert decision["in_reply_to"] == proposal
    assert (decision["payload"]["outcome"], decision["payload"]["detention_days"]) == ("detention", 10)


def test_revocation_proposal_reaches_the_sentencing_court_whose_ruling_reaches_bureau_police_and_procuratorate(
    fresh_gateway: RunningGateway,
) -> None:
    judgment = submit(fresh_gateway, COURT, "court", sample("court", "handover.judgment_effective.xml"))
    assert judgment.status_code == 202, judgment.text
    proposal_pdf = {"撤销缓刑建议书.pdf": pdf("惠司矫撤建字〔2025〕第1号撤销缓刑建议书")}
    proposal, received = flow(
        fresh_gateway,
        JUSTICE_BUREAU,
        "canonical",
        sample("canonical", "sanction.revocation_proposal.json"),
        {COURT: "sanction.revocation_proposal", PROCURATORATE: "sanction.revocation_proposal"},
        attachments=proposal_pdf,
    )
    assert "<建议事项>撤销缓刑</建议事项>".encode() in received[COURT]

    ruling_pdf = pdf("（2025）鲁1621刑更18号刑事裁定书")
    ruling, received = flow(
        fresh_gateway,
        COURT,
        "court",
        answering(sample("court", "sanction.ruling.xml"), "court", proposal),
        {JUSTICE_BUREAU: "sanction.ruling", PUBLIC_SECURITY: "sanction.ruling", PROCURATORATE: "sanction.ruling"},
        attachments={"撤销缓刑裁定书.pdf": ruling_pdf},
    )
    remand = registry()["police"].parse(received[PUBLIC_SECURITY])
    assert (remand.payload.outcome, remand.payload.remand_required) == ("granted", True)
    assert str(remand.in_reply_to) == proposal
    assert [claim.document_kind for claim in remand.attachments] == ["ruling"]

    digest = hashlib.sha256(ruling_pdf).hexdigest()
    with fresh_gateway.client(COURT) as court:
        status = wait_delivered(court, ruling)
    for unit in (JUSTICE_BUREAU, PUBLIC_SECURITY, PROCURATORATE):
        with fresh_gateway.client(unit) as client:
            document = client.get(f"/v1/inbox/{delivery_to(status, unit)['delivery_id']}/documents/{digest}")
        assert document.status_code == 200 and document.content == ruling_pdf, unit


def test_revocation_proposal_without_a_sentencing_court_on_record_is_refused(fresh_gateway: RunningGateway) -> None:
    proposal = json.loads(sample("canonical", "sanction.revocation_proposal.json"))
    proposal["case"]["case_number"] = "（2025）鲁1621刑初999号"
    response = submit(
        fresh_gateway,
        JUSTICE_BUREAU,
        "canonical",
        json.dumps(proposal, ensure_ascii=False).encode("utf-8"),
        {"撤销缓刑建议书.pdf": pdf("撤销缓刑建议书")},
    )
    assert response.status_code == 422, response.text
    assert response.json()["error"]["code"] == "recipient_unresolved"
    assert "原判人民法院" in response.json()["error"]["message"]
