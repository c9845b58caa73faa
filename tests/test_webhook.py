"""Optional webhook push: a unit with a webhook URL receives each delivery by POST as well, in
its own format: a procuratorate gets the court's judgment, a police station a live alert."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from lxml import etree
from sqlalchemy import update

from adapters.base import registry
from gateway.broker_node import free_port
from gateway.store import Unit
from tests.conftest import RunningGateway
from tests.flows import JUSTICE_BUREAU, SUNWU_OFFICE, SUNWU_STATION, WUDINGFU_GRID, fence_breach, submit, xsd_valid
from tests.test_handover_flow import COURT, COURT_SAMPLES, PROCURATORATE, delivery_to, wait_delivered
from tests.webhook_receiver import WebhookReceiver

pytestmark = pytest.mark.broker

Received = list[tuple[dict[str, str], bytes]]


@contextmanager
def webhook_of(gateway: RunningGateway, unit: str) -> Iterator[Received]:
    """A receiver listening for `unit`, registered as its webhook URL for the duration."""
    port = free_port()
    receiver = WebhookReceiver(port)
    store = gateway.store()
    with store.write() as session:
        session.execute(update(Unit).where(Unit.code == unit).values(webhook_url=f"http://127.0.0.1:{port}/xietong"))
    try:
        yield receiver.received
    finally:
        with store.write() as session:
            session.execute(update(Unit).where(Unit.code == unit).values(webhook_url=None))
        store.engine.dispose()
        receiver.close()


@pytest.fixture
def procuratorate_webhook(gateway: RunningGateway) -> Iterator[Received]:
    with webhook_of(gateway, PROCURATORATE) as received:
        yield received


@pytest.fixture
def station_webhook(gateway: RunningGateway) -> Iterator[Received]:
    with webhook_of(gateway, SUNWU_STATION) as received:
        yield received


def wait_pushed(gateway: RunningGateway, sender: str, message_id: str, recipient: str) -> dict[str, object]:
    """The message's status once its delivery to `recipient` has been pushed (or 30 s have passed)."""
    with gateway.client(sender) as client:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not delivery_to(client.get(f"/v1/messages/{message_id}").json(), recipient)["evidence"]["pushed_at"]:
            time.sleep(0.1)
        return wait_delivered(client, message_id)


def test_webhook_receives_the_rendered_document(gateway: RunningGateway, procuratorate_webhook: Received) -> None:
    document = (COURT_SAMPLES / "handover.judgment_effective.xml").read_bytes() + b"\n<!-- webhook -->\n"
    with gateway.client(COURT) as court:
        accepted = court.post("/v1/inbound/court", content=document, headers={"Content-Type": "application/xml"}).json()
    status = wait_pushed(gateway, COURT, accepted["message_id"], PROCURATORATE)
    pushed = delivery_to(status, PROCURATORATE)
    assert pushed["evidence"]["pushed_at"]
    headers, body = next((h, b) for h, b in procuratorate_webhook if h["X-Xietong-Delivery-Id"] == pushed["delivery_id"])
    assert headers["X-Xietong-Message-Id"] == accepted["message_id"]
    with gateway.client(PROCURATORATE) as procuratorate:
        assert procuratorate.get(f"/v1/inbox/{pushed['delivery_id']}").content == body


def test_a_station_webhook_receives_a_fence_breach_alert_in_police_xml(gateway: RunningGateway, station_webhook: Received) -> None:
    """A station whose system listens on a webhook, not on /v1/live: the bureau's 越界 alert is
    POSTed to it once, as the police supervision XML its system parses, with everything it needs to
    go looking (coordinates included); the 司法所 and the grid, without webhooks, get no push."""
    alert = fence_breach("2025-05-15T23:12:05+08:00")  # a new detection: a new message
    response = submit(gateway, JUSTICE_BUREAU, "canonical", alert)
    assert response.status_code == 202, response.text
    message_id = response.json()["message_id"]
    status = wait_pushed(gateway, JUSTICE_BUREAU, message_id, SUNWU_STATION)
    assert status["status"] == "delivered", status
    station = delivery_to(status, SUNWU_STATION)
    assert station["evidence"]["pushed_at"], station
    assert not delivery_to(status, SUNWU_OFFICE)["evidence"]["pushed_at"]
    assert not delivery_to(status, WUDINGFU_GRID)["evidence"]["pushed_at"]

    pushes = [(h, b) for h, b in station_webhook if h["X-Xietong-Message-Id"] == message_id]
    assert len(pushes) == 1, pushes
    headers, body = pushes[0]
    assert headers["X-Xietong-Delivery-Id"] == station["delivery_id"]
    assert headers["Content-Type"].startswith("application/xml")
    assert etree.QName(etree.fromstring(body)).namespace == "urn:xietong:police:supervision:1"
    assert xsd_valid(body)
    police = registry()["police"].parse(body)
    assert (police.kind, police.payload.alert_type.value) == ("supervision.alert", "fence_breach")
    assert police.payload.model_dump(mode="json") == registry()["canonical"].parse(alert).payload.model_dump(mode="json")
    assert police.payload.location.longitude == json.loads(alert)["payload"]["location"]["longitude"]
    with gateway.client(SUNWU_STATION) as client:
        assert client.get(f"/v1/inbox/{station['delivery_id']}").content == body  # the same bytes as its inbox
