"""The evaluation family (调查评估) in the three XML dialects: each requester's 委托函 is read
field by field, the police station's 协查 loop is coded GA/T-style, and one 意见书 typed once
by the bureau reaches a court, a procuratorate and the police with the same content."""

from __future__ import annotations

import json
from datetime import date

import pytest
from lxml import etree

from adapters.base import InboundError
from adapters.canonical import parse as parse_canonical
from adapters.court import ADAPTER as COURT
from adapters.court.families import evaluation as court_evaluation
from adapters.police import ADAPTER as POLICE
from adapters.police.families import evaluation as police_evaluation
from adapters.procuratorate import ADAPTER as PROCURATORATE
from adapters.procuratorate.families import evaluation as procuratorate_evaluation
from contracts.catalog import spec_of
from contracts.common import Agency, CorrectionType, DocumentKind, Gender
from contracts.evaluation import Conclusion, EvaluationOpinion, InquiryItem
from tests.adapters.stamping import ADAPTERS_DIR, stamp

ADAPTERS = {"court": COURT, "procuratorate": PROCURATORATE, "police": POLICE}


def sample(agency: str, name: str) -> bytes:
    return (ADAPTERS_DIR / agency / "samples" / name).read_bytes()


def evaluation_kinds(kinds: frozenset[str]) -> set[str]:
    return {kind for kind in kinds if kind.startswith("evaluation.")}


def elements(rendered: bytes) -> dict[str, str | None]:
    return {etree.QName(node).localname: node.text for node in etree.fromstring(rendered).iter()}


def test_every_requester_sends_the_request_and_receives_the_opinion() -> None:
    for adapter in (COURT, PROCURATORATE):
        assert evaluation_kinds(adapter.kinds_in) == {"evaluation.request"}
        assert evaluation_kinds(adapter.kinds_out) == {"evaluation.opinion"}
    assert evaluation_kinds(POLICE.kinds_in) == {"evaluation.request", "evaluation.inquiry_reply"}
    assert evaluation_kinds(POLICE.kinds_out) == {"evaluation.inquiry", "evaluation.opinion"}


def test_the_inquiry_keeps_the_request_open_and_the_opinion_closes_it() -> None:
    request, inquiry = spec_of("evaluation.request"), spec_of("evaluation.inquiry")
    reply, opinion = spec_of("evaluation.inquiry_reply"), spec_of("evaluation.opinion")
    assert request.senders == {Agency.court, Agency.procuratorate, Agency.police} and request.awaits_answer
    assert inquiry.answers == {"evaluation.request"} and inquiry.awaits_answer
    assert not inquiry.settles({})
    assert reply.answers == {"evaluation.inquiry"} and reply.senders == {Agency.police}
    assert opinion.answers == {"evaluation.request"} and opinion.settles({})


def test_court_request_is_read_field_by_field() -> None:
    draft = COURT.parse(sample("court", "evaluation.request.xml"))
    payload = draft.payload
    assert draft.case.case_number == "（2025）鲁1621刑初215号" and draft.in_reply_to is None
    assert (payload.person.name, payload.person.gender) == ("李强", Gender.male)
    assert payload.person.residence.area_code == "371621001003"
    assert (payload.offence, payload.proposed_correction) == ("盗窃罪", CorrectionType.probation)
    assert payload.fast_track is True and payload.requested_on == date(2025, 5, 6)
    assert (payload.contact, payload.contact_phone) == ("周文博", "0543-5321088")
    assert [(a.filename, a.document_kind) for a in draft.attachments] == [("起诉书.pdf", DocumentKind.indictment)]


def test_procuratorate_request_is_not_fast_track_and_carries_the_sentencing_proposal() -> None:
    payload = PROCURATORATE.parse(sample("procuratorate", "evaluation.request.xml")).payload
    assert payload.fast_track is False
    assert payload.proposed_sentence == "有期徒刑六个月，缓刑一年，并处罚金人民币三千元"
    assert payload.person.id_number == "371621200111200052"  # born 2001: today's 惠民县 code


def test_police_request_asks_for_medical_parole() -> None:
    payload = POLICE.parse(sample("police", "evaluation.request.xml")).payload
    assert payload.proposed_correction == CorrectionType.medical_parole
    assert (payload.contact, payload.requested_on) == ("韩志刚", date(2025, 6, 9))
    assert payload.person.domicile is not None and payload.person.domicile.area_code == "371621101"


def test_a_request_without_the_fast_track_flag_is_an_ordinary_one() -> None:
    data = sample("court", "evaluation.request.xml").replace("<速裁程序>是</速裁程序>".encode(), b"")
    assert COURT.parse(data).payload.fast_track is False


@pytest.mark.parametrize("agency", list(ADAPTERS))
def test_one_opinion_reaches_every_requester_with_the_same_content(agency: str) -> None:
    """The bureau types the 意见书 once (canonical JSON); each requester's system reads it back."""
    draft = parse_canonical(sample("canonical", "evaluation.opinion.json"))
    message = stamp(draft)
    rendered = ADAPTERS[agency].render(message)
    back = ADAPTERS[agency].parse(rendered)
    assert back.payload == draft.payload
    assert back.in_reply_to == draft.in_reply_to and back.case == draft.case
    assert back.attachments[0].document_kind == DocumentKind.evaluation_opinion


@pytest.mark.parametrize(
    ("agency", "element", "suitable", "unsuitable"),
    [
        ("court", "评估结论", "适宜社区矫正", "不适宜社区矫正"),
        ("procuratorate", "PGJL", "1", "2"),
        ("police", "PGJLDM", "1", "2"),
    ],
)
def test_the_conclusion_is_coded_in_each_dialect(agency: str, element: str, suitable: str, unsuitable: str) -> None:
    message = stamp(parse_canonical(sample("canonical", "evaluation.opinion.json")))
    assert elements(ADAPTERS[agency].render(message))[element] == suitable
    message["payload"]["conclusion"] = "unsuitable"
    rendered = ADAPTERS[agency].render(message)
    assert elements(rendered)[element] == unsuitable
    assert ADAPTERS[agency].parse(rendered).payload.conclusion == Conclusion.unsuitable


@pytest.mark.parametrize("module", [court_evaluation, procuratorate_evaluation, police_evaluation], ids=list(ADAPTERS))
def test_conclusion_code_tables_cover_every_value(module: object) -> None:
    for member in Conclusion:
        assert module.CONCLUSION.inbound(module.CONCLUSION.outbound(member.value)) == member.value  # type: ignore[attr-defined]


def test_inquiry_items_are_coded_for_the_station() -> None:
    for member in InquiryItem:
        codec = police_evaluation.INQUIRY_ITEM
        assert codec.inbound(codec.outbound(member.value)) == member.value
    draft = parse_canonical(sample("canonical", "evaluation.inquiry.json"))
    rendered = POLICE.render(stamp(draft))
    codes = [node.text for node in etree.fromstring(rendered).iter("{urn:xietong:police:evaluation:1}XCSXDM")]
    assert codes == ["1", "2", "3", "4"]
    assert elements(rendered)["HFQX"] == "20250509"
    assert POLICE.parse(rendered).payload == draft.payload


def test_inquiry_reply_is_read_from_the_station() -> None:
    draft = POLICE.parse(sample("police", "evaluation.inquiry_reply.xml"))
    payload = draft.payload
    assert str(draft.in_reply_to) == "0196a5e0-4d8b-7c12-a3f7-6e9b2c0d5a84"
    assert payload.resides_at_address is True and payload.criminal_record.startswith("2019年7月因盗窃")
    assert (payload.officer, payload.checked_on) == ("赵磊", date(2025, 5, 8))


def test_an_inquiry_reply_without_the_record_check_is_refused() -> None:
    root = etree.fromstring(sample("police", "evaluation.inquiry_reply.xml"))
    root.remove(root.find("{urn:xietong:police:evaluation:1}WFFZJL"))
    with pytest.raises(InboundError) as caught:
        POLICE.parse(etree.tostring(root, xml_declaration=True, encoding="UTF-8"))
    assert caught.value.code == "xml_schema_violation" and "WFFZJL" in caught.value.message


def test_an_opinion_must_name_the_place_it_evaluated() -> None:
    data = json.loads(sample("canonical", "evaluation.opinion.json"))
    del data["payload"]["execution_place"]
    with pytest.raises(ValueError):
        EvaluationOpinion.model_validate(data["payload"])


def test_police_opinion_writes_the_place_of_execution_as_flat_data_elements() -> None:
    values = elements(sample("police", "evaluation.opinion.xml"))
    payload = POLICE.parse(sample("police", "evaluation.opinion.xml")).payload
    assert payload.execution_place.area_code == values["NZXDQHDM"] == "371621001003"
    assert payload.person.residence.address == values["NZXDZ"]
