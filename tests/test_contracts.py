"""The contracts check identifiers where they enter, and the catalog knows every kind."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from contracts.catalog import UnknownKind, kinds, spec_of
from contracts.common import Address, Agency, Person
from contracts.envelope import CaseRef
from contracts.identifiers import mask_id_number, uuid7

PERSON = {
    "name": "阿依古丽·买买提",
    "gender": "female",
    "birth_date": "2001-03-08",
    "id_number": "37162120010308002X",
    "residence": {"division_code": "371621", "area_code": "371621001005", "address": "惠民县孙武街道文化社区"},
}


def test_resident_id_check_digit_is_checked() -> None:
    assert Person.model_validate(PERSON).id_number == "37162120010308002X"
    with pytest.raises(ValidationError, match="校验位错误"):
        Person.model_validate({**PERSON, "id_number": "371621200103080021"})


def test_an_old_division_in_the_id_is_accepted_whatever_the_residence() -> None:
    """A person from 惠民县 born before 2000 has an ID starting 372321 (the old 惠民地区)."""
    person = Person.model_validate({**PERSON, "id_number": "372321196805120036"})
    assert person.residence.division_code == "371621"


def test_case_number_is_normalised_to_full_width_brackets() -> None:
    assert CaseRef(case_number="(2025)鲁1621刑初123号").case_number == "（2025）鲁1621刑初123号"
    with pytest.raises(ValidationError, match="案号"):
        CaseRef(case_number="2025-123")


def test_area_code_must_lie_in_its_division() -> None:
    with pytest.raises(ValidationError, match="不属于"):
        Address(division_code="371621", area_code="371602001001", address="滨城区某街道")


def test_masked_id_keeps_first_six_and_last_four() -> None:
    assert mask_id_number("37232119680512003X") == "372321********003X"


def test_uuid7_is_time_ordered() -> None:
    first, second = uuid7(), uuid7()
    assert first.version == 7 and first.hex[:12] <= second.hex[:12]


def test_catalog_names_senders_and_answers() -> None:
    assert spec_of("handover.documents").senders == frozenset({Agency.court})
    assert "handover.documents" in spec_of("handover.receipt").answers
    assert {"enrollment.registered", "enrollment.failed_to_report"} <= set(kinds())
    with pytest.raises(UnknownKind):
        spec_of("handover.unknown")


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("（2025）鲁1621刑初123号", "（2025）鲁1621刑初123号"),
        ("（2025）鲁1621刑更45号之一", "（2025）鲁1621刑更45号之一"),
        ("惠检刑诉受[2025]37162100056号", "惠检刑诉受〔2025〕37162100056号"),
        ("惠检刑诉受【2025】56号", "惠检刑诉受〔2025〕56号"),
        ("A3716215300002025030001", "A3716215300002025030001"),
    ],
)
def test_court_procuratorate_and_police_case_numbers_are_accepted(typed: str, stored: str) -> None:
    """An evaluation is requested before sentence, so the case may only have the procuratorate's
    or the police's number yet."""
    assert CaseRef(case_number=typed).case_number == stored


@pytest.mark.parametrize("typed", ["2025-123", "A123", "检〔2025〕号", "（2025）鲁1621刑初123号x", "B3716215300002025030001"])
def test_a_case_number_of_no_known_form_is_refused_in_chinese(typed: str) -> None:
    with pytest.raises(ValidationError, match="案号.*格式不对"):
        CaseRef(case_number=typed)
