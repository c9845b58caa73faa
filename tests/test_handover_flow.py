"""The foundation flow end to end: real HTTP, real SQLite file, real RabbitMQ node."""

from __future__ import annotations

import hashlib
import json

import httpx
import pytest
from sqlalchemy import func, select

from adapters.base import registry
from gateway.store import AuditEntry, Delivery, Document, OutboxEntry, StoredMessage
from tests.conftest import RunningGateway
from tests.flows import (
    BINCHENG_COURT,
    COURT,
    JUSTICE_BUREAU,
    PROCURATORATE,
    PUBLIC_SECURITY,
    ROOT,
    SUNWU_OFFICE,
    SUNWU_STATION,
    WUDINGFU_GRID,
    delivery_to,
    wait_delivered,
    xsd_valid,
)

pytestmark = pytest.mark.broker

COURT_SAMPLES = ROOT / "adapters" / "court" / "samples"


ATTACHMENTS = ("判决书.pdf", "执行通知书.pdf", "结案登记表.pdf")


def submit_documents(gateway: RunningGateway, xml: bytes | None = None) -> httpx.Response:
    """The court's 法律文书送达 with its three PDFs, as multipart."""
    document = xml or (COURT_SAMPLES / "handover.documents.xml").read_bytes()
    files = [("document", ("handover.documents.xml", document, "application/xml"))]
    files += [("attachments", (name, (COURT_SAMPLES / name).read_bytes(), "application/pdf")) for name in ATTACHMENTS]
    with gateway.client(COURT) as court:
        return court.post("/v1/inbound/court", files=files)


# Audit entries written for a caller: the relay and the consumers write theirs whenever they get to them.
BY_CALLERS = AuditEntry.actor.notin_(["relay", "consumer"])


def counts(gateway: RunningGateway) -> dict[str, int]:
    """Rows per table; audit entries only of callers, since the relay and the consumers go on
    recording earlier messages' steps (the relay marks its confirms a moment later, in batches)."""
    store = gateway.store()
    with store.read() as session:
        result = {
            table.__name__: session.scalar(select(func.count()).select_from(table)) or 0
            for table in (StoredMessage, Delivery, OutboxEntry, Document)
        }
        result["AuditEntry"] = session.scalar(select(func.count()).where(BY_CALLERS)) or 0
    store.engine.dispose()
    return result


def last_audit(gateway: RunningGateway) -> AuditEntry:
    """The audit entry last written for a caller."""
    store = gateway.store()
    with store.read() as session:
        last = session.scalars(select(AuditEntry).where(BY_CALLERS).order_by(AuditEntry.id.desc()).limit(1)).one()
        session.expunge(last)
    store.engine.dispose()
    return last


def test_court_handover_reaches_every_party_in_its_own_format(gateway: RunningGateway) -> None:
    response = submit_documents(gateway)
    assert response.status_code == 202, response.text
    accepted = response.json()
    assert {d["recipient"] for d in accepted["deliveries"]} == {JUSTICE_BUREAU, PROCURATORATE, PUBLIC_SECURITY}
    assert {d["rule"] for d in accepted["deliveries"]} == {"handover.execution_place"}

    with gateway.client(COURT) as court:
        status = wait_delivered(court, accepted["message_id"])
    assert status["status"] == "delivered"
    for delivery in status["deliveries"]:
        assert delivery["evidence"]["accepted_at"] and delivery["evidence"]["published_at"] and delivery["evidence"]["delivered_at"]

    court_draft = registry()["court"].parse((COURT_SAMPLES / "handover.documents.xml").read_bytes())
    pdf_sha = hashlib.sha256((COURT_SAMPLES / "判决书.pdf").read_bytes()).hexdigest()

    for unit, adapter in ((PROCURATORATE, "procuratorate"), (PUBLIC_SECURITY, "police")):
        with gateway.client(unit) as client:
            delivery_id = delivery_to(status, unit)["delivery_id"]
            rendered = client.get(f"/v1/inbox/{delivery_id}")
            assert rendered.status_code == 200
            assert rendered.headers["content-type"].startswith("application/xml")
            assert xsd_valid(rendered.content)
            draft = registry()[adapter].parse(rendered.content)
            assert draft.case.case_number == court_draft.case.case_number
            assert draft.payload.person == court_draft.payload.person
            assert draft.payload.sentence == court_draft.payload.sentence
            attachment = client.get(f"/v1/inbox/{delivery_id}/documents/{pdf_sha}")
            assert attachment.status_code == 200
            assert hashlib.sha256(attachment.content).hexdigest() == pdf_sha

    with gateway.client(JUSTICE_BUREAU) as bureau:
        delivery_id = delivery_to(status, JUSTICE_BUREAU)["delivery_id"]
        canonical = bureau.get(f"/v1/inbox/{delivery_id}").json()
        assert canonical["message_id"] == accepted["message_id"]
        assert canonical["sender"]["unit_code"] == COURT
        assert canonical["payload"]["person"] == court_draft.payload.person.model_dump(mode="json")
        assert pdf_sha in [d["sha256"] for d in canonical["documents"]]
        assert len(canonical["documents"]) == len(ATTACHMENTS)
        assert bureau.post(f"/v1/inbox/{delivery_id}/ack").status_code == 204

    with gateway.client(COURT) as court:
        evidence = delivery_to(court.get(f"/v1/messages/{accepted['message_id']}").json(), JUSTICE_BUREAU)
    assert evidence["status"] == "acked"
    assert evidence["evidence"]["retrieved_at"] and evidence["evidence"]["acked_at"]


def test_receipt_returns_to_the_court_in_court_xml(gateway: RunningGateway) -> None:
    documents = submit_documents(gateway).json()["message_id"]
    receipt = {
        "kind": "handover.receipt",
        "case": {"case_number": registry()["court"].parse((COURT_SAMPLES / "handover.documents.xml").read_bytes()).case.case_number},
        "in_reply_to": documents,
        "payload": {"received_on": "2025-11-21", "received_documents": ["judgment"], "signed_by": "张丽"},
    }
    with gateway.client(JUSTICE_BUREAU) as bureau:
        response = bureau.post("/v1/inbound/canonical", json=receipt)
        assert response.status_code == 202, response.text
        accepted = response.json()
        assert {d["recipient"]: d["rule"] for d in accepted["deliveries"]} == {
            COURT: "handover.answer_to_court",
            PROCURATORATE: "handover.receipt_copy",
        }
        status = wait_delivered(bureau, accepted["message_id"])
    with gateway.client(COURT) as court:
        rendered = court.get(f"/v1/inbox/{delivery_to(status, COURT)['delivery_id']}")
        draft = registry()["court"].parse(rendered.content)
    assert draft.kind == "handover.receipt"
    assert str(draft.in_reply_to) == documents
    assert draft.payload.signed_by == "张丽"


def test_duplicate_submission_is_idempotent(gateway: RunningGateway) -> None:
    first = submit_documents(gateway).json()
    before = counts(gateway)
    second = submit_documents(gateway)
    assert second.status_code == 202
    assert second.json()["message_id"] == first["message_id"]
    assert second.json()["duplicate"] is True
    assert [d["delivery_id"] for d in second.json()["deliveries"]] == [d["delivery_id"] for d in first["deliveries"]]
    after = counts(gateway)
    assert (after["StoredMessage"], after["Delivery"], after["OutboxEntry"]) == (before["StoredMessage"], before["Delivery"], before["OutboxEntry"])


def test_a_unit_reads_only_its_own_inbox_and_messages(gateway: RunningGateway) -> None:
    accepted = submit_documents(gateway).json()
    with gateway.client(COURT) as court:
        status = wait_delivered(court, accepted["message_id"])
    to_procuratorate = delivery_to(status, PROCURATORATE)["delivery_id"]
    pdf_sha = hashlib.sha256((COURT_SAMPLES / "判决书.pdf").read_bytes()).hexdigest()
    for intruder in (PUBLIC_SECURITY, SUNWU_STATION, WUDINGFU_GRID, COURT):
        with gateway.client(intruder) as client:
            assert client.get(f"/v1/inbox/{to_procuratorate}").status_code == 404
            assert client.get(f"/v1/inbox/{to_procuratorate}/documents/{pdf_sha}").status_code == 404
            assert client.post(f"/v1/inbox/{to_procuratorate}/ack").status_code == 404
            assert to_procuratorate not in {i["delivery_id"] for i in client.get("/v1/inbox").json()}
    with gateway.client(PROCURATORATE) as procuratorate:
        assert procuratorate.get(f"/v1/messages/{accepted['message_id']}").status_code == 404
    assert httpx.get(f"{gateway.base_url}/v1/inbox").status_code == 401
    assert httpx.get(f"{gateway.base_url}/v1/inbox", headers={"X-Api-Key": "xt_forged"}).status_code == 401


def test_a_unit_may_submit_only_its_agencys_kinds(gateway: RunningGateway) -> None:
    with gateway.client(COURT) as court:
        refused = court.post("/v1/inbound/canonical", json={"kind": "handover.receipt"})
        assert refused.status_code == 403
        assert refused.json()["error"]["code"] == "adapter_not_allowed"
    with gateway.client(JUSTICE_BUREAU) as bureau:
        sample = json.loads((COURT_SAMPLES.parent.parent / "canonical" / "samples" / "enrollment.registered.json").read_text())
        sample["kind"] = "handover.judgment_effective"
        refused = bureau.post("/v1/inbound/canonical", json=sample)
    assert refused.status_code in (403, 422)


def test_enrollment_reaches_office_station_and_grid_with_the_grid_seeing_only_its_projection(gateway: RunningGateway) -> None:
    sample = (ROOT / "adapters" / "canonical" / "samples" / "enrollment.registered.json").read_bytes()
    with gateway.client(JUSTICE_BUREAU) as bureau:
        response = bureau.post("/v1/inbound/canonical", content=sample, headers={"Content-Type": "application/json"})
        assert response.status_code == 202, response.text
        status = wait_delivered(bureau, response.json()["message_id"])
    recipients = {d["recipient"]: d["role"] for d in status["deliveries"]}
    assert recipients[SUNWU_OFFICE] == "居住地司法所"
    assert recipients[SUNWU_STATION] == "居住地派出所"
    assert recipients[WUDINGFU_GRID] == "居住地网格"
    assert PUBLIC_SECURITY not in recipients
    with gateway.client(WUDINGFU_GRID) as grid:
        task = grid.get(f"/v1/inbox/{delivery_to(status, WUDINGFU_GRID)['delivery_id']}").json()
    text = json.dumps(task, ensure_ascii=False)
    assert task["person"]["name"] == "张伟"
    assert task["person"]["id_number"] == "372321********0019"
    assert "372321198506120019" not in text
    assert "危险驾驶" not in text and "罚金" not in text
    assert task["supervision_level"] == "普管"
    with gateway.client(SUNWU_STATION) as station:
        police = registry()["police"].parse(station.get(f"/v1/inbox/{delivery_to(status, SUNWU_STATION)['delivery_id']}").content)
    assert police.payload.person.id_number == "372321198506120019"


def test_the_sender_is_the_authenticated_unit(gateway: RunningGateway) -> None:
    """惠民县法院's key submitting a document that names another court is still 惠民县法院's."""
    accepted = submit_documents(gateway).json()
    with gateway.client(COURT) as court:
        status = wait_delivered(court, accepted["message_id"])
    with gateway.client(JUSTICE_BUREAU) as bureau:
        canonical = bureau.get(f"/v1/inbox/{delivery_to(status, JUSTICE_BUREAU)['delivery_id']}").json()
    assert canonical["sender"]["unit_code"] == COURT
    with gateway.client(BINCHENG_COURT) as other:
        assert other.get(f"/v1/messages/{accepted['message_id']}").status_code == 404


XXE = b"""<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>
<r>&x;</r>"""


@pytest.mark.parametrize(
    ("name", "body", "status", "code"),
    [
        ("malformed", "handover.documents.xml:truncate", 400, "xml_malformed"),
        ("xxe", XXE, 400, "xml_forbidden_dtd"),
        ("schema", "handover.documents.xml:schema", 422, "xml_schema_violation"),
    ],
)
def test_bad_documents_are_refused_precisely_and_leave_only_an_audit_entry(
    gateway: RunningGateway, name: str, body: bytes | str, status: int, code: str
) -> None:
    sample = (COURT_SAMPLES / "handover.documents.xml").read_bytes()
    if body == "handover.documents.xml:truncate":
        body = sample[: len(sample) // 2]
    elif body == "handover.documents.xml:schema":
        body = sample.replace("371621</".encode(), "37162A</".encode(), 1)
    before = counts(gateway)
    with gateway.client(COURT) as court:
        response = court.post("/v1/inbound/court", content=body, headers={"Content-Type": "application/xml"})
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] == code
    assert error["message"]
    if name != "xxe":
        assert isinstance(error["line"], int) and error["line"] > 1
    if name == "schema":
        assert error["field"]
    after = counts(gateway)
    assert {k: after[k] - before[k] for k in after} == {
        "StoredMessage": 0, "Delivery": 0, "OutboxEntry": 0, "Document": 0, "AuditEntry": 1
    }
    last = last_audit(gateway)
    assert last.event == "message.refused" and last.details["code"] == code


def test_attachment_whose_declared_digest_differs_is_refused(gateway: RunningGateway) -> None:
    sample = (COURT_SAMPLES / "handover.documents.xml").read_text(encoding="utf-8")
    real = hashlib.sha256((COURT_SAMPLES / "判决书.pdf").read_bytes()).hexdigest()
    if real not in sample:
        pytest.fail("the documents sample should declare the PDF's sha256")
    response = submit_documents(gateway, sample.replace(real, "0" * 64).encode("utf-8"))
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "attachment_digest_mismatch"
    assert response.json()["error"]["field"] == "判决书.pdf"


def test_the_same_file_under_two_names_is_stored_once_and_accepted(gateway: RunningGateway) -> None:
    """A clerk who scans one PDF as both the 执行通知书 and the 结案登记表 sends the same bytes twice:
    the message lists both, the folder and the store hold the file once, and nothing fails."""
    document = (COURT_SAMPLES / "handover.documents.xml").read_bytes().replace("（2025）鲁1621刑初123号".encode(), "（2025）鲁1621刑初124号".encode())
    scan = b"%PDF-1.7\n% " + "同一扫描件".encode() + b"\n%%EOF\n"
    files = [("document", ("handover.documents.xml", document, "application/xml"))]
    files += [("attachments", ("判决书.pdf", (COURT_SAMPLES / "判决书.pdf").read_bytes(), "application/pdf"))]
    files += [("attachments", (name, scan, "application/pdf")) for name in ("执行通知书.pdf", "结案登记表.pdf")]
    with gateway.client(COURT) as court:
        response = court.post("/v1/inbound/court", files=files)
        assert response.status_code == 202, response.text
        status = wait_delivered(court, response.json()["message_id"])
    with gateway.client(JUSTICE_BUREAU) as bureau:
        canonical = bureau.get(f"/v1/inbox/{delivery_to(status, JUSTICE_BUREAU)['delivery_id']}").json()
        digest = hashlib.sha256(scan).hexdigest()
        assert [d["filename"] for d in canonical["documents"] if d["sha256"] == digest] == ["执行通知书.pdf", "结案登记表.pdf"]
        assert bureau.get(f"/v1/inbox/{delivery_to(status, JUSTICE_BUREAU)['delivery_id']}/documents/{digest}").content == scan


def test_a_gb18030_document_keeps_its_chinese_text_exactly_in_every_format(gateway: RunningGateway) -> None:
    """𠮷 lies outside the BMP and outside GBK: it must survive GB18030 → canonical → UTF-8 XML."""
    document = (COURT_SAMPLES / "handover.judgment_effective.gb18030.xml").read_bytes()
    with gateway.client(COURT) as court:
        response = court.post("/v1/inbound/court", content=document, headers={"Content-Type": "application/xml"})
        assert response.status_code == 202, response.text
        status = wait_delivered(court, response.json()["message_id"])
    with gateway.client(JUSTICE_BUREAU) as bureau:
        canonical = bureau.get(f"/v1/inbox/{delivery_to(status, JUSTICE_BUREAU)['delivery_id']}").json()
    assert canonical["payload"]["person"]["name"] == "𠮷振华"
    with gateway.client(PUBLIC_SECURITY) as police:
        rendered = police.get(f"/v1/inbox/{delivery_to(status, PUBLIC_SECURITY)['delivery_id']}").content
    assert "<XM>𠮷振华</XM>".encode() in rendered
