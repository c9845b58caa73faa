"""Test helpers for the XML adapters: stamp a draft into a full canonical message, as the
gateway would (with made-up envelope facts), and find an adapter's samples and schemas.

The gateway does the real stamping; this only feeds `render` in unit tests.
"""

from __future__ import annotations

import hashlib
import mimetypes
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import UUID

from lxml import etree

from contracts.catalog import spec_of
from contracts.common import Agency
from contracts.envelope import Draft
from contracts.identifiers import uuid7

ADAPTERS_DIR = Path(__file__).resolve().parents[2] / "adapters"

SENDERS: dict[Agency, dict[str, str]] = {
    Agency.court: {
        "agency": "court",
        "unit_type": "court",
        "unit_code": "11371621004380240K",
        "unit_name": "山东省惠民县人民法院",
        "division_code": "371621",
    },
    Agency.justice: {
        "agency": "justice",
        "unit_type": "justice_bureau",
        "unit_code": "113716210043801525",
        "unit_name": "惠民县司法局",
        "division_code": "371621",
    },
    Agency.procuratorate: {
        "agency": "procuratorate",
        "unit_type": "procuratorate",
        "unit_code": "11371621004370020E",
        "unit_name": "惠民县人民检察院",
        "division_code": "371621",
    },
    Agency.police: {
        "agency": "police",
        "unit_type": "public_security_bureau",
        "unit_code": "11371621004370039B",
        "unit_name": "惠民县公安局",
        "division_code": "371621",
    },
    Agency.committee: {
        "agency": "committee",
        "unit_type": "committee",
        "unit_code": "11371621004370119Y",
        "unit_name": "惠民县委政法委（县社区矫正委员会办公室）",
        "division_code": "371621",
    },
}


def made_up_sha256(filename: str) -> str:
    return hashlib.sha256(f"xietong-test:{filename}".encode()).hexdigest()


def stamp(draft: Draft[Any], *, now: datetime | None = None, message_id: UUID | None = None) -> dict[str, Any]:
    """The canonical message (JSON form) the gateway would make of `draft`: a sender allowed to
    send its kind, a fresh UUIDv7 (or `message_id`), times to the second, documents from the
    claimed attachments. With `now` and `message_id` given the result is fully determined."""
    spec = spec_of(draft.kind)
    now = (now or datetime.now(UTC)).replace(microsecond=0)
    sender = SENDERS[min(spec.senders)]
    documents = [
        {
            "sha256": claim.sha256 or made_up_sha256(claim.filename),
            "media_type": mimetypes.guess_type(claim.filename)[0] or "application/octet-stream",
            "size": 40_960 + index,
            "filename": claim.filename,
            "title": claim.title,
            "document_kind": claim.document_kind,
        }
        for index, claim in enumerate(draft.attachments)
    ]
    message = spec.message_model(
        message_id=message_id or uuid7(),
        kind=draft.kind,
        case=draft.case,
        in_reply_to=draft.in_reply_to,
        sender=sender,
        occurred_at=draft.occurred_at or now,
        received_at=now,
        documents=documents,
        payload=draft.payload,
    )
    return message.model_dump(mode="json")


def claims_of(message: dict[str, Any]) -> list[dict[str, Any]]:
    """The attachment claims a re-parsed rendering should carry: the message's documents."""
    fields = ("filename", "title", "document_kind", "sha256")
    return [{key: document[key] for key in fields} for document in message["documents"]]


def samples(agency: str) -> list[Path]:
    return sorted((ADAPTERS_DIR / agency / "samples").glob("*.xml"))


def kind_of(sample: Path) -> str:
    """Samples are named `<kind>[.<variant>].xml`, e.g. `handover.documents.gbk.xml`."""
    return ".".join(sample.name.split(".")[:2])


def schema_for(data: bytes, agency: str) -> Path:
    """The XSD a native document claims by its root namespace `urn:xietong:<agency>:<family>:<n>`."""
    namespace = etree.QName(etree.fromstring(data)).namespace or ""
    _, _, claimed_agency, family, version = namespace.split(":")
    assert claimed_agency == agency, namespace
    return ADAPTERS_DIR.parent / "contracts" / "xsd" / f"{agency}-{family}-{version}.xsd"
