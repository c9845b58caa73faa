"""The key-person family (重点人员) in the police dialect: the bureau's 列管通知 typed once in
canonical JSON becomes GA/T-style data elements for the station, and the station's 回执 and
动态 come back coded (列管级别, 动态类型) with compact Beijing times."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest
from lxml import etree

from adapters.base import InboundError
from adapters.canonical import parse as parse_canonical
from adapters.police import ADAPTER as POLICE
from adapters.police.families.keyperson import CONTROL_LEVEL, EVENT_TYPE
from contracts.catalog import spec_of
from contracts.common import Agency, CorrectionType, SupervisionLevel
from contracts.keyperson import ControlLevel, EventType
from tests.adapters.stamping import ADAPTERS_DIR, stamp

BEIJING = timezone(timedelta(hours=8))
NS = "{urn:xietong:police:keyperson:1}"


def sample(agency: str, name: str) -> bytes:
    return (ADAPTERS_DIR / agency / "samples" / name).read_bytes()


def elements(rendered: bytes) -> dict[str, str | None]:
    return {etree.QName(node).localname: node.text for node in etree.fromstring(rendered)}


def with_text(data: bytes, element: str, text: str) -> bytes:
    root = etree.fromstring(data)
    root.find(f"{NS}{element}").text = text
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def test_the_station_receives_the_registration_and_sends_the_record_and_the_events() -> None:
    assert {kind for kind in POLICE.kinds_in if kind.startswith("keyperson.")} == {
        "keyperson.record",
        "keyperson.event",
    }
    assert {kind for kind in POLICE.kinds_out if kind.startswith("keyperson.")} == {"keyperson.registration"}


def test_registration_awaits_the_record_and_an_event_is_an_alert() -> None:
    registration, record, event = (spec_of(f"keyperson.{name}") for name in ("registration", "record", "event"))
    assert registration.awaits_answer and registration.senders == {Agency.justice}
    assert record.answers == {"keyperson.registration"} and record.senders == {Agency.police}
    assert event.live and not event.answers and event.senders == {Agency.police}


def test_registration_typed_once_reaches_the_station_as_data_elements() -> None:
    draft = parse_canonical(sample("canonical", "keyperson.registration.json"))
    rendered = POLICE.render(stamp(draft))
    values = elements(rendered)
    assert (values["XM"], values["GMSFHM"], values["JZDQHDM"]) == ("刘建国", "372321197905090078", "371621001003")
    assert (values["JZLBDM"], values["JZQSRQ"], values["JZZZRQ"]) == ("2", "20250603", "20261202")
    assert (values["GKJB"], values["FZSFS"], values["JZZRR"]) == ("1", "惠民县司法局孙武司法所", "王红梅")
    back = POLICE.parse(rendered).payload
    assert back == draft.payload
    assert back.sentence.correction_type == CorrectionType.probation
    assert back.supervision_level == SupervisionLevel.strict


def test_record_names_the_responsible_officer_and_the_control_level() -> None:
    draft = POLICE.parse(sample("police", "keyperson.record.xml"))
    assert str(draft.in_reply_to) == "01975a20-3c61-7b8e-9f14-0a6d2e5c8b37"
    payload = draft.payload
    assert (payload.listed_on, payload.officer, payload.officer_phone) == (date(2025, 6, 12), "赵磊", "0543-5331102")
    assert payload.control_level == ControlLevel.attention


def test_detention_event_is_read_with_its_beijing_time() -> None:
    payload = POLICE.parse(sample("police", "keyperson.event.xml")).payload
    assert payload.event_type == EventType.detention
    assert payload.occurred_at == datetime(2025, 8, 15, 22, 30, tzinfo=BEIJING)
    assert payload.handling_unit == "惠民县公安局孙武派出所" and payload.new_residence is None


def test_address_change_carries_the_new_residence_and_keeps_the_one_under_correction() -> None:
    payload = POLICE.parse(sample("police", "keyperson.event.address_change.xml")).payload
    assert payload.event_type == EventType.address_change
    assert payload.person.residence.area_code == "371621001003"  # routing: the 司法所 still in charge
    assert payload.new_residence is not None and payload.new_residence.area_code == "371621001005"


def test_a_new_residence_on_another_event_is_refused_in_chinese() -> None:
    data = with_text(sample("police", "keyperson.event.address_change.xml"), "DTLXDM", "30")
    with pytest.raises(InboundError) as caught:
        POLICE.parse(data)
    assert caught.value.code == "field_invalid"
    assert "只有居住地变动才填写新居住地" in caught.value.message


def test_an_impossible_event_time_names_its_element() -> None:
    data = with_text(sample("police", "keyperson.event.xml"), "DTFSSJ", "20250230223000")
    with pytest.raises(InboundError) as caught:
        POLICE.parse(data)
    assert (caught.value.code, caught.value.field) == ("field_invalid", "DTFSSJ")
    assert "不是有效的时间" in caught.value.message


def test_an_unknown_event_code_is_a_schema_violation() -> None:
    with pytest.raises(InboundError) as caught:
        POLICE.parse(with_text(sample("police", "keyperson.event.xml"), "DTLXDM", "50"))
    assert (caught.value.code, caught.value.field) == ("xml_schema_violation", "DTLXDM")


@pytest.mark.parametrize(("codec", "enum"), [(CONTROL_LEVEL, ControlLevel), (EVENT_TYPE, EventType)])
def test_code_tables_cover_every_value(codec: object, enum: type) -> None:
    for member in enum:
        assert codec.inbound(codec.outbound(member.value)) == member.value  # type: ignore[attr-defined]
