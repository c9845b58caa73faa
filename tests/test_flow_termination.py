"""Termination end to end: at expiry the 解除社区矫正证明书 reaches the sentencing court, the
procuratorate, the public security bureau, the police station and the 司法所, each in its own
format; the grid learns only that its visits end and may not open the certificate. A death
ends the correction too, the court told only when it is a party of the case; so does a
revocation (撤销缓刑、收监执行), with the court's ruling attached."""

from __future__ import annotations

import hashlib
import json

import pytest

from tests.conftest import RunningGateway
from tests.flows import (
    COURT,
    JUSTICE_BUREAU,
    PROCURATORATE,
    PUBLIC_SECURITY,
    SUNWU_OFFICE,
    SUNWU_STATION,
    WUDINGFU_GRID,
    delivery_to,
    flow,
    sample,
    submit,
    wait_delivered,
)

pytestmark = pytest.mark.broker

# Every termination, with the sentencing court a party of the case: the recipients and their rules.
NOTIFIED = {
    COURT: "termination.notify_parties",
    PROCURATORATE: "termination.notify_parties",
    PUBLIC_SECURITY: "termination.notify_parties",
    SUNWU_STATION: "termination.residence",
    SUNWU_OFFICE: "termination.residence",
    WUDINGFU_GRID: "termination.residence",
}

CERTIFICATE = "解除社区矫正证明书.pdf"


def certificate_pdf() -> bytes:
    """A one-page PDF, as the bureau's system prints the certificate."""
    stream = b"BT /F1 14 Tf 72 760 Td (Certificate of release from community corrections No. 17 of 2025) Tj ET"
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << /Font << /F1 5 0 R >> >> /Contents 4 0 R >>",
        b"<< /Length %d >>\nstream\n%s\nendstream" % (len(stream), stream),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    body, offsets = b"%PDF-1.7\n", []
    for number, content in enumerate(objects, 1):
        offsets.append(len(body))
        body += b"%d 0 obj\n%s\nendobj\n" % (number, content)
    xref = len(body)
    body += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    body += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    return body + b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)


def test_expiry_with_the_certificate_reaches_every_party_and_the_sentencing_court(
    fresh_gateway: RunningGateway,
) -> None:
    judgment = submit(fresh_gateway, COURT, "court", sample("court", "handover.judgment_effective.xml"))
    assert judgment.status_code == 202, judgment.text
    pdf = certificate_pdf()
    notice, received = flow(
        fresh_gateway,
        JUSTICE_BUREAU,
        "canonical",
        sample("canonical", "termination.notice.json"),
        NOTIFIED,
        attachments={CERTIFICATE: pdf},
    )
    assert "<解除终止原因>矫正期满解除</解除终止原因>" in received[COURT].decode()
    assert "<JCZZYYDM>1</JCZZYYDM>" in received[SUNWU_STATION].decode()
    visit = json.dumps(json.loads(received[WUDINGFU_GRID]), ensure_ascii=False)
    assert "张伟" in visit and "2025-09-16" in visit and "遵守法律法规" not in visit

    digest = hashlib.sha256(pdf).hexdigest()
    with fresh_gateway.client(JUSTICE_BUREAU) as bureau:
        status = wait_delivered(bureau, notice)
    for unit in (COURT, PROCURATORATE, PUBLIC_SECURITY, SUNWU_STATION, SUNWU_OFFICE):
        with fresh_gateway.client(unit) as client:
            file = client.get(f"/v1/inbox/{delivery_to(status, unit)['delivery_id']}/documents/{digest}")
        assert file.status_code == 200, unit
        assert file.content == pdf and file.headers["content-type"] == "application/pdf"
    with fresh_gateway.client(WUDINGFU_GRID) as grid:
        refused = grid.get(f"/v1/inbox/{delivery_to(status, WUDINGFU_GRID)['delivery_id']}/documents/{digest}")
    assert (refused.status_code, refused.json()["error"]["code"]) == (403, "documents_not_visible")


def test_expiry_without_the_certificate_is_refused_and_nothing_is_sent(fresh_gateway: RunningGateway) -> None:
    def court_notices() -> int:
        with fresh_gateway.client(COURT) as court:
            return sum(m["kind"] == "termination.notice" for m in court.get("/v1/inbox", params={"limit": 1000}).json())

    before = court_notices()
    notice = json.loads(sample("canonical", "termination.notice.json"))
    notice["attachments"][0]["document_kind"] = "other"  # a document, but not the certificate
    refused = submit(fresh_gateway, JUSTICE_BUREAU, "canonical", json.dumps(notice, ensure_ascii=False).encode(), {CERTIFICATE: certificate_pdf()})
    error = refused.json()["error"]
    assert (refused.status_code, error["code"], error["field"]) == (422, "document_required", "attachments"), refused.text
    assert "解除社区矫正证明书" in error["message"]
    assert court_notices() == before


def test_death_ends_the_correction_without_a_court_that_never_took_part(fresh_gateway: RunningGateway) -> None:
    """Another case number, in which no court sent anything: the court's copy is left out, not refused."""
    death = sample("canonical", "termination.notice.death.json").replace(
        "（2025）鲁1621刑初123号".encode(), "（2024）鲁1621刑初318号".encode()
    )
    _, received = flow(
        fresh_gateway,
        JUSTICE_BUREAU,
        "canonical",
        death,
        {
            PROCURATORATE: "termination.notify_parties",
            PUBLIC_SECURITY: "termination.notify_parties",
            SUNWU_STATION: "termination.residence",
            SUNWU_OFFICE: "termination.residence",
            WUDINGFU_GRID: "termination.residence",
        },
        attachments={"居民死亡医学证明书.pdf": "%PDF-1.7\n% 居民死亡医学证明（推断）书\n%%EOF\n".encode()},
    )
    assert "<JCZZYY>2</JCZZYY>" in received[PROCURATORATE].decode()
    assert "心肌梗死" in received[PUBLIC_SECURITY].decode()
    assert "心肌梗死" not in received[WUDINGFU_GRID].decode()


def test_revocation_ends_the_correction_and_every_party_reads_why_in_its_own_format(
    fresh_gateway: RunningGateway,
) -> None:
    """撤销缓刑、收监执行: each party learns from its own code table that the correction ended by
    revocation on the day of 收监, with the court's ruling attached; the grid learns only that its
    visits end, not what the person did nor the ruling."""
    judgment = submit(fresh_gateway, COURT, "court", sample("court", "handover.judgment_effective.xml"))
    assert judgment.status_code == 202, judgment.text
    ruling = b"%PDF-1.4\n% " + "（2025）鲁1621刑更18号刑事裁定书".encode() + b"\n%%EOF\n"
    notice, received = flow(
        fresh_gateway,
        JUSTICE_BUREAU,
        "canonical",
        sample("canonical", "termination.notice.revocation.json"),
        NOTIFIED,
        attachments={"撤销缓刑裁定书.pdf": ruling},
    )
    court = received[COURT].decode()
    assert "<解除终止原因>撤销缓刑假释或收监执行终止</解除终止原因>" in court
    assert "<解除终止日期>2025-08-27</解除终止日期>" in court
    assert "<JCZZYY>3</JCZZYY>" in received[PROCURATORATE].decode()
    for police in (PUBLIC_SECURITY, SUNWU_STATION):  # the county bureau and the station that hands him over
        text = received[police].decode()
        assert "<JCZZYYDM>3</JCZZYYDM>" in text and "<JCZZRQ>20250827</JCZZRQ>" in text
        assert "<WSLBDM>11</WSLBDM>" in text  # 裁定书
    office = json.loads(received[SUNWU_OFFICE])
    assert (office["payload"]["reason"], office["payload"]["effective_on"]) == ("revocation", "2025-08-27")
    assert [d["document_kind"] for d in office["documents"]] == ["ruling"]
    visit = json.loads(received[WUDINGFU_GRID])
    assert visit["other"] == {"reason": "revocation", "effective_on": "2025-08-27"}
    assert visit["person"]["id_number"] == "372321********0019"
    text = received[WUDINGFU_GRID].decode()
    for hidden in ("收监", "刑更18号", "殴打他人", "危险驾驶罪"):
        assert hidden not in text, hidden

    digest = hashlib.sha256(ruling).hexdigest()
    assert all(digest in received[unit].decode() for unit in (COURT, PROCURATORATE, PUBLIC_SECURITY, SUNWU_STATION))
    with fresh_gateway.client(JUSTICE_BUREAU) as bureau:
        status = wait_delivered(bureau, notice)
    for unit in (COURT, PROCURATORATE, PUBLIC_SECURITY, SUNWU_STATION, SUNWU_OFFICE):
        with fresh_gateway.client(unit) as client:
            file = client.get(f"/v1/inbox/{delivery_to(status, unit)['delivery_id']}/documents/{digest}")
        assert (file.status_code, file.content) == (200, ruling), unit
    with fresh_gateway.client(WUDINGFU_GRID) as grid:
        refused = grid.get(f"/v1/inbox/{delivery_to(status, WUDINGFU_GRID)['delivery_id']}/documents/{digest}")
    assert (refused.status_code, refused.json()["error"]["code"]) == (403, "documents_not_visible")
