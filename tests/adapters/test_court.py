"""The court adapter (人民法院): its encodings, its attachments, and a judgment typed once at the
court reaching the procuratorate and the police with the same case, person and sentence."""

from __future__ import annotations

import hashlib
import re
from datetime import date, datetime, timedelta, timezone

import pytest
from lxml import etree

from adapters.base import InboundError
from adapters.court import ADAPTER as COURT
from adapters.police import ADAPTER as POLICE
from adapters.procuratorate import ADAPTER as PROCURATORATE
from contracts.common import CorrectionType, DocumentKind, Gender, IdType, PrincipalPenalty
from contracts.handover import HandoverDocuments, JudgmentEffective
from tests.adapters.stamping import ADAPTERS_DIR, stamp

SAMPLES = ADAPTERS_DIR / "court" / "samples"


def sample(name: str) -> bytes:
    return (SAMPLES / name).read_bytes()


def test_adapter_declares_what_the_court_sends_and_receives() -> None:
    assert COURT.name == "court" and COURT.media_type == "application/xml"
    assert COURT.kinds_in >= {"handover.judgment_effective", "handover.documents"}
    assert COURT.kinds_out >= {
        "handover.receipt",
        "handover.correction_request",
        "enrollment.registered",
        "enrollment.failed_to_report",
    }


def test_judgment_effective_is_read_field_by_field() -> None:
    draft = COURT.parse(sample("handover.judgment_effective.xml"))
    payload = draft.payload
    assert isinstance(payload, JudgmentEffective)
    assert draft.case.case_number == "（2025）鲁1621刑初123号"
    assert draft.occurred_at == datetime(2025, 3, 18, 9, 30, tzinfo=timezone(timedelta(hours=8)))
    assert draft.in_reply_to is None and draft.attachments == []
    person = payload.person
    assert (person.name, person.gender, person.ethnicity) == ("张伟", Gender.male, "汉族")
    assert (person.birth_date, person.id_type) == (date(1985, 6, 12), IdType.resident_id)
    # Issued under the old 惠民地区 (372321) yet living in today's 惠民县 (371621): both are fine.
    assert person.id_number.startswith("372321") and person.residence.division_code == "371621"
    assert person.residence.area_code == "371621001003"
    assert person.domicile is not None and person.domicile.area_code == "371621001"
    sentence = payload.sentence
    assert (sentence.offence, sentence.principal_penalty, sentence.term_months) == (
        "危险驾驶罪",
        PrincipalPenalty.detention,
        3,
    )
    assert (sentence.correction_type, sentence.probation_months) == (CorrectionType.probation, 6)
    assert (sentence.correction_start, sentence.correction_end) == (date(2025, 3, 17), date(2025, 9, 16))
    assert sentence.supplementary_penalty == "罚金人民币五千元" and sentence.prohibition_order is None
    assert (payload.execution_division, payload.report_by, payload.judge) == ("371621", date(2025, 3, 27), "李明远")


def test_sender_claimed_by_the_document_is_ignored() -> None:
    draft = COURT.parse(sample("handover.judgment_effective.xml"))
    assert "sender" not in draft.model_dump() and "山东省惠民县人民法院" not in draft.model_dump_json()


def test_gbk_sample_keeps_its_chinese_text_exactly() -> None:
    data = sample("handover.documents.gbk.xml")
    assert data.startswith(b'<?xml version="1.0" encoding="GBK"?>') and "阿依古丽·买买提".encode("gbk") in data
    with pytest.raises(UnicodeDecodeError):
        data.decode("utf-8")
    draft = COURT.parse(data)
    person = draft.payload.person
    assert person.name == "阿依古丽·买买提"  # the middle dot survives
    assert person.ethnicity == "维吾尔族"
    assert person.residence.address == "山东省滨州市惠民县胡集镇胡集村安居路17号"
    assert (
        draft.payload.sentence.prohibition_order == "禁止在缓刑考验期内出租、出借、出售本人银行卡、电话卡及网络支付账户"
    )
    assert [claim.filename for claim in draft.attachments] == ["（2025）鲁1621刑初87号判决书.pdf", "执行通知书.pdf"]


def test_gb18030_sample_keeps_a_character_outside_the_bmp() -> None:
    data = sample("handover.judgment_effective.gb18030.xml")
    assert "𠮷".encode("gb18030") in data
    with pytest.raises(UnicodeEncodeError):
        "𠮷".encode("gbk")  # why GB18030: GBK cannot hold it
    person = COURT.parse(data).payload.person
    assert person.name == "𠮷振华" and len(person.name) == 3
    assert person.residence.address == "山东省滨州市惠民县石庙镇𠮷家村68号"
    assert person.id_number == "371621200103080038"  # born 2001: issued under today's code


def test_rendered_output_is_utf8_whatever_the_source_encoding() -> None:
    rendered = COURT.render(stamp(COURT.parse(sample("handover.judgment_effective.gb18030.xml"))))
    assert "<姓名>𠮷振华</姓名>".encode() in rendered


def test_utf8_declared_document_encoded_in_gbk_is_refused_with_its_line() -> None:
    text = sample("handover.judgment_effective.xml").decode("utf-8")
    with pytest.raises(InboundError) as caught:
        COURT.parse(text.encode("gbk"))
    assert (caught.value.code, caught.value.line) == ("xml_encoding_invalid", 2)  # the comment on line 2
    assert "UTF-8" in caught.value.message


def test_documents_sample_lists_the_judgment_pdf_with_its_real_digest() -> None:
    pdf = (SAMPLES / "判决书.pdf").read_bytes()
    draft = COURT.parse(sample("handover.documents.xml"))
    assert isinstance(draft.payload, HandoverDocuments)
    judgment = draft.attachments[0]
    assert (judgment.filename, judgment.document_kind) == ("判决书.pdf", DocumentKind.judgment)
    assert judgment.title == "（2025）鲁1621刑初123号刑事判决书"
    assert judgment.sha256 == hashlib.sha256(pdf).hexdigest()
    assert [claim.document_kind for claim in draft.attachments[1:]] == [
        DocumentKind.execution_notice,
        DocumentKind.case_closure_form,
    ]
    assert all(claim.sha256 is None for claim in draft.attachments[1:])  # declaring a digest is optional


def test_sample_pdf_is_a_small_well_formed_pdf() -> None:
    pdf = (SAMPLES / "判决书.pdf").read_bytes()
    assert 1024 < len(pdf) < 16 * 1024
    assert pdf.startswith(b"%PDF-1.") and pdf.rstrip().endswith(b"%%EOF")
    startxref = int(re.search(rb"startxref\s+(\d+)", pdf).group(1))
    assert pdf[startxref:].startswith(b"xref")
    table = re.findall(rb"(\d{10}) 00000 n", pdf[startxref:])
    for number, offset in enumerate(table, 1):
        assert pdf[int(offset) :].startswith(b"%d 0 obj" % number)


def test_receipt_answers_the_documents_message() -> None:
    draft = COURT.parse(sample("handover.receipt.xml"))
    assert str(draft.in_reply_to) == "0195b2e8-93f0-7c41-a6d2-1e8f5b3c7d90"
    assert draft.payload.received_documents == [
        DocumentKind.judgment,
        DocumentKind.execution_notice,
        DocumentKind.case_closure_form,
    ]


def test_a_foreign_national_is_rendered_with_a_passport() -> None:
    message = stamp(COURT.parse(sample("handover.judgment_effective.xml")))
    message["payload"]["person"].update(id_type="passport", id_number="C3825176", nationality="VNM", ethnicity=None)
    rendered = COURT.render(message)
    root = etree.fromstring(rendered)
    namespace = {"f": "urn:xietong:court:handover:1"}
    assert root.findtext("f:罪犯信息/f:护照号码", namespaces=namespace) == "C3825176"
    assert root.find("f:罪犯信息/f:公民身份号码", namespaces=namespace) is None
    person = COURT.parse(rendered).payload.person
    assert (person.id_type, person.id_number, person.nationality) == (IdType.passport, "C3825176", "VNM")


def test_a_residence_area_outside_its_division_points_at_the_area_code() -> None:
    data = sample("handover.judgment_effective.xml").replace(b"371621001003", b"371622001003")
    with pytest.raises(InboundError) as caught:
        COURT.parse(data)
    assert (caught.value.code, caught.value.field, caught.value.line) == ("field_invalid", "区划代码", 19)
    assert "371622001003" in caught.value.message


def test_a_correction_period_ending_before_it_starts_points_at_the_sentence() -> None:
    data = sample("handover.judgment_effective.xml").replace(b"2025-09-16", b"2024-09-16")
    with pytest.raises(InboundError) as caught:
        COURT.parse(data)
    assert (caught.value.code, caught.value.field) == ("field_invalid", "判决内容")
    assert caught.value.message == f"第{caught.value.line}行 <判决内容>：矫正期限的结束日早于开始日"


def test_schema_violations_are_explained_in_chinese() -> None:
    data = sample("handover.judgment_effective.xml").replace("<性别>男</性别>".encode(), "<性别>M</性别>".encode())
    with pytest.raises(InboundError) as caught:
        COURT.parse(data)
    assert (caught.value.code, caught.value.field, caught.value.line) == ("xml_schema_violation", "性别", 11)
    assert caught.value.message == "第11行 <性别>：值“M”不在代码表中（可选：'男', '女'）"


def _comparable(draft: object) -> tuple[object, object, object]:
    payload = draft.payload  # type: ignore[attr-defined]
    return draft.case.case_number, payload.person, payload.sentence  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "name", ["handover.judgment_effective.xml", "handover.judgment_effective.gb18030.xml", "handover.documents.gbk.xml"]
)
def test_a_court_document_reaches_procuratorate_and_police_unchanged(name: str) -> None:
    """Typed once at the court (避免重复录入): each recipient reads the same case, person, sentence."""
    court_draft = COURT.parse(sample(name))
    message = stamp(court_draft)
    for recipient in (PROCURATORATE, POLICE):
        assert message["kind"] in recipient.kinds_out
        received = recipient.parse(recipient.render(message))
        assert _comparable(received) == _comparable(court_draft)
        assert received.payload == court_draft.payload


def test_police_rendering_of_a_court_judgment_uses_police_codes() -> None:
    message = stamp(COURT.parse(sample("handover.judgment_effective.xml")))
    root = etree.fromstring(POLICE.render(message))
    values = {etree.QName(node).localname: node.text for node in root}
    assert values["GMSFHM"] == "372321198506120019"
    assert (values["XBDM"], values["MZDM"], values["CSRQ"]) == ("1", "01", "19850612")
    assert (values["JZDXZQH"], values["JZDQHDM"]) == ("371621", "371621001003")
    assert (values["ZXDM"], values["JZLBDM"], values["XQYS"], values["HXKYQYS"]) == ("2", "2", "3", "6")
    assert values["FSSJ"] == "20250318093000"
