"""The procuratorate adapter (人民检察院): pinyin-initial elements, numeric code tables, local
times, and copies of every handover and enrollment message."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest
from lxml import etree

from adapters.base import InboundError
from adapters.court import ADAPTER as COURT
from adapters.procuratorate import ADAPTER as PROCURATORATE
from contracts.common import CorrectionType, DocumentKind, IdType, PrincipalPenalty
from contracts.handover import CorrectionRequest
from tests.adapters.stamping import ADAPTERS_DIR, stamp

SAMPLES = ADAPTERS_DIR / "procuratorate" / "samples"
NS = {"j": "urn:xietong:procuratorate:handover:1"}


def sample(name: str) -> bytes:
    return (SAMPLES / name).read_bytes()


def test_adapter_receives_copies_of_the_handover_and_enrollment() -> None:
    assert PROCURATORATE.kinds_out >= {
        "handover.judgment_effective",
        "handover.documents",
        "handover.receipt",
        "handover.correction_request",
        "enrollment.registered",
        "enrollment.failed_to_report",
    }


def test_foreign_national_under_surveillance_is_read_from_codes() -> None:
    draft = PROCURATORATE.parse(sample("handover.judgment_effective.xml"))
    person, sentence = draft.payload.person, draft.payload.sentence
    assert (person.name, person.id_type, person.id_number, person.nationality) == (
        "阮氏兰",
        IdType.passport,
        "C3825176",
        "VNM",
    )
    assert person.ethnicity is None and person.minor is False
    assert (sentence.offence, sentence.principal_penalty, sentence.correction_type) == (
        "偷越国（边）境罪",
        PrincipalPenalty.surveillance,
        CorrectionType.surveillance,
    )
    assert (sentence.term_months, sentence.probation_months) == (6, None)
    assert draft.occurred_at == datetime(2025, 5, 20, 8, 50, tzinfo=timezone(timedelta(hours=8)))


def test_a_court_judgment_is_rendered_with_procuratorate_codes() -> None:
    message = stamp(COURT.parse((ADAPTERS_DIR / "court" / "samples" / "handover.documents.gbk.xml").read_bytes()))
    root = etree.fromstring(PROCURATORATE.render(message))
    assert root.tag == "{urn:xietong:procuratorate:handover:1}FLWSSD" and root.get("BBH") == "1"
    assert root.findtext("j:AJBH", namespaces=NS) == "（2025）鲁1621刑初87号"
    person = {etree.QName(node).localname: node.text for node in root.find("j:RYXX", NS)}
    assert (person["XM"], person["XB"], person["MZ"], person["ZJLX"]) == ("阿依古丽·买买提", "2", "05", "111")
    sentence = {etree.QName(node).localname: node.text for node in root.find("j:XFXX", NS)}
    assert (sentence["ZX"], sentence["XQ"], sentence["JZLB"], sentence["HXKYQ"]) == ("3", "8", "02", "12")
    assert [node.text for node in root.iterfind("j:FJLB/j:FJ/j:WSLB", NS)] == ["01", "04"]


def test_times_are_written_in_beijing_time() -> None:
    message = stamp(PROCURATORATE.parse(sample("handover.receipt.xml")))
    message["occurred_at"] = "2025-04-24T01:12:00Z"
    root = etree.fromstring(PROCURATORATE.render(message))
    assert root.findtext("j:BWXX/j:FSSJ", namespaces=NS) == "2025-04-24 09:12:00"
    assert root.findtext("j:BWXX/j:HFBWBS", namespaces=NS) == "01966283-6ac5-7e19-8f40-b2d7c5e1a934"


def test_correction_request_lists_each_missing_document() -> None:
    draft = PROCURATORATE.parse(sample("handover.correction_request.xml"))
    assert isinstance(draft.payload, CorrectionRequest)
    assert [(item.document_kind, item.reason) for item in draft.payload.missing] == [
        (DocumentKind.case_closure_form, "未随案移送结案登记表"),
        (DocumentKind.execution_notice, "执行通知书未加盖院章，请重新出具"),
    ]
    assert draft.payload.due_on == date(2025, 3, 17)


def test_gbk_sample_of_the_failed_report() -> None:
    draft = PROCURATORATE.parse(sample("enrollment.failed_to_report.gbk.xml"))
    assert draft.payload.person.name == "刘秀英" and draft.payload.person.ethnicity == "回族"
    assert draft.case.case_number == "（2025）鲁16刑更312号"


def test_a_code_outside_the_table_is_a_schema_violation() -> None:
    data = sample("handover.documents.xml").replace(b"<JZLB>02</JZLB>", b"<JZLB>05</JZLB>")
    with pytest.raises(InboundError) as caught:
        PROCURATORATE.parse(data)
    assert (caught.value.code, caught.value.field) == ("xml_schema_violation", "JZLB")
    assert "“05”不在代码表中" in caught.value.message


def test_a_passport_number_declared_as_resident_id_names_zjhm() -> None:
    data = sample("handover.judgment_effective.xml").replace(b"<ZJLX>414</ZJLX>", b"<ZJLX>111</ZJLX>")
    with pytest.raises(InboundError) as caught:
        PROCURATORATE.parse(data)
    assert (caught.value.code, caught.value.field, caught.value.line) == ("field_invalid", "ZJHM", 15)
    assert "C3825176" in caught.value.message
