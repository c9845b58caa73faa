"""Hostile and broken submissions against the running gateway: each is refused with a 4xx, a
stable code, a Chinese message (with line and field where they apply), and leaves nothing
behind but one `message.refused` audit entry."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from adapters.base import registry
from gateway.broker_node import RabbitNode
from tests.conftest import RunningGateway, prepare_gateway
from tests.test_handover_flow import ATTACHMENTS, COURT, COURT_SAMPLES, JUSTICE_BUREAU, ROOT, counts, last_audit

pytestmark = pytest.mark.broker

CHINESE = re.compile(r"[\u4e00-\u9fff]")
JUDGMENT = (COURT_SAMPLES / "handover.judgment_effective.xml").read_bytes()
DOCUMENTS = (COURT_SAMPLES / "handover.documents.xml").read_bytes()
PDF_SHA = hashlib.sha256((COURT_SAMPLES / "判决书.pdf").read_bytes()).hexdigest()
UNCHANGED = {"StoredMessage": 0, "Delivery": 0, "OutboxEntry": 0, "Document": 0}

LAUGHS = (
    b'<?xml version="1.0"?>\n<!DOCTYPE lolz [\n <!ENTITY lol "lol">\n'
    + b"".join(
        f' <!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">\n'.encode() for i in range(1, 10)
    )
    + b"]>\n<lolz>&lol9;</lolz>"
)
QUADRATIC = (
    b'<?xml version="1.0"?>\n<!DOCTYPE r [<!ENTITY a "' + b"a" * 50_000 + b'">]>\n<r>' + b"&a;" * 50_000 + b"</r>"
)


def _replace(old: str, new: str, source: bytes = JUDGMENT) -> bytes:
    assert old.encode() in source, old
    return source.replace(old.encode(), new.encode(), 1)


def _nested(depth: int) -> bytes:
    inner = b"<x>" * depth + b"</x>" * depth
    return _replace("<承办法官>李明远</承办法官>", f"<承办法官>李明远</承办法官>{inner.decode()}")


def _wrong_encoding() -> bytes:
    # declares UTF-8 (the sample does) but the bytes are GBK
    return JUDGMENT.decode("utf-8").encode("gbk")


# (id, body, status, code, line expected, field expected or None)
XML_CASES: list[tuple[str, bytes, int, str, bool, str | None]] = [
    ("malformed", JUDGMENT.decode()[: len(JUDGMENT.decode()) // 2].encode(), 400, "xml_malformed", True, None),
    ("unclosed-tag", _replace("</案号>", "</案>"), 400, "xml_malformed", True, None),
    ("xxe-file", b'<?xml version="1.0"?>\n<!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>\n<r>&x;</r>', 400, "xml_forbidden_dtd", True, None),
    ("xxe-network", b'<?xml version="1.0"?>\n<!DOCTYPE r [<!ENTITY x SYSTEM "http://127.0.0.1:1/x">]>\n<r>&x;</r>', 400, "xml_forbidden_dtd", True, None),
    ("xxe-parameter", b'<?xml version="1.0"?>\n<!DOCTYPE r [<!ENTITY % p SYSTEM "http://127.0.0.1:1/x"> %p;]>\n<r/>', 400, "xml_forbidden_dtd", True, None),
    ("billion-laughs", LAUGHS, 400, "xml_forbidden_dtd", True, None),
    ("quadratic-blowup", QUADRATIC, 400, "xml_forbidden_dtd", True, None),
    ("external-dtd", b'<?xml version="1.0"?>\n<!DOCTYPE r SYSTEM "http://127.0.0.1:1/r.dtd">\n<r/>', 400, "xml_forbidden_dtd", True, None),
    ("doctype-in-sample", _replace("<判决生效通知 ", '<!DOCTYPE 判决生效通知 SYSTEM "http://127.0.0.1:1/x.dtd">\n<判决生效通知 '), 400, "xml_forbidden_dtd", True, None),
    ("excessive-nesting", _nested(300), 422, "xml_limit_exceeded", True, None),
    ("wrong-namespace", _replace("urn:xietong:court:handover:1", "urn:xietong:court:handover:9"), 422, "xml_wrong_namespace", False, None),
    ("foreign-namespace", _replace('xmlns="urn:xietong:court:handover:1"', 'xmlns="http://example.com/evil"'), 422, "xml_wrong_namespace", False, None),
    ("wrong-version", _replace('版本="1"', '版本="2"'), 422, "xml_wrong_namespace", False, None),
    ("schema-violation", _replace("<刑期月数>3</刑期月数>", "<刑期月数>三</刑期月数>"), 422, "xml_schema_violation", True, "刑期月数"),
    ("schema-missing-element", _replace("<案号>（2025）鲁1621刑初123号</案号>", ""), 422, "xml_schema_violation", True, None),
    ("id-check-digit", _replace("372321198506120019", "372321198506120010"), 422, "field_invalid", True, "公民身份号码"),
    ("division-unknown", _replace("<执行地行政区划代码>371621<", "<执行地行政区划代码>371699<"), 422, "division_unknown", False, None),
    ("declared-utf8-bytes-gbk", _wrong_encoding(), 400, "xml_encoding_invalid", True, None),
    ("unsupported-encoding", _replace('encoding="UTF-8"', 'encoding="ISO-8859-1"'), 400, "xml_encoding_unsupported", True, None),
    ("utf16", JUDGMENT.decode().replace('encoding="UTF-8"', 'encoding="UTF-16"').encode("utf-16"), 400, "xml_encoding_unsupported", True, None),
    ("empty", b"", 400, "xml_empty", False, None),
    ("blank", b"  \n\t ", 400, "xml_empty", False, None),
    ("not-xml", b"%PDF-1.4 not a document", 400, "xml_malformed", True, None),
]


def assert_refused(
    gateway: RunningGateway,
    send: Callable[[], httpx.Response],
    status: int,
    code: str,
    *,
    line: bool = False,
    field: str | None = None,
    audited: bool = True,
) -> dict[str, Any]:
    before = counts(gateway)
    response = send()
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] == code, error
    assert CHINESE.search(error["message"]), error
    if line:
        assert isinstance(error["line"], int) and error["line"] >= 1, error
    if field is not None:
        assert error["field"] and field in error["field"], error
    after = counts(gateway)
    delta = {k: after[k] - before[k] for k in after}
    assert delta == {**UNCHANGED, "AuditEntry": 1 if audited else 0}, delta
    if audited:
        entry = last_audit(gateway)
        assert entry.event == "message.refused" and entry.details["code"] == code
    return error


@pytest.mark.parametrize(("name", "body", "status", "code", "line", "field"), XML_CASES, ids=[c[0] for c in XML_CASES])
def test_hostile_xml_is_refused_and_leaves_only_an_audit_entry(
    gateway: RunningGateway, name: str, body: bytes, status: int, code: str, line: bool, field: str | None
) -> None:
    with gateway.client(COURT) as court:
        error = assert_refused(
            gateway,
            lambda: court.post("/v1/inbound/court", content=body, headers={"Content-Type": "application/xml"}),
            status,
            code,
            line=line,
            field=field,
        )
    if name == "id-check-digit":
        assert error["line"] == JUDGMENT[: JUDGMENT.index("372321198506120019".encode())].count(b"\n") + 1
    if name == "division-unknown":
        assert "371699" in error["message"]


def test_the_id_check_digit_refusal_names_the_element_on_its_line_in_the_multipart_form_too(gateway: RunningGateway) -> None:
    """The same rule holds for a document carried in a multipart form."""
    with gateway.client(COURT) as court:
        files = [("document", ("j.xml", _replace("372321198506120019", "37232119850612001X"), "application/xml"))]
        assert_refused(gateway, lambda: court.post("/v1/inbound/court", files=files), 422, "field_invalid", line=True, field="公民身份号码")


def test_oversize_body_is_refused_with_413(gateway: RunningGateway) -> None:
    body = JUDGMENT + b"<!--" + b"x" * (5 * 1024 * 1024) + b"-->"
    with gateway.client(COURT) as court:
        assert_refused(gateway, lambda: court.post("/v1/inbound/court", content=body, headers={"Content-Type": "application/xml"}), 413, "document_too_large")


def test_oversize_body_without_content_length_is_refused_with_413(gateway: RunningGateway) -> None:
    def chunks() -> Iterator[bytes]:
        yield JUDGMENT
        for _ in range(6):
            yield b"<!--" + b"x" * (1024 * 1024) + b"-->"

    with gateway.client(COURT) as court:
        assert_refused(gateway, lambda: court.post("/v1/inbound/court", content=chunks(), headers={"Content-Type": "application/xml"}), 413, "document_too_large")


def test_oversize_document_part_in_multipart_is_refused_with_413(gateway: RunningGateway) -> None:
    body = JUDGMENT + b"<!--" + b"x" * (5 * 1024 * 1024) + b"-->"
    with gateway.client(COURT) as court:
        files = [("document", ("j.xml", body, "application/xml"))]
        error = assert_refused(gateway, lambda: court.post("/v1/inbound/court", files=files), 413, "document_too_large")
    assert error


def _documents_files(document: bytes = DOCUMENTS, names: tuple[str, ...] = ATTACHMENTS, extra: list[Any] | None = None) -> list[Any]:
    files: list[Any] = [("document", ("handover.documents.xml", document, "application/xml"))]
    files += [("attachments", (name, (COURT_SAMPLES / name).read_bytes(), "application/pdf")) for name in names]
    return files + (extra or [])


@pytest.mark.parametrize(
    ("name", "files", "code", "field"),
    [
        ("digest-mismatch", _documents_files(DOCUMENTS.replace(PDF_SHA.encode(), b"0" * 64)), "attachment_digest_mismatch", "判决书.pdf"),
        ("declared-but-missing", _documents_files(names=ATTACHMENTS[1:]), "attachment_missing", "判决书.pdf"),
        ("undeclared", _documents_files(extra=[("attachments", ("木马.exe", b"MZ\x90\x00", "application/octet-stream"))]), "attachment_unexpected", "木马.exe"),
        ("duplicate", _documents_files(names=(*ATTACHMENTS, ATTACHMENTS[0])), "attachment_duplicate", ATTACHMENTS[0]),
    ],
    ids=lambda v: v if isinstance(v, str) else "",
)
def test_attachment_mismatches_are_refused(gateway: RunningGateway, name: str, files: list[Any], code: str, field: str) -> None:
    assert PDF_SHA.encode() in DOCUMENTS
    with gateway.client(COURT) as court:
        assert_refused(gateway, lambda: court.post("/v1/inbound/court", files=files), 422, code, field=field)


def test_wrong_content_type_is_refused_with_415(gateway: RunningGateway) -> None:
    with gateway.client(COURT) as court:
        assert_refused(gateway, lambda: court.post("/v1/inbound/court", content=JUDGMENT, headers={"Content-Type": "text/plain"}), 415, "content_type_unsupported")


def test_truncated_multipart_is_refused_with_400(gateway: RunningGateway) -> None:
    request = httpx.Request("POST", "http://x/", files=_documents_files())
    body = request.read()
    content_type = request.headers["content-type"]
    with gateway.client(COURT) as court:
        for cut in (len(body) // 2, len(body) - 10, 200):
            assert_refused(
                gateway,
                lambda: court.post("/v1/inbound/court", content=body[:cut], headers={"Content-Type": content_type}),
                400,
                "multipart_invalid",
            )


def test_multipart_without_boundary_is_refused_with_400(gateway: RunningGateway) -> None:
    with gateway.client(COURT) as court:
        assert_refused(
            gateway, lambda: court.post("/v1/inbound/court", content=b"garbage", headers={"Content-Type": "multipart/form-data"}), 400, "multipart_invalid"
        )


def test_multipart_without_document_part_is_refused(gateway: RunningGateway) -> None:
    files = [("attachments", (name, (COURT_SAMPLES / name).read_bytes(), "application/pdf")) for name in ATTACHMENTS]
    with gateway.client(COURT) as court:
        assert_refused(gateway, lambda: court.post("/v1/inbound/court", files=files), 422, "document_missing", field="document")


@pytest.mark.parametrize("key", [None, "", "xt_forged", "x" * 10_000])
def test_unauthenticated_is_refused_with_401_and_no_audit_entry(gateway: RunningGateway, key: str | None) -> None:
    """401: there is no authenticated unit to attribute an audit entry to, so none is written."""
    headers = {"Content-Type": "application/xml"} | ({"X-Api-Key": key} if key is not None else {})
    assert_refused(
        gateway,
        lambda: httpx.post(f"{gateway.base_url}/v1/inbound/court", content=JUDGMENT, headers=headers, timeout=30),
        401,
        "unauthenticated",
        audited=False,
    )


def test_a_court_using_the_canonical_adapter_is_refused_with_403(gateway: RunningGateway) -> None:
    sample = (ROOT / "adapters" / "canonical" / "samples" / "enrollment.registered.json").read_bytes()
    with gateway.client(COURT) as court:
        assert_refused(
            gateway,
            lambda: court.post("/v1/inbound/canonical", content=sample, headers={"Content-Type": "application/json"}),
            403,
            "adapter_not_allowed",
        )


def test_a_kind_the_units_agency_may_not_send_is_refused_with_403(gateway: RunningGateway) -> None:
    """The justice bureau may not issue a court's 判决生效通知, even in well-formed canonical JSON."""
    draft = registry()["court"].parse(JUDGMENT)
    body = {"kind": draft.kind, "case": {"case_number": draft.case.case_number}, "payload": draft.payload.model_dump(mode="json")}
    with gateway.client(JUSTICE_BUREAU) as bureau:
        assert_refused(gateway, lambda: bureau.post("/v1/inbound/canonical", json=body), 403, "kind_not_allowed")


def test_an_unknown_adapter_is_refused_with_404(gateway: RunningGateway) -> None:
    with gateway.client(COURT) as court:
        assert_refused(gateway, lambda: court.post("/v1/inbound/nope", content=JUDGMENT, headers={"Content-Type": "application/xml"}), 404, "adapter_unknown")


DEEP_JSON = [  # nested deeper than Python's recursion limit
    pytest.param(b"[" * 100_000, id="deep-array"),
    pytest.param(b'{"kind": "supervision.alert", "payload": ' + b'{"a": ' * 100_000, id="deep-alert"),
]


@pytest.mark.parametrize(
    "body", [b"{", b"[]", b"null", "{\"kind\": \"x\"}".encode("utf-16"), json.dumps({"kind": "handover.receipt"}).encode(), *DEEP_JSON]
)
def test_broken_canonical_json_is_refused(gateway: RunningGateway, body: bytes) -> None:
    with gateway.client(JUSTICE_BUREAU) as bureau:
        before = counts(gateway)
        response = bureau.post("/v1/inbound/canonical", content=body, headers={"Content-Type": "application/json"})
        after = counts(gateway)
    assert 400 <= response.status_code < 500, response.text
    assert CHINESE.search(response.json()["error"]["message"])
    assert {k: after[k] - before[k] for k in after} == {**UNCHANGED, "AuditEntry": 1}


def test_gbk_documents_are_accepted(gateway: RunningGateway) -> None:
    gbk = (COURT_SAMPLES / "handover.documents.gbk.xml").read_bytes()
    assert b'encoding="GBK"' in gbk
    files: list[Any] = [("document", ("handover.documents.gbk.xml", gbk, "application/xml"))]
    files += [
        ("attachments", ("（2025）鲁1621刑初87号判决书.pdf", (COURT_SAMPLES / "判决书.pdf").read_bytes(), "application/pdf")),
        ("attachments", ("执行通知书.pdf", (COURT_SAMPLES / "执行通知书.pdf").read_bytes(), "application/pdf")),
    ]
    with gateway.client(COURT) as court:
        response = court.post("/v1/inbound/court", files=files)
    assert response.status_code == 202, response.text
    assert response.json()["kind"] == "handover.documents"


# --- a gateway of this module's own, with a small attachment limit -----------------------------


@pytest.fixture(scope="module")
def small_attachments(rabbit: RabbitNode, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningGateway]:
    running = prepare_gateway(tmp_path_factory.mktemp("small-attachments-gateway"), rabbit.url)
    running.extra_env = {"XIETONG_MAX_ATTACHMENT_BYTES": "100000"}
    running.start()
    yield running
    running.stop()


def test_oversize_attachment_is_refused_with_413(small_attachments: RunningGateway) -> None:
    big = b"%PDF-1.4\n" + b"0" * 200_000
    document = DOCUMENTS.replace(PDF_SHA.encode(), hashlib.sha256(big).hexdigest().encode())
    files = _documents_files(document, names=ATTACHMENTS[1:], extra=[("attachments", ("判决书.pdf", big, "application/pdf"))])
    with small_attachments.client(COURT) as court:
        assert_refused(small_attachments, lambda: court.post("/v1/inbound/court", files=files), 413, "attachment_too_large", field="判决书.pdf")
    leftovers = [p for p in (small_attachments.data_dir / "documents").rglob("*") if p.is_file()]
    assert all(p.stat().st_size < 200_000 for p in leftovers), leftovers
