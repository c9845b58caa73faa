"""The police adapter (公安机关): flat GA/T-style records, national code tables (GB/T 2261.1
性别, GB 3304 民族), dates YYYYMMDD, and a choice of 公民身份号码 or 护照号码."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest
from lxml import etree

from adapters.base import InboundError, UnsupportedKind
from adapters.police import ADAPTER as POLICE
from adapters.xmlcodec import ETHNICITY_GB_3304
from contracts.common import CorrectionType, DocumentKind, Gender, IdType, PrincipalPenalty, SupervisionLevel
from tests.adapters.stamping import ADAPTERS_DIR, stamp

SAMPLES = ADAPTERS_DIR / "police" / "samples"


def sample(name: str) -> bytes:
    return (SAMPLES / name).read_bytes()


def elements(rendered: bytes) -> dict[str, str | None]:
    return {etree.QName(node).localname: node.text for node in etree.fromstring(rendered)}


def test_adapter_receives_the_handover_and_the_enrollment_news() -> None:
    assert POLICE.kinds_out >= {
        "handover.judgment_effective",
        "handover.documents",
        "enrollment.registered",
        "enrollment.failed_to_report",
    }


def test_parole_ruling_is_read_from_compact_dates_and_codes() -> None:
    draft = POLICE.parse(sample("handover.judgment_effective.xml"))
    person, sentence = draft.payload.person, draft.payload.sentence
    assert (person.name, person.gender, person.ethnicity) == ("刘秀英", Gender.female, "回族")
    assert person.birth_date == date(1978, 9, 21) and person.id_number == "372321197809210025"
    assert person.residence.division_code == "371621" and person.domicile.address == "山东省滨州市惠民县石庙镇刘家庄村"
    assert (sentence.principal_penalty, sentence.term_months, sentence.correction_type) == (
        PrincipalPenalty.fixed_term,
        36,
        CorrectionType.parole,
    )
    assert (sentence.correction_start, sentence.correction_end) == (date(2025, 4, 2), date(2025, 12, 20))
    assert (draft.payload.judge, draft.payload.contact_phone) == ("马国强", "0543-3186540")
    assert draft.occurred_at == datetime(2025, 4, 3, 9, 15, tzinfo=timezone(timedelta(hours=8)))
    assert draft.attachments[0].document_kind == DocumentKind.ruling


def test_gb18030_sample_keeps_a_character_outside_the_bmp() -> None:
    draft = POLICE.parse(sample("enrollment.registered.gb18030.xml"))
    assert draft.payload.person.name == "𠮷振华"
    assert draft.payload.supervision_level == SupervisionLevel.strict


@pytest.mark.parametrize(
    ("ethnicity", "code", "read_back"),
    [
        ("汉族", "01", "汉族"),
        ("回族", "03", "回族"),
        ("维吾尔族", "05", "维吾尔族"),
        ("回", "03", "回族"),
        ("穿青人", "97", "其他"),
    ],
)
def test_ethnicity_text_maps_to_gb_3304(ethnicity: str, code: str, read_back: str) -> None:
    message = stamp(POLICE.parse(sample("enrollment.registered.xml")))
    message["payload"]["person"]["ethnicity"] = ethnicity
    rendered = POLICE.render(message)
    assert elements(rendered)["MZDM"] == code
    assert POLICE.parse(rendered).payload.person.ethnicity == read_back
    assert ETHNICITY_GB_3304.outbound(ethnicity) == code


def test_a_foreign_national_gets_hzhm_instead_of_gmsfhm() -> None:
    message = stamp(POLICE.parse(sample("enrollment.registered.xml")))
    message["payload"]["person"].update(id_type="passport", id_number="C3825176", nationality="VNM", ethnicity=None)
    rendered = POLICE.render(message)
    values = elements(rendered)
    assert values["HZHM"] == "C3825176" and values["GJDM"] == "VNM"
    assert "GMSFHM" not in values and "MZDM" not in values
    assert POLICE.parse(rendered).payload.person.id_type == IdType.passport


def test_a_domicile_is_written_only_when_known() -> None:
    message = stamp(POLICE.parse(sample("enrollment.registered.xml")))
    assert message["payload"]["person"]["domicile"] is None
    assert not {"HJDXZQH", "HJDQHDM", "HJDZ"} & elements(POLICE.render(message)).keys()


def test_an_impossible_compact_date_names_its_element() -> None:
    data = sample("handover.judgment_effective.xml").replace(b"<PJRQ>20250328</PJRQ>", b"<PJRQ>20250230</PJRQ>")
    with pytest.raises(InboundError) as caught:
        POLICE.parse(data)
    assert (caught.value.code, caught.value.field, caught.value.line) == ("field_invalid", "PJRQ", 29)
    assert caught.value.message == "第29行 <PJRQ>：“20250230”不是有效的日期（YYYYMMDD）"


def test_an_iso_date_is_a_schema_violation() -> None:
    data = sample("enrollment.failed_to_report.xml").replace(b"<HCRQ>20250414</HCRQ>", b"<HCRQ>2025-04-14</HCRQ>")
    with pytest.raises(InboundError) as caught:
        POLICE.parse(data)
    assert (caught.value.code, caught.value.field) == ("xml_schema_violation", "HCRQ")


def test_kinds_the_police_do_not_receive_are_not_rendered() -> None:
    message = stamp(POLICE.parse(sample("handover.documents.xml")))
    message["kind"] = "handover.receipt"
    with pytest.raises(UnsupportedKind):
        POLICE.render(message)
