"""The sanction family in the three XML dialects: who sends and receives what, the court's ruling
and the police decision read field by field, and the rules a clerk is told about in Chinese."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date

import pytest

from adapters.base import InboundError
from adapters.canonical import ADAPTER as CANONICAL
from adapters.court import ADAPTER as COURT
from adapters.police import ADAPTER as POLICE
from adapters.procuratorate import ADAPTER as PROCURATORATE
from contracts.catalog import spec_of
from contracts.common import DocumentKind
from contracts.sanction import PenaltyOutcome, RevocationMeasure, RulingOutcome
from tests.adapters.stamping import ADAPTERS_DIR, stamp

SANCTION = {
    "sanction.warning",
    "sanction.penalty_proposal",
    "sanction.penalty_decision",
    "sanction.revocation_proposal",
    "sanction.ruling",
}


def sample(agency: str, name: str) -> bytes:
    return (ADAPTERS_DIR / agency / "samples" / name).read_bytes()


def refused(parse: Callable[[bytes], object], data: bytes) -> InboundError:
    with pytest.raises(InboundError) as caught:
        parse(data)
    return caught.value


def test_each_agency_speaks_its_part_of_the_family() -> None:
    assert COURT.kinds_in & SANCTION == {"sanction.ruling"}
    assert COURT.kinds_out & SANCTION == {"sanction.revocation_proposal"}
    assert POLICE.kinds_in & SANCTION == {"sanction.penalty_decision"}
    assert POLICE.kinds_out & SANCTION == {"sanction.penalty_proposal", "sanction.ruling"}
    assert PROCURATORATE.kinds_in & SANCTION == set()
    assert PROCURATORATE.kinds_out & SANCTION == SANCTION  # a copy of every step


def test_proposals_open_loops_that_the_decision_and_the_ruling_close() -> None:
    assert spec_of("sanction.penalty_proposal").awaits_answer
    assert spec_of("sanction.revocation_proposal").awaits_answer
    assert not spec_of("sanction.warning").awaits_answer
    assert spec_of("sanction.penalty_decision").answers == {"sanction.penalty_proposal"}
    assert spec_of("sanction.ruling").answers == {"sanction.revocation_proposal"}
    assert spec_of("sanction.penalty_decision").settles({"outcome": "not_punished"})
    assert spec_of("sanction.ruling").settles({"outcome": "rejected"})  # the court owes nothing more


def test_court_ruling_is_read_field_by_field() -> None:
    draft = COURT.parse(sample("court", "sanction.ruling.xml"))
    assert draft.kind == "sanction.ruling"
    assert draft.case.case_number == "（2025）鲁1621刑初123号"
    assert str(draft.in_reply_to) == "01987a1e-4c63-7f29-b0d8-5e2a9c7f1b36"
    payload = draft.payload
    assert (payload.measure, payload.outcome, payload.remand_required) == (
        RevocationMeasure.revoke_probation,
        RulingOutcome.granted,
        True,
    )
    assert (payload.decided_on, payload.document_number) == (date(2025, 8, 25), "（2025）鲁1621刑更18号")
    assert payload.person.id_number == "372321198506120019"
    assert [(claim.filename, claim.document_kind) for claim in draft.attachments] == [
        ("撤销缓刑裁定书.pdf", DocumentKind.ruling)
    ]


def test_the_courts_ruling_reaches_police_and_procuratorate_unchanged() -> None:
    message = stamp(COURT.parse(sample("court", "sanction.ruling.xml")))
    for adapter in (POLICE, PROCURATORATE):
        again = adapter.parse(adapter.render(message))
        assert again.payload.model_dump(mode="json") == message["payload"], adapter.name
        assert str(again.in_reply_to) == message["in_reply_to"]
    assert b"<SFSJ>1</SFSJ>" in POLICE.render(message) and b"<CDRQ>20250825</CDRQ>" in POLICE.render(message)


def test_a_rejected_ruling_cannot_ask_for_remand() -> None:
    assert COURT.parse(sample("court", "sanction.ruling.rejected.xml")).payload.remand_required is False
    data = sample("court", "sanction.ruling.rejected.xml").replace("<是否收监>否<".encode(), "<是否收监>是<".encode())
    error = refused(COURT.parse, data)
    assert error.code == "field_invalid"
    assert error.message.endswith("不予撤销（不予收监）时不应要求收监")


def test_police_decision_reads_detention_days_and_no_fine() -> None:
    draft = POLICE.parse(sample("police", "sanction.penalty_decision.xml"))
    payload = draft.payload
    assert (payload.outcome, payload.detention_days, payload.fine_yuan) == (PenaltyOutcome.detention, 10, 0)
    assert str(draft.in_reply_to) == "0197f1a4-2b9c-7e03-8d51-6a4f2c9e0b73"
    copy = PROCURATORATE.render(stamp(draft))
    assert b"<CFJG>1</CFJG>" in copy and b"<JLTS>10</JLTS>" in copy


@pytest.mark.parametrize(
    ("outcome", "reason"),
    [("2", "罚款须写明罚款金额"), ("0", "不予处罚时不应有拘留天数或罚款金额")],
    ids=["fine-without-amount", "not-punished-with-days"],
)
def test_a_decision_whose_amounts_contradict_its_outcome_is_refused(outcome: str, reason: str) -> None:
    data = sample("police", "sanction.penalty_decision.xml").replace(
        b"<CFJGDM>1</CFJGDM>", f"<CFJGDM>{outcome}</CFJGDM>".encode()
    )
    error = refused(POLICE.parse, data)
    assert error.code == "field_invalid" and error.message.endswith(reason)


def test_revocation_must_fit_the_correction_type() -> None:
    proposal = json.loads(sample("canonical", "sanction.revocation_proposal.json"))
    proposal["payload"]["measure"] = "revoke_parole"
    error = refused(CANONICAL.parse, json.dumps(proposal, ensure_ascii=False).encode())
    assert error.code == "field_invalid"
    assert "建议事项“撤销假释”只适用于假释的社区矫正对象" in error.message


def test_revocation_proposal_reaches_the_court_with_its_pdf_listed() -> None:
    message = stamp(CANONICAL.parse(sample("canonical", "sanction.revocation_proposal.json")))
    rendered = COURT.render(message).decode("utf-8")
    assert "<建议事项>撤销缓刑</建议事项>" in rendered and "<矫正类别>缓刑</矫正类别>" in rendered
    assert '文书类型="建议书"' in rendered
    assert COURT.parse(rendered.encode()).payload.model_dump(mode="json") == message["payload"]


def test_warning_copy_for_the_procuratorate_carries_the_measure_code() -> None:
    draft = PROCURATORATE.parse(sample("procuratorate", "sanction.warning.xml"))
    assert draft.payload.measure == "warning" and draft.payload.document_number == "惠司矫警字〔2025〕第7号"
    message = stamp(draft)
    message["payload"]["measure"] = "admonition"
    assert b"<CSLB>1</CSLB>" in PROCURATORATE.render(message)
