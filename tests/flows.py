"""End-to-end flow helpers: submit an agency's native sample over HTTP, wait until RabbitMQ and
the workers have put it in every inbox, and check that each recipient got its own projection in
its own format. Every family's flow test is written with these.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from typing import Any

import httpx
from lxml import etree

from adapters.base import registry
from gateway.settings import PACKAGE_DIR
from tests.conftest import RunningGateway

ROOT = PACKAGE_DIR.parent
XSD = ROOT / "contracts" / "xsd"

# The demo directory (gateway/demo/directory.yaml): 惠民县 371621 and 滨城区 371602.
COURT = "11371621004370011G"  # 惠民县人民法院
BINCHENG_COURT = "113716020043600105"  # 滨州市滨城区人民法院
PROCURATORATE = "11371621004370020E"  # 惠民县人民检察院
BINCHENG_PROCURATORATE = "113716020043600292"  # 滨州市滨城区人民检察院
PUBLIC_SECURITY = "11371621004370039B"  # 惠民县公安局
BINCHENG_PUBLIC_SECURITY = "11371602004360037W"  # 滨州市公安局滨城分局
SUNWU_STATION = "1137162100437004XA"  # 孙武派出所 (covers 371621001, 371621002)
JUSTICE_BUREAU = "113716210043700740"  # 惠民县司法局
BINCHENG_JUSTICE_BUREAU = "11371602004360045P"  # 滨州市滨城区司法局
SUNWU_OFFICE = "11371621004370082T"  # 孙武司法所 (covers 371621001, 371621002)
COMMITTEE = "11371621004370119Y"  # 惠民县委政法委（县社区矫正委员会办公室）
WUDINGFU_GRID = "371621001003-01"  # 孙武街道武定府社区第一网格 (covers 371621001003)

ADAPTER_OF = {
    COURT: "court",
    BINCHENG_COURT: "court",
    PROCURATORATE: "procuratorate",
    BINCHENG_PROCURATORATE: "procuratorate",
    PUBLIC_SECURITY: "police",
    BINCHENG_PUBLIC_SECURITY: "police",
    SUNWU_STATION: "police",
    JUSTICE_BUREAU: "canonical",
    BINCHENG_JUSTICE_BUREAU: "canonical",
    SUNWU_OFFICE: "canonical",
    WUDINGFU_GRID: "grid",
}


def sample(adapter: str, name: str) -> bytes:
    return (ROOT / "adapters" / adapter / "samples" / name).read_bytes()


def fence_breach(detected_at: str) -> bytes:
    """The bureau's fence-breach alert (canonical JSON) detected at `detected_at`: a new detection
    time makes it a new message."""
    body = json.loads(sample("canonical", "supervision.alert.json"))
    body["payload"]["detected_at"] = detected_at
    return json.dumps(body, ensure_ascii=False).encode()


def answering(data: bytes, adapter: str, message_id: str) -> bytes:
    """A reply sample made to answer `message_id`: its own `in_reply_to` swapped for the real one."""
    replied = registry()[adapter].parse(data).in_reply_to
    assert replied is not None, "the sample is not a reply"
    return data.replace(str(replied).encode(), message_id.encode())


def submit(
    gateway: RunningGateway, unit: str, adapter: str, data: bytes, attachments: Mapping[str, bytes] | None = None
) -> httpx.Response:
    """POST a native document as `unit`, as a plain body or, with attachments, as multipart."""
    media_type = registry()[adapter].media_type
    with gateway.client(unit) as client:
        if not attachments:
            return client.post(f"/v1/inbound/{adapter}", content=data, headers={"Content-Type": media_type})
        files = [("document", (f"document.{media_type.rsplit('/', 1)[1]}", data, media_type))]
        files += [("attachments", (name, content, "application/octet-stream")) for name, content in attachments.items()]
        return client.post(f"/v1/inbound/{adapter}", files=files)


def wait_delivered(client: httpx.Client, message_id: str, timeout: float = 30) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        status = client.get(f"/v1/messages/{message_id}").json()
        if status["status"] == "delivered" or time.monotonic() > deadline:
            return status
        time.sleep(0.05)


def delivery_to(status: dict[str, Any], unit_code: str) -> dict[str, Any]:
    return next(d for d in status["deliveries"] if d["recipient"] == unit_code)


def xsd_valid(document: bytes) -> bool:
    """Valid against the XSD its root namespace `urn:xietong:<agency>:<family>:<n>` names."""
    root = etree.fromstring(document)
    _, _, agency, family, version = (etree.QName(root).namespace or "::::").split(":")
    schema = etree.XMLSchema(etree.parse(str(XSD / f"{agency}-{family}-{version}.xsd")))
    return schema.validate(root)


def flow(
    gateway: RunningGateway,
    sender: str,
    adapter: str,
    data: bytes,
    recipients: Mapping[str, str],
    attachments: Mapping[str, bytes] | None = None,
) -> tuple[str, dict[str, bytes]]:
    """Submit, wait, and check every recipient; returns the message id and each inbox's bytes.

    `recipients` maps each expected unit to the rule that must have chosen it. Each recipient's
    document is fetched with its own key and must be in its adapter's format; XML is valid
    against its XSD and translates back to the same payload the sender meant (full projection),
    canonical JSON carries the payload as sent, and the grid's JSON holds no field beyond its
    projection (the ID masked, no case, sentence or documents).
    """
    response = submit(gateway, sender, adapter, data, attachments)
    assert response.status_code == 202, response.text
    accepted = response.json()
    assert {d["recipient"]: d["rule"] for d in accepted["deliveries"]} == dict(recipients)
    with gateway.client(sender) as client:
        status = wait_delivered(client, accepted["message_id"])
    assert status["status"] == "delivered", status
    sent = registry()[adapter].parse(data)
    meant = sent.payload.model_dump(mode="json")
    received: dict[str, bytes] = {}
    for unit in recipients:
        recipient_adapter = registry()[ADAPTER_OF[unit]]
        with gateway.client(unit) as client:
            item = client.get(f"/v1/inbox/{delivery_to(status, unit)['delivery_id']}")
        assert item.status_code == 200, item.text
        assert item.headers["content-type"].startswith(recipient_adapter.media_type)
        assert item.headers["x-xietong-message-id"] == accepted["message_id"]
        body = item.content
        if recipient_adapter.name in ("court", "procuratorate", "police"):
            assert xsd_valid(body), f"{unit}: not valid against its XSD"
            back = recipient_adapter.parse(body)
            assert back.kind == sent.kind
            assert back.in_reply_to == sent.in_reply_to
            assert back.payload.model_dump(mode="json") == meant, unit
        elif recipient_adapter.name == "canonical":
            canonical = json.loads(body)
            assert canonical["kind"] == sent.kind
            assert canonical["payload"] == meant
            assert canonical["sender"]["unit_code"] == sender
        else:
            assert_grid_view(json.loads(body), meant)
        received[unit] = body
    return accepted["message_id"], received


def assert_grid_view(view: Mapping[str, Any], meant: Mapping[str, Any]) -> None:
    """What a grid worker may never see: the full ID number, the case, the sentence, documents."""
    text = json.dumps(view, ensure_ascii=False)
    person = meant.get("person") or {}
    if person.get("id_number"):
        assert person["id_number"] not in text
    for secret in ("case_number", "sentence", "offence", "documents", "sha256"):
        assert secret not in text, secret
