"""Optional webhook push: a unit with a webhook URL receives each delivery by POST as well."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from sqlalchemy import update

from gateway.broker_node import free_port
from gateway.store import Unit
from tests.conftest import RunningGateway
from tests.test_handover_flow import COURT, COURT_SAMPLES, PROCURATORATE, delivery_to, wait_delivered
from tests.webhook_receiver import WebhookReceiver

pytestmark = pytest.mark.broker


@pytest.fixture
def procuratorate_webhook(gateway: RunningGateway) -> Iterator[list[tuple[dict[str, str], bytes]]]:
    port = free_port()
    receiver = WebhookReceiver(port)
    store = gateway.store()
    with store.write() as session:
        session.execute(update(Unit).where(Unit.code == PROCURATORATE).values(webhook_url=f"http://127.0.0.1:{port}/xietong"))
    yield receiver.received
    with store.write() as session:
        session.execute(update(Unit).where(Unit.code == PROCURATORATE).values(webhook_url=None))
    store.engine.dispose()
    receiver.close()


def test_webhook_receives_the_rendered_document(gateway: RunningGateway, procuratorate_webhook: list[tuple[dict[str, str], bytes]]) -> None:
    document = (COURT_SAMPLES / "handover.judgment_effective.xml").read_bytes() + b"\n<!-- webhook -->\n"
    with gateway.client(COURT) as court:
        accepted = court.post("/v1/inbound/court", content=document, headers={"Content-Type": "application/xml"}).json()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not delivery_to(court.get(f"/v1/messages/{accepted['message_id']}").json(), PROCURATORATE)["evidence"]["pushed_at"]:
            time.sleep(0.1)
        status = wait_delivered(court, accepted["message_id"])
    pushed = delivery_to(status, PROCURATORATE)
    assert pushed["evidence"]["pushed_at"]
    headers, body = next((h, b) for h, b in procuratorate_webhook if h["X-Xietong-Delivery-Id"] == pushed["delivery_id"])
    assert headers["X-Xietong-Message-Id"] == accepted["message_id"]
    with gateway.client(PROCURATORATE) as procuratorate:
        assert procuratorate.get(f"/v1/inbox/{pushed['delivery_id']}").content == body
