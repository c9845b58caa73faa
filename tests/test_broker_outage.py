"""The broker being down delays delivery; it never refuses or loses a submission."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import func, select

from gateway.broker_node import RabbitNode
from gateway.store import AuditEntry, Delivery
from tests.conftest import RunningGateway, prepare_gateway
from tests.test_handover_flow import COURT, COURT_SAMPLES, wait_delivered

pytestmark = pytest.mark.broker


@pytest.fixture(scope="module")
def own_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RabbitNode, RunningGateway]]:
    """A node and gateway of this module's own, since the test stops the node."""
    node = RabbitNode(tmp_path_factory.mktemp("outage-rabbit"), name="xietong-outage")
    node.start()
    gateway = prepare_gateway(tmp_path_factory.mktemp("outage-gateway"), node.url)
    gateway.start()
    yield node, gateway
    gateway.stop()
    node.stop()


def test_submissions_during_an_outage_are_accepted_and_delivered_once_after(own_broker: tuple[RabbitNode, RunningGateway]) -> None:
    node, gateway = own_broker
    sample = (COURT_SAMPLES / "handover.judgment_effective.xml").read_bytes()
    node.stop()
    accepted = []
    with gateway.client(COURT) as court:
        for n in range(20):
            response = court.post("/v1/inbound/court", content=sample + f"<!-- {n} -->".encode(), headers={"Content-Type": "application/xml"})
            assert response.status_code == 202, response.text
            accepted.append(response.json()["message_id"])
        node.start()
        statuses = [wait_delivered(court, message_id, timeout=60) for message_id in accepted]
    assert all(status["status"] == "delivered" for status in statuses)
    store = gateway.store()
    with store.read() as session:
        deliveries = session.scalar(select(func.count()).select_from(Delivery).where(Delivery.message_id.in_(accepted)))
        delivered_events = session.scalar(select(func.count()).select_from(AuditEntry).where(AuditEntry.event == "delivery.delivered"))
    store.engine.dispose()
    assert deliveries == 20 * 3
    assert delivered_events == deliveries
